"""HttpOptions: one set of options for every httpx2 client (sync and async), injected."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx2

from knoxhook import config
from knoxhook.client import KnoxClient
from knoxhook.httpoptions import USER_AGENT, HttpOptions


def echo(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json={"echo": "tok-secret-1"})


def test_client_has_the_base_url_user_agent_timeout_and_a_redacted_trace() -> None:
    lines: list[str] = []
    options = HttpOptions(
        base_url="http://knox.test", timeout=2.5, trace=lines.append,
        transport=httpx2.MockTransport(echo),
    )  # fmt: skip
    with options.client(secrets=lambda: ["tok-secret-1"], headers={"X-A": "1"}) as http:
        response = http.get("/kwn/v1/subscriptions")
    request = response.request
    assert str(request.url) == "http://knox.test/kwn/v1/subscriptions"
    assert request.headers["user-agent"] == USER_AGENT == "knoxhook/0.1.0"
    assert request.headers["x-a"] == "1"
    assert request.extensions["timeout"]["read"] == 2.5
    assert lines[0] == "> GET http://knox.test/kwn/v1/subscriptions"
    assert '< {"echo": "***"}' in lines
    assert not any("tok-secret-1" in line for line in lines)
    with options.client(timeout=120.0) as http:  # one client may wait longer
        assert http.get("/x").request.extensions["timeout"]["read"] == 120.0


def test_async_client_has_the_same_options_and_traces_through_async_hooks() -> None:
    lines: list[str] = []
    options = HttpOptions(trace=lines.append, async_transport=httpx2.MockTransport(echo))

    async def forward() -> httpx2.Response:
        async with options.async_client(secrets=lambda: ["tok-secret-1"], timeout=3.0) as http:
            return await http.post("http://app.test/knox", content=b'{"a": 1}',
                                   headers={"Content-Type": "application/json"})  # fmt: skip

    response = asyncio.run(forward())
    assert response.json() == {"echo": "tok-secret-1"}  # the body was read, not consumed
    assert response.request.headers["user-agent"] == USER_AGENT
    assert response.request.extensions["timeout"]["read"] == 3.0
    assert lines[0] == "> POST http://app.test/knox"
    assert '> {"a": 1}' in lines
    assert "< 200 OK" in lines
    assert '< {"echo": "***"}' in lines


def test_a_knox_client_and_its_token_manager_share_one_injected_options_object() -> None:
    settings = config.load_settings(overrides={"base_url": "http://knox.test"})
    options = HttpOptions(timeout=4.0)  # made without settings: the client adds the host
    with KnoxClient(settings, http=options, secret="s3cret-value") as client:
        assert client.http.base_url == "http://knox.test"
        assert client.tokens.http is client.http
        assert dataclasses.replace(client.http, base_url=None) == options
    for_settings = HttpOptions.for_settings(settings, timeout=4.0)
    with KnoxClient(settings, http=for_settings) as client:
        assert client.http is for_settings
        assert client.tokens.http is for_settings
