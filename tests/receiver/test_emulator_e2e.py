"""End to end: the emulator's signed callbacks are accepted by the receiver, every mode."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx2
import pytest
from cryptography import x509

from knoxhook import wire
from knoxhook.emulator.testing import running_emulator
from knoxhook.receiver.app import StaticCertificates
from knoxhook.receiver.recorder import read_records
from tests.receiver.conftest import Running

Start = Callable[..., AbstractContextManager[Running]]


@pytest.mark.parametrize(
    ("mode", "form"),
    [
        ("padded", "raw-body/padded/attached"),
        ("unpadded", "raw-body/unpadded/attached"),
        ("detached", "raw-body/unpadded/detached"),
    ],
)
def test_emulator_callbacks_verify_in_every_signing_mode(
    start_receiver: Start, mode: str, form: str
) -> None:
    with running_emulator(signing=mode) as emu:
        cert = x509.load_pem_x509_certificate(emu.certificate_pem)
        with start_receiver(StaticCertificates([cert]), path="/knox") as rx:
            auth = {"Authorization": f"Bearer {emu.token()}"}
            created = httpx2.post(
                emu.base_url + wire.subscriptions_path(),
                json={wire.F_URL: rx.url, wire.F_EVENTS: ["KDMS_DEVICE_UPLOAD"]},
                headers=auth,
                timeout=10,
            )
            assert created.status_code in (200, 201), created.text
            subscription_id = created.json()[wire.F_SUBSCRIPTION_ID]
            emu.trigger("KDMS_DEVICE_UPLOAD", trace_id="trace-e2e")
    (verdict,) = rx.verdicts
    assert verdict.verdict == "accepted", verdict.message
    assert verdict.form == form
    assert verdict.subscription_id == subscription_id
    assert verdict.event == "KDMS_DEVICE_UPLOAD"
    assert verdict.trace_id == "trace-e2e"
    assert verdict.nonce
    assert read_records(rx.record)[0]["verdict"] == "accepted"
