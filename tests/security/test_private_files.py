"""14.2 / 10.9: every file knoxhook keeps is private whatever the umask, never written
through a planted symbolic link.

The audit, under ``umask 000``: the missing parents of ``--record``, ``--nonce-db``,
``cert fetch --out`` and the emulator's ``--data-dir`` were made 0777; the record was
opened without ``O_NOFOLLOW``, so a planted link had callback JSON appended to its
target; ``emulator.db`` was 0644. Every test here runs under ``umask 000``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx2
import pytest

from knoxhook.emulator.testing import EmulatorHandle, running_emulator
from knoxhook.receiver.nonces import SqliteNonceStore
from knoxhook.receiver.recorder import NdjsonRecorder
from tests.cli.conftest import Cli
from tests.receiver.signing import Signer

pytestmark = pytest.mark.usefixtures("open_umask")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (itself included) -> its mode."""
    found = {".": mode(root)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = mode(path)
    return found


def victim(tmp_path: Path) -> Path:
    target = tmp_path / "victim.txt"
    target.write_bytes(b"precious\n")
    os.chmod(target, 0o644)
    return target


@pytest.fixture
def cert_file(tmp_path: Path) -> Path:
    path = tmp_path / "knox.pem"
    path.write_bytes(Signer.create().pem)
    return path


def test_the_record_and_its_missing_parents_are_private(tmp_path: Path) -> None:
    record = tmp_path / "new" / "logs" / "callbacks.ndjson"
    recorder = NdjsonRecorder(record)
    recorder.record({"verdict": "accepted"})
    recorder.close()
    assert modes(tmp_path / "new") == {".": 0o700, "logs": 0o700, "logs/callbacks.ndjson": 0o600}


def test_a_planted_record_symlink_gets_nothing_appended(tmp_path: Path) -> None:
    target = victim(tmp_path)
    link = tmp_path / "callbacks.ndjson"
    link.symlink_to(target)
    with pytest.raises(OSError, match=r"callbacks\.ndjson is a symbolic link"):
        NdjsonRecorder(link)
    assert target.read_bytes() == b"precious\n"
    assert mode(target) == 0o644


def test_listen_refuses_a_record_symlink_naming_the_flag(
    cli: Cli, tmp_path: Path, cert_file: Path
) -> None:
    target = victim(tmp_path)
    link = tmp_path / "callbacks.ndjson"
    link.symlink_to(target)
    r = cli("listen", "--port", "0", "--cert", str(cert_file), "--record", str(link))
    assert r.code == 2
    assert (
        f"Error: --record {link}: cannot append to it ({link} is a symbolic link: "
        "refusing to follow it)"
    ) in r.err
    assert target.read_bytes() == b"precious\n"


def test_the_nonce_store_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "sub" / "nonces.db"
    store = SqliteNonceStore(path)
    assert store.check_and_remember("n-1", now=1000.0)
    assert not store.check_and_remember("n-1", now=1001.0)
    found = modes(tmp_path / "state")
    store.close()
    assert found["."] == 0o700
    assert found["sub"] == 0o700
    assert found["sub/nonces.db"] == 0o600
    assert {k: v for k, v in found.items() if k.startswith("sub/nonces.db-")} == {
        "sub/nonces.db-wal": 0o600,
        "sub/nonces.db-shm": 0o600,
    }


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_verify_refuses_a_planted_nonce_db_link_naming_the_flag(
    cli: Cli, tmp_path: Path, cert_file: Path, suffix: str
) -> None:
    target = victim(tmp_path)
    db = tmp_path / "nonces.db"
    Path(f"{db}{suffix}").symlink_to(target)
    body = tmp_path / "body.json"
    body.write_text("{}")
    r = cli(
        "verify", "--body", str(body), "--signature", "a.b.c", "--nonce", "n",
        "--cert", str(cert_file), "--nonce-db", str(db),
    )  # fmt: skip
    assert r.code == 2, r.err
    assert f"Error: --nonce-db {db}: cannot use it as a nonce store" in r.err
    assert f"{db}{suffix} is a symbolic link: refusing to follow it" in r.err
    assert target.read_bytes() == b"precious\n"
    assert mode(target) == 0o644


def test_cert_fetch_out_makes_private_parents_and_says_the_file_mode(
    cli: Cli, knox: EmulatorHandle, tmp_path: Path
) -> None:
    out = tmp_path / "shared" / "certs" / "knox.pem"
    r = cli("cert", "fetch", "--out", str(out))
    assert r.code == 0, r.err
    assert f"wrote {out} (mode 0644: a public certificate, readable by all)" in r.err
    assert modes(tmp_path / "shared") == {".": 0o700, "certs": 0o700, "certs/knox.pem": 0o644}
    assert out.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_cert_fetch_out_refuses_a_planted_link(
    cli: Cli, knox: EmulatorHandle, tmp_path: Path
) -> None:
    target = victim(tmp_path)
    out = tmp_path / "knox.pem"
    out.symlink_to(target)
    r = cli("cert", "fetch", "--out", str(out))
    assert r.code == 2
    assert f"cannot write {out}: {out} is a symbolic link: refusing to follow it" in r.err
    assert target.read_bytes() == b"precious\n"


def test_the_emulator_data_dir_and_its_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "new" / "emulator"
    with running_emulator(data_dir=data) as handle:
        token = httpx2.post(
            handle.base_url + "/ams/v1/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": handle.client_id,
                "client_secret": handle.client_secret,
            },
        )
        assert token.status_code == 200
        found = modes(tmp_path / "new")
    assert found.pop(".") == 0o700
    assert found.pop("emulator") == 0o700
    assert "emulator/emulator.db" in found
    assert any(name.endswith(".key") or "key" in name for name in found)
    assert found == dict.fromkeys(found, 0o600), found  # db, -wal, -shm, key, cert


def test_the_emulator_refuses_a_planted_database_link(tmp_path: Path) -> None:
    from knoxhook.errors import UsageError

    data = tmp_path / "emulator"
    data.mkdir()
    target = victim(tmp_path)
    (data / "emulator.db").symlink_to(target)
    with (
        pytest.raises(UsageError, match=r"emulator\.db is a symbolic link"),
        running_emulator(data_dir=data),
    ):
        pass
    assert target.read_bytes() == b"precious\n"


def test_an_old_world_readable_emulator_db_is_made_private(tmp_path: Path) -> None:
    data = tmp_path / "emulator"
    with running_emulator(data_dir=data):
        pass
    for path in data.iterdir():
        os.chmod(path, 0o644)  # what an older knoxhook left behind
    os.chmod(data, 0o755)  # noqa: S103 - ditto
    with running_emulator(data_dir=data):
        found = modes(data)
    assert found.pop(".") == 0o700
    assert set(found.values()) == {0o600}, found
