"""The KWN Subscription API: CRUD, validation with precise messages, the one-holder rule."""

from __future__ import annotations

import datetime as dt
import re

import httpx2
import pytest

from knoxhook.emulator.testing import EmulatorHandle
from tests.emulator.conftest import Api

URL = "https://hooks.example.com/knox"


def _error(response: httpx2.Response, status: int, name: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "data"}
    assert body["message"] == name
    assert isinstance(body["code"], int)
    text: str = body["data"]
    return text


def test_create_then_get_list_update_delete(api: Api) -> None:
    created = api.created(URL, ["KDMS_DEVICE_UPLOAD", "KG_DEVICE_LOCKED"])
    sub_id = created["subscriptionId"]
    assert re.fullmatch(r"[0-9a-f]{24}", sub_id)
    assert created["url"] == URL
    assert created["events"] == ["KDMS_DEVICE_UPLOAD", "KG_DEVICE_LOCKED"]
    stamp = dt.datetime.fromisoformat(created["createdAt"].replace("Z", "+00:00"))
    assert stamp.utcoffset() == dt.timedelta(0)
    assert created["createdAt"].endswith("Z")

    assert api.http.get(f"/kwn/v1/subscriptions/{sub_id}").json() == created
    assert api.http.get("/kwn/v1/subscriptions").json() == [created]

    updated = api.http.put(
        f"/kwn/v1/subscriptions/{sub_id}", json={"events": ["KC_DEVICE_STATUS_CHANGE"]}
    )
    assert updated.status_code == 200
    assert updated.json()["url"] == URL  # partial update keeps the url
    assert updated.json()["events"] == ["KC_DEVICE_STATUS_CHANGE"]
    assert updated.json()["createdAt"] == created["createdAt"]

    assert api.http.delete(f"/kwn/v1/subscriptions/{sub_id}").status_code == 204
    assert api.http.get("/kwn/v1/subscriptions").json() == []
    text = _error(api.http.get(f"/kwn/v1/subscriptions/{sub_id}"), 404, "SUBSCRIPTION_NOT_FOUND")
    assert sub_id in text


def test_create_accepts_callbackurl_alias_and_201_location(api: Api) -> None:
    response = api.http.post(
        "/kwn/v1/subscriptions", json={"callbackUrl": URL, "events": ["KE_CAMPAIGN_DELETE"]}
    )
    assert response.status_code == 201
    assert response.json()["url"] == URL
    assert (
        response.headers["location"] == f"/kwn/v1/subscriptions/{response.json()['subscriptionId']}"
    )


def test_create_refuses_event_held_by_another_subscription(api: Api) -> None:
    first = api.created(URL, ["KDMS_DEVICE_UPLOAD"])
    text = _error(
        api.create(URL, ["KG_DEVICE_LOCKED", "KDMS_DEVICE_UPLOAD"]), 400, "EVENT_ALREADY_SUBSCRIBED"
    )
    assert "KDMS_DEVICE_UPLOAD" in text
    assert first["subscriptionId"] in text
    # nothing of the refused create was kept: KG_DEVICE_LOCKED is still free
    api.created(URL, ["KG_DEVICE_LOCKED"])
    assert len(api.http.get("/kwn/v1/subscriptions").json()) == 2


def test_update_refuses_event_held_by_another_and_keeps_its_own(api: Api) -> None:
    a = api.created(URL, ["KDMS_DEVICE_UPLOAD"])
    b = api.created(URL, ["KDMS_DEVICE_DELETE"])
    response = api.http.put(
        f"/kwn/v1/subscriptions/{b['subscriptionId']}", json={"events": ["KDMS_DEVICE_UPLOAD"]}
    )
    assert a["subscriptionId"] in _error(response, 400, "EVENT_ALREADY_SUBSCRIBED")
    kept = api.http.get(f"/kwn/v1/subscriptions/{b['subscriptionId']}").json()
    assert kept["events"] == ["KDMS_DEVICE_DELETE"]
    # re-listing its own events is fine
    same = api.http.put(
        f"/kwn/v1/subscriptions/{b['subscriptionId']}",
        json={"url": URL + "/2", "events": ["KDMS_DEVICE_DELETE"]},
    )
    assert same.status_code == 200
    assert same.json()["url"] == URL + "/2"


def test_deleting_frees_the_events(api: Api) -> None:
    a = api.created(URL, ["KDMS_DEVICE_UPLOAD"])
    api.http.delete(f"/kwn/v1/subscriptions/{a['subscriptionId']}")
    api.created(URL, ["KDMS_DEVICE_UPLOAD"])


def test_several_subscriptions_may_share_a_url(api: Api) -> None:
    api.created(URL, ["KDMS_DEVICE_UPLOAD"])
    api.created(URL, ["KDMS_DEVICE_DELETE"])


@pytest.mark.parametrize(
    ("body", "name", "needle"),
    [
        ({"events": ["KG_DEVICE_LOCKED"]}, "INVALID_URL", "'url' is required"),
        (
            {"url": "hooks.example.com/x", "events": ["KG_DEVICE_LOCKED"]},
            "INVALID_URL",
            "absolute http(s) URL",
        ),
        (
            {"url": "ftp://h/x", "events": ["KG_DEVICE_LOCKED"]},
            "INVALID_URL",
            "absolute http(s) URL",
        ),
        (
            {"url": "http://h:99999/", "events": ["KG_DEVICE_LOCKED"]},
            "INVALID_URL",
            "an optional port 0-65535",
        ),
        ({"url": 7, "events": ["KG_DEVICE_LOCKED"]}, "INVALID_URL", "must be a string"),
        (
            {"url": URL, "callbackUrl": URL + "x", "events": ["KG_DEVICE_LOCKED"]},
            "INVALID_URL",
            "disagree",
        ),
        ({"url": URL}, "INVALID_EVENTS", "'events' is required"),
        ({"url": URL, "events": []}, "INVALID_EVENTS", "non-empty list"),
        ({"url": URL, "events": "KG_DEVICE_LOCKED"}, "INVALID_EVENTS", "non-empty list"),
        ({"url": URL, "events": [1]}, "INVALID_EVENTS", "'events' item 0 must be a string"),
        (
            {"url": "https://h.example/" + "x" * 3000, "events": ["KG_DEVICE_LOCKED"]},
            "INVALID_URL",
            "at most 2048 characters",
        ),
        (
            {"url": URL, "events": ["KG_DEVICE_LOKED"]},
            "UNKNOWN_EVENT",
            "did you mean KG_DEVICE_LOCKED",
        ),
        (
            {"url": URL, "events": ["KG_DEVICE_LOCKED", "KG_DEVICE_LOCKED"]},
            "DUPLICATE_EVENT",
            "listed twice",
        ),
        ([URL], "INVALID_REQUEST_BODY", "must be a JSON object"),
    ],
)
def test_create_validation_names_the_problem(
    api: Api, body: object, name: str, needle: str
) -> None:
    response = api.http.post("/kwn/v1/subscriptions", json=body)
    assert needle in _error(response, 400, name)
    assert api.http.get("/kwn/v1/subscriptions").json() == []


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"\xff\xfe", b"[" * 100_000, b'{"url": 1e99999}', b"null"]
)
def test_malformed_json_is_400_never_500(api: Api, raw: bytes) -> None:
    response = api.http.post(
        "/kwn/v1/subscriptions", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"] in ("INVALID_REQUEST_BODY", "INVALID_URL")


def test_update_needs_a_field_and_unknown_id_is_404(api: Api) -> None:
    sub = api.created(URL, ["KG_DEVICE_LOCKED"])
    text = _error(
        api.http.put(f"/kwn/v1/subscriptions/{sub['subscriptionId']}", json={}),
        400,
        "INVALID_REQUEST_BODY",
    )
    assert "'url' and/or 'events'" in text
    _error(
        api.http.put("/kwn/v1/subscriptions/000000000000000000000000", json={"url": URL}),
        404,
        "SUBSCRIPTION_NOT_FOUND",
    )
    _error(api.http.delete("/kwn/v1/subscriptions/nope"), 404, "SUBSCRIPTION_NOT_FOUND")


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic abc"])
def test_api_needs_a_valid_bearer_token(emulator: EmulatorHandle, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = httpx2.get(emulator.base_url + "/kwn/v1/subscriptions", headers=headers)
    _error(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert emulator.stats()["unauthorized"] == 1


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("application/json", 200),
        ("*/*", 200),
        ("application/*;q=0.5", 200),
        ("text/html", 406),
        ("application/json;q=0", 406),
    ],
)
def test_accept_is_honoured(api: Api, accept: str, status: int) -> None:
    response = api.http.get("/kwn/v1/subscriptions", headers={"Accept": accept})
    assert response.status_code == status
    if status == 406:
        _error(response, 406, "NOT_ACCEPTABLE")


def test_legacy_prefix_serves_the_same_subscriptions(api: Api) -> None:
    sub = api.created(URL, ["KG_DEVICE_ENROLLED"])
    legacy = api.http.get(f"/kcs/kwn/v0.1/subscriptions/{sub['subscriptionId']}")
    assert legacy.status_code == 200
    assert legacy.json() == sub
    assert api.emu.stats()["requests"]["GET /kcs/kwn/v0.1/subscriptions/{subscriptionId}"] == 1


def test_unknown_path_and_method_use_the_error_body(api: Api) -> None:
    _error(api.http.get("/kwn/v2/nothing"), 404, "NOT_FOUND")
    _error(api.http.patch("/kwn/v1/subscriptions"), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize(
    "path", ["/kwn/v1/subscriptions/", "/kwn/v1/subscriptions/%2F", "/kwn/v1//subscriptions"]
)
def test_odd_slashes_are_404_not_redirects(api: Api, path: str) -> None:
    response = api.http.get(path)
    assert response.status_code == 404
    assert response.json()["message"] in ("NOT_FOUND", "SUBSCRIPTION_NOT_FOUND")
