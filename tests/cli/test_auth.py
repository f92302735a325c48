"""`knoxhook auth login|status|token|logout` against the real emulator on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from knoxhook.cli.main import main
from knoxhook.emulator.testing import EmulatorHandle
from tests.fakes import KEYRING_FILE_ENV, MemoryKeyring

REPO = Path(__file__).resolve().parents[2]


def cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    stdin: str | None = None,
) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


def login_args(emu: EmulatorHandle, *extra: str) -> list[str]:
    return ["auth", "login", "--client-id", emu.client_id, "--client-secret-stdin",
            "--base-url", emu.base_url, *extra]  # fmt: skip


def config_dir() -> Path:
    return Path(os.environ["KNOXHOOK_CONFIG_DIR"])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def logged_in(
    emulator: EmulatorHandle,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> EmulatorHandle:
    code, _, err = cli(capsys, monkeypatch, *login_args(emulator), stdin=emulator.client_secret)
    assert code == 0, err
    return emulator


def test_login_keeps_the_secret_in_the_keyring_not_in_config(
    emulator: EmulatorHandle,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = cli(
        capsys, monkeypatch, "--json", *login_args(emulator), stdin=emulator.client_secret + "\n"
    )
    assert code == 0, err
    assert f"Logged in to {emulator.base_url} as knoxhook-demo (profile default)" in err
    data = json.loads(out)
    assert data["secret_source"] == "keyring"
    assert data["secret_location"] == "service 'knoxhook', user 'default:knoxhook-demo'"
    assert data["token_cached"] is True
    assert memory_keyring.store == {("knoxhook", "default:knoxhook-demo"): emulator.client_secret}
    config_file = config_dir() / "config.toml"
    text = config_file.read_text()
    assert emulator.client_secret not in text
    assert 'secret_store = "keyring"' in text
    assert f'base_url = "{emulator.base_url}"' in text
    assert "token_url" not in text  # derived from base_url, so not stored
    assert 'default_profile = "default"' in text
    assert mode(config_file) == 0o600
    assert mode(config_dir()) == 0o700
    assert emulator.stats()["token_requests"] == 1


def test_login_without_keyring_or_opt_in_exits_3_listing_options(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = cli(capsys, monkeypatch, *login_args(emulator), stdin=emulator.client_secret)
    assert code == 3
    assert "Error: cannot store the client secret: no OS keyring is available" in err
    assert "--insecure-storage" in err
    assert "KNOXHOOK_CLIENT_SECRET" in err
    assert out == ""
    assert not (config_dir() / "config.toml").exists()
    assert emulator.stats()["token_requests"] == 0  # failed before the network


def test_login_insecure_storage_writes_a_0600_file_and_warns(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = login_args(emulator, "--insecure-storage")
    code, out, err = cli(capsys, monkeypatch, *args, stdin=emulator.client_secret)
    assert code == 0, err
    secret_file = config_dir() / "secrets" / "default"
    assert f"warning: the client secret is stored unencrypted in {secret_file}" in err
    assert secret_file.read_text() == emulator.client_secret
    assert mode(secret_file) == 0o600
    assert mode(secret_file.parent) == 0o700
    assert emulator.client_secret not in (config_dir() / "config.toml").read_text()
    code, out, _ = cli(capsys, monkeypatch, "auth", "status", "--json")
    assert code == 0
    assert json.loads(out)["secret_location"] == str(secret_file)


def test_login_with_a_wrong_secret_exits_4_and_saves_nothing(
    emulator: EmulatorHandle,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = cli(capsys, monkeypatch, *login_args(emulator), stdin="not-the-secret")
    assert code == 4
    assert "Error: Knox refused the client credentials of 'knoxhook-demo'" in err
    assert "invalid_client" in err
    assert "Hint: Nothing was saved;" in err
    assert "not-the-secret" not in out + err
    assert not (config_dir() / "config.toml").exists()
    assert memory_keyring.store == {}


def test_login_off_a_tty_without_a_secret_is_a_usage_error(
    emulator: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["auth", "login", "--client-id", "x", "--base-url", emulator.base_url]
    code, _, err = cli(capsys, monkeypatch, *args)
    assert code == 2
    assert "Error: no client secret given" in err
    assert "--client-secret-stdin" in err
    assert "KNOXHOOK_CLIENT_SECRET" in err


def test_login_to_an_unreachable_host_exits_7(
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["auth", "login", "--client-id", "x", "--client-secret-stdin",
            "--base-url", f"http://127.0.0.1:{port}"]  # fmt: skip
    code, _, err = cli(capsys, monkeypatch, *args, stdin="some-secret")
    assert code == 7
    assert f"could not get a token from http://127.0.0.1:{port}/ams/v1/oauth2/token" in err
    assert "Nothing was saved" in err


def test_status_when_not_logged_in_exits_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = cli(capsys, monkeypatch, "auth", "status", "--json")
    assert code == 3
    data = json.loads(out)
    assert list(data) == [
        "profile", "base_url", "token_url", "client_id", "scope", "tenant_id",
        "secret_source", "secret_location", "token_cached", "token_expires_at",
        "token_expires_in",
    ]  # fmt: skip
    assert data["client_id"] is None
    assert json.loads(err)["error"] == {
        "code": "not_configured",
        "message": "profile 'default' has no client id",
        "hint": "run `knoxhook auth login`",
    }


def test_token_prints_only_the_cached_token(
    logged_in: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = cli(capsys, monkeypatch, "auth", "token")
    assert code == 0
    cache = next((Path(os.environ["KNOXHOOK_CACHE_DIR"]) / "tokens").glob("*.json"))
    assert out == json.loads(cache.read_text())["access_token"] + "\n"
    assert err == ""
    code, out2, _ = cli(capsys, monkeypatch, "auth", "token")
    assert (code, out2) == (0, out)
    assert logged_in.stats()["token_requests"] == 1


def test_status_shows_where_the_secret_is_and_never_it(
    logged_in: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token, _ = cli(capsys, monkeypatch, "auth", "token")
    code, out, err = cli(capsys, monkeypatch, "auth", "status")
    assert code == 0
    assert "keyring" in out
    assert "default:knoxhook-demo" in out
    assert logged_in.client_secret not in out + err
    assert token.strip() not in out + err


def test_logout_revokes_deletes_and_is_idempotent(
    logged_in: EmulatorHandle,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = cli(capsys, monkeypatch, "auth", "logout", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "profile": "default",
        "token_revoked": True,
        "token_deleted": True,
        "secret_deleted": ["keyring"],
    }
    assert "Logged out of profile default." in err
    assert logged_in.stats()["tokens_revoked"] == 1
    assert memory_keyring.store == {}
    assert not list((Path(os.environ["KNOXHOOK_CACHE_DIR"]) / "tokens").glob("*.json"))
    assert "secret_store" not in (config_dir() / "config.toml").read_text()
    code, out, err = cli(capsys, monkeypatch, "auth", "logout")
    assert code == 0
    assert "Nothing to do" in err
    code, _, err = cli(capsys, monkeypatch, "auth", "token")
    assert code == 3
    assert "Error: no client secret for profile 'default'" in err


def test_debug_trace_never_shows_the_secret_or_the_token(
    emulator: EmulatorHandle,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = emulator.client_secret
    code, out, err = cli(capsys, monkeypatch, "--debug", *login_args(emulator), stdin=secret)
    assert code == 0
    assert "> POST " in err
    assert "client_secret=***" in err
    seen = out + err
    cache = next((Path(os.environ["KNOXHOOK_CACHE_DIR"]) / "tokens").glob("*.json"))
    token = json.loads(cache.read_text())["access_token"]
    for args in (["subscriptions", "list", "--json"], ["auth", "status"], ["auth", "logout"]):
        code, out, err = cli(capsys, monkeypatch, "--debug", *args)
        assert code == 0, err
        seen += out + err
    assert "authorization: Bearer ***" in seen
    assert "> POST " + emulator.base_url + "/ams/v1/oauth2/revoke" in seen
    assert secret not in seen
    assert token not in seen
    assert emulator.stats()["token_requests"] == 1  # the one token the trace had to hide


def test_twenty_sequential_commands_fetch_one_token(
    logged_in: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(20):
        code, out, err = cli(capsys, monkeypatch, "subscriptions", "list", "--json")
        assert code == 0, err
        assert json.loads(out) == []
    assert logged_in.stats()["token_requests"] == 1


def test_revoked_token_is_renewed_within_the_command(
    logged_in: EmulatorHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token, _ = cli(capsys, monkeypatch, "auth", "token")
    import httpx2

    httpx2.post(logged_in.base_url + "/ams/v1/oauth2/revoke", data={"token": token.strip()})
    code, out, _ = cli(capsys, monkeypatch, "subscriptions", "list", "--json")
    assert (code, json.loads(out)) == (0, [])
    stats = logged_in.stats()
    assert (stats["token_requests"], stats["unauthorized"]) == (2, 1)


# --- as real processes ------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = str(REPO)
    return env


def test_twelve_concurrent_cold_processes_fetch_exactly_one_token(
    emulator: EmulatorHandle,
) -> None:
    env = child_env(
        KNOXHOOK_BASE_URL=emulator.base_url,
        KNOXHOOK_CLIENT_ID=emulator.client_id,
        KNOXHOOK_CLIENT_SECRET=emulator.client_secret,
    )
    argv = [sys.executable, "-m", "knoxhook", "auth", "token"]
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(12)
    ]
    outputs = []
    deadline = time.monotonic() + 120
    for proc in procs:
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert proc.returncode == 0, err
        outputs.append(out)
    assert len(set(outputs)) == 1
    assert emulator.stats()["token_requests"] == 1
    assert all(emulator.client_secret not in arg for arg in argv)


def test_login_in_a_child_process_keeps_the_secret_out_of_argv_and_config(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    keyring_file = tmp_path / "keyring.json"
    env = child_env(
        PYTHON_KEYRING_BACKEND="tests.fakes.FileKeyring", **{KEYRING_FILE_ENV: str(keyring_file)}
    )
    argv = [sys.executable, "-m", "knoxhook", *login_args(emulator)]
    result = subprocess.run(
        argv, input=emulator.client_secret, env=env, cwd=REPO,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert emulator.client_secret not in " ".join(argv)
    assert emulator.client_secret not in result.stdout + result.stderr
    assert emulator.client_secret not in (config_dir() / "config.toml").read_text()
    assert json.loads(keyring_file.read_text()) == {
        "knoxhook|default:knoxhook-demo": emulator.client_secret
    }
    status = subprocess.run(
        [sys.executable, "-m", "knoxhook", "auth", "status", "--json"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["secret_source"] == "keyring"


def test_login_on_a_tty_prompts_with_hidden_input(
    emulator: EmulatorHandle,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import typer

    from knoxhook.cli import context

    asked: list[tuple[str, bool]] = []

    def prompt(text: str, hide_input: bool = False, err: bool = False) -> str:
        asked.append((text, hide_input))
        return emulator.client_secret

    monkeypatch.setattr(context.Invocation, "may_prompt", property(lambda self: True))
    monkeypatch.setattr(typer, "prompt", prompt)
    args = ["auth", "login", "--client-id", emulator.client_id, "--base-url", emulator.base_url]
    code, _, err = cli(capsys, monkeypatch, *args)
    assert code == 0, err
    assert asked == [("Client secret", True)]
    assert memory_keyring.store == {("knoxhook", "default:knoxhook-demo"): emulator.client_secret}


def test_login_takes_the_secret_from_the_environment_and_stores_it(
    emulator: EmulatorHandle,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", emulator.client_secret)
    monkeypatch.setenv("KNOXHOOK_BASE_URL", emulator.base_url)
    code, out, err = cli(
        capsys, monkeypatch, "--json", "-p", "ci", "auth", "login", "--client-id", "knoxhook-demo"
    )
    assert code == 0, err
    assert json.loads(out)["secret_source"] == "env"  # env still wins while it is set
    assert memory_keyring.store == {("knoxhook", "ci:knoxhook-demo"): emulator.client_secret}
    text = (config_dir() / "config.toml").read_text()
    assert "[profiles.ci]" in text
    assert f'base_url = "{emulator.base_url}"' in text
    assert 'default_profile = "ci"' in text


def test_logging_in_with_another_client_removes_the_old_clients_secret(
    logged_in: EmulatorHandle,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from knoxhook import config
    from knoxhook.emulator.testing import running_emulator

    config.save_profile(config_dir(), "default", {"token_url": logged_in.token_url})
    with running_emulator(clients={"second": "second-secret-1"}) as other:
        args = ["auth", "login", "--client-id", "second", "--client-secret-stdin",
                "--base-url", other.base_url]  # fmt: skip
        code, _, err = cli(capsys, monkeypatch, *args, stdin="second-secret-1")
        assert code == 0, err
    assert memory_keyring.store == {("knoxhook", "default:second"): "second-secret-1"}
    # the old host's token URL followed --base-url instead of winning over it
    assert "token_url" not in config.profile_values(config_dir(), "default")


def test_logout_still_forgets_locally_when_the_revoke_fails(
    logged_in: EmulatorHandle,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logged_in.fault(path="/ams/v1/oauth2/revoke", status=500, count=1)
    code, out, err = cli(capsys, monkeypatch, "auth", "logout", "--json")
    assert code == 0, err
    assert (
        "warning: could not revoke the token at Knox: the revoke endpoint answered HTTP 500" in err
    )
    assert json.loads(out)["token_revoked"] is False
    assert json.loads(out)["token_deleted"] is True
    assert memory_keyring.store == {}
