"""Answers that are not what Knox sends (issue 9, defect 2), through a real process and
a real server on 127.0.0.1: a 200 HTML page (a proxy, a captive portal, a wrong base
URL) is exit 7 with a hint about the base URL or a proxy, never exit 1 "a bug"; a create
answered so says the subscription may have been created, and how to check."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from tests.cli.knoxproc import knoxhook

HTML = b"<html><body>Please log in to the proxy</body></html>"


class Portal(BaseHTTPRequestHandler):
    """Answers every request 200 with an HTML page, except what ``json_paths`` lists
    (method, path) -> JSON body: a token endpoint that works, for instance."""

    json_paths: ClassVar[dict[tuple[str, str], object]] = {}

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        body = self.json_paths.get((method, self.path.split("?")[0]))
        data, kind = (HTML, "text/html")
        if body:
            data, kind = json.dumps(body).encode(), "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, *_: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def portal() -> Iterator[str]:
    class Everything(Portal):
        json_paths: ClassVar[dict[tuple[str, str], object]] = {}

    yield from _serve(Everything)


@pytest.fixture
def portal_after_login() -> Iterator[str]:
    """Tokens and the list work; a create is answered with the HTML page."""

    class AfterLogin(Portal):
        json_paths: ClassVar[dict[tuple[str, str], object]] = {
            ("POST", "/ams/v1/oauth2/token"): {
                "access_token": "tok-123456",
                "token_type": "Bearer",
                "expires_in": 600,
            },
        }

    yield from _serve(AfterLogin)


def _env(base: str) -> dict[str, str]:
    return {
        "KNOXHOOK_BASE_URL": base,
        "KNOXHOOK_CLIENT_ID": "c",
        "KNOXHOOK_CLIENT_SECRET": "the-secret",
    }


def test_a_list_answered_with_an_html_page_is_exit_7_with_a_hint(
    portal_after_login: str,
) -> None:
    run = knoxhook("subscriptions", "list", env=_env(portal_after_login), timeout=30)
    assert run.code == 7, run.err
    assert run.err.splitlines() == [
        f"Error: GET {portal_after_login}/kwn/v1/subscriptions: Knox answered 200 with a body "
        "that is not JSON (an HTML page)",
        "Hint: check the base URL (--base-url / KNOXHOOK_BASE_URL): a proxy, a captive portal "
        "or another server may be answering instead of Knox",
    ]


def test_as_json_the_error_code_is_malformed_response(portal_after_login: str) -> None:
    run = knoxhook("subscriptions", "list", "--json", env=_env(portal_after_login), timeout=30)
    assert run.code == 7
    error = json.loads(run.err)["error"]
    assert error["code"] == "malformed_response"
    assert "proxy" in error["hint"]


def test_subscribe_answered_with_an_html_page_says_it_may_have_been_created(
    portal_after_login: str,
) -> None:
    run = knoxhook(
        "subscribe", "--url", "https://hooks.example.com/knox", "--event", "KDMS_DEVICE_UPLOAD",
        env=_env(portal_after_login), timeout=30,
    )  # fmt: skip
    assert run.code == 7, run.err
    error, hint = run.err.splitlines()
    assert error == (
        f"Error: POST {portal_after_login}/kwn/v1/subscriptions: Knox answered 200 with a "
        "body that is not JSON (an HTML page); the subscription may have been created"
    )
    assert hint.startswith("Hint: check with `knoxhook subscriptions list`; check the base URL")


def test_a_token_endpoint_answering_html_is_exit_7_too(portal: str) -> None:
    run = knoxhook("subscriptions", "list", env=_env(portal), timeout=30)
    assert run.code == 7, run.err
    assert "is not an OAuth token" in run.err
    assert "the-secret" not in run.err


@pytest.fixture
def wrong_shape() -> Iterator[str]:
    """JSON, but not a list of subscriptions."""

    class WrongShape(Portal):
        json_paths: ClassVar[dict[tuple[str, str], object]] = {
            ("POST", "/ams/v1/oauth2/token"): {"access_token": "tok-123456", "expires_in": 600},
            ("GET", "/kwn/v1/subscriptions"): {"status": "ok", "page": "welcome"},
        }

    yield from _serve(WrongShape)


def test_json_of_the_wrong_shape_is_exit_7_with_the_hint(wrong_shape: str) -> None:
    run = knoxhook("subscriptions", "list", env=_env(wrong_shape), timeout=30)
    assert run.code == 7, run.err
    assert run.err.splitlines()[0] == "Error: expected a list of subscriptions, got dict"
    assert run.err.splitlines()[1].startswith("Hint: check the base URL (--base-url")
