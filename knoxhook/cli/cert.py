"""``knoxhook cert fetch|show``: the Knox validation certificate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from knoxhook.cli import cert_check, clients, context, display, registry

if TYPE_CHECKING:
    from knoxhook.certs import CertificateInfo

cert_app = registry.group(
    "cert",
    "Download, store and inspect the Knox validation certificate that signs callbacks."
    "\n\nExamples:\n\n\b\n"
    "  knoxhook cert fetch --out knox.pem\n"
    "  knoxhook cert show --json",
)


def _report(
    info: CertificateInfo, fmt: context.OutputFormat, *, served_by: str | None = None
) -> None:
    """Print the certificate, warn when it expires soon, exit 8 when it is not valid.

    ``served_by``: the base URL it was just downloaded from (then "run cert fetch" is no
    advice: fetching again brings the same certificate).
    """
    from knoxhook.certs import WARN_DAYS
    from knoxhook.errors import CertificateError

    display.emit(info.to_json(), fmt=fmt)
    try:
        info.check_valid()
    except CertificateError as exc:
        if served_by is not None and info.expired:
            exc.hint = (
                f"{served_by} itself serves this expired certificate; the stored one (if "
                "any) was kept. Ask Knox support, or check --base-url"
            )
        raise
    if info.days_left < WARN_DAYS:
        display.warn(f"the certificate {info.when}; run `knoxhook cert fetch`")


@cert_app.command("fetch")
def fetch(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="FILE", help="Also write the PEM to this file.", show_default=False
        ),
    ] = None,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Download the validation certificate, keep it in the cache dir, and show it.

    Prints subject, issuer, validity, SHA-256 fingerprint and the public-key pin
    (spki_sha256, the `sha256//` form of curl --pinnedpubkey). Says on stderr where it
    stored the file, and whether the public key changed (a key change, not a renewal).
    Exits 8 when the downloaded certificate has expired; warns under 30 days left.

    Examples:

    \b
      knoxhook cert fetch
      knoxhook cert fetch --out knox.pem --json
    """
    from knoxhook import certs

    fmt = context.output_format(json_output, output)
    if out is not None and (out.is_dir() or not out.name):  # before downloading anything
        from knoxhook.errors import UsageError

        raise UsageError(f"--out {out} is a directory", hint="give a file name, e.g. knox.pem")
    settings = clients.settings()
    with clients.knox_client() as client:
        result = certs.fetch_and_store(settings, client)
    # expired or not yet valid (path None): not stored, nothing renewed; _report says so
    if result.path is not None:
        display.info(f"stored {result.path}")
        if out is not None:
            _write_out(out, result.pem)
            display.info(f"wrote {out} (mode 0644: a public certificate, readable by all)")
        if result.change is certs.Change.KEY_CHANGED:  # the one warning (certs logs none)
            display.warn(
                "the certificate's PUBLIC KEY CHANGED (not a renewal): new pin "
                f"sha256//{result.info.spki_sha256}; update any pinned copies"
            )
        elif result.change is certs.Change.RENEWAL:
            display.info("renewed: a new certificate with the same public key")
    _report(result.info, fmt, served_by=settings.base_url)


def _write_out(path: Path, pem: bytes) -> None:
    from knoxhook.certs import write_atomic
    from knoxhook.errors import UsageError

    try:
        write_atomic(path, pem)
        path.chmod(0o644)  # a public certificate, meant to be shared with a receiver
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


@cert_app.command("show")
def show(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            help="A PEM file to inspect instead of the stored certificate ('-' reads stdin).",
        ),
    ] = None,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """Show the stored validation certificate (or any PEM file).

    Prints subject, issuer, validity, SHA-256 fingerprint and the public-key pin.
    Exits 3 when nothing is stored yet, 8 when the certificate has expired or is not a
    certificate; warns under 30 days left.

    Examples:

    \b
      knoxhook cert show
      knoxhook cert show --file samsung-knox-validation-certificate-2024.pem --json
      curl -s https://example.com/knox.pem | knoxhook cert show --file -
    """
    from knoxhook import certs

    fmt = context.output_format(json_output, output)
    pem, source = cert_check.read_pem(file)
    found = certs.load_certificates(pem)
    display.verbose(f"{source}: {len(found)} certificate(s)")
    if len(found) > 1:
        display.info(f"{source} holds {len(found)} certificates; showing the first")
    _report(certs.inspect(found[0]), fmt)


# `cert check` lives in its own module (the nightly check); attached here, to this group.
cert_app.command("check")(cert_check.check)
