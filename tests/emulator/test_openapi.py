"""/openapi.json describes every route the emulator serves, with its methods."""

from __future__ import annotations

import httpx2

from knoxhook.emulator.app import _routes
from knoxhook.emulator.testing import EmulatorHandle


def test_openapi_covers_every_route(emulator: EmulatorHandle) -> None:
    response = httpx2.get(emulator.base_url + "/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for route in _routes():
        template = route.path.replace("{subscription_id}", "{subscriptionId}")
        assert template in paths, template
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in paths[template], (method, template)
    refs = {v for _, v in _walk(document) if isinstance(v, str) and v.startswith("#/")}
    for ref in refs:
        assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"]


def _walk(node: object) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((key, value))
            out.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_walk(value))
    return out
