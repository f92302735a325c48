"""knoxhook.subscriptions: validation before any request, wire mapping, safe create."""

from __future__ import annotations

import itertools
from typing import Any

import httpx2
import pytest

from knoxhook import wire
from knoxhook.errors import ApiError, NotFoundError, TransportError, UsageError
from knoxhook.subscriptions import (
    CREATE_ATTEMPTS,
    MalformedResponseError,
    Subscription,
    SubscriptionService,
    validate_events,
    validate_url,
)


class FakeKnox:
    """A tiny in-memory Knox behind the ``KnoxClient.request`` interface.

    ``faults`` is a list of (method, exception, applied) consumed in order by matching
    requests: ``applied=True`` means the handler ran before the failure (ambiguous).
    """

    def __init__(self) -> None:
        self.subs: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.faults: list[tuple[str, Exception, bool]] = []
        self._ids = itertools.count(100000000001)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotent: bool | None = None,
        accept: str = "application/json",
    ) -> httpx2.Response:
        self.calls.append((method, path, json))
        fault = next((f for f in self.faults if f[0] == method), None)
        if fault is not None:
            self.faults.remove(fault)
            if fault[2]:
                self._handle(method, path, json)
            raise fault[1]
        return self._handle(method, path, json)

    def _handle(self, method: str, path: str, body: Any) -> httpx2.Response:
        base = wire.subscriptions_path()
        if path == base and method == "GET":
            return httpx2.Response(200, json=list(self.subs.values()))
        if path == base and method == "POST":
            sid = str(next(self._ids))
            self.subs[sid] = {
                "subscriptionId": sid,
                "url": body["url"],
                "events": body["events"],
                "createdAt": "2026-11-29T00:00:00Z",
                "updatedAt": "2026-11-29T00:00:00Z",
            }
            return httpx2.Response(201, json=self.subs[sid])
        sid = path.rsplit("/", 1)[1]
        if sid not in self.subs:
            raise NotFoundError(f"not found: {method} {path}", status=404)
        if method == "GET":
            return httpx2.Response(200, json=self.subs[sid])
        if method == "PUT":
            self.subs[sid].update(url=body["url"], events=body["events"])
            return httpx2.Response(200, json=self.subs[sid])
        if method == "DELETE":
            del self.subs[sid]
            return httpx2.Response(204)
        raise AssertionError(f"unexpected {method} {path}")

    def methods(self) -> list[str]:
        return [m for m, _, _ in self.calls]


@pytest.fixture
def knox() -> FakeKnox:
    return FakeKnox()


@pytest.fixture
def service(knox: FakeKnox) -> SubscriptionService:
    return SubscriptionService(knox)


def ambiguous() -> TransportError:
    return TransportError("POST got no answer (ReadError)", ambiguous=True)


# --- validation --------------------------------------------------------------------------


def test_validate_events_normalises_splits_and_deduplicates() -> None:
    assert validate_events(["kdms_device_upload", "KG_DEVICE_LOCKED,KDMS_DEVICE_UPLOAD "]) == (
        "KDMS_DEVICE_UPLOAD",
        "KG_DEVICE_LOCKED",
    )


def test_validate_events_names_the_closest_events_for_a_typo() -> None:
    with pytest.raises(UsageError) as exc:
        validate_events(["KDMS_DEVICE_UPLAOD"])
    assert exc.value.exit_code == 2
    assert "unknown event 'KDMS_DEVICE_UPLAOD'" in exc.value.message
    assert "did you mean KDMS_DEVICE_UPLOAD" in exc.value.message
    assert exc.value.hint is not None
    assert "knoxhook events" in exc.value.hint


def test_validate_events_lists_every_unknown_event() -> None:
    with pytest.raises(UsageError, match=r"unknown events: 'KG_LOCKD' .*; 'ZZZ'"):
        validate_events(["KG_LOCKD", "KG_DEVICE_LOCKED", "ZZZ"])


@pytest.mark.parametrize("names", [[], [""], [" , "]])
def test_validate_events_needs_at_least_one(names: list[str]) -> None:
    with pytest.raises(UsageError, match="at least one event"):
        validate_events(names)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/knox",
        "http://127.0.0.1:8080/cb",
        "http://127.9.9.9/cb",
        "http://[::1]:9000/cb",
        "http://localhost:9000/cb",
    ],
)
def test_validate_url_accepts_https_and_loopback_http(url: str) -> None:
    assert validate_url(url) == url


def test_validate_url_refuses_plain_http_to_a_remote_host_unless_allowed() -> None:
    with pytest.raises(UsageError, match=r"refusing plain http:// to hooks\.example\.com") as exc:
        validate_url("http://hooks.example.com/knox")
    assert exc.value.hint is not None
    assert "--allow-http" in exc.value.hint
    assert validate_url("http://10.0.0.5/cb", allow_http=True) == "http://10.0.0.5/cb"


@pytest.mark.parametrize(
    "url",
    ["hooks.example.com/knox", "ftp://x.example/cb", "/relative", "https://", "http://a:99999/"],
)
def test_validate_url_refuses_what_is_not_an_absolute_http_url(url: str) -> None:
    with pytest.raises(UsageError):
        validate_url(url)


# --- wire mapping ------------------------------------------------------------------------


def test_subscription_reads_callbackurl_alias_and_writes_wire_keys() -> None:
    sub = Subscription.from_wire(
        {
            "subscriptionId": 123456789123,
            "callbackUrl": "https://a.example/cb",
            "events": ["KC_DEVICE_STATUS_CHANGE"],
        }
    )
    assert sub.subscription_id == "123456789123"
    assert sub.to_json() == {
        "subscriptionId": "123456789123",
        "url": "https://a.example/cb",
        "events": ["KC_DEVICE_STATUS_CHANGE"],
        "createdAt": None,
        "updatedAt": None,
    }


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"url": "https://a/", "events": []},
        {"subscriptionId": "1", "events": []},
        {"subscriptionId": "1", "url": "https://a/", "events": "KG_DEVICE_LOCKED"},
    ],
)
def test_malformed_subscription_is_reported(data: Any) -> None:
    with pytest.raises(MalformedResponseError):
        Subscription.from_wire(data)


class HtmlProxy:
    """A client whose every answer is a 200 HTML page (a captive portal, a proxy)."""

    def request(self, method: str, path: str, **_: Any) -> httpx2.Response:
        return httpx2.Response(200, text="<html>login</html>")


@pytest.mark.parametrize("call", ["list", "get", "create", "update"])
def test_a_2xx_answer_that_is_not_json_is_a_malformed_response(call: str) -> None:
    service = SubscriptionService(HtmlProxy())
    actions = {
        "list": lambda: service.list(),
        "get": lambda: service.get("42"),
        "create": lambda: service.create("https://a.example/cb", ["KG_DEVICE_LOCKED"]),
        "update": lambda: service.update(
            "42", url="https://a.example/cb", events=["KG_DEVICE_LOCKED"]
        ),
    }
    with pytest.raises(
        MalformedResponseError, match="Knox answered 200 with a body that is not JSON"
    ):
        actions[call]()


# --- CRUD --------------------------------------------------------------------------------


def test_create_get_list_update_delete_round_trip(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    sub = service.create("https://a.example/cb", ["KG_DEVICE_LOCKED"])
    assert knox.calls[0] == (
        "POST",
        "/kwn/v1/subscriptions",
        {"url": "https://a.example/cb", "events": ["KG_DEVICE_LOCKED"]},
    )
    assert service.get(sub.subscription_id) == sub
    assert service.list() == [sub]
    updated = service.update(sub.subscription_id, add_events=["KG_DEVICE_UNLOCKED"])
    assert updated.events == ("KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED")
    assert knox.calls[-1][2] == {
        "url": "https://a.example/cb",
        "events": ["KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED"],
    }
    updated = service.update(
        sub.subscription_id, url="https://b.example/cb", remove_events=["KG_DEVICE_LOCKED"]
    )
    assert (updated.url, updated.events) == ("https://b.example/cb", ("KG_DEVICE_UNLOCKED",))
    service.delete(sub.subscription_id)
    assert service.list() == []
    with pytest.raises(NotFoundError):
        service.get(sub.subscription_id)


def test_update_reads_first_then_sends_one_put_of_the_whole_object(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    sid = service.create("https://a.example/cb", ["KG_DEVICE_LOCKED"]).subscription_id
    knox.calls.clear()
    outcome = service.modify(sid, url="https://b.example/cb", events=["KE_CAMPAIGN_DELETE"])
    assert knox.methods() == ["GET", "PUT"]
    assert knox.calls[-1][2] == {"url": "https://b.example/cb", "events": ["KE_CAMPAIGN_DELETE"]}
    assert outcome.changed is True
    assert outcome.to_json()["changed"] is True


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "https://a.example/cb"},
        {"events": ["KG_DEVICE_UNLOCKED", "KG_DEVICE_LOCKED"]},  # same set, other order
        {"add_events": ["KG_DEVICE_LOCKED"]},
        {"remove_events": ["KE_CAMPAIGN_DELETE"]},  # not there: nothing to remove
        {"url": "https://a.example/cb", "events": ["kg_device_locked,KG_DEVICE_UNLOCKED"]},
    ],
)
def test_update_that_changes_nothing_sends_nothing(
    service: SubscriptionService, knox: FakeKnox, kwargs: dict[str, Any]
) -> None:
    sub = service.create("https://a.example/cb", ["KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED"])
    knox.calls.clear()
    outcome = service.modify(sub.subscription_id, **kwargs)
    assert knox.methods() == ["GET"]
    assert outcome.changed is False
    assert outcome.subscription == sub
    assert outcome.to_json() == {**sub.to_json(), "changed": False}


def test_an_event_both_added_and_removed_is_refused_before_any_request(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    sid = service.create("https://a.example/cb", ["KG_DEVICE_LOCKED"]).subscription_id
    knox.calls.clear()
    with pytest.raises(UsageError, match="both added and removed: KG_DEVICE_UNLOCKED") as exc:
        service.modify(
            sid,
            add_events=["KG_DEVICE_UNLOCKED", "KE_CAMPAIGN_DELETE"],
            remove_events=["kg_device_unlocked"],
        )
    assert exc.value.hint == "give each event to --add-event or to --remove-event, not both"
    assert knox.calls == []


def test_upsert_returns_the_identical_subscription_unchanged_without_a_create(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    first = service.upsert("https://a.example/cb", ["KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED"])
    assert first.changed is True
    knox.calls.clear()
    again = service.upsert("https://a.example/cb/", ["KG_DEVICE_UNLOCKED", "KG_DEVICE_LOCKED"])
    assert again.changed is False
    assert again.subscription == first.subscription
    assert knox.methods() == ["GET"]
    assert len(knox.subs) == 1


def test_upsert_with_other_events_creates_and_knox_decides(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    service.upsert("https://a.example/cb", ["KG_DEVICE_LOCKED"])
    other = service.upsert("https://a.example/cb", ["KG_DEVICE_UNLOCKED"])
    assert other.changed is True
    assert knox.methods()[-2:] == ["GET", "POST"]
    assert len(knox.subs) == 2


def test_delete_many_reports_every_id_and_carries_on_after_a_refusal(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    a = service.create("https://a.example/cb", ["KG_DEVICE_LOCKED"]).subscription_id
    b = service.create("https://b.example/cb", ["KG_DEVICE_UNLOCKED"]).subscription_id
    knox.faults.append(("DELETE", ApiError("Knox refused the request (403)", status=403), False))
    results = service.delete_many([a, "999", b])
    assert [(r.subscription_id, r.outcome) for r in results] == [
        (a, "failed"),
        ("999", "already_gone"),
        (b, "deleted"),
    ]
    assert results[0].to_json() == {
        "subscriptionId": a,
        "deleted": False,
        "outcome": "failed",
        "error": {"code": "api_refused", "message": "Knox refused the request (403)"},
    }
    assert results[1].to_json()["deleted"] is True
    assert set(knox.subs) == {a}


def test_delete_many_skips_the_rest_after_a_network_failure(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    pairs = (("a", "KG_DEVICE_LOCKED"), ("b", "KG_DEVICE_UNLOCKED"), ("c", "KE_CAMPAIGN_DELETE"))
    ids = [service.create(f"https://{n}.example/cb", [e]).subscription_id for n, e in pairs]
    knox.faults.append(("DELETE", TransportError("no answer", ambiguous=True), False))
    knox.calls.clear()
    results = service.delete_many(ids)
    assert [r.outcome for r in results] == ["failed", "skipped", "skipped"]
    assert [r.deleted for r in results] == [False, False, False]
    assert results[0].to_json()["error"] == {"code": "network_error", "message": "no answer"}
    assert knox.methods() == ["DELETE"]
    assert set(knox.subs) == set(ids)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "nothing to update"),
        ({"events": ["KG_DEVICE_LOKED"]}, "did you mean KG_DEVICE_LOCKED"),
        ({"url": "http://example.com/"}, "refusing plain http://"),
        ({"remove_events": ["KG_DEVICE_LOCKED"]}, "needs at least one event"),
    ],
)
def test_bad_update_is_refused(
    service: SubscriptionService, knox: FakeKnox, kwargs: dict[str, Any], message: str
) -> None:
    sid = service.create("https://a.example/cb", ["KG_DEVICE_LOCKED"]).subscription_id
    knox.calls.clear()
    with pytest.raises(UsageError, match=message):
        service.update(sid, **kwargs)
    assert "PUT" not in knox.methods()


def test_create_makes_no_request_for_bad_input(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    with pytest.raises(UsageError):
        service.create("https://a.example/cb", ["NOPE"])
    with pytest.raises(UsageError):
        service.create("http://example.com/cb", ["KG_DEVICE_LOCKED"])
    assert knox.calls == []


def test_ids_are_quoted_into_the_path(service: SubscriptionService, knox: FakeKnox) -> None:
    with pytest.raises(NotFoundError):
        service.get("../x")
    assert knox.calls[-1][1] == "/kwn/v1/subscriptions/..%2Fx"
    with pytest.raises(UsageError):
        service.get("  ")


# --- create after an ambiguous failure ---------------------------------------------------


def test_ambiguous_create_that_took_effect_is_found_not_repeated(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    knox.faults.append(("POST", ambiguous(), True))
    sub = service.create("https://a.example/cb", ["KDMS_DEVICE_UPLOAD"])
    assert knox.methods() == ["POST", "GET"]
    assert list(knox.subs) == [sub.subscription_id]


def test_ambiguous_create_that_did_not_take_effect_is_retried_once(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    knox.faults.append(("POST", ambiguous(), False))
    sub = service.create("https://a.example/cb", ["KDMS_DEVICE_UPLOAD"])
    assert knox.methods() == ["POST", "GET", "POST"]
    assert list(knox.subs) == [sub.subscription_id]


def test_create_gives_up_after_bounded_attempts_and_says_nothing_was_created(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    knox.faults.extend(("POST", ambiguous(), False) for _ in range(CREATE_ATTEMPTS))
    with pytest.raises(TransportError) as exc:
        service.create("https://a.example/cb", ["KDMS_DEVICE_UPLOAD"])
    assert exc.value.ambiguous is False
    assert f"after {CREATE_ATTEMPTS} attempts" in exc.value.message
    assert knox.methods().count("POST") == CREATE_ATTEMPTS
    assert knox.subs == {}


def test_create_when_the_look_fails_too_stays_ambiguous(
    service: SubscriptionService, knox: FakeKnox
) -> None:
    knox.faults.append(("POST", ambiguous(), True))
    knox.faults.append(("GET", TransportError("GET failed", ambiguous=True), False))
    with pytest.raises(TransportError) as exc:
        service.create("https://a.example/cb", ["KDMS_DEVICE_UPLOAD"])
    assert exc.value.ambiguous is True
    assert "may or may not have been created" in exc.value.message
    assert exc.value.hint is not None
    assert "subscriptions list" in exc.value.hint


def test_unambiguous_failures_are_not_retried(service: SubscriptionService, knox: FakeKnox) -> None:
    knox.faults.append(("POST", TransportError("cannot connect", ambiguous=False), False))
    with pytest.raises(TransportError, match="cannot connect"):
        service.create("https://a.example/cb", ["KDMS_DEVICE_UPLOAD"])
    knox.faults.append(("POST", ApiError("KG_DEVICE_LOCKED is held by 1", status=400), False))
    with pytest.raises(ApiError, match="held by"):
        service.create("https://a.example/cb", ["KG_DEVICE_LOCKED"])
    assert knox.methods() == ["POST", "POST"]


def test_delete_missing_ok(service: SubscriptionService, knox: FakeKnox) -> None:
    sid = service.create("https://a.example/cb", ["KG_DEVICE_LOCKED"]).subscription_id
    assert service.delete(sid) is True
    assert service.delete(sid, missing_ok=True) is False
    with pytest.raises(NotFoundError):
        service.delete(sid)
