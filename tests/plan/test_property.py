"""Property: for random (live, desired) pairs over the real event catalogue, the planned
steps, run against the emulator, reach the desired state, and Knox never refuses a step
(no "event held elsewhere"); a plan it cannot make is refused before any write, for the
reason it gives."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from knoxhook.ascode.apply import apply
from knoxhook.ascode.desired import DesiredState, DesiredSubscription
from knoxhook.ascode.planner import PlanConflictError, make_plan
from knoxhook.ascode.state import Record, State
from knoxhook.emulator.testing import EmulatorHandle
from knoxhook.events import CATALOGUE
from knoxhook.subscriptions import SubscriptionService
from tests.plan.helpers import writes

EVENTS = [e.name for e in CATALOGUE]
URLS = [f"https://h{i}.example.com/k" for i in range(3)]
NAMES = [f"s{i}" for i in range(6)]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Random pairs; in two thirds the file names the live subscriptions (as a past apply
    recorded them) and deals their events out again at random, or passes each one's on
    to the next, so that moves, swaps and cycles among several subscriptions are common."""
    pool = draw(st.lists(st.sampled_from(EVENTS), min_size=2, max_size=8, unique=True))
    mode = draw(st.sampled_from(["random", "reshuffle", "rotate"]))
    n_live = draw(st.integers(2 if mode == "rotate" else 0, 4))
    live_of = {e: draw(st.integers(-1, n_live - 1)) for e in pool}  # -1: held by none
    live = [
        (draw(st.sampled_from(URLS)), [e for e in pool if live_of[e] == i]) for i in range(n_live)
    ]
    names = draw(st.permutations(NAMES))
    if mode == "random":
        n_want = draw(st.integers(0, 4))
        urls = [draw(st.sampled_from(URLS)) for _ in range(n_want)]
        recorded = draw(st.lists(st.sampled_from(NAMES), max_size=4, unique=True))
    else:  # the same subscriptions, as a past apply recorded them
        n_want, urls = n_live, [url for url, _ in live]
        recorded = names[:n_live]
    want_of = {e: draw(st.integers(-1, n_want - 1)) for e in pool}
    if mode == "rotate":  # each one's events go to the next: a swap, or a longer cycle
        want_of.update({e: (i + 1) % n_live for e, i in live_of.items() if i >= 0})
    wanted = [(names[i], urls[i], [e for e in pool if want_of[e] == i]) for i in range(n_want)]
    kept = [i for i, (_, ev) in enumerate(live) if ev]
    return {
        "live": [live[i] for i in kept],
        "recorded": [recorded[i] if i < len(recorded) else None for i in kept],
        "wanted": [w for w in wanted if w[2]],
        "prune": draw(st.booleans()),
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=scenarios())
def test_planned_steps_reach_the_desired_state_and_are_never_refused(
    emulator: EmulatorHandle, service: SubscriptionService, case: dict[str, Any]
) -> None:
    emulator.reset()
    store = emulator.emulator.store
    made = [store.create(url, events) for url, events in case["live"]]
    with tempfile.TemporaryDirectory() as tmp:
        state = State(Path(tmp) / "knoxhook.state.json")
        for name, sub in zip(case["recorded"], made, strict=True):  # as a past apply left it
            if name is not None:
                state.records[name] = Record(
                    sub["subscriptionId"], sub["url"], tuple(sub["events"])
                )
        wanted = DesiredState(
            Path(tmp) / "knoxhook.yaml",
            tuple(DesiredSubscription(n, url, tuple(ev)) for n, url, ev in case["wanted"]),
        )
        live = service.list()
        emulator.reset_stats()
        try:
            plan = make_plan(wanted, live, state, prune=case["prune"])
        except PlanConflictError as exc:
            event("refused: held outside the plan")
            _check_conflict(exc, wanted, live, state, case["prune"])
            assert writes(emulator) == {}
            return
        for kind in sorted({f"{s.action}/{s.phase} {s.reason.split(':')[0]}" for s in plan.steps}):
            event(kind)
        apply(plan, service, state)  # ApplyFailed here would fail the property
        assert store.invariant_violations() == []
        final = {s["subscriptionId"]: s for s in store.all()}
        for d in wanted.subscriptions:
            sub = final[state.records[d.name].subscription_id]
            assert (sub["url"], set(sub["events"])) == (d.url, set(d.events))
        untouched = [*plan.unmanaged, *(s for _, s in plan.not_pruned)]
        for s in untouched:
            assert final[s.subscription_id]["events"] == list(s.events)
        for _, s in plan.pruned:
            assert s.subscription_id not in final
        managed = {state.records[d.name].subscription_id for d in wanted.subscriptions}
        assert set(final) == managed | {s.subscription_id for s in untouched}
        again = make_plan(wanted, service.list(), state, prune=case["prune"])
        assert again.steps == []
        assert again.drift == []


def _check_conflict(
    exc: PlanConflictError, wanted: DesiredState, live: list[Any], state: State, prune: bool
) -> None:
    """Each (event, holder) the error names is real: a wanted event held by a
    subscription that no entry of the file is recorded as, and that is not pruned."""
    want = {e for d in wanted.subscriptions for e in d.events}
    holder = {e: s.subscription_id for s in live for e in s.events}
    mine = {r.subscription_id for n, r in state.records.items() if n in wanted.by_name()}
    owned = state.owned_ids()
    claims = exc.message.split(": ", 1)[1].split("; ")
    assert claims
    for claim in claims:
        event, _, rest = claim.partition(" ")
        sid = rest.rsplit(" ", 1)[1]
        assert event in want
        assert holder[event] == sid
        assert sid not in mine
        assert not (prune and sid in owned)
