"""State survives a restart with a data dir; without one, nothing is written."""

from __future__ import annotations

from pathlib import Path

import httpx2

from knoxhook.emulator.testing import running_emulator


def test_subscriptions_tokens_and_key_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_emulator(data_dir=state) as emu:
        token = emu.token()
        auth = {"Authorization": f"Bearer {token}"}
        created = httpx2.post(
            emu.base_url + "/kwn/v1/subscriptions",
            headers=auth,
            json={"url": "http://127.0.0.1:9/cb", "events": ["KG_DEVICE_LOCKED"]},
        ).json()
        pem = emu.certificate_pem
    with running_emulator(data_dir=state) as emu:
        auth = {"Authorization": f"Bearer {token}"}
        listed = httpx2.get(emu.base_url + "/kwn/v1/subscriptions", headers=auth)
        assert listed.status_code == 200
        assert listed.json() == [created]
        conflict = httpx2.post(
            emu.base_url + "/kwn/v1/subscriptions",
            headers=auth,
            json={"url": "http://127.0.0.1:9/cb", "events": ["KG_DEVICE_LOCKED"]},
        )
        assert conflict.status_code == 400
        assert created["subscriptionId"] in conflict.json()["data"]
        assert emu.certificate_pem == pem
    assert (state / "emulator.db").exists()


def test_in_memory_writes_nothing(tmp_path: Path, monkeypatch: object) -> None:
    import os

    before = set(os.listdir(tmp_path))
    with running_emulator() as emu:
        emu.token()
    assert set(os.listdir(tmp_path)) == before
