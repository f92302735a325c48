"""Fuzz the Subscription API with hypothesis: random JSON bodies, raw bytes and ids.

Whatever comes in, the answer is a 4xx or 2xx with a JSON body, never a 5xx or a crash,
and the one-holder rule still holds afterwards.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knoxhook import events
from knoxhook.emulator.testing import EmulatorHandle

SUBS = "/kwn/v1/subscriptions"
TOKEN = "/ams/v1/oauth2/token"
EVENT_NAMES = sorted(events.EVENT_NAMES)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
urls = st.sampled_from(
    ["http://127.0.0.1:9/cb", "https://h.example/x", "ftp://x", "", "http://"]
) | st.text(max_size=30)
event_lists = (
    st.lists(st.sampled_from(EVENT_NAMES) | st.text(max_size=12), max_size=4) | json_values
)
bodies = (
    st.fixed_dictionaries(
        {}, optional={"url": urls | json_values, "callbackUrl": urls, "events": event_lists}
    )
    | json_values
)
ids = st.text(min_size=1, max_size=40) | st.from_regex(r"[0-9a-f]{24}", fullmatch=True)

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def http(module_emulator: EmulatorHandle) -> Any:
    module_emulator.reset()
    token = module_emulator.token(expires_in=3600)
    with httpx2.Client(
        base_url=module_emulator.base_url,
        timeout=30.0,
        verify=False,
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client
    assert module_emulator.emulator.store.invariant_violations() == []


@pytest.fixture
def plain(module_emulator: EmulatorHandle) -> Any:
    with httpx2.Client(base_url=module_emulator.base_url, timeout=30.0, verify=False) as client:
        yield client


def _check(response: httpx2.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["code"], int)
        assert body["message"]
        assert body["data"]


@SETTINGS
@given(method=st.sampled_from(["POST", "PUT"]), body=bodies, sub_id=ids, use_id=st.booleans())
def test_json_bodies_never_5xx(
    http: httpx2.Client, method: str, body: Any, sub_id: str, use_id: bool
) -> None:
    if method == "PUT" or use_id:
        existing = http.get(SUBS).json()
        target = existing[0]["subscriptionId"] if existing and use_id else quote(sub_id, safe="")
        path = f"{SUBS}/{target}"
        method = "PUT"
    else:
        path = SUBS
    _check(http.request(method, path, json=body))


@SETTINGS
@given(
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(["application/json", "text/plain", ""]),
)
def test_raw_bytes_never_5xx(http: httpx2.Client, raw: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    _check(http.post(SUBS, content=raw, headers=headers))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sub_id=ids, method=st.sampled_from(["GET", "DELETE"]), accept=st.text(max_size=30))
def test_ids_and_accept_never_5xx(
    http: httpx2.Client, sub_id: str, method: str, accept: str
) -> None:
    try:
        response = http.request(
            method, f"{SUBS}/{quote(sub_id, safe='')}", headers={"Accept": accept}
        )
    except (UnicodeEncodeError, httpx2.LocalProtocolError):
        return  # the client refuses to send such a header; nothing reached the server
    _check(response)
    assert response.status_code in (401, 404, 406)  # the id never exists


form_fields = st.dictionaries(
    st.sampled_from(["grant_type", "client_id", "client_secret", "scope", "expires_in", "x"])
    | st.text(max_size=8),
    st.sampled_from(["client_credentials", "knoxhook-demo", "knoxhook-demo-secret", "600", "-1"])
    | st.text(max_size=20),
    max_size=6,
)


@SETTINGS
@given(
    fields=form_fields,
    raw=st.none() | st.binary(max_size=100),
    basic=st.none() | st.text(max_size=30),
)
def test_token_endpoint_never_5xx(
    plain: httpx2.Client, fields: dict[str, str], raw: bytes | None, basic: str | None
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic is not None:
        headers["Authorization"] = "Basic " + basic
    try:
        if raw is None:
            response = plain.post(TOKEN, data=fields, headers=headers)
        else:
            response = plain.post(TOKEN, content=raw, headers=headers)
    except (UnicodeEncodeError, httpx2.LocalProtocolError):
        return  # the client refuses to send such a header
    assert response.status_code in (200, 400, 401), response.text
    assert "error" in response.json() or "access_token" in response.json()
