"""``knoxhook doctor``: the preflight, one ``Check`` per question, each failure with a fix.

The checks, in order (a later one is skipped when what it needs failed):

1. ``profile``: the profile resolves to a client id and a base URL;
2. ``secret``: the client secret is found, and where (env, keyring, file; never its value);
3. ``token``: a token can be had (the cached one, or a fetch);
4. ``clock``: the local clock is within ``max_skew`` of the ``Date`` the server answers
   with (tokens and certificate validity are judged by it);
5. ``certificate``: the stored validation certificate is valid for ``min_days`` more
   days (``knoxhook.certcheck``), its expiry and pin;
6. ``callback <id>``: each subscription's URL answers a FORGED callback (a signature no
   key made) with 4xx, as a verifying receiver does (knox-api.md §5); a 2xx means it
   accepts forgeries, a 5xx or no answer that Knox's real callbacks will fail too;
7. ``files``: no file holding a secret or a token is world-readable.

Each failing check carries the exit code of its kind (the table in ``knoxhook --help``);
``Report.exit_code`` is the first one. Knows nothing of typer or rich: ``cli/doctor.py``
prints.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knoxhook.errors import ExitCode, KnoxhookError
from knoxhook.httptrace import redact_url

if TYPE_CHECKING:
    from knoxhook.config import Settings
    from knoxhook.httpoptions import HttpOptions
    from knoxhook.tokens import TokenManager

MAX_SKEW = 60.0  # seconds; the Date header has 1 s resolution
MIN_DAYS = 30  # as `cert check` and the warning of `cert show`
MAX_PROBES = 20  # callback URLs probed, at most
PROBE_TIMEOUT = 5.0  # seconds per probe
MAX_FILES = 2000  # files looked at under the config and cache dirs, at most
PROBE_TRACE_ID = "knoxhook-doctor-probe"
# a compact JWS no key made: a verifying receiver must refuse it [knox-api.md §5]
FORGED_SIGNATURE = "eyJhbGciOiJSUzI1NiJ9.eyJwcm9iZSI6dHJ1ZX0.Zm9yZ2Vk"


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # works today, act soon
    FAIL = "fail"
    SKIP = "skip"  # not checked: an earlier check it needs failed


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None
    exit_code: ExitCode = ExitCode.OK  # of a failure

    def to_json(self) -> dict[str, Any]:
        """Stable keys for ``doctor --json`` (docs/commands.md)."""
        return {"name": self.name, "status": str(self.status), "detail": self.detail,
                "fix": self.fix}  # fmt: skip


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    def failed(self, name: str) -> bool:
        return any(c.name == name and c.status in (Status.FAIL, Status.SKIP) for c in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        return next((c.exit_code for c in self.checks if c.status is Status.FAIL), ExitCode.OK)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.exit_code is ExitCode.OK, "checks": [c.to_json() for c in self.checks]}


def _fail(name: str, exc: KnoxhookError) -> Check:
    return Check(name, Status.FAIL, exc.message, exc.hint, exc.exit_code)


def run(
    settings: Settings,
    http: HttpOptions,
    *,
    now: Callable[[], float] = time.time,
    max_skew: float = MAX_SKEW,
    min_days: int = MIN_DAYS,
) -> Report:
    """Every check, in order; never raises a ``KnoxhookError`` (each becomes a ``Check``)."""
    from knoxhook.tokens import TokenManager

    report = Report()
    report.checks.append(check_profile(settings))
    report.checks.append(check_secret(settings))
    tokens = TokenManager(settings, http=http, now=now)
    if report.failed("profile") or report.failed("secret"):
        report.checks.append(Check("token", Status.SKIP, "needs the profile and the secret"))
    else:
        report.checks.append(check_token(tokens, now))
    report.checks.append(check_clock(settings, http, now, max_skew))
    report.checks.append(check_certificate(settings, min_days))
    if report.failed("token"):
        report.checks.append(Check("callbacks", Status.SKIP, "needs a token"))
    else:
        report.checks.extend(check_callbacks(settings, http, tokens))
    report.checks.append(check_files(settings))
    return report


def check_profile(settings: Settings) -> Check:
    from knoxhook.config import list_profiles

    sources = settings.sources or {}
    known = list_profiles(settings.config_dir)
    if settings.client_id is None:
        missing = known and settings.profile not in known
        return Check(
            "profile", Status.FAIL,
            f"profile {settings.profile!r} "
            + ("is not in config.toml" if missing else "has no client id"),
            f"run `knoxhook auth login --profile {settings.profile}`, or set KNOXHOOK_CLIENT_ID",
            ExitCode.NOT_CONFIGURED,
        )  # fmt: skip
    return Check(
        "profile", Status.OK,
        f"{settings.profile!r}: client id from {sources.get('client_id', '?')}, "
        f"{settings.base_url} from {sources.get('base_url', '?')}",
    )  # fmt: skip


def check_secret(settings: Settings) -> Check:
    from knoxhook.credentials import LOGIN_HINT, locate_secret

    try:
        where = locate_secret(settings)
    except KnoxhookError as exc:
        return _fail("secret", exc)
    if where.kind == "none":
        return Check("secret", Status.FAIL, f"no client secret ({where.detail})", LOGIN_HINT,
                     ExitCode.NOT_CONFIGURED)  # fmt: skip
    return Check("secret", Status.OK, f"found in the {where.kind}: {where.detail}")


def check_token(tokens: TokenManager, now: Callable[[], float]) -> Check:
    try:
        token = tokens.get()
    except KnoxhookError as exc:
        return _fail("token", exc)
    how = "fetched" if tokens.fetches else "cached"
    return Check("token", Status.OK, f"{how}, valid {token.expires_in(now()):.0f} s more")


def check_clock(
    settings: Settings, http: HttpOptions, now: Callable[[], float], max_skew: float
) -> Check:
    """The server's ``Date`` against the local clock, at the middle of the request."""
    from knoxhook.httperrors import MAYBE_SENT, NOT_SENT

    try:
        with http.client(timeout=PROBE_TIMEOUT) as client:
            sent = now()
            response = client.get(settings.token_url)
            local = (sent + now()) / 2
    except (*NOT_SENT, *MAYBE_SENT) as exc:
        detail = f"{settings.token_url}: no answer ({type(exc).__name__})"
        return Check("clock", Status.FAIL, detail, "check the base URL and the network",
                     ExitCode.NETWORK)  # fmt: skip
    date = response.headers.get("date")
    try:
        skew = parsedate_to_datetime(date).timestamp() - local if date else None
    except (TypeError, ValueError):
        skew = None
    if skew is None:
        return Check("clock", Status.WARN, f"the server sent no usable Date header ({date!r})")
    if abs(skew) > max_skew:
        ahead = "behind" if skew > 0 else "ahead of"
        return Check(
            "clock", Status.FAIL, f"the local clock is {abs(skew):.0f} s {ahead} the server's Date",
            f"sync the clock (e.g. `timedatectl set-ntp true`); at most {max_skew:.0f} s allowed",
            ExitCode.NOT_CONFIGURED,
        )  # fmt: skip
    return Check("clock", Status.OK, f"within {abs(skew):.0f} s of the server's Date")


def check_certificate(settings: Settings, min_days: int) -> Check:
    from knoxhook import certcheck, certs
    from knoxhook.timestamps import rfc3339

    try:
        pem = certs.read_stored(settings)
        if pem is None:
            return Check("certificate", Status.WARN, f"none stored for {settings.base_url}",
                         "run `knoxhook cert fetch`")  # fmt: skip
        result = certcheck.check(certs.inspect_pem(pem), min_days=min_days)
    except KnoxhookError as exc:
        return _fail("certificate", exc)
    info = result.info
    detail = (f"expires {rfc3339(info.not_after)} ({info.days_left} days), "
              f"pin sha256//{info.spki_sha256}")  # fmt: skip
    if result.ok:
        return Check("certificate", Status.OK, detail)
    error = result.error()
    assert error is not None
    if result.status is certcheck.Status.EXPIRES_SOON:
        return Check("certificate", Status.WARN, detail, error.hint)
    return Check("certificate", Status.FAIL, f"{error.message}; {detail}", error.hint,
                 ExitCode.VERIFICATION)  # fmt: skip


def check_callbacks(settings: Settings, http: HttpOptions, tokens: TokenManager) -> list[Check]:
    from knoxhook.client import KnoxClient
    from knoxhook.subscriptions import SubscriptionService

    try:
        with KnoxClient(settings, http=http, tokens=tokens) as client:
            subscriptions = SubscriptionService(client).list()
    except KnoxhookError as exc:
        return [_fail("callbacks", exc)]
    if not subscriptions:
        return [Check("callbacks", Status.OK, "no subscriptions to probe")]
    probe_http = dataclasses.replace(http, base_url=None)
    checks = [probe(f"callback {s.subscription_id}", s.url, probe_http)
              for s in subscriptions[:MAX_PROBES]]  # fmt: skip
    if len(subscriptions) > MAX_PROBES:
        checks.append(Check("callbacks", Status.WARN,
                            f"probed the first {MAX_PROBES} of {len(subscriptions)}"))  # fmt: skip
    return checks


def probe(name: str, url: str, http: HttpOptions) -> Check:
    """POST a forged callback to ``url``: a verifying receiver answers 4xx."""
    from knoxhook import wire
    from knoxhook.httperrors import MAYBE_SENT, NOT_SENT

    shown = redact_url(url)
    headers = {wire.H_SIGNATURE: FORGED_SIGNATURE, wire.H_TRACE_ID: PROBE_TRACE_ID,
               "Content-Type": wire.CALLBACK_CONTENT_TYPE}  # fmt: skip
    body = b'{"event": "KNOXHOOK_DOCTOR_PROBE", "subscriptionId": "doctor-probe"}'
    try:
        with http.client(timeout=PROBE_TIMEOUT) as client:
            status = client.post(url, content=body, headers=headers).status_code
    except (*NOT_SENT, *MAYBE_SENT) as exc:
        return Check(name, Status.FAIL, f"{shown}: unreachable ({type(exc).__name__})",
                     "start the receiver, or check the URL (`knoxhook subscriptions update`)",
                     ExitCode.NETWORK)  # fmt: skip
    if 400 <= status < 500:
        return Check(name, Status.OK, f"{shown}: refused a forged callback with {status}")
    if status < 400:
        return Check(
            name, Status.FAIL, f"{shown}: ACCEPTED a forged callback ({status})",
            "verify X-WSM-SIGNATURE before accepting (`knoxhook listen` does)",
            ExitCode.VERIFICATION,
        )  # fmt: skip
    return Check(name, Status.FAIL, f"{shown}: answered {status} to a forged callback",
                 "a verifying receiver answers 4xx; check its logs", ExitCode.NETWORK)  # fmt: skip


def _files(root: Path) -> Iterator[Path]:
    for count, (directory, _, names) in enumerate(os.walk(root)):
        if count > MAX_FILES:
            return
        for name in names[:MAX_FILES]:
            yield Path(directory) / name


def check_files(settings: Settings) -> Check:
    """Secret files, the token cache, and a config.toml naming a secret: not world-readable.

    Certificates are public (``*.pem`` is skipped)."""
    exposed = []
    roots = {settings.config_dir, settings.cache_dir}
    for path in (p for root in sorted(roots) for p in _files(root)):
        if path.suffix == ".pem":
            continue
        try:
            mode = path.lstat().st_mode
            if path.name == "config.toml" and "secret" not in path.read_text("utf-8", "replace"):
                continue
        except OSError:
            continue
        if stat.S_ISREG(mode) and mode & stat.S_IROTH:
            exposed.append(str(path))
    if exposed:
        return Check("files", Status.FAIL, f"world-readable: {', '.join(exposed[:5])}",
                     f"chmod 600 {' '.join(exposed[:5])}", ExitCode.NOT_CONFIGURED)  # fmt: skip
    return Check(
        "files", Status.OK, f"no world-readable secret under {', '.join(map(str, sorted(roots)))}"
    )
