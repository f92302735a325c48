"""A hand-written OpenAPI 3.1 description of everything the emulator serves.

Served at ``/openapi.json``. Kept by hand (not generated) so it documents the Knox
wire format of ``knoxhook.wire`` exactly; a test checks every route is described.
"""

from __future__ import annotations

from typing import Any

from knoxhook import events, wire
from knoxhook.emulator import CERT_ACTIONS, CONTROL_PREFIX, legacy

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_AUTH_ERRORS = {"401": _error("missing, expired or revoked token"), "406": _error("bad Accept")}


def _kwn_paths(prefix: str) -> dict[str, Any]:
    sub_id = {
        "name": "subscriptionId",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    secured: dict[str, Any] = {"security": [{"bearer": []}]}
    body = {"required": True, "content": {_JSON: {"schema": _ref("SubscriptionInput")}}}
    return {
        wire.subscriptions_path(prefix): {
            "get": {
                **secured,
                "summary": "List the subscriptions",
                "responses": {
                    "200": _json({"type": "array", "items": _ref("Subscription")}),
                    **_AUTH_ERRORS,
                },
            },
            "post": {
                **secured,
                "summary": "Create a subscription",
                "requestBody": body,
                "responses": {
                    "201": _json(_ref("Subscription"), "created"),
                    "400": _error("validation failed, or an event is held by another"),
                    **_AUTH_ERRORS,
                },
            },
        },
        wire.subscription_path("{subscriptionId}", prefix): {
            "parameters": [sub_id],
            "get": {
                **secured,
                "summary": "One subscription",
                "responses": {
                    "200": _json(_ref("Subscription")),
                    "404": _error("unknown id"),
                    **_AUTH_ERRORS,
                },
            },
            "put": {
                **secured,
                "summary": "Replace the url and/or the events",
                "requestBody": body,
                "responses": {
                    "200": _json(_ref("Subscription")),
                    "400": _error("validation failed"),
                    "404": _error("unknown id"),
                    **_AUTH_ERRORS,
                },
            },
            "delete": {
                **secured,
                "summary": "Delete a subscription",
                "responses": {
                    "204": {"description": "deleted"},
                    "404": _error("unknown id"),
                    **_AUTH_ERRORS,
                },
            },
        },
        wire.certificate_path(prefix): {
            "get": {
                **secured,
                "summary": "The validation certificate (PEM)",
                "responses": {
                    "200": {
                        "description": "PEM",
                        "content": {"application/x-pem-file": {"schema": {"type": "string"}}},
                    },
                    **_AUTH_ERRORS,
                },
            },
        },
    }


def _oauth_paths() -> dict[str, Any]:
    form = "application/x-www-form-urlencoded"
    token_form = {
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {"const": "client_credentials"},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
            "scope": {"type": "string"},
            "expires_in": {"type": "integer", "minimum": 1, "maximum": wire.MAX_TOKEN_LIFETIME},
        },
    }
    oauth_error = _json(_ref("OAuthError"), "refused")
    return {
        wire.TOKEN_PATH: {
            "post": {
                "summary": "Client-credentials access token (credentials in the form or Basic)",
                "security": [{}, {"basic": []}],
                "requestBody": {"required": True, "content": {form: {"schema": token_form}}},
                "responses": {"200": _json(_ref("Token")), "400": oauth_error, "401": oauth_error},
            }
        },
        wire.REVOKE_PATH: {
            "post": {
                "summary": "Revoke an access token at once (RFC 7009)",
                "requestBody": {
                    "required": True,
                    "content": {
                        form: {
                            "schema": {
                                "type": "object",
                                "required": ["token"],
                                "properties": {"token": {"type": "string"}},
                            }
                        }
                    },
                },
                "responses": {"200": {"description": "revoked (or unknown)"}, "400": oauth_error},
            }
        },
    }


def _control_paths() -> dict[str, Any]:
    c = CONTROL_PREFIX
    any_obj = {"type": "object"}
    fault = {
        "type": "object",
        "required": ["path"],
        "additionalProperties": False,
        "properties": {
            "path": {"type": "string", "description": "exact path or fnmatch pattern"},
            "method": {"type": "string"},
            "count": {"type": "integer", "minimum": 1},
            "status": {"type": "integer"},
            "retry_after": {"type": "number"},
            "delay": {"type": "number", "maximum": 60},
            "drop": {"type": "boolean"},
            "after": {"type": "boolean", "description": "apply after the handler ran"},
        },
    }
    trigger = {
        "type": "object",
        "required": ["event"],
        "properties": {
            "event": {"enum": sorted(events.EVENT_NAMES)},
            "payload": any_obj,
            "traceId": {"type": "string"},
        },
    }
    return {
        f"{c}/events": {
            "post": {
                "summary": "Deliver a signed callback to the subscription holding the event",
                "requestBody": {"required": True, "content": {_JSON: {"schema": trigger}}},
                "responses": {
                    "200": _json(_ref("Delivery")),
                    "400": _error("bad event"),
                    "404": _error("no subscription holds the event"),
                },
            }
        },
        f"{c}/deliveries": {
            "get": {
                "summary": "Delivery records",
                "responses": {"200": _json({"type": "array", "items": _ref("Delivery")})},
            },
            "delete": {"summary": "Forget them", "responses": {"204": {"description": "ok"}}},
        },
        f"{c}/stats": {"get": {"summary": "Counters", "responses": {"200": _json(any_obj)}}},
        f"{c}/stats/reset": {
            "post": {"summary": "Zero the counters", "responses": {"204": {"description": "ok"}}}
        },
        f"{c}/faults": {
            "get": {"summary": "Pending faults", "responses": {"200": _json({"type": "array"})}},
            "post": {
                "summary": "Inject a fault",
                "requestBody": {"required": True, "content": {_JSON: {"schema": fault}}},
                "responses": {"201": _json({"type": "array"}), "400": _error("bad fault")},
            },
            "delete": {"summary": "Clear faults", "responses": {"204": {"description": "ok"}}},
        },
        f"{c}/certificate": {
            "get": {"summary": "Describe the certificate", "responses": {"200": _json(any_obj)}},
            "post": {
                "summary": "Re-issue the certificate",
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "type": "object",
                                "required": ["action"],
                                "properties": {"action": {"enum": list(CERT_ACTIONS)}},
                            }
                        }
                    },
                },
                "responses": {"200": _json(any_obj), "400": _error("bad action")},
            },
        },
        f"{c}/reset": {
            "post": {
                "summary": "Forget subscriptions, tokens, deliveries, faults, counters",
                "responses": {"204": {"description": "ok"}},
            }
        },
        f"{c}/health": {"get": {"summary": "Liveness", "responses": {"200": _json(any_obj)}}},
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json(any_obj)}}
        },
    }


def _schemas() -> dict[str, Any]:
    string = {"type": "string"}
    event_list = {
        "type": "array",
        "minItems": 1,
        "uniqueItems": True,
        "items": {"enum": sorted(events.EVENT_NAMES)},
    }
    return {
        "SubscriptionInput": {
            "type": "object",
            "properties": {
                wire.F_URL: {"type": "string", "format": "uri"},
                "callbackUrl": {"type": "string", "format": "uri", "description": "alias of url"},
                wire.F_EVENTS: event_list,
            },
        },
        "Subscription": {
            "type": "object",
            "properties": {
                wire.F_SUBSCRIPTION_ID: {"type": "string", "pattern": "^[0-9a-f]{24}$"},
                wire.F_URL: string,
                wire.F_EVENTS: event_list,
                wire.F_CREATED_AT: {"type": "string", "format": "date-time"},
                wire.F_UPDATED_AT: {"type": "string", "format": "date-time"},
            },
        },
        "Error": {
            "type": "object",
            "required": [wire.F_ERROR_CODE, wire.F_ERROR_NAME],
            "properties": {
                wire.F_ERROR_CODE: {"type": "integer"},
                wire.F_ERROR_NAME: string,
                wire.F_ERROR_TEXT: string,
            },
        },
        "Token": {
            "type": "object",
            "properties": {
                "access_token": string,
                "scope": string,
                "expires_in": {"type": "integer"},
                "token_type": {"const": "Bearer"},
            },
        },
        "OAuthError": {
            "type": "object",
            "properties": {"error": string, "error_description": string},
        },
        "Delivery": {
            "type": "object",
            "properties": {
                "id": string,
                "event": string,
                "subscriptionId": string,
                "url": string,
                "traceId": string,
                "nonce": string,
                "signing": string,
                "status": {"enum": ["delivered", "failed"]},
                "httpStatus": {"type": ["integer", "null"]},
                "attempts": {"type": "integer"},
                "latencyMs": {"type": "number"},
                "error": {"type": ["string", "null"]},
                "createdAt": {"type": "string", "format": "date-time"},
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {**_oauth_paths()}
    for prefix in (wire.KWN_PREFIX, wire.KWN_LEGACY_PREFIX):
        paths.update(_kwn_paths(prefix))
    paths.update(_control_paths())
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "knoxhook Knox cloud emulator",
            "version": "1",
            "description": "A local stand-in for the Knox cloud: OAuth 2.0, the KWN "
            "Subscription API, the validation certificate, and control endpoints.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
    }
    return legacy.extend_openapi(document)
