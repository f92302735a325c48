"""plan + apply against the real emulator: create, no-op, move, swap, cycle, prune,
drift, saved-plan conflict, faults mid-apply."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from knoxhook.ascode import document, state
from knoxhook.ascode.apply import ApplyFailed, StalePlanError, apply, check_saved
from knoxhook.ascode.planner import PlanConflictError
from knoxhook.emulator.testing import EmulatorHandle
from knoxhook.errors import ExitCode
from knoxhook.subscriptions import SubscriptionService
from tests.plan.helpers import apply_file, ids, live, plan_file, recorded, writes, yaml_for

A, B, C = "https://a.example.com/k", "https://b.example.com/k", "https://c.example.com/k"
LOCKED, UNLOCKED, ENROLLED = "KG_DEVICE_LOCKED", "KG_DEVICE_UNLOCKED", "KG_DEVICE_ENROLLED"
UPLOAD, DELETE = "KDMS_DEVICE_UPLOAD", "KDMS_DEVICE_DELETE"

Write = Callable[[str], Path]


def steps(plan_or_results: object) -> list[tuple[str, str, str]]:
    items = getattr(plan_or_results, "steps", plan_or_results)
    out = []
    for item in items:  # type: ignore[attr-defined]
        s = getattr(item, "step", item)
        out.append((s.action, s.phase, s.name))
    return out


def test_create_from_empty_records_ids_in_a_private_state_file(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"kg": (A, [LOCKED, UNLOCKED]), "kdms": (B, [UPLOAD])}))
    results = apply_file(path, service)
    assert steps(results) == [("create", "create", "kg"), ("create", "create", "kdms")]
    assert [r.outcome for r in results] == ["done", "done"]
    assert live(emulator) == {A: {LOCKED, UNLOCKED}, B: {UPLOAD}}
    state_file = state.path_for(path)
    assert state_file == path.parent / "knoxhook.state.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert recorded(path) == {"kg": ids(emulator)[A], "kdms": ids(emulator)[B]}
    assert json.loads(state_file.read_text())["subscriptions"]["kg"]["events"] == [LOCKED, UNLOCKED]


def test_a_second_run_is_a_no_op_with_zero_writes(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"kg": (A, [LOCKED]), "kdms": (B, [UPLOAD, DELETE])}))
    apply_file(path, service)
    before = state.path_for(path).read_bytes()
    emulator.reset_stats()
    plan = plan_file(path, service)
    assert (plan.changes, plan.steps, plan.unchanged) == (False, [], ["kg", "kdms"])
    assert apply_file(path, service) == []
    assert writes(emulator) == {}
    assert emulator.stats()["requests"] == {"GET /kwn/v1/subscriptions": 2}
    assert state.path_for(path).read_bytes() == before


def test_an_existing_subscription_is_adopted_by_url_without_a_write(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    sid = service.create(A + "/", [LOCKED]).subscription_id
    path = write_file(yaml_for({"kg": (A, [LOCKED])}))
    emulator.reset_stats()
    plan = plan_file(path, service)
    assert plan.matched["kg"][1] == "url"
    assert steps(plan) == [("update", "update", "kg")]  # the file has no trailing slash
    assert (plan.steps[0].before_url, plan.steps[0].url) == (A + "/", A)
    apply(plan, service, state.load(state.path_for(path)))
    assert recorded(path) == {"kg": sid}
    assert live(emulator) == {A: {LOCKED}}
    assert writes(emulator) == {"PUT /kwn/v1/subscriptions/{subscriptionId}": 1}


def test_an_event_moved_between_two_subscriptions_shrinks_first_then_grows(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED, UNLOCKED]), "b": (B, [UPLOAD])}))
    apply_file(path, service)
    before = ids(emulator)
    path.write_text(yaml_for({"a": (A, [LOCKED]), "b": (B, [UPLOAD, UNLOCKED])}))
    plan = plan_file(path, service)
    assert steps(plan) == [("update", "shrink", "a"), ("update", "grow", "b")]
    assert (plan.steps[0].removed, plan.steps[1].added) == ((UNLOCKED,), (UNLOCKED,))
    apply(plan, service, state.load(state.path_for(path)))
    assert live(emulator) == {A: {LOCKED}, B: {UPLOAD, UNLOCKED}}
    assert ids(emulator) == before
    assert emulator.emulator.store.invariant_violations() == []


def test_a_swap_with_a_free_event_steps_aside_and_keeps_both_ids(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED]), "b": (B, [UNLOCKED])}))
    apply_file(path, service)
    before = ids(emulator)
    path.write_text(yaml_for({"a": (A, [UNLOCKED, UPLOAD]), "b": (B, [LOCKED])}))
    plan = plan_file(path, service)
    assert steps(plan) == [
        ("update", "grow", "a"),
        ("update", "grow", "b"),
        ("update", "grow", "a"),
    ]
    assert plan.steps[0].events == (UPLOAD,)  # LOCKED is now held by neither
    assert plan.steps[0].reason == "step aside: events swap with b"
    apply(plan, service, state.load(state.path_for(path)))
    assert live(emulator) == {A: {UNLOCKED, UPLOAD}, B: {LOCKED}}
    assert ids(emulator) == before


def test_a_plain_swap_replaces_one_subscription(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED]), "b": (B, [UNLOCKED])}))
    apply_file(path, service)
    before = ids(emulator)
    path.write_text(yaml_for({"a": (A, [UNLOCKED]), "b": (B, [LOCKED])}))
    results = apply_file(path, service)
    assert steps(results) == [
        ("delete", "replace", "a"),
        ("update", "grow", "b"),
        ("create", "create", "a"),
    ]
    assert live(emulator) == {A: {UNLOCKED}, B: {LOCKED}}
    assert ids(emulator)[B] == before[B]
    assert recorded(path) == {"a": ids(emulator)[A], "b": before[B]}
    assert plan_file(path, service).steps == []


def test_a_cycle_of_three_breaks_at_one_and_settles_the_others_in_place(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED]), "b": (B, [UNLOCKED]), "c": (C, [ENROLLED])}))
    apply_file(path, service)
    before = ids(emulator)
    path.write_text(yaml_for({"a": (A, [UNLOCKED]), "b": (B, [ENROLLED]), "c": (C, [LOCKED])}))
    results = apply_file(path, service)
    assert steps(results) == [
        ("delete", "replace", "a"),
        ("update", "grow", "c"),
        ("update", "grow", "b"),
        ("create", "create", "a"),
    ]
    assert live(emulator) == {A: {UNLOCKED}, B: {ENROLLED}, C: {LOCKED}}
    assert (ids(emulator)[B], ids(emulator)[C]) == (before[B], before[C])


def test_prune_deletes_only_what_the_state_file_owns(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED]), "old": (B, [UPLOAD])}))
    apply_file(path, service)
    outside = service.create(C, [DELETE]).subscription_id
    path.write_text(yaml_for({"a": (A, [LOCKED])}))
    kept = plan_file(path, service)
    assert kept.steps == []
    assert [n for n, _ in kept.not_pruned] == ["old"]
    assert [s.subscription_id for s in kept.unmanaged] == [outside]
    results = apply_file(path, service, prune=True)
    assert steps(results) == [("delete", "delete", "old")]
    assert live(emulator) == {A: {LOCKED}, C: {DELETE}}
    assert recorded(path) == {"a": ids(emulator)[A]}


def test_drift_is_shown_apart_and_reverted(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED]), "b": (B, [UPLOAD])}))
    apply_file(path, service)
    sid_a, sid_b = ids(emulator)[A], ids(emulator)[B]
    service.modify(sid_a, add_events=[UNLOCKED])  # someone, outside knoxhook
    service.delete(sid_b)
    plan = plan_file(path, service)
    doc = document.to_json(plan, state.path_for(path))
    assert doc["drift"] == [
        {
            "name": "a",
            "subscriptionId": sid_a,
            "kind": "changed",
            "recorded": {"url": A, "events": [LOCKED]},
            "live": {"url": A, "events": [LOCKED, UNLOCKED]},
        },
        {
            "name": "b",
            "subscriptionId": sid_b,
            "kind": "deleted",
            "recorded": {"url": B, "events": [UPLOAD]},
            "live": None,
        },
    ]
    assert steps(plan) == [("update", "shrink", "a"), ("create", "create", "b")]
    apply(plan, service, state.load(state.path_for(path)))
    assert live(emulator) == {A: {LOCKED}, B: {UPLOAD}}
    assert plan_file(path, service).drift == []


def test_an_event_held_by_an_unmanaged_subscription_fails_the_plan_before_any_write(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    outside = service.create(C, [LOCKED, DELETE]).subscription_id
    path = write_file(yaml_for({"a": (A, [LOCKED])}))
    emulator.reset_stats()
    with pytest.raises(PlanConflictError) as exc:
        plan_file(path, service)
    assert exc.value.message == (
        "the file wants events held by subscriptions it does not manage: "
        f"KG_DEVICE_LOCKED (wanted by 'a') is held by {outside}"
    )
    assert exc.value.exit_code == ExitCode.API_REFUSED
    assert "knoxhook import NAME ID" in (exc.value.hint or "")
    assert writes(emulator) == {}


def test_a_saved_plan_is_refused_when_live_changed_meanwhile(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED])}))
    saved = json.loads(json.dumps(document.to_json(plan_file(path, service), path)))
    service.create(B, [UPLOAD])  # someone else, meanwhile
    fresh = plan_file(path, service)
    with pytest.raises(StalePlanError, match="the live subscriptions changed") as exc:
        check_saved(saved, fresh, document.to_json(fresh, path))
    assert exc.value.exit_code == ExitCode.USAGE
    assert "--force" in (exc.value.hint or "")
    same = plan_file(path, service)
    check_saved(document.to_json(same, path), same, document.to_json(same, path))


def test_a_503_mid_apply_stops_records_what_was_done_and_a_second_apply_converges(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED, UNLOCKED]), "b": (B, [UPLOAD])}))
    apply_file(path, service)
    path.write_text(
        yaml_for({"a": (A, [LOCKED]), "b": (B, [UPLOAD, UNLOCKED]), "c": (C, [DELETE])})
    )
    sid_b = ids(emulator)[B]
    emulator.fault(path=f"/kwn/v1/subscriptions/{sid_b}", method="PUT", status=503, count=3)
    with pytest.raises(ApplyFailed) as exc:
        apply_file(path, service)
    assert [r.outcome for r in exc.value.results] == ["done", "failed", "not_run"]
    assert exc.value.exit_code == ExitCode.NETWORK
    assert exc.value.message.startswith("step 2 (update 'b' (+KG_DEVICE_UNLOCKED)) failed: ")
    assert "1 step(s) done, 1 not run" in exc.value.message
    assert json.loads(state.path_for(path).read_text())["subscriptions"]["a"]["events"] == [LOCKED]
    assert live(emulator) == {A: {LOCKED}, B: {UPLOAD}}  # UNLOCKED held by neither, for now
    results = apply_file(path, service)
    assert steps(results) == [("update", "grow", "b"), ("create", "create", "c")]
    assert live(emulator) == {A: {LOCKED}, B: {UPLOAD, UNLOCKED}, C: {DELETE}}
    assert plan_file(path, service).steps == []


def test_a_create_whose_answer_was_dropped_is_found_not_duplicated(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED]), "b": (B, [UPLOAD])}))
    emulator.fault(path="/kwn/v1/subscriptions", method="POST", drop=True, after=True)
    results = apply_file(path, service)
    assert [r.outcome for r in results] == ["done", "done"]
    assert live(emulator) == {A: {LOCKED}, B: {UPLOAD}}
    assert recorded(path) == {"a": ids(emulator)[A], "b": ids(emulator)[B]}
    assert emulator.stats()["requests"]["POST /kwn/v1/subscriptions"] == 2


def test_a_dropped_create_whose_look_fails_too_converges_on_the_next_apply(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED]), "b": (B, [UPLOAD])}))
    plan = plan_file(path, service)
    emulator.fault(path="/kwn/v1/subscriptions", method="POST", drop=True, after=True)
    emulator.fault(path="/kwn/v1/subscriptions", method="GET", drop=True, count=3)
    with pytest.raises(ApplyFailed) as exc:
        apply(plan, service, state.load(state.path_for(path)))
    assert [r.outcome for r in exc.value.results] == ["failed", "not_run"]
    assert "may or may not have been created" in exc.value.message
    assert recorded(path) == {}
    assert live(emulator) == {A: {LOCKED}}  # created, though its answer never came
    results = apply_file(path, service)
    assert steps(results) == [("create", "create", "b")]
    assert live(emulator) == {A: {LOCKED}, B: {UPLOAD}}
    assert recorded(path) == {"a": ids(emulator)[A], "b": ids(emulator)[B]}


def test_an_interrupt_between_steps_leaves_a_state_the_next_plan_finishes(
    emulator: EmulatorHandle, service: SubscriptionService, write_file: Write
) -> None:
    path = write_file(yaml_for({"a": (A, [LOCKED, UNLOCKED]), "b": (B, [UPLOAD])}))
    apply_file(path, service)
    path.write_text(
        yaml_for({"a": (A, [LOCKED]), "b": (B, [UPLOAD, UNLOCKED]), "c": (C, [DELETE])})
    )

    def ctrl_c(result: object) -> None:
        raise KeyboardInterrupt

    plan = plan_file(path, service)
    with pytest.raises(KeyboardInterrupt):
        apply(plan, service, state.load(state.path_for(path)), on_step=ctrl_c)
    assert json.loads(state.path_for(path).read_text())["subscriptions"]["a"]["events"] == [LOCKED]
    again = plan_file(path, service)
    assert again.drift == []  # what knoxhook did is not mistaken for a change outside it
    assert steps(again) == [("update", "grow", "b"), ("create", "create", "c")]
    apply(again, service, state.load(state.path_for(path)))
    assert live(emulator) == {A: {LOCKED}, B: {UPLOAD, UNLOCKED}, C: {DELETE}}
