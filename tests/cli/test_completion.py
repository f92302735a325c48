"""`knoxhook completion SHELL`, and the shell's requests answered by a real process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import run

HEAVY = ("httpx2", "authlib", "cryptography", "starlette", "textual", "pydantic", "rich")


def _complete(tmp_path: Path, words: str, *, dialect: str = "bash") -> list[str]:
    """What a bash (or zsh) completion request for ``words`` answers, one item a line."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {**os.environ, "KNOXHOOK_CONFIG_DIR": str(tmp_path), "KNOXHOOK_CACHE_DIR": str(tmp_path),
           "_KNOXHOOK_COMPLETE": f"complete_{dialect}", "COMP_WORDS": words,
           "COMP_CWORD": str(cword), "_TYPER_COMPLETE_ARGS": words}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "knoxhook"], env=env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [line for line in result.stdout.splitlines() if line]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_script_calls_knoxhook_back_with_the_completion_variable(
    capsys: pytest.CaptureFixture[str], shell: str
) -> None:
    code, out, err = run(capsys, "completion", shell)
    assert code == 0
    assert err == ""
    assert "_KNOXHOOK_COMPLETE=complete_" + shell in out
    assert "knoxhook" in out.splitlines()[-1] or shell == "fish"


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "completion", "tcsh")
    assert code == 2
    assert out == ""
    assert "'tcsh' is not one of: bash, zsh, fish." in err


def test_commands_subcommands_and_options_complete(tmp_path: Path) -> None:
    assert _complete(tmp_path, "knoxhook su") == ["subscribe", "subscriptions"]
    assert _complete(tmp_path, "knoxhook cert c") == ["check"]
    assert "--min-days" in _complete(tmp_path, "knoxhook cert check --")


def test_event_names_complete_in_any_case_and_services_too(tmp_path: Path) -> None:
    assert _complete(tmp_path, "knoxhook subscribe --event KDMS") == [
        "KDMS_DEVICE_DELETE",
        "KDMS_DEVICE_UPLOAD",
    ]
    assert _complete(tmp_path, "knoxhook subscribe --event kg_device_l") == ["KG_DEVICE_LOCKED"]
    assert "KG" in _complete(tmp_path, "knoxhook events --service K")


def test_profile_names_come_from_config_toml(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[profiles.prod]\nclient_id = "a"\n[profiles.staging]\nclient_id = "b"\n'
        '[profiles.preview]\nclient_id = "c"\n'
    )
    assert _complete(tmp_path, "knoxhook --profile p") == ["preview", "prod"]
    assert _complete(tmp_path, "knoxhook --profile ") == ["preview", "prod", "staging"]
    (tmp_path / "config.toml").write_text("not = [toml")  # broken: no names, no traceback
    assert _complete(tmp_path, "knoxhook --profile ") == []


def test_zsh_requests_are_answered_too(tmp_path: Path) -> None:
    out = _complete(tmp_path, "knoxhook subscribe --event KDMS_DEVICE_U", dialect="zsh")
    assert any("KDMS_DEVICE_UPLOAD" in line for line in out), out


def test_a_completion_request_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from knoxhook.cli.main import main\n"
        "try:\n"
        "    main([])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "KNOXHOOK_CONFIG_DIR": str(tmp_path), "KNOXHOOK_CACHE_DIR": str(tmp_path),
           "_KNOXHOOK_COMPLETE": "complete_bash", "COMP_WORDS": "knoxhook subscribe --event KG",
           "COMP_CWORD": "3"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert "KG_DEVICE_LOCKED" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_the_help_of_the_new_commands_imports_nothing_heavy() -> None:
    for args in (["api", "--help"], ["doctor", "--help"], ["cert", "check", "--help"],
                 ["completion", "--help"]):  # fmt: skip
        code = (
            "import sys\n"
            "from knoxhook.cli.main import main\n"
            "try:\n"
            f"    main({args!r})\n"
            "except SystemExit:\n"
            "    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                timeout=60, check=False)  # fmt: skip
        assert "Example" in result.stdout, args
        assert result.stderr.strip().splitlines()[-1] == "[]", args


def test_bash_itself_completes_through_the_script(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    knoxhook = shutil.which("knoxhook", path=str(Path(sys.executable).parent))
    if bash is None or knoxhook is None:
        pytest.skip("bash or the knoxhook script is not installed")
    script = subprocess.run([knoxhook, "completion", "bash"], capture_output=True, text=True,
                            timeout=60, check=True).stdout  # fmt: skip
    probe = (
        f"{script}\nCOMP_WORDS=(knoxhook subscribe --event KG_DEVICE_LOC); COMP_CWORD=3\n"
        '_knoxhook_completion knoxhook; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{Path(knoxhook).parent}:{os.environ['PATH']}",
           "KNOXHOOK_CONFIG_DIR": str(tmp_path), "KNOXHOOK_CACHE_DIR": str(tmp_path)}  # fmt: skip
    result = subprocess.run([bash, "--norc", "-c", probe], env=env, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.stdout.split() == ["KG_DEVICE_LOCKED"], result.stderr
