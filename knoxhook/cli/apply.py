"""``knoxhook apply`` and ``knoxhook import``, and ``plan --generate``'s writer.

apply re-plans against what is live, refuses a stale saved plan (unless --force), asks
on a terminal (elsewhere it needs --yes), then runs the steps in order; the state file is
rewritten after each one (``knoxhook.ascode.apply``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from knoxhook.cli import common, registry
from knoxhook.cli.plan import DEFAULT_FILE, FileOption, PruneOption, StateOption, service_for

if TYPE_CHECKING:
    from knoxhook.ascode.apply import StepResult

apply_app = registry.command()
import_app = registry.command()

RESULT_COLUMNS = [
    ("step", "#"),
    ("action", "Action"),
    ("name", "Name"),
    ("subscriptionId", "ID"),
    ("outcome", "Outcome"),
]


@apply_app.command("apply")
def apply(
    saved: Annotated[
        Path | None,
        typer.Argument(
            metavar="PLAN.json", help="A plan saved by `plan --out`.", show_default=False
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            help=f"The desired-state file [default: {DEFAULT_FILE}].",
            show_default=False,
        ),
    ] = None,
    state: StateOption = None,
    prune: PruneOption = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Apply a plan made now even if PLAN.json is stale.")
    ] = False,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Make the live subscriptions match FILE or a saved PLAN.json, step by step.

    Plans again first. With PLAN.json it refuses (exit 2) when the live subscriptions
    changed since that plan was made, unless --force (then it applies what a plan made
    now says). Asks on a terminal; elsewhere (CI) it needs --yes. The state file is
    rewritten after each step, so after any failure or Ctrl-C, running apply again
    finishes the job: a create whose answer was lost is looked for, never repeated.

    Examples:

    \b
      knoxhook apply --yes
      knoxhook apply -f prod.yaml --prune --yes --json
      knoxhook plan --out plan.json && knoxhook apply plan.json --yes

    JSON: a list of {step, action, phase, name, subscriptionId, url, events, before,
    add, remove, reason, outcome, error}; outcome is done, unchanged, failed or not_run.
    Exit codes: as documented; on a failed step, that failure's code (all steps still
    printed).
    """
    from knoxhook.ascode import apply as applying
    from knoxhook.ascode import desired, document
    from knoxhook.ascode import state as statefile
    from knoxhook.ascode.planner import make_plan
    from knoxhook.cli.plan import render, state_path
    from knoxhook.errors import UsageError

    fmt = common.output_format(json_output, output)
    common.require_text(saved=str(saved or ""), file=str(file or ""), state=str(state or ""))
    if saved is not None and file is not None:
        raise UsageError("give FILE (-f) or PLAN.json, not both")
    doc: dict[str, Any] | None = None
    if saved is not None:
        doc = document.load_saved(saved)
        wanted = document.desired_from(doc, saved)
        where = state if state is not None else Path(str(doc.get("state")))
        if prune:
            raise UsageError(
                "--prune goes with `plan --out`: a saved plan says whether it prunes",
                hint=f"knoxhook plan --prune --out {saved}",
            )
        prune = bool(doc.get("prune"))
    else:
        file = file or Path(DEFAULT_FILE)
        wanted = desired.load(file)
        where = state_path(file, state)
    if not yes and not common.is_interactive():
        common.current().require_confirmation_possible("apply")  # says why: CI, no terminal
    with statefile.locked(where), service_for(wanted) as service:
        recorded = statefile.load(where)
        made = make_plan(wanted, service.list(), recorded, prune=prune)
        if doc is not None:
            try:
                applying.check_saved(doc, made, document.to_json(made, where))
            except applying.StalePlanError as exc:
                if not force:
                    raise
                common.warn(f"{exc.message}; --force: applying a plan made now")
        if made.changes and not yes:
            render(made, str(wanted.path))
            if not common.confirm(f"Apply these {len(made.steps)} step(s)?"):
                common.info("cancelled: nothing changed")
                return
        try:
            results = applying.apply(made, service, recorded, on_step=_progress)
        except applying.ApplyFailed as exc:
            _emit(exc.results, fmt)
            raise
    if not results:
        common.info(f"no changes: the live subscriptions match {wanted.path}")
    else:
        common.info(f"applied {len(results)} step(s); the state is in {where}")
    _emit(results, fmt)


def _progress(result: StepResult) -> None:
    from knoxhook.ascode.apply import describe

    common.verbose(f"{result.number}. {describe(result.step)}: {result.outcome}")


def _emit(results: list[StepResult], fmt: common.OutputFormat) -> None:
    rows = [r.to_json() for r in results]
    if fmt is common.OutputFormat.TABLE and not rows:
        return
    common.emit(rows, columns=RESULT_COLUMNS, fmt=fmt)


@import_app.command("import")
def import_(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The entry's name in FILE.")],
    subscription_id: Annotated[str, typer.Argument(metavar="ID", help="The subscription id.")],
    file: FileOption = Path(DEFAULT_FILE),
    state: StateOption = None,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Adopt a live subscription as FILE's entry NAME, in the state file.

    After this, plan and apply treat it as NAME's, and --prune may delete it once NAME
    leaves FILE. Exit 6 when the id is unknown.

    Examples:

    \b
      knoxhook import devices 63689d7e4ee2721f7b50d2b1
      knoxhook import kg 63689d7e4ee2721f7b50d2b1 -f prod.yaml --json
    """
    from knoxhook.ascode import desired
    from knoxhook.ascode import state as statefile
    from knoxhook.cli.plan import state_path
    from knoxhook.errors import UsageError

    fmt = common.output_format(json_output, output)
    common.require_text(id=subscription_id, name=name, file=str(file), state=str(state or ""))
    if not desired.NAME_RE.match(name):
        raise UsageError(
            f"NAME {name!r} is not usable",
            hint="letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    where = state_path(file, state)
    wanted = desired.load(file) if file.exists() else desired.DesiredState(file, ())
    with statefile.locked(where):
        recorded = statefile.load(where)
        other = recorded.name_of(subscription_id.strip())
        if other is not None and other != name:
            raise UsageError(f"{subscription_id} is already recorded as {other!r} in {where}")
        with service_for(wanted) as service:
            sub = service.get(subscription_id)
        rec = recorded.records.get(name)
        if rec is not None and rec.subscription_id != sub.subscription_id:
            common.warn(f"{name!r} was {rec.subscription_id}; now {sub.subscription_id}")
        recorded.record(name, sub.subscription_id, sub.url, sub.events)
    common.info(f"imported {sub.subscription_id} as {name!r} into {where}")
    if name not in wanted.by_name():
        common.warn(f"{name!r} is not in {file} yet: add it, or apply --prune will delete it")
    common.emit({"name": name, **sub.to_json(), "state": str(where)}, fmt=fmt)


def generate_file(file: Path, where: Path, fmt: common.OutputFormat) -> None:
    """``plan --generate``: FILE and its state from what is live now (a starting point)."""
    import yaml

    from knoxhook.ascode.desired import DesiredState
    from knoxhook.ascode.state import Record, State
    from knoxhook.errors import UsageError

    if file.exists() or where.exists():
        taken = file if file.exists() else where
        raise UsageError(
            f"{taken} exists already: --generate writes a new file",
            hint="give another -f FILE (and --state), or move that one away",
        )
    with service_for(DesiredState(file, ())) as service:
        live = service.list()
    names: dict[str, Any] = {}
    recorded = State(where)
    for sub in live:
        name = _name_for(sub.url, names)
        names[name] = {"url": sub.url, "events": list(sub.events)}
        recorded.records[name] = Record(sub.subscription_id, sub.url, tuple(sorted(sub.events)))
    text = "# written by `knoxhook plan --generate` from the live subscriptions\n"
    text += yaml.safe_dump({"version": 1, "subscriptions": names}, sort_keys=False)
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {file}: {exc.strerror or exc}") from None
    recorded.save()
    common.info(f"wrote {file} ({len(names)} subscription(s)) and its state {where}")
    if fmt is not common.OutputFormat.TABLE:
        rows = [
            {"name": n, "subscriptionId": r.subscription_id} for n, r in recorded.records.items()
        ]
        common.emit({"file": str(file), "state": str(where), "subscriptions": rows}, fmt=fmt)


def _name_for(url: str, taken: dict[str, Any]) -> str:
    """A readable local name: the URL path's last part (``.../knox/devices`` -> devices)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    last = [p for p in parts.path.split("/") if p] or [parts.hostname or "subscription"]
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", last[-1]).strip("-._")[:60] or "subscription"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name
