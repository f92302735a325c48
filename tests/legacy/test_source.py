"""LegacyTokenManager + ApiTokenAuth against the emulator: one accesstoken request per
cold cache, a 0600 cache without secrets, renewal on 403225, typed refusals."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import pytest

from knoxhook import wire
from knoxhook.config import load_settings
from knoxhook.emulator import legacy
from knoxhook.errors import AuthenticationError, TransportError, UsageError
from knoxhook.httpoptions import HttpOptions
from knoxhook.legacy.auth import ApiTokenAuth
from knoxhook.legacy.cache import cache_path, read_cached
from knoxhook.legacy.source import LegacyTokenManager
from knoxhook.legacy.store import LegacyCredentials, from_file
from knoxhook.retry import RetryPolicy
from tests.legacy.conftest import ACCESS_TOKEN_REQUEST, IDENTIFIER, Clock, requests_to

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

LIST = wire.subscriptions_path(wire.KWN_LEGACY_PREFIX)


@pytest.fixture
def credentials(keys_file: Callable[..., Path]) -> LegacyCredentials:
    return from_file(keys_file(), IDENTIFIER)


def _manager(emu: EmulatorHandle, creds: LegacyCredentials, **kw: object) -> LegacyTokenManager:
    settings = load_settings(overrides={"base_url": emu.base_url})
    return LegacyTokenManager(settings, credentials=creds, **kw)  # type: ignore[arg-type]


def test_one_accesstoken_request_then_the_cache(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials
) -> None:
    first = _manager(legacy_emulator, credentials).get()
    again = _manager(legacy_emulator, credentials).get()
    assert again.access_token == first.access_token
    assert requests_to(legacy_emulator, ACCESS_TOKEN_REQUEST) == 1
    assert first.expires_at - first.obtained_at == 1800
    assert first.token_type == "x-knox-apitoken"


def test_the_cache_is_0600_and_holds_neither_keys_nor_identifier(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials
) -> None:
    manager = _manager(legacy_emulator, credentials)
    manager.get()
    path = cache_path(manager.settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert IDENTIFIER not in text
    assert credentials.keys.public_key_b64 not in text  # neither key is in there
    assert "PRIVATE" not in text
    assert set(json.loads(text)) == {
        "access_token", "expires_at", "obtained_at", "token_type", "scope", "profile",
        "token_url", "client_id",
    }  # fmt: skip


def test_validity_is_sent_and_sets_the_lifetime(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials
) -> None:
    token = _manager(legacy_emulator, credentials, validity=5).get()
    assert token.expires_at - token.obtained_at == 300
    with pytest.raises(UsageError, match="1 to 30 minutes, not 31"):
        _manager(legacy_emulator, credentials, validity=31)


def test_a_token_near_expiry_is_renewed_before_use(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials, clock: Clock
) -> None:
    first = _manager(legacy_emulator, credentials).get()
    clock.offset = 1800 - 30  # both sides 30 s before expiry: inside the 60 s margin
    later = _manager(legacy_emulator, credentials, now=clock).get()
    assert later.access_token != first.access_token
    assert requests_to(legacy_emulator, ACCESS_TOKEN_REQUEST) == 2


def test_an_expired_token_mid_use_is_renewed_once_and_the_call_retried(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials
) -> None:
    manager = _manager(legacy_emulator, credentials)
    auth = ApiTokenAuth(manager)
    with httpx2.Client(base_url=legacy_emulator.base_url, auth=auth) as http:
        assert http.get(LIST).status_code == 200
        legacy.authority_of(legacy_emulator.app).expire_tokens()
        response = http.get(LIST)
    assert response.status_code == 200
    assert auth.renewals == 1
    assert requests_to(legacy_emulator, ACCESS_TOKEN_REQUEST) == 2
    assert requests_to(legacy_emulator, f"GET {LIST}") == 3


def test_a_403_that_is_not_expiry_is_not_retried(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials
) -> None:
    legacy_emulator.fault(path=LIST, status=403, count=1)
    auth = ApiTokenAuth(_manager(legacy_emulator, credentials))
    with httpx2.Client(base_url=legacy_emulator.base_url, auth=auth) as http:
        assert http.get(LIST).status_code == 403
    assert auth.renewals == 0


def test_a_wrong_identifier_is_an_authentication_error_without_the_identifier(
    legacy_emulator: EmulatorHandle, keys_file: Callable[..., Path]
) -> None:
    wrong = from_file(keys_file(), "wrong-identifier-1234")
    with pytest.raises(AuthenticationError) as exc:
        _manager(legacy_emulator, wrong).get()
    assert exc.value.exit_code == 4
    assert exc.value.message.startswith("Knox refused the Client Identifier and keys (HTTP 401")
    assert "wrong-identifier-1234" not in exc.value.message + (exc.value.hint or "")
    assert read_cached(load_settings(overrides={"base_url": legacy_emulator.base_url})) is None


def test_keys_of_another_pair_are_refused(
    legacy_emulator: EmulatorHandle, keys_file: Callable[..., Path]
) -> None:
    other = from_file(keys_file(index=1, name="other.json"), IDENTIFIER)
    with pytest.raises(AuthenticationError, match="does not verify with the registered public key"):
        _manager(legacy_emulator, other).get()


def test_a_host_without_the_endpoint_is_a_usage_error(credentials: LegacyCredentials) -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(404, json={"code": 404002, "message": "NOT_FOUND"})

    settings = load_settings(overrides={"base_url": "http://127.0.0.1:9"})
    manager = LegacyTokenManager(
        settings, credentials=credentials, http=HttpOptions(transport=httpx2.MockTransport(answer))
    )
    with pytest.raises(
        UsageError, match=r"is not a Knox Cloud Authentication endpoint \(HTTP 404\)"
    ):
        manager.get()


def test_busy_then_ok_is_retried_and_an_unreachable_host_is_a_network_error(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials
) -> None:
    legacy_emulator.fault(path=wire.LEGACY_ACCESS_TOKEN_PATH, status=503, count=1)
    manager = _manager(legacy_emulator, credentials, http=HttpOptions(sleep=lambda _: None))
    assert manager.get().access_token
    assert manager.fetches == 1
    settings = load_settings(overrides={"base_url": "http://127.0.0.1:9"})
    down = LegacyTokenManager(
        settings,
        credentials=credentials,
        http=HttpOptions(retry=RetryPolicy(attempts=2), sleep=lambda _: None),
    )
    with pytest.raises(TransportError, match="could not get a legacy access token"):
        down.get()


def test_twelve_threads_on_a_cold_cache_make_one_request(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials
) -> None:
    tokens: list[str] = []
    barrier = threading.Barrier(12)

    def work() -> None:
        manager = _manager(legacy_emulator, credentials)
        barrier.wait(timeout=10)
        tokens.append(manager.get().access_token)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(tokens) == 12
    assert len(set(tokens)) == 1
    assert requests_to(legacy_emulator, ACCESS_TOKEN_REQUEST) == 1


def test_a_debug_trace_never_shows_the_identifier_the_jwts_or_the_tokens(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials
) -> None:
    lines: list[str] = []
    options = HttpOptions(base_url=legacy_emulator.base_url, trace=lines.append)
    manager = _manager(legacy_emulator, credentials, http=options)
    with options.client(secrets=manager.known_secrets, auth=ApiTokenAuth(manager)) as http:
        http.get(LIST)
    trace = "\n".join(lines)
    assert "POST" in trace
    assert "x-knox-apitoken: ***" in trace
    for secret in [IDENTIFIER, *manager.known_secrets()]:
        assert secret is not None
        assert secret not in trace


def test_a_planted_legacy_token_file_is_never_trusted(
    legacy_emulator: EmulatorHandle, credentials: LegacyCredentials, tmp_path: Path
) -> None:
    import os
    import time

    manager = _manager(legacy_emulator, credentials)
    path = cache_path(manager.settings)
    path.parent.mkdir(parents=True, mode=0o700)
    target = tmp_path / "theirs.json"
    now = time.time()
    target.write_text(
        json.dumps({"access_token": "planted", "expires_at": now + 900, "obtained_at": now})
    )
    os.symlink(target, path)
    assert read_cached(manager.settings) is None
    token = manager.get()
    assert token.access_token != "planted"
    assert not path.is_symlink()
    assert json.loads(target.read_text())["access_token"] == "planted"  # left untouched
