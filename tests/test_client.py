"""KnoxClient: headers, bearer renewal, error mapping, retries, ambiguity, redacted trace."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from knoxhook import config, wire
from knoxhook.client import KnoxClient, open_client
from knoxhook.config import Settings
from knoxhook.emulator.testing import EmulatorHandle, running_emulator
from knoxhook.errors import (
    ApiError,
    AuthenticationError,
    ExitCode,
    NotFoundError,
    TransportError,
)
from knoxhook.httpoptions import HttpOptions
from knoxhook.retry import RetryPolicy, parse_retry_after

SECRET = "client-secret-xyz"
SUBS = wire.subscriptions_path()
Handler = Callable[[httpx2.Request], httpx2.Response]


def make_settings(base_url: str = "http://knox.test", **changes: Any) -> Settings:
    settings = config.load_settings(overrides={"base_url": base_url, "client_id": "client-1"})
    return dataclasses.replace(settings, **changes)


class Knox:
    """A MockTransport Knox: the token endpoint issues tok-N; API answers from a queue."""

    def __init__(self, *answers: httpx2.Response | Exception) -> None:
        self.answers = list(answers)
        self.api: list[httpx2.Request] = []
        self.bearer: list[str | None] = []  # the Authorization header as each was sent
        self.token_requests: list[httpx2.Request] = []
        self.tokens = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == wire.TOKEN_PATH:
            self.token_requests.append(request)
            self.tokens += 1
            return httpx2.Response(
                200, json={"access_token": f"tok-{self.tokens}", "expires_in": 599}
            )
        self.api.append(request)
        self.bearer.append(request.headers.get("authorization"))
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return httpx2.Response(200, json=[])

    def client(self, settings: Settings | None = None, **kw: Any) -> KnoxClient:
        """``kw``: ``HttpOptions`` fields (``timeout``, ``trace``, ...)."""
        kw.setdefault("sleep", lambda s: None)
        kw.setdefault("retry", RetryPolicy(attempts=3, jitter=False))
        http = HttpOptions(transport=httpx2.MockTransport(self), **kw)
        return KnoxClient(settings or make_settings(), secret=SECRET, http=http)


def knox_error(status: int, name: str, data: str, code: int = 4000) -> httpx2.Response:
    return httpx2.Response(status, json={"code": code, "message": name, "data": data})


def test_sends_user_agent_bearer_and_tenant_header() -> None:
    knox = Knox()
    with knox.client(make_settings(tenant_id="tenant-9")) as client:
        assert client.get_json(SUBS) == []
    (request,) = knox.api
    assert str(request.url) == "http://knox.test/kwn/v1/subscriptions"
    assert request.headers["user-agent"] == "knoxhook/0.1.0"
    assert request.headers["authorization"] == "Bearer tok-1"
    assert request.headers["x-wsm-managed-tenantid"] == "tenant-9"
    assert request.headers["accept"] == "application/json"


def test_token_and_api_requests_share_user_agent_timeout_and_transport() -> None:
    knox = Knox()
    with knox.client(timeout=2.5) as client:
        client.get_json(SUBS)
    (token_request,) = knox.token_requests  # through the same injected transport
    (api_request,) = knox.api
    for request in (token_request, api_request):
        assert request.headers["user-agent"] == "knoxhook/0.1.0"
        assert request.extensions["timeout"]["read"] == 2.5


def test_401_renews_the_token_once_and_resends() -> None:
    knox = Knox(httpx2.Response(401), httpx2.Response(200, json=[{"subscriptionId": "1"}]))
    with knox.client() as client:
        assert client.get_json(SUBS) == [{"subscriptionId": "1"}]
    assert knox.bearer == ["Bearer tok-1", "Bearer tok-2"]
    assert knox.tokens == 2


def test_401_after_renewal_is_authentication_error() -> None:
    knox = Knox(httpx2.Response(401), knox_error(401, "UNAUTHORIZED", "token not valid"))
    with knox.client() as client, pytest.raises(AuthenticationError) as info:
        client.get_json(SUBS)
    assert info.value.exit_code == ExitCode.AUTH_REFUSED
    assert info.value.message == "Knox refused the access token (401 UNAUTHORIZED): token not valid"
    assert knox.tokens == 2
    assert len(knox.api) == 2


def test_404_is_not_found() -> None:
    knox = Knox(knox_error(404, "SUBSCRIPTION_NOT_FOUND", "no subscription 42", 4040))
    with knox.client() as client, pytest.raises(NotFoundError) as info:
        client.request("GET", wire.subscription_path("42"))
    assert info.value.exit_code == ExitCode.NOT_FOUND
    assert "SUBSCRIPTION_NOT_FOUND" in info.value.message
    assert info.value.knox_code == 4040


def test_400_knox_error_body_is_parsed_into_the_message() -> None:
    knox = Knox(knox_error(400, "EVENT_ALREADY_SUBSCRIBED", "KG_DEVICE_LOCKED is held by 7"))
    with knox.client() as client, pytest.raises(ApiError) as info:
        client.request("POST", SUBS, json={"url": "https://x", "events": ["KG_DEVICE_LOCKED"]})
    assert info.value.exit_code == ExitCode.API_REFUSED
    assert info.value.message == (
        "Knox refused the request (400 EVENT_ALREADY_SUBSCRIBED): KG_DEVICE_LOCKED is held by 7"
    )
    assert (info.value.status, info.value.knox_name) == (400, "EVENT_ALREADY_SUBSCRIBED")
    assert json.loads(knox.api[0].content) == {"url": "https://x", "events": ["KG_DEVICE_LOCKED"]}


def test_429_honours_retry_after_even_for_a_post() -> None:
    slept: list[float] = []
    knox = Knox(httpx2.Response(429, headers={"Retry-After": "2"}), httpx2.Response(201, json={}))
    with knox.client(sleep=slept.append) as client:
        assert client.request("POST", SUBS, json={}).status_code == 201
    assert slept == [2.0]
    assert len(knox.api) == 2


def test_a_retry_after_longer_than_the_cap_is_not_waited_for() -> None:
    slept: list[float] = []
    knox = Knox(httpx2.Response(429, headers={"Retry-After": "3600"}))
    with knox.client(sleep=slept.append) as client, pytest.raises(TransportError) as info:
        client.get_json(SUBS)
    assert slept == []
    assert info.value.hint == "Knox asked to wait 3600 s"
    assert not info.value.ambiguous


def test_503_on_get_is_retried_with_capped_backoff_then_gives_up() -> None:
    slept: list[float] = []
    knox = Knox(*[httpx2.Response(503)] * 4)
    policy = RetryPolicy(attempts=4, base_delay=1.0, max_delay=3.0, jitter=False)
    client = knox.client(sleep=slept.append, retry=policy)
    with client, pytest.raises(TransportError) as info:
        client.get_json(SUBS)
    assert slept == [1.0, 2.0, 3.0]
    assert info.value.exit_code == ExitCode.NETWORK
    assert info.value.message.startswith("GET http://knox.test/kwn/v1/subscriptions failed")
    assert "HTTP 503 after 4 attempt(s)" in info.value.message


def test_503_on_post_is_not_retried_and_is_ambiguous() -> None:
    knox = Knox(httpx2.Response(503), httpx2.Response(201, json={}))
    with knox.client() as client, pytest.raises(TransportError) as info:
        client.request("POST", SUBS, json={})
    assert info.value.ambiguous
    assert "may or may not have taken effect" in info.value.message
    assert len(knox.api) == 1


def test_post_with_idempotent_true_is_retried() -> None:
    knox = Knox(httpx2.Response(502), httpx2.Response(200, json={}))
    with knox.client() as client:
        assert client.request("POST", SUBS, json={}, idempotent=True).status_code == 200


def test_connect_error_is_retried_even_for_a_post() -> None:
    knox = Knox(httpx2.ConnectError("refused"), httpx2.Response(201, json={}))
    with knox.client() as client:
        assert client.request("POST", SUBS, json={}).status_code == 201


def test_dropped_connection_after_send_is_ambiguous_for_post_and_retried_for_get() -> None:
    knox = Knox(httpx2.RemoteProtocolError("server disconnected"))
    with knox.client() as client, pytest.raises(TransportError) as info:
        client.request("POST", SUBS, json={})
    assert info.value.ambiguous
    assert info.value.hint == "check the result before trying again"
    assert len(knox.api) == 1
    knox = Knox(httpx2.ReadTimeout("slow"), httpx2.Response(200, json=[]))
    with knox.client() as client:
        assert client.get_json(SUBS) == []


def test_unreachable_host_is_transport_error_not_ambiguous() -> None:
    knox = Knox(*[httpx2.ConnectError("refused")] * 3)
    with knox.client() as client, pytest.raises(TransportError) as info:
        client.get_json(SUBS)
    assert not info.value.ambiguous
    assert "cannot connect to http://knox.test" in info.value.message
    assert "after 3 attempt(s)" in info.value.message


def test_500_is_not_retried() -> None:
    knox = Knox(knox_error(500, "INTERNAL", "oops", 5000))
    with knox.client() as client, pytest.raises(TransportError, match="HTTP 500 INTERNAL"):
        client.get_json(SUBS)
    assert len(knox.api) == 1


def test_trace_redacts_secret_token_and_authorization() -> None:
    lines: list[str] = []
    knox = Knox()
    with knox.client(trace=lines.append) as client:
        client.get_json(SUBS)
    text = "\n".join(lines)
    assert "> GET http://knox.test/kwn/v1/subscriptions" in text
    assert "authorization: Bearer ***" in text
    assert "client_secret=***" in text
    assert '"access_token": "***"' in text
    assert SECRET not in text
    assert "tok-1" not in text


def test_retry_policy_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    for n in range(1, 8):
        delay = policy.backoff(n)
        cap = min(4.0, 2.0 ** (n - 1))
        assert cap / 2 <= delay <= cap


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- against the real emulator -------------------------------------------------------


def emu_client(emu: EmulatorHandle, **kw: Any) -> KnoxClient:
    kw.setdefault("retry", RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
    settings = make_settings(emu.base_url, client_id=emu.client_id)
    return open_client(settings, secret=emu.client_secret, http=HttpOptions(**kw))


def test_emulator_429_with_retry_after_then_success(emulator: EmulatorHandle) -> None:
    slept: list[float] = []
    emulator.fault(path=SUBS, status=429, retry_after=1, count=1)
    with emu_client(emulator, sleep=slept.append) as client:
        assert client.get_json(SUBS) == []
    assert slept == [1.0]


def test_emulator_503_twice_then_success(emulator: EmulatorHandle) -> None:
    emulator.fault(path=SUBS, status=503, count=2)
    with emu_client(emulator) as client:
        assert client.get_json(SUBS) == []
    assert emulator.stats()["requests"][f"GET {SUBS}"] == 3


def test_emulator_dropped_connection_on_get_is_retried(emulator: EmulatorHandle) -> None:
    emulator.fault(path=SUBS, method="GET", drop=True, count=1)
    with emu_client(emulator) as client:
        assert client.get_json(SUBS) == []


def test_emulator_dropped_create_is_ambiguous_and_not_repeated(emulator: EmulatorHandle) -> None:
    emulator.fault(path=SUBS, method="POST", drop=True, after=True, count=1)
    body = {"url": "https://example.com/hook", "events": ["KDMS_DEVICE_UPLOAD"]}
    with emu_client(emulator) as client:
        with pytest.raises(TransportError) as info:
            client.request("POST", SUBS, json=body)
        assert info.value.ambiguous
        assert len(client.get_json(SUBS)) == 1  # it took effect exactly once


def test_emulator_revoked_token_is_renewed_once_mid_command(emulator: EmulatorHandle) -> None:
    with emu_client(emulator) as client:
        client.get_json(SUBS)
        token = client.tokens.get().access_token
        httpx2.post(emulator.base_url + wire.REVOKE_PATH, data={"token": token}, timeout=10)
        assert client.get_json(SUBS) == []
        assert client.auth.renewals == 1
    stats = emulator.stats()
    assert stats["token_requests"] == 2
    assert stats["unauthorized"] == 1


def test_emulator_token_expiring_mid_command_is_renewed() -> None:
    clock = [1_000_000.0]
    with running_emulator(now=lambda: clock[0]) as emu, emu_client(emu) as client:
        client.get_json(SUBS)
        clock[0] += 600  # the server's clock passes the 599 s lifetime; ours does not
        assert client.get_json(SUBS) == []
        assert client.auth.renewals == 1
        assert emu.stats()["token_requests"] == 2


def test_emulator_wrong_secret_is_exit_4_without_echoing_it(emulator: EmulatorHandle) -> None:
    settings = make_settings(emulator.base_url, client_id=emulator.client_id)
    client = KnoxClient(settings, secret="wrong-secret")
    with client, pytest.raises(AuthenticationError) as info:
        client.get_json(SUBS)
    assert info.value.exit_code == ExitCode.AUTH_REFUSED
    assert "invalid_client" in info.value.message
    assert "wrong-secret" not in info.value.message


def test_a_token_echoed_in_an_error_body_is_scrubbed_from_the_message() -> None:
    knox = Knox(knox_error(403, "FORBIDDEN", "token tok-1 may not list"))
    with knox.client() as client, pytest.raises(ApiError) as info:
        client.get_json(SUBS)
    assert info.value.message == "Knox refused the request (403 FORBIDDEN): token *** may not list"


def test_a_refused_token_is_dropped_from_the_cache_even_if_renewal_fails() -> None:
    from knoxhook import tokens

    calls = {"token": 0}

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == wire.TOKEN_PATH:
            calls["token"] += 1
            if calls["token"] == 1:
                return httpx2.Response(200, json={"access_token": "tok-a", "expires_in": 599})
            return httpx2.Response(401, json={"error": "invalid_client"})
        return httpx2.Response(401)

    settings = make_settings()
    client = KnoxClient(
        settings, secret=SECRET, http=HttpOptions(transport=httpx2.MockTransport(handler))
    )
    with client, pytest.raises(AuthenticationError, match="invalid_client"):
        client.get_json(SUBS)
    assert tokens.read_cached(settings) is None


def test_a_token_echoed_by_a_failing_server_is_scrubbed_before_the_error_is_built() -> None:
    knox = Knox(knox_error(500, "INTERNAL", "crashed on tok-1"))
    with knox.client() as client:
        with pytest.raises(TransportError) as info:
            client.get_json(SUBS)
        assert info.value.message.endswith("HTTP 500 INTERNAL after 1 attempt(s): crashed on ***")
        knox.answers = [httpx2.Response(503, text="upstream saw Bearer tok-1")] * 3
        with pytest.raises(TransportError) as busy:
            client.get_json(SUBS)
        # a GET changes nothing: never "may or may not have taken effect"
        assert busy.value.message.endswith("HTTP 503 after 3 attempt(s): upstream saw Bearer ***")
