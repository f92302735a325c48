"""The planner on its own (no server): matching, ownership, conflicts, ordering."""

from __future__ import annotations

from pathlib import Path

import pytest

from knoxhook.ascode.desired import DesiredState, DesiredSubscription
from knoxhook.ascode.planner import PlanConflictError, make_plan
from knoxhook.ascode.state import Record, State
from knoxhook.subscriptions import Subscription

A, B = "https://a.example.com/k", "https://b.example.com/k"
LOCKED, UNLOCKED, ENROLLED = "KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED", "KG_DEVICE_ENROLLED"


def want(*entries: tuple[str, str, tuple[str, ...]]) -> DesiredState:
    return DesiredState(Path("knoxhook.yaml"), tuple(DesiredSubscription(*e) for e in entries))


def sub(sid: str, url: str, *events: str) -> Subscription:
    return Subscription(sid, url, events)


def state(**records: Subscription) -> State:
    current = State(Path("knoxhook.state.json"))
    for name, s in records.items():
        current.records[name] = Record(s.subscription_id, s.url, s.events)
    return current


def test_url_matching_prefers_the_subscription_sharing_most_events() -> None:
    live = [sub("1", A, ENROLLED), sub("2", A + "/", LOCKED, UNLOCKED)]
    plan = make_plan(want(("kg", A, (LOCKED,))), live, state())
    assert plan.matched["kg"] == (live[1], "url")
    assert [(s.action, s.subscription_id, s.url) for s in plan.steps] == [("update", "2", A)]
    assert plan.unmanaged == [live[0]]


def test_a_renamed_entry_keeps_its_subscription() -> None:
    old = sub("1", A, LOCKED)
    plan = make_plan(want(("guard", A, (LOCKED,))), [old], state(kg=old), prune=True)
    assert plan.matched["guard"] == (old, "url")
    assert (plan.steps, plan.pruned, plan.unchanged) == ([], [], ["guard"])


def test_the_recorded_id_wins_over_the_url() -> None:
    mine, other = sub("1", B, LOCKED), sub("2", A, UNLOCKED)
    plan = make_plan(want(("kg", A, (LOCKED,))), [other, mine], state(kg=mine))
    assert plan.matched["kg"] == (mine, "state")
    assert [(s.action, s.subscription_id, s.before_url, s.url) for s in plan.steps] == [
        ("update", "1", B, A)
    ]


def test_an_owned_subscription_left_out_without_prune_blocks_its_events_with_a_prune_hint() -> None:
    old = sub("1", B, LOCKED)
    with pytest.raises(PlanConflictError) as exc:
        make_plan(want(("kg", A, (LOCKED,))), [old], state(old=old))
    assert "KG_DEVICE_LOCKED (wanted by 'kg') is held by 1" in exc.value.message
    assert exc.value.hint == (
        "--prune deletes the ones the state file records but the file no longer has"
    )
    plan = make_plan(want(("kg", A, (LOCKED,))), [old], state(old=old), prune=True)
    assert [(s.action, s.phase, s.name) for s in plan.steps] == [
        ("delete", "delete", "old"),
        ("create", "create", "kg"),
    ]


def test_a_subscription_losing_all_its_events_keeps_one_nobody_wants_until_its_last_step() -> None:
    a, b = sub("1", A, LOCKED, ENROLLED), sub("2", B, UNLOCKED)
    plan = make_plan(want(("a", A, (UNLOCKED,)), ("b", B, (LOCKED,))), [a, b], state(a=a, b=b))
    assert [(s.name, s.phase, s.events) for s in plan.steps] == [
        ("a", "shrink", (ENROLLED,)),  # releases LOCKED, never empty
        ("b", "grow", (LOCKED,)),
        ("a", "grow", (UNLOCKED,)),
    ]


def test_a_cycle_breaks_at_the_one_with_a_free_event_even_if_it_comes_later() -> None:
    a, b = sub("1", A, LOCKED), sub("2", B, UNLOCKED)
    plan = make_plan(
        want(("a", A, (UNLOCKED,)), ("b", B, (LOCKED, ENROLLED))), [a, b], state(a=a, b=b)
    )
    assert [(s.name, s.action, s.events) for s in plan.steps] == [
        ("b", "update", (ENROLLED,)),
        ("a", "update", (UNLOCKED,)),
        ("b", "update", (ENROLLED, LOCKED)),
    ]
    assert plan.steps[0].reason == "step aside: events swap with a"


def test_two_entries_with_one_url_each_get_the_live_one_sharing_their_events() -> None:
    live = [sub("1", A, UNLOCKED), sub("2", A, LOCKED)]
    plan = make_plan(want(("x", A, (LOCKED,)), ("y", A, (UNLOCKED,))), live, state())
    assert {n: s.subscription_id for n, (s, _) in plan.matched.items()} == {"x": "2", "y": "1"}
    assert plan.steps == []
    one = make_plan(want(("x", A, (ENROLLED,)), ("y", A, (UNLOCKED,))), live[:1], state())
    assert {n: s.subscription_id for n, (s, _) in one.matched.items()} == {"y": "1"}
    assert [(s.action, s.name) for s in one.steps] == [("create", "x")]
