"""`knoxhook completion SHELL`, and the shell's requests answered by a real process."""

from __future__ import annotations

import json
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


# The fast path (cli/completion_fast.py, from the console script) against typer's
# completion (`python -m knoxhook`, which never takes it), through real processes.
LINES = [
    "knoxhook ", "knoxhook s", "knoxhook su", "knoxhook sub", "knoxhook x", "knoxhook nope ",
    "knoxhook auth ", "knoxhook auth l", "knoxhook cert c", "knoxhook cert check --",
    "knoxhook cert check --min-days 3 --", "knoxhook -", "knoxhook --", "knoxhook --p",
    "knoxhook --profile ", "knoxhook --profile p", "knoxhook -p s", "knoxhook --profile prod ",
    "knoxhook --profile prod su", "knoxhook --debug --", "knoxhook subscribe --event ",
    "knoxhook subscribe --event KDMS", "knoxhook subscribe --event kg_device_l",
    "knoxhook subscribe -e KG", "knoxhook subscribe --event KG_DEVICE_LOCKED --",
    "knoxhook subscribe --event KG_DEVICE_LOCKED --event K", "knoxhook subscribe https://h/cb --e",
    "knoxhook subscribe https://h/cb ", "knoxhook events --service K",
    "knoxhook subscriptions list --event K", "knoxhook subscriptions ",
    "knoxhook subscriptions -- ",
    "knoxhook subscribe -- --ev", "knoxhook --profile=p", "knoxhook subscribe --event=KG",
    "knoxhook emulator ", "knoxhook emulator fault ", "knoxhook completion ", "knoxhook verify ",
    "knoxhook subscribe --output ", "knoxhook auth login --", "knoxhook -z ", "knoxhook callbacks ",
    "knoxhook subscribe --event -", 'knoxhook subscribe "--ev', "knoxhook events --json --",
]  # fmt: skip


def _env(words: str, shell: str, config: Path, action: str) -> dict[str, str]:
    """The variables typer's bash, zsh and fish scripts set for a request."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return {"KNOXHOOK_CONFIG_DIR": str(config), "KNOXHOOK_CACHE_DIR": str(config),
            "_KNOXHOOK_COMPLETE": f"complete_{shell}", "COMP_WORDS": words,
            "COMP_CWORD": str(cword), "_TYPER_COMPLETE_ARGS": words,
            "_TYPER_COMPLETE_FISH_ACTION": action,
            # click lists -h/--help from a set: one string hashing for both processes
            "PYTHONHASHSEED": "0"}  # fmt: skip


def _fast(words: str, shell: str, config: Path, action: str = "get-args") -> tuple[int, bytes]:
    """The exit code and stdout of the console script's answer (nothing on stderr)."""
    env = {**os.environ, **_env(words, shell, config, action)}
    result = subprocess.run([_script()], env=env, capture_output=True, timeout=60, check=False)
    assert result.stderr == b"", (words, result.stderr)
    return result.returncode, result.stdout


# typer's answers, many requests in one process (each one costs ~150 ms of imports):
# `knoxhook.cli.main.main`, which never takes the fast path, for each request in turn.
SLOW = """
import io, json, os, sys
from knoxhook.cli.main import main
answers = []
for env in json.load(sys.stdin):
    os.environ.update(env)
    sys.stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    try:
        main([])
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    sys.stdout.flush()
    answers.append([code, sys.stdout.buffer.getvalue().decode("latin-1")])
sys.stdout = sys.__stdout__
print(json.dumps(answers))
"""


def _slow(lines: list[str], shell: str, config: Path, action: str = "get-args"
          ) -> list[tuple[int, bytes]]:  # fmt: skip
    envs = [_env(words, shell, config, action) for words in lines]
    result = subprocess.run([sys.executable, "-c", SLOW], input=json.dumps(envs), text=True,
                            env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True,
                            timeout=120, check=True)  # fmt: skip
    assert result.stderr == "", result.stderr
    return [(code, out.encode("latin-1")) for code, out in json.loads(result.stdout)]


def _script() -> str:
    knoxhook = shutil.which("knoxhook", path=str(Path(sys.executable).parent))
    if knoxhook is None:
        pytest.skip("the knoxhook console script is not installed")
    return knoxhook


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = tmp_path_factory.mktemp("config")
    (config / "config.toml").write_text(
        '[profiles.prod]\nclient_id = "a"\n[profiles.staging]\nclient_id = "b"\n'
        '[profiles.preview]\nclient_id = "c"\n'
    )
    return config


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_fast_path_answers_byte_for_byte_as_typer_does(shell: str, profiles: Path) -> None:
    slow = _slow(LINES, shell, profiles)
    for words, expected in zip(LINES, slow, strict=True):
        assert _fast(words, shell, profiles) == expected, (shell, words)
    assert sum(1 for _, out in slow if out.strip() not in (b"", b"_files")) >= 25


@pytest.mark.parametrize("words", ["knoxhook su", "knoxhook nope ", "knoxhook subscribe -e KG"])
def test_fish_is_args_exits_as_typer_does(words: str, profiles: Path) -> None:
    expected = _slow([words], "fish", profiles, action="is-args")[0]
    assert _fast(words, "fish", profiles, action="is-args") == expected


def test_a_narrow_terminal_goes_to_typer_rather_than_print_a_different_help(
    profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERMINAL_WIDTH", "30")  # rich wraps the helps: typer answers
    for shell in ("zsh", "fish"):
        expected = _slow(["knoxhook --"], shell, profiles)[0]
        assert _fast("knoxhook --", shell, profiles) == expected
        assert b"Profile to use (env \nKNOXHOOK_PROFILE)" in expected[1]  # wrapped indeed


# Answered from the table: commands, options, event, service and profile names. (For zsh and
# fish, only while every help listed fits the terminal: `cert check --` has longer ones.)
FAST = [
    ("knoxhook su", "subscriptions"), ("knoxhook cert check --m", "--min-days"),
    ("knoxhook events --j", "--jq"),
    ("knoxhook subscribe --event KG", "KG_DEVICE_LOCKED"), ("knoxhook --profile p", "prod"),
    ("knoxhook events --service K", "KG"), ("knoxhook subscribe -e kdms", "KDMS_DEVICE_DELETE"),
]  # fmt: skip


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize(("words", "expected"), FAST)
def test_the_common_requests_import_no_typer_click_or_rich(
    shell: str, words: str, expected: str, profiles: Path
) -> None:
    code = (
        "import sys\n"
        "from knoxhook.cli.entry import main\n"
        "main()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('typer', 'click', 'rich', 'shellingham')), file=sys.stderr)\n"
    )
    env = {**os.environ, "KNOXHOOK_CONFIG_DIR": str(profiles), "_KNOXHOOK_COMPLETE":
           f"complete_{shell}", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1),
           "_TYPER_COMPLETE_ARGS": words, "_TYPER_COMPLETE_FISH_ACTION": "get-args"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert expected in result.stdout
    assert result.stderr == "[]\n"


def test_the_completion_table_is_not_stale() -> None:
    from knoxhook.cli.completion import REGENERATE, TABLE, render_table

    assert TABLE.read_text() == render_table(), f"{TABLE.name} is stale: run {REGENERATE}"
