"""``knoxhook verify``: check the signature of one saved Knox callback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from knoxhook.cli import common, context, registry
from knoxhook.errors import UsageError

if TYPE_CHECKING:
    from cryptography import x509

    from knoxhook.signature import Attempt

CertOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--cert",
        metavar="FILE",
        help="Trusted certificate (PEM/DER); repeat for several (rotation). "
        "Default: the stored Knox certificate, downloaded when missing or expired.",
        show_default=False,
    ),
]


def read_input(name: str, what: str, limit: int | None = None) -> bytes:
    """The bytes of file ``name`` (``-`` is stdin); a usage error when unreadable.

    ``limit``: read at most ``limit + 1`` bytes (a longer input is refused by the caller
    without being held in memory whole; ``too_large`` says how to word it).
    """
    size = -1 if limit is None else limit + 1
    if name == "-":
        if context.current().stdin_is_terminal:  # else it looks like a hang
            common.info(f"reading the {what} from the terminal; end it with Ctrl-D")
        return sys.stdin.buffer.read(size)
    try:
        with Path(name).open("rb") as file:
            return file.read(size)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {name}: {exc.strerror or exc}") from exc


def too_large(name: str, limit: int) -> str:
    """Why a body of more than ``limit`` bytes is refused (its size, when a file says it)."""
    try:
        size = -1 if name == "-" else Path(name).stat().st_size
    except OSError:
        size = -1
    what = f"{size} bytes" if size > limit else f"more than {limit} bytes"
    return f"the body is {what}; the limit is {limit}"


def parse_headers(data: bytes, source: str) -> dict[str, str]:
    """Headers from a JSON object, or raw HTTP header lines (``Name: value``).

    A request line (``POST / HTTP/1.1``) is skipped; a blank line ends the headers.
    """
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{source} is not valid JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise UsageError(f"{source}: expected a JSON object of header names to values")
        return {str(k): str(v) for k, v in document.items()}
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if headers:
                break
            continue
        if number == 1 and " HTTP/" in line and ":" not in line.split(" ", 1)[0]:
            continue  # the request line
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or " " in name.strip():
            raise UsageError(f"{source}, line {number}: expected 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers


def open_nonce_db(path: Path, window: float | None = None) -> Any:
    """A ``SqliteNonceStore`` at ``path``; a usage error naming ``--nonce-db`` when the
    file is not a SQLite database, is a directory, or cannot be created."""
    import sqlite3

    from knoxhook.receiver.nonces import SqliteNonceStore

    try:
        if window is None:
            return SqliteNonceStore(path)
        return SqliteNonceStore(path, window)
    except (sqlite3.Error, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"--nonce-db {path}: cannot use it as a nonce store ({reason})",
            hint="give a new file path; knoxhook creates the SQLite store itself",
        ) from exc


def trusted_certificates(paths: list[Path] | None) -> list[x509.Certificate]:
    """The ``--cert`` files, or the stored certificate (downloaded when needed)."""
    from knoxhook.receiver.certificates import load_certificate_files

    if paths:
        return load_certificate_files(paths)
    from knoxhook import certs

    common.verbose("no --cert: using the stored Knox certificate")
    with cert_hint():
        return certs.load_certificates(certs.ensure_certificate(common.settings()))


@contextmanager
def cert_hint() -> Iterator[None]:
    """Without credentials the stored certificate cannot be fetched: say --cert works too."""
    from knoxhook.errors import NotConfiguredError

    try:
        yield
    except NotConfiguredError as exc:
        extra = "or pass the Knox certificate with --cert FILE"
        exc.hint = f"{exc.hint}; {extra}" if exc.hint else extra
        raise


def _attempt_rows(attempts: list[Attempt]) -> list[dict[str, Any]]:
    rows = [a.to_json() for a in attempts]
    for row in rows:
        fingerprint = row["certificate_sha256"]
        row["certificate"] = f"{fingerprint[:16]}..." if fingerprint else None
    return rows


_UNITS = {"": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}


def parse_size(text: str, option: str = "--max-body") -> int:
    """A byte count: ``1048576``, ``512k``/``512KiB``, ``16M``/``16MiB`` (powers of 1024)."""
    value = text.strip().lower()
    number = value.rstrip("kmgib")
    unit = value[len(number) :]
    if not number.isdigit() or unit not in _UNITS or int(number) == 0:
        raise UsageError(
            f"{option} {text!r}: expected a positive byte count such as 1048576, 512k or 16M"
        )
    return int(number) * _UNITS[unit]


EXPLAIN_COLUMNS = [
    ("step", "Step"),
    ("form", "Form"),
    ("certificate", "Certificate"),
    ("signing_input", "Signing input"),
    ("outcome", "Outcome"),
]


verify_app = registry.command()


@verify_app.command("verify")
def verify(
    body: Annotated[
        str,
        typer.Option("--body", metavar="FILE", help="The raw callback body; - reads stdin."),
    ],
    signature: Annotated[
        str | None,
        typer.Option(
            "--signature",
            metavar="VALUE",
            help="The X-WSM-SIGNATURE header value (not a secret).",
            show_default=False,
        ),
    ] = None,
    headers_file: Annotated[
        str | None,
        typer.Option(
            "--headers",
            metavar="FILE",
            help="The callback's headers: 'Name: value' lines or a JSON object.",
            show_default=False,
        ),
    ] = None,
    nonce: Annotated[
        str | None,
        typer.Option(
            "--nonce",
            metavar="VALUE",
            help="The x-knox-nonce value (with --signature).",
            show_default=False,
        ),
    ] = None,
    cert: CertOption = None,
    nonce_db: Annotated[
        Path | None,
        typer.Option(
            "--nonce-db",
            metavar="FILE",
            help="Also refuse a nonce already in this SQLite store (and remember it).",
            show_default=False,
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show each signing input tried and its outcome.")
    ] = False,
    max_body: Annotated[
        str,
        typer.Option(
            "--max-body",
            metavar="BYTES",
            help="Refuse a larger body (body_too_large): e.g. 1048576, 512k, 16M.",
        ),
    ] = "16M",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Accept only a signature over the body as received "
            "(not Samsung's re-serialization).",
        ),
    ] = False,
    allow_expired_cert: Annotated[
        bool,
        typer.Option(
            "--allow-expired-cert",
            help="Also accept a signature that verifies only with an expired "
            "certificate (Samsung's sample never checks dates).",
        ),
    ] = False,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Verify the signature of a saved Knox callback.

    Checks X-WSM-SIGNATURE as RS256 (whatever its header claims) against the trusted
    certificate in every signing form accepted: the body as received, then Samsung's
    re-serialization of it (what Samsung's sample verifier builds), then compact
    JSON; base64url padded or not; part 1 of the header is ignored, as Samsung's
    sample ignores it. Then that the body is a callback (JSON, no repeated names, no
    bytes after it). Exits 0 when it is valid, 8 with the reason otherwise
    (bad_signature, certificate_expired, duplicate_key, replayed_nonce, ...). A nonce
    is required only with --nonce-db. JSON keys: valid, event, subscriptionId, nonce,
    trace_id, form, certificate_sha256, body_is_signed, payload (reason and message
    when invalid; attempts with --explain).

    Examples:

    \b
      knoxhook verify --body body.json --headers headers.txt --cert knox.pem
      curl ... | knoxhook verify --body - --signature "$SIG" --explain
      knoxhook verify --body big.json --signature "$SIG" --max-body 64M
      knoxhook verify --body old.json --headers h.txt --cert old.pem --allow-expired-cert
    """
    from knoxhook.errors import CallbackVerificationError
    from knoxhook.signature import Attempt, Reason, verify_callback

    fmt = common.output_format(json_output, output)
    common.require_text(signature=signature, nonce=nonce)
    limit = parse_size(max_body)
    if (signature is None) == (headers_file is None):
        raise UsageError("give exactly one of --signature or --headers", hint="see --help")
    if body == "-" and headers_file == "-":
        raise UsageError("--body and --headers cannot both read stdin")
    data = read_input(body, "body", limit)
    if headers_file is not None:
        headers = parse_headers(read_input(headers_file, "headers"), headers_file)
    else:
        headers = {"X-WSM-SIGNATURE": signature or ""}
    if nonce is not None:
        headers["x-knox-nonce"] = nonce
    certificates = trusted_certificates(cert)
    store = None
    if nonce_db is not None:
        store = open_nonce_db(nonce_db)
    attempts: list[Attempt] | None = [] if explain else None
    try:
        if len(data) > limit:  # read no further than the limit: refuse as verify_callback does
            if attempts is not None:
                attempts.append(Attempt("body", f"body_too_large: {too_large(body, limit)}"))
            raise CallbackVerificationError(Reason.BODY_TOO_LARGE, too_large(body, limit))
        result = verify_callback(
            data,
            headers,
            certificates,
            nonce_store=store,
            require_nonce=store is not None,
            max_body_bytes=limit,
            strict=strict,
            allow_expired=allow_expired_cert,
            explain=attempts,
        )
    except CallbackVerificationError as exc:
        failure: dict[str, Any] = {
            "valid": False,
            "reason": str(exc.reason),
            "message": exc.message,
        }
        _show(failure, attempts, fmt)
        raise CallbackVerificationError(exc.reason, f"{exc.reason}: {exc.message}") from None
    _show({**result.to_json(), "body_is_signed": result.body_is_signed}, attempts, fmt)


def _show(result: dict[str, Any], attempts: list[Attempt] | None, fmt: common.OutputFormat) -> None:
    if fmt is common.OutputFormat.TABLE:
        if attempts is not None:
            common.emit(_attempt_rows(attempts), columns=EXPLAIN_COLUMNS, fmt=fmt)
        if result["valid"]:
            shown = {k: v for k, v in result.items() if k != "payload"}
            common.emit(shown, fmt=fmt)
        return
    if attempts is not None:
        result = {**result, "attempts": [a.to_json() for a in attempts]}
    common.emit(result, fmt=fmt)
