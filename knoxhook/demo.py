"""The whole Knox workflow, end to end, on the embedded emulator (``knoxhook demo``).

``run_demo`` starts the Knox emulator and a callback receiver in this process on free
loopback ports, with config and cache in a temporary directory (nothing touches the
user's real config, cache or keyring), and walks the steps of the KWN guide:

certificate -> token -> subscribe ``KDMS_DEVICE_UPLOAD`` -> trigger the event ->
callback received and its signature verified -> the same callback replayed and
refused -> list -> delete.

It yields one ``Step`` at a time (the CLI prints them as they come) and raises a
``KnoxhookError`` when a step does not behave as Knox documents. It prints nothing.
"""

from __future__ import annotations

import queue
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knoxhook import wire
from knoxhook.config import Settings
from knoxhook.emulator import DEFAULT_SIGNING, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from knoxhook.errors import KnoxhookError, VerificationError

if TYPE_CHECKING:  # imported at run time inside _run: `knoxhook --help` stays fast
    from knoxhook.emulator.controls import EmulatorControls
    from knoxhook.receiver.app import Verdict
    from knoxhook.subscriptions import SubscriptionService

DEMO_EVENT = "KDMS_DEVICE_UPLOAD"
CALLBACK_PATH = "/knox/callbacks"


@dataclass(frozen=True)
class Step:
    """One step of the workflow: a stable ``name``, a human ``title``, and its data."""

    name: str
    title: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.name, "title": self.title, "ok": True, **self.detail}


def demo_settings(base_url: str, client_id: str, workdir: Path) -> Settings:
    """Settings for the demo profile, with config and cache inside ``workdir``."""
    return Settings(
        profile="demo",
        base_url=base_url,
        token_url=base_url + wire.TOKEN_PATH,
        client_id=client_id,
        scope=wire.DEFAULT_SCOPE,
        tenant_id=None,
        config_dir=workdir / "config",
        cache_dir=workdir / "cache",
    )


def run_demo(
    *, signing: str = DEFAULT_SIGNING, callback_timeout: float = 10.0, auth: str = "oauth"
) -> Generator[Step, None, None]:
    """Run the workflow; yields each step once it has succeeded (``close()`` it to stop:
    the emulator and the receiver stop before ``close`` returns). ``auth="legacy"``: with
    Knox Guard's keys.json authentication (``knoxhook.legacy.demo``)."""
    with tempfile.TemporaryDirectory(prefix="knoxhook-demo-") as tmp:
        yield from _run(Path(tmp), signing, callback_timeout, auth)


def _run(workdir: Path, signing: str, callback_timeout: float, auth: str) -> Iterator[Step]:
    from knoxhook import certs, tokens
    from knoxhook.client import KnoxClient
    from knoxhook.emulator.config import EmulatorConfig
    from knoxhook.emulator.controls import EmulatorControls
    from knoxhook.emulator.runner import run_emulator
    from knoxhook.httpoptions import HttpOptions
    from knoxhook.receiver.app import StaticCertificates, create_receiver
    from knoxhook.receiver.nonces import SqliteNonceStore
    from knoxhook.receiver.recorder import NdjsonRecorder
    from knoxhook.serving import serve_in_thread
    from knoxhook.subscriptions import SubscriptionService

    config = EmulatorConfig(clients={DEMO_CLIENT_ID: DEMO_CLIENT_SECRET}, signing=signing)
    with run_emulator(config) as emulator, HttpOptions(timeout=60.0).client() as control_http:
        knox = EmulatorControls(emulator.base_url, control_http)
        yield Step(
            "emulator",
            "Knox cloud emulator started",
            {"base_url": knox.base_url, "signing": str(signing), "client_id": DEMO_CLIENT_ID},
        )
        settings = demo_settings(knox.base_url, DEMO_CLIENT_ID, workdir)
        if auth == "legacy":
            from knoxhook.legacy import demo as legacy_demo

            settings = legacy_demo.prepare(settings)
        with KnoxClient(settings, secret=DEMO_CLIENT_SECRET) as client:
            fetched = certs.fetch_and_store(settings, client)
            fetched.info.check_valid()
            cert = fetched.info.to_json()
            yield Step(
                "certificate",
                "Validation certificate downloaded and stored",
                {
                    "subject": cert["subject"],
                    "not_after": cert["not_after"],
                    "spki_sha256": cert["spki_sha256"],
                    "path": str(fetched.path),
                },
            )

            if auth == "legacy":
                yield Step(*legacy_demo.token_step(client))
            else:
                token = client.tokens.get()
                yield Step(
                    "token",
                    "OAuth 2.0 access token obtained (client credentials)",
                    {
                        "token_url": settings.token_url,
                        "scope": settings.scope,
                        "expires_in": round(token.expires_in(time.time())),
                        "cache_mode": _mode(tokens.cache_path(settings)),
                    },
                )

            verdicts: queue.Queue[Verdict] = queue.Queue()
            trusted = StaticCertificates(certs.load_certificates(fetched.pem))
            nonces = SqliteNonceStore(workdir / "nonces.sqlite3")
            recorder = NdjsonRecorder(workdir / "callbacks.ndjson")
            receiver = create_receiver(
                trusted,
                path=CALLBACK_PATH,
                nonce_store=nonces,
                recorder=recorder,
                on_callback=verdicts.put,
            )
            try:
                with serve_in_thread(receiver) as listener:
                    callback_url = listener.base_url + CALLBACK_PATH
                    yield Step("listen", "Callback receiver listening", {"url": callback_url})
                    yield from _subscription_steps(
                        SubscriptionService(client),
                        knox,
                        callback_url,
                        verdicts,
                        callback_timeout,
                        legacy_demo.EVENT if auth == "legacy" else DEMO_EVENT,
                    )
            finally:
                recorder.close()
                nonces.close()


def _subscription_steps(
    service: SubscriptionService,
    knox: EmulatorControls,
    callback_url: str,
    verdicts: queue.Queue[Verdict],
    callback_timeout: float,
    event: str = DEMO_EVENT,
) -> Iterator[Step]:
    from knoxhook.httpoptions import HttpOptions

    subscription = service.create(callback_url, [event])
    yield Step("subscribe", f"Subscribed {callback_url} to {event}", subscription.to_json())

    delivery = knox.trigger(event)
    if delivery.get("status") != "delivered":
        raise KnoxhookError(f"the emulator could not deliver the callback: {delivery.get('error')}")
    yield Step(
        "trigger",
        f"Knox completed the device upload and sent {event}"
        if event == DEMO_EVENT
        else f"Knox Guard locked the device and sent {event}",
        {k: delivery.get(k) for k in ("traceId", "nonce", "httpStatus", "attempts", "latencyMs")},
    )

    verdict = _next_verdict(verdicts, callback_timeout)
    if not verdict.accepted:
        raise VerificationError(f"the receiver refused the genuine callback: {verdict.message}")
    if verdict.subscription_id != subscription.subscription_id:
        raise VerificationError("the callback names another subscription")
    yield Step(
        "callback",
        "Callback received; signature verified against the certificate",
        {
            "event": verdict.event,
            "subscriptionId": verdict.subscription_id,
            "nonce": verdict.nonce,
            "trace_id": verdict.trace_id,
            "form": verdict.form,
        },
    )

    # Replay exactly what Knox sent: the same body and the same signed headers.
    sent = {k.lower(): v for k, v in verdict.headers.items()}
    names = ("content-type", wire.H_SIGNATURE.lower(), wire.H_TRACE_ID.lower(), wire.H_NONCE)
    headers = {name: sent[name] for name in names if name in sent}
    with HttpOptions().client() as http:
        replay = http.post(callback_url, content=verdict.body.encode(), headers=headers)
    refused = _next_verdict(verdicts, callback_timeout)
    if replay.status_code < 400 or refused.accepted:
        raise VerificationError("the receiver accepted a replayed callback")
    yield Step(
        "replay",
        "The same callback replayed: refused",
        {"status": replay.status_code, "reason": refused.reason, "nonce": refused.nonce},
    )

    listed = service.list()
    yield Step(
        "list",
        f"{len(listed)} subscription(s) listed",
        {"subscriptions": [s.to_json() for s in listed]},
    )

    service.delete(subscription.subscription_id)
    remaining = service.list()
    yield Step(
        "delete",
        f"Subscription {subscription.subscription_id} deleted",
        {"subscriptionId": subscription.subscription_id, "remaining": len(remaining)},
    )


def _next_verdict(verdicts: queue.Queue[Verdict], timeout: float) -> Verdict:
    try:
        return verdicts.get(timeout=timeout)
    except queue.Empty:
        raise KnoxhookError(f"no callback reached the receiver within {timeout:g} s") from None


def _mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)
