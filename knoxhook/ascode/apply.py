"""Apply a plan: run its steps in order, recording each in the state file as it lands.

- The state is brought up to date first (subscriptions matched by URL are adopted,
  names whose subscription is gone are forgotten), then rewritten after every step,
  atomically, so a crash or a Ctrl-C leaves a state the next plan understands.
- A create whose answer was lost is looked for before it is repeated
  (``SubscriptionService.create``); an update reads first and sends nothing when it is
  already done; a delete of an id already gone is success. So re-running ``apply``
  after any failure converges.
- The first failing step stops the run (the later ones were ordered on the assumption
  that it worked): ``ApplyFailed`` carries one result per step (done, failed, not run)
  and the failure's own exit code.
- A saved plan is refused (``StalePlanError``) when the live subscriptions differ from
  the ones it was made from, or the plan made now differs from it: someone changed
  them meanwhile. ``force`` applies the plan made now instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from knoxhook.ascode import document
from knoxhook.ascode.planner import Plan, Step
from knoxhook.ascode.state import State
from knoxhook.errors import ExitCode, KnoxhookError
from knoxhook.subscriptions import SubscriptionService


class StalePlanError(KnoxhookError):
    """The saved plan no longer fits what is live (exit 2: give a fresh plan)."""

    exit_code = ExitCode.USAGE
    code = "stale_plan"


@dataclass
class StepResult:
    number: int
    step: Step
    outcome: str  # "done" | "unchanged" (already so: nothing sent) | "failed" | "not_run"
    subscription_id: str | None = None
    error: KnoxhookError | None = None

    def to_json(self) -> dict[str, Any]:
        data = document.step_json(self.number, self.step)
        data["subscriptionId"] = self.subscription_id or self.step.subscription_id
        data["outcome"] = self.outcome
        data["error"] = (
            None if self.error is None else {"code": self.error.code, "message": self.error.message}
        )
        return data


class ApplyFailed(KnoxhookError):
    """A step failed; ``results`` says what happened to every step. Its ``code`` and
    exit code are the failure's own (a network error still exits 7)."""

    def __init__(self, results: list[StepResult], cause: KnoxhookError) -> None:
        failed = next(r for r in results if r.outcome == "failed")
        done = sum(r.outcome in ("done", "unchanged") for r in results)
        left = sum(r.outcome == "not_run" for r in results)
        super().__init__(
            f"step {failed.number} ({describe(failed.step)}) failed: {cause.message}; "
            f"{done} step(s) done, {left} not run",
            hint="the state file records what was done: run `knoxhook apply` again to finish",
        )
        self.results = results
        self.cause = cause
        self.exit_code = cause.exit_code
        self.code = cause.code


def describe(step: Step) -> str:
    """``update 'devices' (+KG_X -KG_Y)``: one step in a few words."""
    changes = [f"+{e}" for e in step.added] + [f"-{e}" for e in step.removed]
    if step.action == "update" and step.before_url != step.url:
        changes.append(f"url {step.url}")
    detail = f" ({' '.join(changes)})" if changes and step.action == "update" else ""
    return f"{step.action} {step.name!r}{detail}"


def check_saved(saved: dict[str, Any], fresh: Plan, fresh_json: dict[str, Any]) -> None:
    """StalePlanError when ``saved`` was made from other live subscriptions, or its steps
    are no longer the ones a plan makes now (the state file changed)."""
    if saved.get("refresh") != document.refresh_json(fresh.refresh):
        raise StalePlanError(
            "the live subscriptions changed since this plan was made",
            hint="make a new plan (knoxhook plan --out PLAN.json), or pass --force "
            "to apply what a plan made now says",
        )
    if saved.get("steps") != fresh_json["steps"] or saved.get("prune") != fresh.prune:
        raise StalePlanError(
            "this plan's steps are not the ones a plan makes now (the state file changed?)",
            hint="make a new plan, or pass --force to apply what a plan made now says",
        )


def adopt(plan: Plan, state: State) -> None:
    """Record what the plan matched and forget what is gone, before any step."""
    for name, (sub, _) in plan.matched.items():
        rec = state.records.get(name)
        if rec is None or rec.subscription_id != sub.subscription_id:
            old = state.name_of(sub.subscription_id)  # a renamed entry
            if old is not None and old != name:
                state.records.pop(old)
            state.record(name, sub.subscription_id, sub.url, sub.events)
    for name in [*plan.forgotten, *(d.name for d in plan.drift if d.live is None)]:
        if name not in plan.matched:  # its subscription is gone (a create may follow)
            state.forget(name)


def apply(
    plan: Plan,
    service: SubscriptionService,
    state: State,
    *,
    on_step: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Run ``plan``'s steps in order (module docstring); ApplyFailed on the first failure."""
    adopt(plan, state)
    results = [StepResult(i, s, "not_run") for i, s in enumerate(plan.steps, 1)]
    for result in results:
        try:
            _run(result, service, state)
        except KnoxhookError as exc:
            result.outcome, result.error = "failed", exc
            if on_step is not None:
                on_step(result)
            raise ApplyFailed(results, exc) from exc
        if on_step is not None:
            on_step(result)
    return results


def _run(result: StepResult, service: SubscriptionService, state: State) -> None:
    step = result.step
    if step.action == "create":
        sub = service.create(step.url, step.events, allow_http=step.allow_http)
        state.record(step.name, sub.subscription_id, sub.url, sub.events)
        result.outcome, result.subscription_id = "done", sub.subscription_id
    elif step.action == "update":
        assert step.subscription_id is not None
        outcome = service.modify(
            step.subscription_id, url=step.url, events=step.events, allow_http=step.allow_http
        )
        sub = outcome.subscription
        state.record(step.name, sub.subscription_id, sub.url, sub.events)
        result.outcome = "done" if outcome.changed else "unchanged"
    else:
        assert step.subscription_id is not None
        gone = service.delete(step.subscription_id, missing_ok=True)
        if state.records.get(step.name, None) is not None:
            state.forget(step.name)
        result.outcome = "done" if gone else "unchanged"
