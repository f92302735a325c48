"""Plan and apply a knoxhook.yaml against the emulator, the way the CLI does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knoxhook.ascode import desired, state
from knoxhook.ascode.apply import StepResult, apply
from knoxhook.ascode.planner import Plan, make_plan
from knoxhook.emulator.testing import EmulatorHandle
from knoxhook.subscriptions import SubscriptionService


def plan_file(path: Path, service: SubscriptionService, *, prune: bool = False) -> Plan:
    wanted = desired.load(path, env={})
    return make_plan(wanted, service.list(), state.load(state.path_for(path)), prune=prune)


def apply_file(
    path: Path, service: SubscriptionService, *, prune: bool = False
) -> list[StepResult]:
    plan = plan_file(path, service, prune=prune)
    return apply(plan, service, state.load(state.path_for(path)))


def live(emu: EmulatorHandle) -> dict[str, frozenset[str]]:
    """URL -> events of every live subscription (asserts one subscription per URL)."""
    subs = emu.emulator.store.all()
    result = {s["url"]: frozenset(s["events"]) for s in subs}
    assert len(result) == len(subs), f"two subscriptions share a URL: {subs}"
    return result


def ids(emu: EmulatorHandle) -> dict[str, str]:
    return {s["url"]: s["subscriptionId"] for s in emu.emulator.store.all()}


def recorded(path: Path) -> dict[str, Any]:
    return {n: r.subscription_id for n, r in state.load(state.path_for(path)).records.items()}


def writes(emu: EmulatorHandle) -> dict[str, int]:
    """The emulator's count of Subscription API requests that are not GETs."""
    requests = emu.stats()["requests"].items()
    return {k: v for k, v in requests if "/kwn/" in k and not k.startswith("GET ")}


def yaml_for(entries: dict[str, tuple[str, list[str]]]) -> str:
    lines = ["subscriptions:"]
    for name, (url, events) in entries.items():
        lines += [f"  {name}:", f"    url: {url}", f"    events: [{', '.join(events)}]"]
    return "\n".join(lines) + "\n"
