"""The plan document: ``knoxhook plan --json`` and ``--out PLAN.json`` (docs/apply.md).

Its keys are stable (``"format": "knoxhook-plan"``, ``"version": 1``); a key is only
ever added. A saved plan carries the desired state it was made for (URLs already
``${ENV}``-expanded) and the live subscriptions it was made from (``refresh``), so
``apply PLAN.json`` can tell whether someone changed them meanwhile.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from knoxhook.ascode.desired import DesiredState, DesiredSubscription
from knoxhook.ascode.planner import Plan, Step
from knoxhook.errors import UsageError
from knoxhook.subscriptions import Subscription

FORMAT = "knoxhook-plan"
VERSION = 1


def _sub(sub: Subscription) -> dict[str, Any]:
    return {"subscriptionId": sub.subscription_id, "url": sub.url, "events": sorted(sub.events)}


def refresh_json(live: tuple[Subscription, ...] | list[Subscription]) -> list[dict[str, Any]]:
    """The live subscriptions as compared: id, URL, sorted events; sorted by id."""
    return sorted((_sub(s) for s in live), key=lambda s: s["subscriptionId"])


def step_json(number: int, step: Step) -> dict[str, Any]:
    return {
        "step": number,
        "action": step.action,
        "phase": step.phase,
        "name": step.name,
        "subscriptionId": step.subscription_id,
        "url": step.url,
        "events": list(step.events),
        "before": None
        if step.action == "create"
        else {"url": step.before_url, "events": list(step.before_events)},
        "add": list(step.added),
        "remove": list(step.removed),
        "reason": step.reason,
    }


def to_json(plan: Plan, state_path: Path) -> dict[str, Any]:
    counts = {"create": 0, "update": 0, "delete": 0}
    for step in plan.steps:
        counts[step.action] += 1
    return {
        "format": FORMAT,
        "version": VERSION,
        "file": str(plan.desired.path),
        "state": str(state_path),
        "prune": plan.prune,
        "changes": plan.changes,
        "summary": {**counts, "unchanged": len(plan.unchanged), "drift": len(plan.drift)},
        "steps": [step_json(i, s) for i, s in enumerate(plan.steps, 1)],
        "unchanged": list(plan.unchanged),
        "matched": [
            {"name": n, "subscriptionId": s.subscription_id, "by": by}
            for n, (s, by) in plan.matched.items()
        ],
        "drift": [
            {
                "name": d.name,
                "subscriptionId": d.subscription_id,
                "kind": "deleted" if d.live is None else "changed",
                "recorded": {"url": d.recorded.url, "events": sorted(d.recorded.events)},
                "live": None
                if d.live is None
                else {"url": d.live.url, "events": sorted(d.live.events)},
            }
            for d in plan.drift
        ],
        "unmanaged": [_sub(s) for s in plan.unmanaged],
        "notPruned": [{"name": n, **_sub(s)} for n, s in plan.not_pruned],
        "desired": {
            "profile": plan.desired.profile,
            "tenant": plan.desired.tenant,
            "subscriptions": [
                {"name": d.name, "url": d.url, "events": list(d.events), "allowHttp": d.allow_http}
                for d in plan.desired.subscriptions
            ],
        },
        "refresh": refresh_json(plan.refresh),
    }


def load_saved(path: Path) -> dict[str, Any]:
    """A saved plan document; UsageError naming the file when it is not one."""
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"no plan file at {path}", hint="make one: knoxhook plan --out PLAN.json"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{path} is not a knoxhook plan: {exc}",
            hint="PLAN.json is what `plan --out` saved; give a desired-state file with -f FILE",
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UsageError(f'{path} is not a knoxhook plan (no "format": "{FORMAT}")')
    if document.get("version") != VERSION:
        raise UsageError(f"{path} is a plan of another version ({document.get('version')!r})")
    return document


def desired_from(document: dict[str, Any], path: Path) -> DesiredState:
    """The desired state a saved plan was made for (checked again: it may be edited)."""
    from knoxhook.validation import validate_events, validate_url

    try:
        desired = document["desired"]
        entries = []
        for item in desired["subscriptions"]:
            allow = bool(item.get("allowHttp", False))
            entries.append(
                DesiredSubscription(
                    str(item["name"]),
                    validate_url(str(item["url"]), allow_http=allow),
                    validate_events([str(e) for e in item["events"]]),
                    allow,
                )
            )
        return DesiredState(
            Path(str(document.get("file", path))), tuple(entries),
            desired.get("profile"), desired.get("tenant"),
        )  # fmt: skip
    except (KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path} is not a complete knoxhook plan (missing {exc})") from None
    except UsageError as exc:
        raise UsageError(f"{path}: {exc.message}", hint=exc.hint) from None
