"""KnoxClient with a legacy profile: x-knox-apitoken (never Authorization), the tenant
header, KWN under /kcs/kwn/v0.1 by default or /kwn/v1, and one renewal on 403225."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from knoxhook import wire
from knoxhook.client import KnoxClient
from knoxhook.config import load_settings
from knoxhook.errors import ApiError
from knoxhook.httpoptions import HttpOptions
from knoxhook.legacy.source import LegacyTokenManager
from knoxhook.legacy.store import from_file
from knoxhook.subscriptions import SubscriptionService
from tests.legacy.conftest import IDENTIFIER


class FakeKnox:
    """An accesstoken endpoint and a KWN list that answer per a script of statuses."""

    def __init__(self, kwn: list[int]) -> None:
        self.kwn = kwn
        self.seen: list[httpx2.Request] = []
        self.issued = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        if request.url.path == wire.LEGACY_ACCESS_TOKEN_PATH:
            self.issued += 1
            return httpx2.Response(200, json={"accessToken": f"access-{self.issued}"})
        status = self.kwn.pop(0)
        if status == 403:
            body = {
                "code": wire.LEGACY_EXPIRED_CODE,
                "message": "ACCESS_TOKEN_EXPIRED",
                "data": "x",
            }
            return httpx2.Response(403, json=body)
        return httpx2.Response(status, json=[])


def _client(keys: Path, fake: FakeKnox, **settings: str) -> KnoxClient:
    base = load_settings(overrides={"base_url": "https://kg.example", "auth": "legacy", **settings})
    http = HttpOptions.for_settings(
        base, transport=httpx2.MockTransport(fake), sleep=lambda _: None
    )
    tokens = LegacyTokenManager(base, credentials=from_file(keys, IDENTIFIER), http=http)
    return KnoxClient(base, http=http, tokens=tokens)


def test_kwn_calls_carry_the_apitoken_and_the_tenant_on_the_v0_1_path(
    keys_file: Callable[..., Path],
) -> None:
    fake = FakeKnox([200])
    with _client(keys_file(), fake, tenant_id="customer-42") as client:
        assert SubscriptionService(client).list() == []
    accesstoken, listing = fake.seen
    assert json.loads(accesstoken.content)[wire.F_LEGACY_VALIDITY] == 30
    assert listing.url.path == "/kcs/kwn/v0.1/subscriptions"
    assert listing.headers["x-wsm-managed-tenantid"] == "customer-42"
    assert "authorization" not in listing.headers
    payload = listing.headers["x-knox-apitoken"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["accessToken"] == "access-1"


def test_api_version_v1_keeps_the_kwn_v1_path(keys_file: Callable[..., Path]) -> None:
    fake = FakeKnox([200])
    with _client(keys_file(), fake, api_version="v1") as client:
        SubscriptionService(client).list()
    assert fake.seen[-1].url.path == "/kwn/v1/subscriptions"


def test_an_expired_token_is_renewed_once_then_a_second_403_is_an_api_error(
    keys_file: Callable[..., Path],
) -> None:
    fake = FakeKnox([403, 200])
    with _client(keys_file(), fake) as client:
        assert SubscriptionService(client).list() == []
        assert fake.issued == 2
    fake = FakeKnox([403, 403])
    with _client(keys_file(), fake) as client, pytest.raises(ApiError) as exc:
        SubscriptionService(client).list()
    assert exc.value.status == 403
    kwn = [r for r in fake.seen if r.url.path != wire.LEGACY_ACCESS_TOKEN_PATH]
    assert (len(kwn), fake.issued) == (2, 1)  # the cached token, one renewal: no loop


def test_an_oauth_profile_is_untouched(keys_file: Callable[..., Path]) -> None:
    settings = dataclasses.replace(load_settings(), client_id="c")
    with KnoxClient(settings, secret="s") as client:
        assert type(client.tokens).__name__ == "TokenManager"
