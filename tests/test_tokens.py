"""Token fetch, on-disk cache (0600, atomic, locked), renewal and revocation."""

from __future__ import annotations

import dataclasses
import json
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest

from knoxhook import config, tokens
from knoxhook.config import Settings
from knoxhook.emulator.testing import EmulatorHandle
from knoxhook.errors import (
    AuthenticationError,
    ExitCode,
    NotConfiguredError,
    TransportError,
    UsageError,
)
from knoxhook.httpoptions import HttpOptions
from knoxhook.retry import RetryPolicy
from knoxhook.tokens import TokenManager

SECRET = "top-secret-value"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)


def make_settings(**changes: Any) -> Settings:
    base = config.load_settings(
        "work", overrides={"base_url": "http://knox.test", "client_id": "client-1"}
    )
    return dataclasses.replace(base, **changes)


class TokenServer:
    """A MockTransport token endpoint: answers from a queue, records requests."""

    def __init__(self, *answers: httpx2.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []
        self.issued = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        self.issued += 1
        return httpx2.Response(
            200, json={"access_token": f"tok-{self.issued}", "expires_in": 599,
                       "token_type": "Bearer", "scope": "kwn"},
        )  # fmt: skip

    @property
    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self)


def manager(server: TokenServer, now: Callable[[], float] | None = None, **kw: Any) -> TokenManager:
    """``kw``: ``settings``, or ``HttpOptions`` fields (``retry``, ``sleep``, ...)."""
    settings = kw.pop("settings", None) or make_settings()
    http = HttpOptions(**{"retry": FAST, "sleep": lambda s: None, **kw},
                       transport=server.transport)  # fmt: skip
    return TokenManager(settings, secret=SECRET, http=http, **({"now": now} if now else {}))


def test_fetch_sends_client_credentials_in_the_form_and_caches_without_secret() -> None:
    server = TokenServer()
    token = manager(server).get()
    assert token.access_token == "tok-1"
    (request,) = server.requests
    assert str(request.url) == "http://knox.test/ams/v1/oauth2/token"
    assert request.headers["user-agent"].startswith("knoxhook/")
    form = parse_qs(request.content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["client-1"],
        "client_secret": [SECRET],
        "scope": ["kwn"],
    }
    path = tokens.cache_path(make_settings())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert SECRET not in text
    assert json.loads(text)["access_token"] == "tok-1"


def test_a_cached_token_is_used_without_network_or_secret() -> None:
    manager(TokenServer()).get()

    def no_network(request: httpx2.Request) -> httpx2.Response:
        raise AssertionError("no request expected")

    again = TokenManager(
        make_settings(), http=HttpOptions(transport=httpx2.MockTransport(no_network))
    )
    assert again.get().access_token == "tok-1"  # secret=None: never resolved


def test_token_is_renewed_ahead_of_expiry() -> None:
    clock = [1000.0]
    server = TokenServer()
    first = manager(server, now=lambda: clock[0]).get()
    clock[0] += 599 - 61  # 61 s left: still fresh with a 60 s margin
    assert manager(server, now=lambda: clock[0]).get() == first
    clock[0] += 2  # 59 s left: renewed
    assert manager(server, now=lambda: clock[0]).get().access_token == "tok-2"
    assert len(server.requests) == 2


def test_very_short_tokens_use_half_their_lifetime_as_margin() -> None:
    token = tokens.Token("t", expires_at=110.0, obtained_at=100.0)
    assert token.is_fresh(104.9, margin=60)
    assert not token.is_fresh(105.1, margin=60)


def test_cache_key_separates_profile_token_url_client_and_scope() -> None:
    paths = {
        tokens.cache_path(make_settings()),
        tokens.cache_path(make_settings(profile="other")),
        tokens.cache_path(make_settings(token_url="http://elsewhere/token")),
        tokens.cache_path(make_settings(client_id="client-2")),
        tokens.cache_path(make_settings(scope="kai")),
    }
    assert len(paths) == 5


def test_renew_after_401_takes_a_token_another_process_already_renewed() -> None:
    server = TokenServer()
    rejected = manager(server).get().access_token
    other = manager(server).renew(rejected=rejected)  # "another process" renews
    assert other.access_token == "tok-2"
    assert manager(server).renew(rejected=rejected) == other  # no second fetch
    assert len(server.requests) == 2


def test_invalid_client_is_authentication_error_without_the_secret() -> None:
    refused = httpx2.Response(
        401, json={"error": "invalid_client", "error_description": f"bad secret {SECRET}"}
    )
    with pytest.raises(AuthenticationError) as info:
        manager(TokenServer(refused)).get()
    assert info.value.exit_code == ExitCode.AUTH_REFUSED
    assert "Knox refused the client credentials of 'client-1'" in info.value.message
    assert "invalid_client" in info.value.message
    assert SECRET not in info.value.message
    assert not tokens.cache_path(make_settings()).exists()


def test_oauth_error_with_200_status_is_authentication_error() -> None:
    odd = httpx2.Response(200, json={"error": "invalid_scope"})
    with pytest.raises(AuthenticationError, match="invalid_scope"):
        manager(TokenServer(odd)).get()


@pytest.mark.parametrize(
    "answer",
    [
        httpx2.Response(200, text="<html>captive portal</html>"),
        httpx2.Response(200, json=["not", "a", "token"]),
        httpx2.Response(200, json=42),
    ],
)
def test_a_2xx_answer_that_is_not_a_token_is_a_network_error_not_refused_credentials(
    answer: httpx2.Response,
) -> None:
    with pytest.raises(TransportError) as info:
        manager(TokenServer(answer)).get()
    assert info.value.exit_code == ExitCode.NETWORK
    assert "answered with something that is not an OAuth token" in info.value.message
    assert "refused the client credentials" not in info.value.message
    assert not tokens.cache_path(make_settings()).exists()


def test_a_token_url_answering_404_is_a_usage_error_not_refused_credentials() -> None:
    missing = httpx2.Response(404, json={"code": 404002, "message": "NOT_FOUND"})
    with pytest.raises(UsageError) as info:
        manager(TokenServer(missing)).get()
    assert info.value.exit_code == ExitCode.USAGE
    assert "http://knox.test/ams/v1/oauth2/token is not a token endpoint (HTTP 404)" in str(
        info.value.message
    )
    assert "--token-url" in (info.value.hint or "")


def test_a_cache_dir_that_is_a_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    cache = tmp_path / "cache-is-a-file"
    cache.write_text("x")
    server = TokenServer()
    with pytest.raises(UsageError, match="cannot use the directory") as info:
        manager(server, settings=make_settings(cache_dir=cache)).get()
    assert str(cache) in info.value.message
    assert server.requests == []  # refused before any network


def test_503_and_429_and_connect_errors_are_retried() -> None:
    slept: list[float] = []
    server = TokenServer(
        httpx2.Response(503),
        httpx2.Response(429, headers={"Retry-After": "3"}),
    )
    token = manager(server, sleep=slept.append, retry=RetryPolicy(attempts=3)).get()
    assert token.access_token == "tok-1"
    assert len(slept) == 2
    assert slept[1] == 3.0
    server = TokenServer(*[httpx2.ConnectError("refused")] * 3)
    with pytest.raises(TransportError, match="could not get a token") as info:
        manager(server, settings=make_settings(profile="cold")).get()
    assert info.value.exit_code == ExitCode.NETWORK
    assert len(server.requests) == 3


def test_no_client_id_is_not_configured() -> None:
    with pytest.raises(NotConfiguredError, match="no client id for profile 'work'"):
        manager(TokenServer(), settings=make_settings(client_id=None)).get()


def test_revoke_posts_the_token_and_forgets_it() -> None:
    server = TokenServer()
    tm = manager(server)
    tm.get()
    server.answers.append(httpx2.Response(200))
    assert tm.revoke() is True
    revoke = server.requests[-1]
    assert str(revoke.url) == "http://knox.test/ams/v1/oauth2/revoke"
    assert parse_qs(revoke.content.decode())["token"] == ["tok-1"]
    assert b"client_secret" not in revoke.content
    assert tokens.read_cached(make_settings()) is None
    assert tm.revoke() is False


def test_concurrent_cold_threads_fetch_one_token(emulator: EmulatorHandle) -> None:
    settings = dataclasses.replace(
        config.load_settings(overrides={"base_url": emulator.base_url}),
        client_id=emulator.client_id,
    )
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            tm = TokenManager(settings, secret=emulator.client_secret)
            results.append(tm.get().access_token)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert len(results) == 12
    assert len(set(results)) == 1
    assert emulator.stats()["token_requests"] == 1


def test_a_cached_token_imports_neither_authlib_nor_keyring_nor_filelock(
    emulator: EmulatorHandle, isolated_env: Path
) -> None:
    settings = dataclasses.replace(
        config.load_settings(overrides={"base_url": emulator.base_url}),
        client_id=emulator.client_id,
    )
    TokenManager(settings, secret=emulator.client_secret).get()
    code = (
        "import sys, dataclasses\n"
        "from knoxhook import config\nfrom knoxhook.tokens import TokenManager\n"
        f"s = dataclasses.replace(config.load_settings(overrides={{'base_url': "
        f"{emulator.base_url!r}}}), client_id={emulator.client_id!r})\n"
        "TokenManager(s).get()\n"
        "print(sorted(m for m in ('authlib', 'keyring', 'filelock') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
    assert emulator.stats()["token_requests"] == 1
