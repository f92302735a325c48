"""Plan: what to do so that the live subscriptions become the desired ones.

1. **Match** each desired entry to a live subscription: by the id recorded in the state
   file, else by URL (trailing slash ignored; the pairs sharing most events first). A
   recorded id that is no longer live is drift ("deleted outside knoxhook").
2. **Diff** each pair: events added or removed, URL changed. Unmatched entries are
   created. Live subscriptions recorded in the state but gone from the file are deleted
   with ``prune`` only; others are never touched (they are "unmanaged").
3. **Order** the steps so that no step asks Knox to put an event in two subscriptions
   (knox-api.md §3: one event, at most one subscription), and no subscription is ever
   left without an event (Knox refuses an empty list):

   - *shrink*: each subscription drops the events it will lose, keeping those it keeps
     (or, when it keeps none, those nobody wants);
   - *delete*: pruned subscriptions go, releasing their events;
   - *grow*: each subscription takes its final events once none of them is held by
     another. When every remaining one waits for another (a swap, or a cycle among
     several), one of the cycle steps aside: it takes the part of its final events that
     is free, so that for a moment the contested event is held by neither; if none is
     free it is replaced (deleted now, re-created with its final events first thing in
     the create phase; its id changes). A spare event to park on is not used: Knox may
     refuse events of a service the customer has not licensed, and the endpoint would get
     callbacks it never asked for;
   - *create*: the new subscriptions, whose events are all free by then.

   A change of URL alone is an ``update`` step in the shrink pass; a URL that changes
   with the events changes in that subscription's last step.

   The order is simulated on the refreshed state as it is built, so every step is
   checked against exactly the holdings Knox will have when it runs.

An event the file wants that is held by a subscription the plan may not change (not in
the file, not pruned) makes the plan fail (``PlanConflictError``) before any request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from knoxhook.ascode.desired import DesiredState, DesiredSubscription
from knoxhook.ascode.state import Record, State
from knoxhook.errors import ExitCode, KnoxhookError
from knoxhook.subscriptions import Subscription


class PlanConflictError(KnoxhookError):
    """The file wants an event that a subscription outside the plan holds (exit 5:
    Knox would refuse the request)."""

    exit_code = ExitCode.API_REFUSED
    code = "plan_conflict"


@dataclass(frozen=True)
class Step:
    """One request: create, update (phase shrink or grow) or delete."""

    action: str  # "create" | "update" | "delete"
    phase: str  # "shrink" | "delete" | "grow" | "create"
    name: str
    subscription_id: str | None  # None for a create (Knox gives the id)
    url: str  # after the step (for a delete: the URL it had)
    events: tuple[str, ...]  # after the step, sorted (for a delete: the events it had)
    before_url: str | None = None
    before_events: tuple[str, ...] = ()
    reason: str = ""
    allow_http: bool = False

    @property
    def added(self) -> tuple[str, ...]:
        return (
            ()
            if self.action == "delete"
            else tuple(sorted(set(self.events) - set(self.before_events)))
        )

    @property
    def removed(self) -> tuple[str, ...]:
        if self.action == "delete":
            return self.events
        return tuple(sorted(set(self.before_events) - set(self.events)))


@dataclass(frozen=True)
class Drift:
    """A recorded subscription changed outside knoxhook since it was last applied."""

    name: str
    subscription_id: str
    recorded: Record
    live: Subscription | None  # None: deleted outside knoxhook


@dataclass
class Plan:
    desired: DesiredState
    refresh: tuple[Subscription, ...]
    prune: bool
    steps: list[Step] = field(default_factory=list)
    matched: dict[str, tuple[Subscription, str]] = field(default_factory=dict)  # name -> (sub, by)
    unchanged: list[str] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    unmanaged: list[Subscription] = field(default_factory=list)
    not_pruned: list[tuple[str, Subscription]] = field(default_factory=list)
    pruned: list[tuple[str, Subscription]] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)  # recorded names whose id is gone

    @property
    def changes(self) -> bool:
        return bool(self.steps)


def _norm(url: str) -> str:
    return url.rstrip("/")


def make_plan(
    desired: DesiredState, live: Sequence[Subscription], state: State, *, prune: bool = False
) -> Plan:
    """The ordered plan (module docstring); PlanConflictError before any step otherwise."""
    plan = Plan(desired, tuple(live), prune)
    _match(plan, state)
    _check_conflicts(plan)
    _schedule(plan)
    return plan


def _match(plan: Plan, state: State) -> None:
    live_by_id = {s.subscription_id: s for s in plan.refresh}
    wanted = plan.desired.by_name()
    taken: set[str] = set()
    for d in plan.desired.subscriptions:
        rec = state.records.get(d.name)
        if rec is not None and rec.subscription_id in live_by_id:
            sub = live_by_id[rec.subscription_id]
            plan.matched[d.name] = (sub, "state")
            taken.add(sub.subscription_id)
            if _norm(sub.url) != _norm(rec.url) or set(sub.events) != set(rec.events):
                plan.drift.append(Drift(d.name, sub.subscription_id, rec, sub))
    unmatched = [d for d in plan.desired.subscriptions if d.name not in plan.matched]
    for d in unmatched:
        rec = state.records.get(d.name)
        if rec is not None:
            plan.drift.append(Drift(d.name, rec.subscription_id, rec, None))
    # by URL: the pairs sharing most events first; file order, then the server's, break ties
    pairs = [
        (-len(set(s.events) & set(d.events)), i, j, d, s)
        for i, d in enumerate(unmatched)
        for j, s in enumerate(plan.refresh)
        if s.subscription_id not in taken and _norm(s.url) == _norm(d.url)
    ]
    for *_, d, s in sorted(pairs, key=lambda p: p[:3]):
        if d.name not in plan.matched and s.subscription_id not in taken:
            plan.matched[d.name] = (s, "url")
            taken.add(s.subscription_id)
    for name, rec in state.records.items():
        if rec.subscription_id not in live_by_id:
            if name not in wanted:
                plan.forgotten.append(name)
            continue
        sub = live_by_id[rec.subscription_id]
        if sub.subscription_id in taken:
            continue
        (plan.pruned if plan.prune else plan.not_pruned).append((name, sub))
        taken.add(sub.subscription_id)
    plan.unmanaged = [s for s in plan.refresh if s.subscription_id not in taken]


def _check_conflicts(plan: Plan) -> None:
    wanted = {e: d.name for d in plan.desired.subscriptions for e in d.events}
    problems: list[str] = []
    pruneable = False
    outside = [(False, s) for s in plan.unmanaged] + [(True, s) for _, s in plan.not_pruned]
    for owned, sub in outside:
        for event in sorted(set(sub.events) & set(wanted)):
            problems.append(
                f"{event} (wanted by {wanted[event]!r}) is held by {sub.subscription_id}"
            )
            pruneable = pruneable or owned
    if not problems:
        return
    raise PlanConflictError(
        "the file wants events held by subscriptions it does not manage: " + "; ".join(problems),
        hint="--prune deletes the ones the state file records but the file no longer has"
        if pruneable
        else "adopt it with `knoxhook import NAME ID`, or remove the event from it "
        "(knoxhook subscriptions update ID --remove-event EVENT)",
    )


class _Holdings:
    """Who holds which event while the steps are being ordered (a simulation of Knox)."""

    def __init__(self, live: Sequence[Subscription]) -> None:
        self.holder = {e: s.subscription_id for s in live for e in s.events}
        self.current = {s.subscription_id: (s.url, frozenset(s.events)) for s in live}

    def assign(self, sid: str, url: str, events: frozenset[str]) -> None:
        assert all(self.holder.get(e, sid) == sid for e in events), "event held elsewhere"
        self.release(sid)
        self.current[sid] = (url, events)
        self.holder.update(dict.fromkeys(events, sid))

    def release(self, sid: str) -> None:
        _, events = self.current.pop(sid, ("", frozenset()))
        for e in events:
            del self.holder[e]

    def blockers(self, sid: str | None, events: frozenset[str]) -> set[str]:
        return {self.holder[e] for e in events if e in self.holder and self.holder[e] != sid}


def _schedule(plan: Plan) -> None:
    held = _Holdings(plan.refresh)
    all_targets = {e for d in plan.desired.subscriptions for e in d.events}

    def update(
        d: DesiredSubscription, sid: str, url: str, events: frozenset[str], phase: str, why: str
    ) -> None:
        before_url, before = held.current[sid]
        plan.steps.append(
            Step("update", phase, d.name, sid, url, tuple(sorted(events)), before_url,
                 tuple(sorted(before)), why, d.allow_http)
        )  # fmt: skip
        held.assign(sid, url, events)

    pending: list[tuple[DesiredSubscription, str]] = []
    for d in plan.desired.subscriptions:  # shrink
        if d.name not in plan.matched:
            continue
        sid = plan.matched[d.name][0].subscription_id
        url, have = held.current[sid]
        final = frozenset(d.events)
        if url == d.url and have == final:
            plan.unchanged.append(d.name)
            continue
        keep = (have & final) or (have - all_targets)
        if keep == final:  # its last step: fewer events, or only a new URL
            update(d, sid, d.url, final, "shrink" if have != final else "update", "")
        elif keep and keep != have:
            update(d, sid, url, keep, "shrink", "release events before others take them")
            pending.append((d, sid))
        else:
            pending.append((d, sid))
    for name, sub in plan.pruned:  # delete
        plan.steps.append(
            Step("delete", "delete", name, sub.subscription_id, sub.url, tuple(sorted(sub.events)),
                 sub.url, tuple(sorted(sub.events)), "not in the file (--prune)")
        )  # fmt: skip
        held.release(sub.subscription_id)
    creates = [d for d in plan.desired.subscriptions if d.name not in plan.matched]
    replaced: list[DesiredSubscription] = []
    # grow. Bounded: each pass settles one update, or breaks a cycle at one that then
    # blocks nobody (it holds only its own events, or is gone), so it never breaks twice.
    for _ in range(2 * len(pending) + 1):
        if not pending:
            break
        ready = [(d, s) for d, s in pending if not held.blockers(s, frozenset(d.events))]
        for d, sid in ready:
            update(d, sid, d.url, frozenset(d.events), "grow", "")
        pending = [p for p in pending if p not in ready]
        if ready or not pending:
            continue
        d, sid = _in_cycle(pending, held)
        others = ", ".join(
            sorted(n.name for n, s in pending if s in held.blockers(sid, frozenset(d.events)))
        )
        free = frozenset(e for e in d.events if e not in held.holder)
        if free:
            update(
                d, sid, held.current[sid][0], free, "grow", f"step aside: events swap with {others}"
            )
        else:
            url, have = held.current[sid]
            plan.steps.append(
                Step("delete", "replace", d.name, sid, url, tuple(sorted(have)), url,
                     tuple(sorted(have)), f"events swap with {others}, none free")
            )  # fmt: skip
            held.release(sid)
            pending.remove((d, sid))
            replaced.append(d)
    assert not pending, "the grow phase did not settle"
    # create: the replaced ones first, to keep the time their events are unheld short
    for d in [*replaced, *creates]:
        assert not held.blockers(None, frozenset(d.events)), "event held elsewhere"
        why = "re-created with its new events" if d in replaced else ""
        plan.steps.append(
            Step("create", "create", d.name, None, d.url, tuple(sorted(d.events)),
                 reason=why, allow_http=d.allow_http)
        )  # fmt: skip


def _in_cycle(
    pending: list[tuple[DesiredSubscription, str]], held: _Holdings
) -> tuple[DesiredSubscription, str]:
    """A pending update on a cycle of waits (each waits for a pending one, so following
    the waits from the first must come back round); one with a free event first."""
    by_sid = {s: (d, s) for d, s in pending}
    walk: list[str] = []
    sid = pending[0][1]
    while sid not in walk:
        walk.append(sid)
        d = by_sid[sid][0]
        sid = min(held.blockers(sid, frozenset(d.events)) & set(by_sid))
    cycle = [by_sid[s] for s in walk[walk.index(sid) :]]
    with_free = [p for p in cycle if any(e not in held.holder for e in p[0].events)]
    order = {d.name: i for i, (d, _) in enumerate(pending)}
    return min(with_free or cycle, key=lambda p: order[p[0].name])
