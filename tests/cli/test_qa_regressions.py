"""Regressions found by driving the whole CLI as a user would (QA pass).

Each test names the mistake a user made and asserts the exit code AND the message.
Bugs that live outside ``knoxhook/cli`` are strict xfails here, so the fix flips them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from knoxhook.cli import context, display
from tests.cli.conftest import Cli
from tests.conftest import SAMSUNG_FIXTURES

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

PEM_2024 = SAMSUNG_FIXTURES / "samsung-knox-validation-certificate-2024.pem"


# --- values that look like rich markup are data ----------------------------------------


def test_subscribe_to_a_url_with_brackets_succeeds_and_prints_it_verbatim(
    knox: EmulatorHandle, cli: Cli
) -> None:
    # Was: exit 1 "MarkupError" AFTER Knox had made the subscription (a retry then
    # failed with EVENT_ALREADY_SUBSCRIBED).
    url = "https://hooks.example.com/knox/[/x]"
    r = cli("subscribe", "--url", url, "--event", "KG_DEVICE_LOCKED")
    assert r.code == 0, r.err
    assert f"subscribed {url} to KG_DEVICE_LOCKED" in r.err
    assert url in r.out
    listed = cli("subscriptions", "list", "--json").json()
    assert [s["url"] for s in listed] == [url]


def test_tables_show_colon_words_and_brackets_as_typed(knox: EmulatorHandle, cli: Cli) -> None:
    # Was: ":cd:" became an emoji and "[bold]" vanished (a fingerprint "...:CD:..." was
    # shown with a CD emoji in `cert show`).
    url = "https://hooks.example.com/a:cd:[bold]b"
    made = cli("subscribe", "--url", url, "--event", "KG_DEVICE_LOCKED", "--json")
    assert made.code == 0
    assert f"subscribed {url} to KG_DEVICE_LOCKED" in made.err
    r = cli("subscriptions", "get", made.json()["subscriptionId"])
    assert r.code == 0
    assert url in r.out


def test_fingerprint_with_cd_pair_is_not_turned_into_an_emoji(
    capsys: pytest.CaptureFixture[str],
) -> None:
    display.emit({"sha256_fingerprint": "E4:2C:C2:CD:FA"}, fmt=context.OutputFormat.TABLE)
    out = capsys.readouterr().out
    assert "E4:2C:C2:CD:FA" in out
    assert "\U0001f4bf" not in out


def test_piped_list_keeps_each_id_and_url_on_one_line(knox: EmulatorHandle, cli: Cli) -> None:
    # Was: at rich's default 80 columns a piped table folded ids ("ee22dd6c48e38" /
    # "b3635212c62"), so `knoxhook subscriptions list | grep ID` found nothing.
    url = "https://hooks.example.com/a/rather/long/path/for/the/knox/callbacks"
    sids = [
        cli("subscribe", "--url", url + str(i), "--event", event, "--json").json()["subscriptionId"]
        for i, event in enumerate(("KG_DEVICE_LOCKED", "KDMS_DEVICE_UPLOAD"))
    ]
    r = cli("subscriptions", "list")
    assert r.code == 0
    for i, sid in enumerate(sids):
        assert any(sid in line and url + str(i) in line for line in r.out.splitlines())


def test_listen_line_shows_a_rejection_message_with_brackets_verbatim(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from knoxhook.cli.listen_output import HumanLines

    verdict: Any = SimpleNamespace(
        received_at="2026-11-29T01:02:03Z",
        accepted=False,
        verdict="rejected",
        status=400,
        reason="malformed_signature",
        message="header part '[/x]' is not base64url :cd:",
        forward=None,
    )
    print(HumanLines(display.console()).line(verdict))
    out = capsys.readouterr().out
    assert "rejected 400 malformed_signature: header part '[/x]' is not base64url :cd:" in out
    verdict.message = "evil \x1b]0;owned\x07 title"  # an escape sequence stays inert
    assert "evil \\x1b]0;owned\\x07 title" in HumanLines(display.console()).line(verdict)


# --- files and ports that cannot be used: usage errors, not "unexpected error" -----------


@pytest.mark.parametrize("kind", ["not-a-database", "directory"])
def test_verify_with_an_unusable_nonce_db_exits_2_naming_it(
    cli: Cli, tmp_path: Path, kind: str
) -> None:
    # Was: exit 1 "unexpected error: DatabaseError: file is not a database".
    db = tmp_path / "nonces"
    if kind == "directory":
        db.mkdir()
    else:
        db.write_text("not sqlite at all, " * 100)
    body = tmp_path / "body.json"
    body.write_text("{}")
    r = cli(
        "verify", "--body", str(body), "--signature", "a.b.c",
        "--cert", str(PEM_2024), "--nonce-db", str(db),
    )  # fmt: skip
    assert r.code == 2
    assert f"Error: --nonce-db {db}: cannot use it as a nonce store" in r.err
    assert "Hint: give a new file path" in r.err


def test_listen_with_an_unusable_nonce_db_exits_2_as_json(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "nonces.sqlite3"
    db.write_bytes(b"\x00garbage" * 512)
    r = cli("listen", "--port", "0", "--cert", str(PEM_2024), "--nonce-db", str(db), "--json")
    assert r.code == 2
    assert r.out == ""
    error = r.error()
    assert error["code"] == "usage_error"
    assert error["message"].startswith(f"--nonce-db {db}: cannot use it as a nonce store")
    with pytest.raises(sqlite3.DatabaseError):  # and it was left as it was
        sqlite3.connect(db).execute("select * from sqlite_master").fetchall()


def test_listen_recording_into_a_directory_exits_2_naming_it(cli: Cli, tmp_path: Path) -> None:
    # Was: exit 1 "unexpected error: IsADirectoryError".
    r = cli(
        "listen", "--port", "0", "--cert", str(PEM_2024),
        "--nonce-db", ":memory:", "--record", str(tmp_path),
    )  # fmt: skip
    assert r.code == 2
    assert f"Error: --record {tmp_path}: cannot append to it (Is a directory)" in r.err


@pytest.mark.parametrize(
    "args",
    [
        ("listen", "--port", "70000", "--nonce-db", ":memory:", "--cert", str(PEM_2024)),
        ("listen", "--port", "-1", "--nonce-db", ":memory:", "--cert", str(PEM_2024)),
        ("emulator", "run", "--port", "70000"),
    ],
)
def test_a_port_out_of_range_exits_2(cli: Cli, args: tuple[str, ...]) -> None:
    # Was: exit 1 "unexpected error: OverflowError: bind(): port must be 0-65535."
    r = cli(*args)
    assert r.code == 2
    port = args[args.index("--port") + 1]
    assert f"Error: --port {port}: a port is 0..65535" in r.err


# --- hints that send the user somewhere real --------------------------------------------


def test_fetching_an_expired_certificate_does_not_advise_fetching_again(
    knox: EmulatorHandle, cli: Cli
) -> None:
    knox.set_certificate("expire")
    r = cli("cert", "fetch", "--json")
    assert r.code == 8
    assert r.json()["expired"] is True
    error = r.error()
    assert error["message"].startswith("certificate expired on")
    assert "cert fetch" not in error["hint"]
    assert f"{knox.base_url} itself serves this expired certificate" in error["hint"]


def test_showing_an_expired_stored_certificate_still_advises_cert_fetch(cli: Cli) -> None:
    expired = PEM_2024.parent / "samsung-knox-validation-certificate-2022.pem"
    r = cli("cert", "show", "--file", str(expired))
    assert r.code == 8
    assert "Hint: run `knoxhook cert fetch` to download the current one" in r.err


def test_login_with_empty_stdin_exits_2_and_shows_how_to_pipe(
    knox: EmulatorHandle, cli: Cli
) -> None:
    r = cli("auth", "login", "--client-id", "x", "--client-secret-stdin", stdin=b"")
    assert r.code == 2
    assert "Error: --client-secret-stdin: nothing was read from standard input" in r.err
    assert 'Hint: pipe the secret in: printf %s "$KNOX_SECRET" | knoxhook auth login' in r.err


# --- found in modules this pass does not own (fix there; these flip to passing) ---------


def test_a_config_toml_that_is_not_utf8_is_a_clear_usage_error(
    cli: Cli, isolated_env: Path
) -> None:
    config = isolated_env / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_bytes(b"\xff\xfe[profiles.default]\n")
    r = cli("auth", "status")
    assert r.code == 2
    assert f"Error: cannot read {config}" in r.err


def test_a_cache_dir_that_is_a_file_is_a_clear_error(
    knox: EmulatorHandle, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache-is-a-file"
    cache.write_text("x")
    monkeypatch.setenv("KNOXHOOK_CACHE_DIR", str(cache))
    r = cli("subscriptions", "list")
    assert r.code in (2, 3)
    assert str(cache) in r.err
    assert "unexpected error" not in r.err


def test_ctrl_c_during_a_command_says_interrupted(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from knoxhook import events

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(events, "by_service", interrupted)
    r = cli("events", "--json")
    assert r.code == 130
    assert r.error()["code"] == "interrupted"


def test_a_bad_choice_names_the_valid_values_plainly(cli: Cli) -> None:
    r = cli("events", "--service", "XX")
    assert r.code == 2
    assert "Value error" not in r.err
    assert "KDMS" in r.err
    assert (
        "Error: Invalid value for '--service' / '-s': 'XX' is not one of: KG, KE, KAI, KDMS, KC."
        in r.err
    )


# --- scripts: --json after the subcommand, and arguments that are not text ---------------


@pytest.mark.parametrize(
    "args",
    [
        ("subscriptions", "get", "--json"),
        ("subscriptions", "get", "-o", "json"),
        ("subscriptions", "update", "--output=json"),
        ("subscriptions", "get", "-ojson"),
        ("subscriptions", "get", "-o", "ndjson"),
        ("subscriptions", "get", "--output=NDJSON"),
    ],
)
def test_a_usage_error_after_the_subcommand_is_json_when_asked(
    cli: Cli, args: tuple[str, ...]
) -> None:
    # Was: the root callback reset the format, so "Missing argument 'ID'." came as text.
    r = cli(*args)
    assert r.code == 2
    assert r.error() == {
        "code": "usage_error",
        "message": "Missing argument 'ID'.",
        "hint": "see --help",
    }


BAD = "\udcff"  # how Python hands over a non-UTF-8 byte of argv


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("subscriptions", "get", "a" + BAD), "ID"),
        (("subscriptions", "delete", "a" + BAD, "--yes"), "ID"),
        (("subscriptions", "update", "a" + BAD, "--url", "https://e.example/"), "ID"),
        (("subscribe", "--url", "https://e.example/" + BAD, "-e", "KG_DEVICE_LOCKED"), "--url"),
        (("trigger", "KG_DEVICE_LOCKED", "--trace-id", "t" + BAD), "--trace-id"),
        (("auth", "login", "--client-id", "c" + BAD, "--client-secret-stdin"), "--client-id"),
        (("verify", "--body", "-", "--signature", "a.b.c", "--nonce", "n" + BAD), "--nonce"),
    ],
)
def test_a_non_utf8_argument_is_a_usage_error_naming_it(
    knox: EmulatorHandle, cli: Cli, args: tuple[str, ...], flag: str
) -> None:
    # Was: exit 1 "unexpected error: UnicodeEncodeError ... surrogates not allowed"
    # (auth login even said exit 4 "Knox refused the client credentials").
    r = cli(*args, "--json", stdin=b"secret\n")
    assert r.code == 2
    error = r.error()
    assert error["code"] == "usage_error"
    assert error["message"].startswith(f"{flag}: ")
    assert error["message"].endswith("is not valid UTF-8 text")
    assert knox.stats()["token_requests"] == 0  # refused before any request


# --- refusals say what to do next; every help screen has an example ----------------------


def test_an_event_held_elsewhere_exits_5_with_a_way_out(knox: EmulatorHandle, cli: Cli) -> None:
    first = cli("subscribe", "--url", "https://a.example/", "-e", "KG_DEVICE_LOCKED", "--json")
    holder = first.json()["subscriptionId"]
    r = cli("subscribe", "--url", "https://b.example/", "-e", "KG_DEVICE_LOCKED")
    assert r.code == 5
    assert f"event KG_DEVICE_LOCKED is already held by subscription {holder}" in r.err
    assert "Hint: an event belongs to one subscription at a time" in r.err
    assert "--remove-event EVENT" in r.err


@pytest.mark.parametrize("verb", ["get", "update"])
def test_an_unknown_id_exits_6_pointing_at_the_list(
    knox: EmulatorHandle, cli: Cli, verb: str
) -> None:
    extra = ("--url", "https://a.example/") if verb == "update" else ()
    r = cli("subscriptions", verb, "nope", *extra, "--json")
    assert r.code == 6
    error = r.error()
    assert "no subscription with id 'nope'" in error["message"]
    assert error["hint"] == "see the ids with `knoxhook subscriptions list`"


@pytest.mark.parametrize("group", ["auth", "cert", "subscriptions", "emulator"])
def test_every_group_help_has_an_example(cli: Cli, group: str) -> None:
    r = cli(group, "--help")
    assert r.code == 0
    assert "Examples:" in r.out
    assert f"  knoxhook {group} " in r.out


def test_a_bare_group_prints_its_help_not_an_error(cli: Cli) -> None:
    r = cli("auth")
    assert "Usage: knoxhook auth" in r.out + r.err
    assert "Error: Usage" not in r.err


# --- a fresh machine: nothing configured ----------------------------------------------------


def test_trigger_never_posts_to_the_real_knox_cloud(cli: Cli) -> None:
    # Was: with no profile, trigger POSTed /_emulator/events to https://api.samsungknox.com.
    r = cli("trigger", "KG_DEVICE_LOCKED", "--json")
    assert r.code == 2
    error = r.error()
    assert error["message"] == (
        "no emulator to ask: the profile's base URL https://api.samsungknox.com is the real "
        "Knox cloud"
    )
    assert error["hint"].startswith("pass --emulator URL")


def test_trigger_with_a_real_knox_host_in_the_environment_is_refused_too(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_BASE_URL", "https://eu-kcs-api.samsungknox.com")
    r = cli("trigger", "KG_DEVICE_LOCKED")
    assert r.code == 2
    assert "Error: no emulator to ask: the profile's base URL https://eu-kcs-api" in r.err


@pytest.mark.parametrize("command", ["verify", "listen"])
def test_without_credentials_or_cert_the_hint_offers_cert(
    cli: Cli, tmp_path: Path, command: str
) -> None:
    body = tmp_path / "body.json"
    body.write_text("{}")
    args = (
        ("verify", "--body", str(body), "--signature", "a.b.c")
        if command == "verify"
        else ("listen", "--port", "0", "--nonce-db", ":memory:")
    )
    r = cli(*args)
    assert r.code == 3
    assert "Error: no client id for profile 'default'" in r.err
    assert "or pass the Knox certificate with --cert FILE" in r.err


class _Terminal:
    """A stdin that says it is a terminal and holds ``data``."""

    def __init__(self, data: bytes) -> None:
        import io

        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return True

    def read(self) -> str:
        return self.buffer.read().decode()


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("verify", "--body", "-", "--signature", "a.b.c", "--cert", str(PEM_2024)), "body"),
        (("trigger", "KG_DEVICE_LOCKED", "--payload", "-", "--emulator", "http://127.0.0.1:9"),
         "payload"),
    ],
)  # fmt: skip
def test_reading_stdin_from_a_terminal_says_how_to_end_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], what: str
) -> None:
    # Was: silence, as if it hung.
    import sys

    monkeypatch.setattr(sys, "stdin", _Terminal(b"{}"))
    r = cli(*args)
    assert f"reading the {what} from the terminal; end it with Ctrl-D" in r.err
    assert r.code in (7, 8)  # then it went on: bad signature / no emulator on port 9


# --- a base URL that is not a URL -------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "args", "env"),
    [
        ("KNOXHOOK_BASE_URL", ("subscriptions", "list"), {"KNOXHOOK_BASE_URL": "not-a-url"}),
        ("KNOXHOOK_BASE_URL", ("cert", "fetch"), {"KNOXHOOK_BASE_URL": "knox.example.com"}),
        ("KNOXHOOK_TOKEN_URL", ("auth", "token"), {"KNOXHOOK_TOKEN_URL": "/ams/v1/token"}),
        ("--base-url", ("auth", "login", "--client-secret-stdin", "--base-url", "ftp://x"), {}),
    ],
)
def test_a_base_or_token_url_that_is_not_http_is_a_usage_error_naming_its_source(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
    where: str,
    args: tuple[str, ...],
    env: dict[str, str],
) -> None:
    # Was: exit 7 "could not get a token from not-a-url/ams/v1/oauth2/token:
    # UnsupportedProtocol" (a network error, so CI retried it).
    monkeypatch.setenv("KNOXHOOK_CLIENT_ID", "someone")
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", "not-printed")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    r = cli(*args, stdin=b"not-printed\n")
    assert r.code == 2
    assert f"Error: {where}: " in r.err
    assert "is not an http(s) URL" in r.err
    assert "not-printed" not in r.err
    assert not (isolated_env / "config" / "config.toml").exists()  # login saved nothing


def test_logout_still_cleans_up_when_the_base_url_is_broken(
    cli: Cli, knox: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KNOXHOOK_CLIENT_SECRET")
    login = cli(
        "auth", "login", "--client-secret-stdin", "--insecure-storage",
        stdin=knox.client_secret.encode() + b"\n",
    )  # fmt: skip
    assert login.code == 0, login.err
    monkeypatch.setenv("KNOXHOOK_BASE_URL", "not-a-url")
    r = cli("auth", "logout", "--json")
    assert r.code == 0
    assert r.json()["secret_deleted"]


def test_a_token_url_that_answers_404_is_not_called_refused_credentials(
    cli: Cli, knox: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOXHOOK_TOKEN_URL", knox.base_url + "/wrong/path")
    r = cli("subscriptions", "list")
    assert r.code != 4
    assert "refused the client credentials" not in r.err


def test_a_global_option_after_the_command_says_where_it_goes(cli: Cli) -> None:
    r = cli("auth", "login", "--profile", "staging")
    assert r.code == 2
    assert "knoxhook --profile" in r.err


def test_delete_all_with_nothing_to_delete_says_it_once(knox: EmulatorHandle, cli: Cli) -> None:
    # Was: "no subscriptions to delete" and then "(none)" from the empty table.
    r = cli("subscriptions", "delete", "--all", "--yes")
    assert (r.code, r.out, r.err) == (0, "", "no subscriptions to delete\n")


def test_as_a_process_non_utf8_bytes_and_markup_in_arguments_are_handled(
    knox: EmulatorHandle,
) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1"}

    def run(*args: str | bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "knoxhook", *args],
            capture_output=True, timeout=60, check=False, env=env,
        )  # fmt: skip

    bad = run("subscriptions", "get", b"id-\xff")
    assert bad.returncode == 2
    assert bad.stderr.startswith(b"Error: ID: 'id-\\udcff' is not valid UTF-8 text\nHint: ")
    url = "https://hooks.example.com/[/x]:cd:"
    made = run("subscribe", "--url", url, "--event", "KC_DEVICE_STATUS_CHANGE")
    assert made.returncode == 0, made.stderr
    assert b"Traceback" not in made.stderr
    assert url.encode() in made.stdout
    assert f"subscribed {url} to KC_DEVICE_STATUS_CHANGE".encode() in made.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--path", "knox"), "Error: --path must start with '/': 'knox'"),
        (("--follow", "{gone}/rec.ndjson"),
         "Error: --follow {gone}/rec.ndjson: the directory {gone} does not exist"),
        (("--cert", "{gone}/k.pem"), "Error: --cert {gone}/k.pem: no such file"),
    ],
)  # fmt: skip
def test_ui_checks_its_options_before_opening_the_screen(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    # Was: the screen opened (on a TTY) following a file that could never appear.
    gone = str(tmp_path / "gone")
    r = cli("ui", *(a.format(gone=gone) for a in args))
    assert r.code == 2
    assert r.err.startswith(message.format(gone=gone))


def test_an_80_column_table_folds_the_url_but_never_the_id(
    knox: EmulatorHandle, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: "8963a671c8ee5" / "b493a29e24d" on two lines: the id could not be copied.
    url = "https://hooks.example.com/" + "long/" * 12
    sid = cli("subscribe", "--url", url, "-e", "KG_DEVICE_RELOCK_TIMESTAMP_APPLIED", "--json")
    monkeypatch.setenv("COLUMNS", "80")
    r = cli("subscriptions", "list", "-o", "table")  # off a terminal only when asked for
    assert r.code == 0
    assert max(len(line) for line in r.out.splitlines()) <= 80
    assert any(sid.json()["subscriptionId"] in line for line in r.out.splitlines())
    assert url not in r.out  # folded to fit
    events = cli("events", "-s", "KG")
    assert "KG_DEVICE_RELOCK_TIMESTAMP_APPLIED" in events.out


@pytest.mark.parametrize(
    "args", [("subscriptions", "list"), ("auth", "token"), ("cert", "fetch", "--json")]
)
def test_a_stale_secret_in_the_environment_is_named_in_the_hint(
    knox: EmulatorHandle, cli: Cli, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    # Was: "run `knoxhook auth login` again", which cannot help while the variable wins.
    monkeypatch.setenv("KNOXHOOK_CLIENT_SECRET", "stale-ci-value")
    r = cli(*args)
    assert r.code == 4
    assert "refused the client credentials of 'knoxhook-demo'" in r.err
    assert "KNOXHOOK_CLIENT_SECRET is set and wins over the stored secret" in r.err
    assert "stale-ci-value" not in r.err + r.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("listen", "--port", "0", "--nonce-db", ":memory:", "--cert", str(PEM_2024),
          "--nonce-window", "nan"), "Error: --nonce-window must be a positive number of seconds"),
        (("emulator", "run", "--port", "0", "--delivery-backoff", "nan"),
         "Error: --delivery-backoff must be a number of seconds, not nan"),
        (("emulator", "run", "--port", "0", "--delivery-timeout", "nan"),
         "Error: --delivery-timeout must be a number of seconds, not nan"),
    ],
)  # fmt: skip
def test_nan_seconds_are_refused(cli: Cli, args: tuple[str, ...], message: str) -> None:
    # Was: accepted; a NaN nonce window cannot expire or compare, a NaN backoff never waits.
    r = cli(*args)
    assert r.code == 2
    assert r.err.startswith(message)


def test_an_error_message_from_a_server_is_one_inert_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A Knox (or impostor) error text is printed: no terminal escape may reach the screen.
    display.report_error("api_refused", "refused:\nline two \x1b[2J\x07", "retry\r\nlater")
    err = capsys.readouterr().err
    assert err == "Error: refused: line two \\x1b[2J\\x07\nHint: retry  later\n"


@pytest.mark.parametrize("out", ["/", "{tmp}"])
def test_cert_fetch_out_a_directory_is_refused_before_downloading(
    knox: EmulatorHandle, cli: Cli, tmp_path: Path, out: str
) -> None:
    # Was: exit 1 "ValueError: PosixPath('/') has an empty name" (found by an argv fuzz).
    out = out.format(tmp=tmp_path)
    r = cli("cert", "fetch", "--out", out)
    assert r.code == 2
    assert r.err.startswith(f"Error: --out {out} is a directory\nHint: give a file name")
    assert knox.stats()["token_requests"] == 0


def test_a_mistyped_profile_is_named_with_the_known_ones(cli: Cli, isolated_env: Path) -> None:
    # Was: "no client id for profile 'nope'" and nothing about the typo.
    from knoxhook.config import save_profile

    config = save_profile(
        isolated_env / "config", "prod", {"client_id": "c1", "base_url": "http://127.0.0.1:9"}
    )
    r = cli("--profile", "nope", "subscriptions", "list")
    assert r.code == 3
    assert (
        f"Error: no client id for profile 'nope' (no such profile in {config}; known: prod)"
        in r.err
    )
