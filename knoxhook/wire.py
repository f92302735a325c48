"""The Knox wire format, in one place.

Every path, header and field name knoxhook sends or reads lives here, tagged as in
``shared/knox-api.md``: [doc] Samsung documents it, [code] public code does it,
[assume] knoxhook picks it. When Samsung's official ``kwn-api.yml`` becomes known,
this is the module to change. The client and the emulator both import it, so they
can never disagree with each other silently.
"""

from __future__ import annotations

from typing import Final

# --- hosts (knox-api.md §1) -------------------------------------------------------
DEFAULT_BASE_URL: Final = "https://api.samsungknox.com"  # [doc] OAuth host; KWN host [assume]
LEGACY_US_HOST: Final = "https://us-kcs-api.samsungknox.com"  # [doc]
LEGACY_EU_HOST: Final = "https://eu-kcs-api.samsungknox.com"  # [code]

# --- OAuth 2.0 (knox-api.md §2a) ----------------------------------------------------
TOKEN_PATH: Final = "/ams/v1/oauth2/token"  # noqa: S105 - a path [doc]
REVOKE_PATH: Final = "/ams/v1/oauth2/revoke"  # [doc] form field `token`
DEFAULT_TOKEN_LIFETIME: Final = 599  # [doc] seconds, as in Samsung's examples
MAX_TOKEN_LIFETIME: Final = 3600  # [doc]
DEFAULT_SCOPE: Final = "kwn"  # [assume] which scope authorizes /kwn/v1 is not documented
TENANT_HEADER: Final = "x-wsm-managed-tenantid"  # [doc] managed-service providers

# --- Subscription API (knox-api.md §3) --------------------------------------------
KWN_PREFIX: Final = "/kwn/v1"  # [doc]
KWN_LEGACY_PREFIX: Final = "/kcs/kwn/v0.1"  # [doc] early access (2023)
SUBSCRIPTIONS_PATH: Final = "/subscriptions"  # [doc] under KWN_PREFIX
CERTIFICATE_PATH: Final = "/downloadCertificate"  # [doc] path; under KWN_PREFIX [assume]


def subscriptions_path(prefix: str = KWN_PREFIX) -> str:
    """``/kwn/v1/subscriptions``."""
    return prefix + SUBSCRIPTIONS_PATH


def subscription_path(subscription_id: str, prefix: str = KWN_PREFIX) -> str:
    """``/kwn/v1/subscriptions/{subscriptionId}``."""
    return f"{prefix}{SUBSCRIPTIONS_PATH}/{subscription_id}"


def certificate_path(prefix: str = KWN_PREFIX) -> str:
    """``/kwn/v1/downloadCertificate``."""
    return prefix + CERTIFICATE_PATH


# Field names of a subscription [assume: the official schema is not public].
F_SUBSCRIPTION_ID: Final = "subscriptionId"
F_URL: Final = "url"
F_URL_ALIASES: Final = ("url", "callbackUrl")  # accepted when reading
F_EVENTS: Final = "events"
F_CREATED_AT: Final = "createdAt"  # RFC 3339
F_UPDATED_AT: Final = "updatedAt"  # RFC 3339

# Error body [assume: the shape Knox Configure documents]:
# {"code": <int>, "message": "<UPPER_SNAKE_NAME>", "data": "<human text>"}
F_ERROR_CODE: Final = "code"
F_ERROR_NAME: Final = "message"
F_ERROR_TEXT: Final = "data"

# --- callbacks (knox-api.md §5) ------------------------------------------------------
H_SIGNATURE: Final = "X-WSM-SIGNATURE"  # [doc] compact JWS, RS256
H_TRACE_ID: Final = "X-WSM-TRACEID"  # [doc]
H_NONCE: Final = "x-knox-nonce"  # [doc] since 25.04
CALLBACK_CONTENT_TYPE: Final = "application/json"  # [assume]
# Callback body fields [doc]
F_CB_SUBSCRIPTION_ID: Final = "subscriptionId"
F_CB_EVENT: Final = "event"
F_CB_PAYLOAD: Final = "payload"

# --- legacy Knox Cloud Authentication (knox-api.md §2b; Knox Guard customers) -------
# Keys file downloaded from the Knox Cloud API portal: keys.json (or certificate.json).
KEYS_PUBLIC: Final = "Public"  # [doc] PEM or base64 DER, PKCS#1 or PKCS#8 [code: Samsung's npm lib]
KEYS_PRIVATE: Final = "Private"  # [doc] same encodings
KEYS_IDENTIFIER: Final = "Identifier"  # [doc] sometimes present; not needed to sign
LEGACY_ACCESS_TOKEN_PATH: Final = "/ams/v1/users/accesstoken"  # noqa: S105 - a path [doc]
F_LEGACY_PUBLIC_KEY: Final = "base64EncodedStringPublicKey"  # [doc] base64 DER SPKI
F_LEGACY_CLIENT_IDENTIFIER_JWT: Final = "clientIdentifierJwt"  # [doc]
F_LEGACY_VALIDITY: Final = "validityForAccessTokenInMinutes"  # [doc] int32
F_LEGACY_ACCESS_TOKEN: Final = "accessToken"  # noqa: S105 - a field name [doc] response
LEGACY_VALIDITY_MIN: Final = 1  # [doc] minutes
LEGACY_VALIDITY_MAX: Final = 30  # [doc] minutes; "regenerate every 30 minutes at most"
LEGACY_VALIDITY_DEFAULT: Final = 30  # [doc]
H_API_TOKEN: Final = "x-knox-apitoken"  # noqa: S105 - a header [doc] signed token, every call
# The JWTs, as Samsung's knox-token-library-js@1.0.22 makes them [code: its index.js]:
JWT_ALG: Final = "RS512"  # [code]
JWT_TYP: Final = "JWT"  # [code]
JWT_AUDIENCE: Final = "KnoxWSM"  # [code]
JWT_LIFETIME: Final = 1800  # [code] expiresIn "30m": exp = iat + 1800
CLAIM_CLIENT_IDENTIFIER: Final = "clientIdentifier"  # [code]
CLAIM_ACCESS_TOKEN: Final = "accessToken"  # noqa: S105 - a claim name [code]
CLAIM_PUBLIC_KEY: Final = "publicKey"  # [code] base64 DER SubjectPublicKeyInfo
JTI_LENGTH: Final = 72  # [code] two UUIDv1 strings concatenated
# Refusals. 403225 for an expired token is what the Knox Guard docs name [doc]; the Knox
# Cloud Authentication error page lists 4032251 ACCESS_TOKEN_EXPIRED [doc]: accept both.
LEGACY_EXPIRED_CODE: Final = 403225  # [doc] the emulator sends this one
LEGACY_EXPIRED_CODES: Final = frozenset({403225, 4032251})  # [doc]
LEGACY_EXPIRED_NAME: Final = "ACCESS_TOKEN_EXPIRED"  # [doc]
LEGACY_BAD_JWT_CODE: Final = 4012250  # [doc] ACCESS_TOKEN_BAD_REQUEST: JWT not properly signed
LEGACY_BAD_JWT_NAME: Final = "ACCESS_TOKEN_BAD_REQUEST"  # [doc]
LEGACY_REUSED_JTI_CODE: Final = 4002250  # [doc] API_KEY_NON_UNIQUE_JWTID
LEGACY_REUSED_JTI_NAME: Final = "API_KEY_NON_UNIQUE_JWTID"  # [doc]
LEGACY_BAD_VALIDITY_CODE: Final = 4002251  # [doc]
LEGACY_BAD_VALIDITY_NAME: Final = "ACCESS_TOKEN_TIMEOUT_VALIDITY_RESOURCE_INVALID_PARAM"  # [doc]
# Where KWN lives for a legacy profile: v0.1 on the legacy host is documented with this
# scheme; whether /kwn/v1 also takes x-knox-apitoken is not public [assume: both].
LEGACY_API_VERSIONS: Final = {"v0.1": KWN_LEGACY_PREFIX, "v1": KWN_PREFIX}  # [assume]
LEGACY_DEFAULT_API_VERSION: Final = "v0.1"  # [assume]
LEGACY_REGIONS: Final = {"us": LEGACY_US_HOST, "eu": LEGACY_EU_HOST}  # [doc] us, [code] eu
LEGACY_DEFAULT_REGION: Final = "us"  # [assume]
