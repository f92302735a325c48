"""The OAuth 2.0 endpoints behave as knox-api.md §2a documents."""

from __future__ import annotations

import base64

import httpx2
import pytest

from knoxhook.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from knoxhook.emulator.testing import EmulatorHandle, running_emulator

FORM = {
    "grant_type": "client_credentials",
    "client_id": DEMO_CLIENT_ID,
    "client_secret": DEMO_CLIENT_SECRET,
}


def test_token_with_credentials_in_the_form_body(emulator: EmulatorHandle) -> None:
    response = httpx2.post(emulator.token_url, data={**FORM, "scope": "kai ke"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "scope", "expires_in", "token_type"}
    assert body["scope"] == "kai ke"
    assert body["expires_in"] == 599
    assert body["token_type"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    assert emulator.stats()["token_requests"] == 1


def test_token_with_http_basic(emulator: EmulatorHandle) -> None:
    response = httpx2.post(
        emulator.token_url,
        data={"grant_type": "client_credentials"},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
    )
    assert response.status_code == 200
    assert response.json()["access_token"]


@pytest.mark.parametrize(
    ("form", "auth"),
    [
        ({**FORM, "client_secret": "wrong"}, None),
        ({**FORM, "client_id": "nobody"}, None),
        ({"grant_type": "client_credentials"}, None),
        ({"grant_type": "client_credentials"}, (DEMO_CLIENT_ID, "wrong")),
    ],
)
def test_bad_client_is_401_invalid_client(
    emulator: EmulatorHandle, form: dict[str, str], auth: tuple[str, str] | None
) -> None:
    response = httpx2.post(emulator.token_url, data=form, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert emulator.stats()["tokens_issued"] == 0


def test_other_grant_types_are_refused(emulator: EmulatorHandle) -> None:
    response = httpx2.post(emulator.token_url, data={**FORM, "grant_type": "password"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_json_body_is_refused_as_invalid_request(emulator: EmulatorHandle) -> None:
    response = httpx2.post(emulator.token_url, json=FORM)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "x-www-form-urlencoded" in response.json()["error_description"]


@pytest.mark.parametrize(
    ("asked", "status"), [("3600", 200), ("60", 200), ("3601", 400), ("x", 400), ("0", 400)]
)
def test_expires_in_is_at_most_3600(emulator: EmulatorHandle, asked: str, status: int) -> None:
    response = httpx2.post(emulator.token_url, data={**FORM, "expires_in": asked})
    assert response.status_code == status
    if status == 200:
        assert response.json()["expires_in"] == int(asked)
    else:
        assert response.json()["error"] == "invalid_request"


def test_basic_credentials_are_form_urldecoded() -> None:
    clients = {"id with:colon?": "s3cr%t+"}
    with running_emulator(clients=clients) as emu:
        raw = b"id+with%3Acolon%3F:s3cr%25t%2B"
        header = "Basic " + base64.b64encode(raw).decode()
        response = httpx2.post(
            emu.token_url,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": header},
        )
    assert response.status_code == 200, response.text


def _subscriptions(emu: EmulatorHandle, token: str) -> httpx2.Response:
    return httpx2.get(
        emu.base_url + "/kwn/v1/subscriptions", headers={"Authorization": f"Bearer {token}"}
    )


def test_revoke_stops_the_token_at_once(emulator: EmulatorHandle) -> None:
    token = emulator.token()
    assert _subscriptions(emulator, token).status_code == 200
    revoked = httpx2.post(emulator.base_url + "/ams/v1/oauth2/revoke", data={"token": token})
    assert revoked.status_code == 200
    refused = _subscriptions(emulator, token)
    assert refused.status_code == 401
    assert refused.json()["message"] == "UNAUTHORIZED"
    assert "revoked" in refused.json()["data"]


def test_revoking_an_unknown_token_is_still_200(emulator: EmulatorHandle) -> None:
    response = httpx2.post(emulator.base_url + "/ams/v1/oauth2/revoke", data={"token": "nope"})
    assert response.status_code == 200
    assert emulator.stats()["tokens_revoked"] == 0


def test_token_expires_on_the_injected_clock() -> None:
    clock = [1_800_000_000.0]
    with running_emulator(now=lambda: clock[0]) as emu:
        token = emu.token(expires_in=60)
        assert _subscriptions(emu, token).status_code == 200
        clock[0] += 59
        assert _subscriptions(emu, token).status_code == 200
        clock[0] += 2
        response = _subscriptions(emu, token)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_two_clients_each_get_tokens() -> None:
    with running_emulator(clients={"a": "sa", "b": "sb"}) as emu:
        for client_id, secret in (("a", "sa"), ("b", "sb")):
            form = {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            }
            assert httpx2.post(emu.token_url, data=form).status_code == 200
        wrong = {"grant_type": "client_credentials", "client_id": "a", "client_secret": "sb"}
        assert httpx2.post(emu.token_url, data=wrong).status_code == 401
