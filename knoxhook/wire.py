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
