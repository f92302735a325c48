"""The emulator's legacy Knox Cloud Authentication: what it accepts and what it refuses."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from knoxhook import wire
from knoxhook.emulator import legacy
from knoxhook.legacy import DEMO_IDENTIFIER, DEMO_KEYS_PATH, jwt
from knoxhook.legacy.keys import LegacyKeys, load_keys, parse_keys
from tests.legacy.conftest import IDENTIFIER, Clock, keys_document, rsa_key

if TYPE_CHECKING:
    from knoxhook.emulator.testing import EmulatorHandle

KEYS = parse_keys(json.dumps(keys_document(rsa_key(0))).encode())
OTHER = parse_keys(json.dumps(keys_document(rsa_key(1))).encode())
LIST = wire.subscriptions_path(wire.KWN_LEGACY_PREFIX)


def _accesstoken(emu: EmulatorHandle, **body: Any) -> httpx2.Response:
    document = {
        wire.F_LEGACY_PUBLIC_KEY: KEYS.public_key_b64,
        wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: jwt.sign_client_identifier(KEYS, IDENTIFIER),
        wire.F_LEGACY_VALIDITY: 30,
    } | body
    return httpx2.post(emu.base_url + wire.LEGACY_ACCESS_TOKEN_PATH, json=document)


def _apitoken(emu: EmulatorHandle, keys: LegacyKeys = KEYS) -> str:
    response = _accesstoken(emu)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"accessToken"}
    return jwt.sign_access_token(keys, response.json()["accessToken"])


def _get(emu: EmulatorHandle, apitoken: str, path: str = LIST) -> httpx2.Response:
    return httpx2.get(emu.base_url + path, headers={wire.H_API_TOKEN: apitoken})


def _refusal(response: httpx2.Response) -> tuple[int, int, str]:
    body = response.json()
    return response.status_code, body["code"], body["message"]


def test_a_signed_access_token_works_on_both_kwn_paths(legacy_emulator: EmulatorHandle) -> None:
    token = _apitoken(legacy_emulator)
    for prefix in (wire.KWN_LEGACY_PREFIX, wire.KWN_PREFIX):
        response = _get(legacy_emulator, token, wire.subscriptions_path(prefix))
        assert (response.status_code, response.json()) == (200, [])


def test_oauth_still_works_on_the_same_paths(legacy_emulator: EmulatorHandle) -> None:
    bearer = {"Authorization": f"Bearer {legacy_emulator.token()}"}
    assert httpx2.get(legacy_emulator.base_url + LIST, headers=bearer).status_code == 200
    assert httpx2.get(legacy_emulator.base_url + LIST).status_code == 401


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({wire.F_LEGACY_PUBLIC_KEY: OTHER.public_key_b64}, "not the public key registered"),
        (
            {wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: jwt.sign_client_identifier(KEYS, "someone")},
            "Client Identifier is not registered",
        ),
        (
            {wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: jwt.sign_client_identifier(OTHER, IDENTIFIER)},
            "does not verify",
        ),
        (
            {
                wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: jwt.sign_client_identifier(
                    KEYS, IDENTIFIER, now=1e9
                )
            },
            "has expired",
        ),
        ({wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: "not.a.jwt"}, "is not a JWT"),
    ],
)
def test_accesstoken_refuses_a_bad_client_identifier_jwt(
    legacy_emulator: EmulatorHandle, change: dict[str, Any], text: str
) -> None:
    response = _accesstoken(legacy_emulator, **change)
    assert _refusal(response) == (401, 4012250, "ACCESS_TOKEN_BAD_REQUEST")
    assert text in response.json()["data"]
    assert IDENTIFIER not in response.text


def test_accesstoken_refuses_a_wrong_audience(legacy_emulator: EmulatorHandle) -> None:
    token = jwt.sign(KEYS, wire.CLAIM_CLIENT_IDENTIFIER, IDENTIFIER)
    head, body, _ = token.split(".")
    claims = json.loads(jwt.b64url_decode(body)) | {"aud": "SomeoneElse"}
    unsigned = f"{head}.{jwt.b64url(json.dumps(claims).encode())}"
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = rsa_key(0).sign(unsigned.encode(), padding.PKCS1v15(), hashes.SHA512())
    response = _accesstoken(
        legacy_emulator,
        **{wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: f"{unsigned}.{jwt.b64url(signature)}"},
    )
    assert _refusal(response)[0] == 401
    assert "aud must be 'KnoxWSM'" in response.json()["data"]


def test_accesstoken_refuses_a_reused_jti(legacy_emulator: EmulatorHandle) -> None:
    signed = jwt.sign_client_identifier(KEYS, IDENTIFIER)
    first = _accesstoken(legacy_emulator, **{wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: signed})
    again = _accesstoken(legacy_emulator, **{wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: signed})
    assert first.status_code == 200
    assert _refusal(again) == (400, 4002250, "API_KEY_NON_UNIQUE_JWTID")


@pytest.mark.parametrize("validity", [0, 31, -5, "abc", "30x"])
def test_accesstoken_refuses_a_validity_outside_1_to_30(
    legacy_emulator: EmulatorHandle, validity: object
) -> None:
    response = _accesstoken(legacy_emulator, **{wire.F_LEGACY_VALIDITY: validity})
    assert _refusal(response) == (
        400, 4002251, "ACCESS_TOKEN_TIMEOUT_VALIDITY_RESOURCE_INVALID_PARAM",
    )  # fmt: skip


def test_accesstoken_takes_the_validity_as_a_string_of_digits(
    legacy_emulator: EmulatorHandle,
) -> None:
    assert _accesstoken(legacy_emulator, **{wire.F_LEGACY_VALIDITY: "5"}).status_code == 200


def test_accesstoken_without_a_field_is_a_400_naming_it(legacy_emulator: EmulatorHandle) -> None:
    response = httpx2.post(
        legacy_emulator.base_url + wire.LEGACY_ACCESS_TOKEN_PATH,
        json={wire.F_LEGACY_PUBLIC_KEY: KEYS.public_key_b64},
    )
    assert response.status_code == 400
    assert response.json()["data"].startswith("clientIdentifierJwt:")


def test_an_expired_apitoken_jwt_is_403_with_code_403225(
    legacy_emulator: EmulatorHandle, clock: Clock
) -> None:
    token = _apitoken(legacy_emulator)
    clock.offset = 1801
    response = _get(legacy_emulator, token)
    assert _refusal(response) == (403, 403225, "ACCESS_TOKEN_EXPIRED")
    assert "JWT has expired" in response.json()["data"]


def test_an_expired_access_token_is_403_with_code_403225(legacy_emulator: EmulatorHandle) -> None:
    response = _accesstoken(legacy_emulator, **{wire.F_LEGACY_VALIDITY: 1})
    token = jwt.sign_access_token(KEYS, response.json()["accessToken"])
    assert legacy.authority_of(legacy_emulator.app).expire_tokens() == 1
    assert _refusal(_get(legacy_emulator, token)) == (403, 403225, "ACCESS_TOKEN_EXPIRED")


def test_an_apitoken_signed_with_another_key_or_for_an_unknown_token_is_401(
    legacy_emulator: EmulatorHandle,
) -> None:
    access = _accesstoken(legacy_emulator).json()["accessToken"]
    forged = jwt.sign_access_token(OTHER, access)
    assert _refusal(_get(legacy_emulator, forged))[:2] == (401, 4012250)
    unknown = jwt.sign_access_token(KEYS, "made-up-token")
    response = _get(legacy_emulator, unknown)
    assert _refusal(response)[:2] == (401, 4012250)
    assert "not issued here" in response.json()["data"]
    assert _refusal(_get(legacy_emulator, "garbage"))[0] == 401


def test_reset_forgets_issued_legacy_tokens(legacy_emulator: EmulatorHandle) -> None:
    token = _apitoken(legacy_emulator)
    legacy_emulator.reset()
    assert _get(legacy_emulator, token).status_code == 401


def test_the_demo_legacy_client_is_registered_by_default(emulator: EmulatorHandle) -> None:
    keys = load_keys(DEMO_KEYS_PATH)
    signed = jwt.sign_client_identifier(keys, DEMO_IDENTIFIER)
    response = httpx2.post(
        emulator.base_url + wire.LEGACY_ACCESS_TOKEN_PATH,
        json={
            wire.F_LEGACY_PUBLIC_KEY: keys.public_key_b64,
            wire.F_LEGACY_CLIENT_IDENTIFIER_JWT: signed,
        },
    )
    assert response.status_code == 200
    token = jwt.sign_access_token(keys, response.json()["accessToken"])
    assert _get(emulator, token).status_code == 200


def test_openapi_describes_the_accesstoken_call_and_the_apitoken_scheme(
    emulator: EmulatorHandle,
) -> None:
    document = httpx2.get(emulator.base_url + "/openapi.json").json()
    post = document["paths"][wire.LEGACY_ACCESS_TOKEN_PATH]["post"]
    assert set(post["responses"]) == {"200", "400", "401"}
    schema = document["components"]["schemas"]["AccessTokenRequest"]
    assert set(schema["required"]) == {
        wire.F_LEGACY_PUBLIC_KEY,
        wire.F_LEGACY_CLIENT_IDENTIFIER_JWT,
    }
    assert document["components"]["securitySchemes"]["knoxApiToken"]["name"] == "x-knox-apitoken"
    listing = document["paths"][LIST]["get"]
    assert {"knoxApiToken": []} in listing["security"]


def test_legacy_client_specs_are_parsed_and_bad_ones_named(keys_file: Any) -> None:
    from knoxhook.errors import UsageError

    path = keys_file()
    assert legacy.parse_legacy_clients([f"abc:{path}"]) == {"abc": KEYS.public_key_b64}
    with pytest.raises(UsageError, match=r"expected IDENTIFIER:KEYS\.json"):
        legacy.parse_legacy_clients(["no-colon"])
    with pytest.raises(UsageError, match="cannot read the keys file"):
        legacy.parse_legacy_clients(["secret-id:/nonexistent/keys.json"])
