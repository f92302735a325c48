"""``/openapi.json``, generated from the route table and the pydantic models.

Nothing here is written by hand but the words: each path, method, body and answer comes
from an ``Endpoint`` (``routing.py``) and the schemas from ``models.py``, the classes the
handlers validate with. Request bodies are described in pydantic's "validation" mode
(what the emulator accepts; an optional field is omitted, never ``null``), answers in
its "serialization" mode (what it sends). schemathesis checks the emulator against this
document (``tests/emulator/test_schemathesis.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import CoreSchema, core_schema

from knoxhook import wire
from knoxhook.emulator import CONTROL_TOKEN_HEADER
from knoxhook.emulator.routing import Endpoint, path_parameters

REF = "#/components/schemas/{model}"
_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "bearer": [{"bearer": []}, {"knoxApiToken": []}],  # OAuth 2.0, or legacy (§2b)
    "client": [{}, {"basic": []}],  # client id and secret in the form, or HTTP Basic
    "control": [{}, {"controlToken": []}],  # the token is needed off loopback only
}


class _Schemas(GenerateJsonSchema):
    """pydantic's schemas without titles, and without ``null`` for an omitted input."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def nullable_schema(self, schema: core_schema.NullableSchema) -> dict[str, Any]:
        if self.mode == "validation":  # `x: T | None = None` in a body: omit x, or send a T
            return self.generate_inner(schema["schema"])
        return super().nullable_schema(schema)

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        generated = super().default_schema(schema)
        if self.mode == "validation" and generated.get("default", 0) is None:
            del generated["default"]
        return generated

    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> Any:
        generated = super().generate(schema, mode)
        generated.pop("title", None)
        return generated


def _models(endpoints: Sequence[Endpoint]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for endpoint in endpoints:
        if endpoint.body is not None:
            wanted[(endpoint.body, "validation")] = None
        for answer in endpoint.answers.values():
            if answer.model is not None:
                wanted[(answer.model, "serialization")] = None
    return list(wanted)


def _operation(endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, answer in sorted(endpoint.answers.items()):
        response: dict[str, Any] = {"description": answer.description}
        if answer.model is not None:
            schema = refs[(answer.model, "serialization")]
            if answer.many:
                schema = {"type": "array", "items": schema}
            response["content"] = {answer.media_type: {"schema": schema}}
        elif answer.media_type != "application/json":
            response["content"] = {answer.media_type: {"schema": {"type": "string"}}}
        responses[str(status)] = response
    operation: dict[str, Any] = {"summary": endpoint.summary, "responses": responses}
    if endpoint.body is not None:
        kind = "application/x-www-form-urlencoded" if endpoint.form else "application/json"
        operation["requestBody"] = {
            "required": True,
            "content": {kind: {"schema": refs[(endpoint.body, "validation")]}},
        }
    if endpoint.security is not None:
        operation["security"] = _SECURITY[endpoint.security]
    return operation


def document(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints``."""
    table = list(endpoints)
    refs, definitions = models_json_schema(
        _models(table), ref_template=REF, schema_generator=_Schemas
    )
    paths: dict[str, Any] = {}
    for endpoint in table:
        item = paths.setdefault(endpoint.path, {})
        names = path_parameters(endpoint.path)
        if names:
            item["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in names
            ]
        item[endpoint.method.lower()] = _operation(endpoint, refs)
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "knoxhook Knox cloud emulator",
            "version": "2",
            "description": "A local stand-in for the Knox cloud: OAuth 2.0, the KWN "
            "Subscription API, the validation certificate, and control endpoints. "
            "Generated from the models the emulator validates with.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
                "controlToken": {"type": "apiKey", "in": "header", "name": CONTROL_TOKEN_HEADER},
                "knoxApiToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": wire.H_API_TOKEN,
                    "description": "legacy Knox Cloud Authentication: the accessToken signed RS512",
                },
            },
        },
    }
