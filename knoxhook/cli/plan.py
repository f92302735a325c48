"""``knoxhook plan``: what ``apply`` would do to make the live subscriptions the file's.

The human output is a diff (``+`` create/add, ``-`` delete/remove, ``~`` update; in
colour on a terminal); ``--json`` prints the plan document (docs/apply.md);
``--out PLAN.json`` saves it for ``knoxhook apply PLAN.json``. The library is
``knoxhook.ascode``; this module only reads options and prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from knoxhook.cli import common, registry

if TYPE_CHECKING:
    from rich.text import Text

    from knoxhook.ascode.desired import DesiredState
    from knoxhook.ascode.planner import Plan, Step
    from knoxhook.subscriptions import SubscriptionService

DEFAULT_FILE = "knoxhook.yaml"

FileOption = Annotated[
    Path,
    typer.Option("--file", "-f", metavar="FILE", help="The desired-state file.", show_default=True),
]
StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state",
        metavar="PATH",
        help="The state file (default: FILE's name with .state.json, beside it).",
        show_default=False,
    ),
]
PruneOption = Annotated[
    bool,
    typer.Option(
        "--prune", help="Delete subscriptions the state file records but FILE no longer has."
    ),
]


@contextmanager
def service_for(wanted: DesiredState) -> Iterator[SubscriptionService]:
    """A SubscriptionService for the file's profile and tenant: ``--profile`` (or
    KNOXHOOK_PROFILE) wins over the file's ``profile``; its ``tenant`` is sent as
    x-wsm-managed-tenantid."""
    from knoxhook.subscriptions import SubscriptionService

    state = common.get_state()
    if wanted.profile and state.profile is None and not os.environ.get("KNOXHOOK_PROFILE"):
        state.profile = wanted.profile
    with common.knox_client(tenant_id=wanted.tenant) as client:
        yield SubscriptionService(client)


plan_app = registry.command()


def state_path(file: Path, state: Path | None) -> Path:
    from knoxhook.ascode.state import path_for

    return state if state is not None else path_for(file)


@plan_app.command("plan")
def plan(
    file: FileOption = Path(DEFAULT_FILE),
    state: StateOption = None,
    prune: PruneOption = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode", help="Exit 0 when there are no changes, 2 when there are."
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="PLAN.json",
            help="Save the plan for `knoxhook apply PLAN.json`.",
            show_default=False,
        ),
    ] = None,
    generate: Annotated[
        bool,
        typer.Option("--generate", help="Write FILE (and its state) from what is live now."),
    ] = False,
    json_output: common.JsonOption = False,
    output: common.OutputOption = None,
) -> None:
    """Show the changes that would make Knox match FILE, without making them.

    Reads the live subscriptions, matches them to FILE's entries (by the id in the state
    file, else by URL) and lists the steps in the order apply runs them: shrink,
    delete (only with --prune, only what the state file owns), grow, create. No event
    is ever asked for twice. Changes made outside knoxhook since the last apply are
    shown apart, as drift. Nothing is changed.

    With --detailed-exitcode: 0 no changes, 2 changes present, any other code an error
    (as `terraform plan -detailed-exitcode`).

    Examples:

    \b
      knoxhook plan
      knoxhook plan -f prod.yaml --detailed-exitcode
      knoxhook plan --out plan.json && knoxhook apply plan.json
      knoxhook plan --generate -f knoxhook.yaml

    JSON: the plan document {format, version, changes, summary, steps, drift, ...}
    (docs/apply.md).
    """
    from knoxhook.ascode import desired, document
    from knoxhook.ascode import state as statefile
    from knoxhook.ascode.planner import make_plan
    from knoxhook.errors import UsageError

    fmt = common.output_format(json_output, output)
    common.require_text(file=str(file), state=str(state or ""), out=str(out or ""))
    if generate:
        from knoxhook.cli.apply import generate_file

        generate_file(file, state_path(file, state), fmt)
        return
    if out is not None and (out.name in ("", ".", "..") or out.is_dir()):
        raise UsageError(f"--out {out}: a directory; give a file name such as plan.json")
    wanted = desired.load(file)  # before any request
    where = state_path(file, state)
    recorded = statefile.load(where)
    with service_for(wanted) as service:
        made = make_plan(wanted, service.list(), recorded, prune=prune)
    doc = document.to_json(made, where)
    if out is not None:
        save_plan(out, doc)
    if fmt is common.OutputFormat.TABLE:
        render(made, str(file))
    else:
        common.emit(doc, fmt=fmt)
    if detailed_exitcode and made.changes:
        raise typer.Exit(2)


def save_plan(out: Path, doc: dict[str, Any]) -> None:
    import json

    from knoxhook.errors import UsageError
    from knoxhook.files import write_private

    try:  # 0600: the URLs may carry a token (${ENV}-expanded)
        write_private(out, (json.dumps(doc, indent=2) + "\n").encode())
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"--out {out}: cannot write it: {why}") from None
    common.info(f"saved the plan to {out}: apply it with `knoxhook apply {out}`")


# --- the diff ---------------------------------------------------------------------------

_STYLES = {"+": "green", "-": "red", "~": "yellow", "!": "magenta"}


def _line(mark: str, text: str, indent: int = 2) -> Text:
    from rich.text import Text

    line = Text(" " * indent)
    line.append(f"{mark} {text}", style=_STYLES.get(mark))
    return line


def _short(sid: str | None) -> str:
    return "" if sid is None else f" ({sid})"


def step_lines(number: int, step: Step) -> list[Text]:
    mark = {"create": "+", "delete": "-"}.get(step.action, "~")
    why = f"  [{step.phase}{': ' + step.reason if step.reason else ''}]"
    head = f"{number}. {step.action} {step.name}{_short(step.subscription_id)}{why}"
    lines = [_line(mark, head)]
    if step.action == "create":
        lines.append(_line(" ", f"url: {step.url}", 6))
    elif step.before_url != step.url:
        lines.append(_line("~", f"url: {step.before_url} -> {step.url}", 6))
    lines += [_line("+", e, 6) for e in step.added]
    lines += [_line("-", e, 6) for e in step.removed]
    return lines


def render(made: Plan, file: str) -> None:
    """The plan as a diff on stdout (colour only on a terminal: ``common.console``)."""
    from rich.text import Text

    out = common.console()
    if made.drift:
        out.print(Text("Drift (changed outside knoxhook since the last apply):"))
        for d in made.drift:
            if d.live is None:
                out.print(_line("!", f"{d.name} ({d.subscription_id}): deleted outside knoxhook"))
                continue
            gained = sorted(set(d.live.events) - set(d.recorded.events))
            lost = sorted(set(d.recorded.events) - set(d.live.events))
            what = [f"+{e}" for e in gained] + [f"-{e}" for e in lost]
            if d.live.url.rstrip("/") != d.recorded.url.rstrip("/"):
                what.append(f"url {d.recorded.url} -> {d.live.url}")
            out.print(_line("!", f"{d.name} ({d.subscription_id}): {' '.join(what)}"))
        out.print(Text(""))
    if made.steps:
        out.print(Text(f"Steps, in the order apply runs them ({file}):"))
        for number, step in enumerate(made.steps, 1):
            for line in step_lines(number, step):
                out.print(line)
        out.print(Text(""))
    for name, sub in made.not_pruned:
        out.print(_line("-", f"{name} ({sub.subscription_id}) is no longer in {file}: "
                             "--prune deletes it", 0))  # fmt: skip
    for sub in made.unmanaged:
        out.print(Text(f"not managed by {file} (left alone): {sub.subscription_id} {sub.url}"))
    counts = {a: sum(s.action == a for s in made.steps) for a in ("create", "update", "delete")}
    if made.changes:
        out.print(Text(
            f"Plan: {counts['create']} to create, {counts['update']} to update, "
            f"{counts['delete']} to delete; {len(made.unchanged)} unchanged."
        ))  # fmt: skip
    else:
        out.print(Text(f"No changes: the live subscriptions match {file}."))
