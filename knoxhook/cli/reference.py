"""The command reference (docs/cli.md), generated from the commands themselves.

Every command and group reachable from ``registry.COMMANDS``: its usage line, its help
text (prose as Markdown, examples as code blocks, read through ``helptext.blocks`` as
``--help`` reads them), its subcommands, and its arguments and options exactly as
``--help`` describes them (help, default, env var, range, required).

The output is deterministic: nothing depends on the terminal's width, the date, the
user's config or environment, or the working directory. ``tests/cli/test_reference.py``
fails when docs/cli.md is not what this prints (CI runs it). Regenerate with::

    uv run python -m knoxhook.cli.reference --write

``--check`` exits 1 when the file is stale; with no flag the reference goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knoxhook.cli import helptext

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
REGENERATE = "uv run python -m knoxhook.cli.reference --write"
WIDTH = 80  # fixed: the reference never reads the terminal


@dataclass(frozen=True)
class Node:
    """One command or group, with the click context ``--help`` would give it."""

    path: tuple[str, ...]  # () for the root: ("auth", "login") for `knoxhook auth login`
    command: Any
    ctx: Any

    @property
    def name(self) -> str:
        return " ".join(("knoxhook", *self.path))

    @property
    def anchor(self) -> str:
        """GitHub's anchor for the section heading `` `knoxhook auth login` ``."""
        return "-".join(("knoxhook", *self.path))

    def subcommands(self) -> list[str]:
        if not hasattr(self.command, "list_commands"):
            return []
        return [
            name
            for name in self.command.list_commands(self.ctx)
            if not self.command.get_command(self.ctx, name).hidden
        ]


def walk() -> Iterator[Node]:
    """The root, then every command and subcommand, in ``--help`` order."""
    from typer.main import get_command

    from knoxhook.cli.main import app

    root = get_command(app)
    yield from _walk(root, (), helptext.Context(root, info_name="knoxhook", terminal_width=WIDTH))


def _walk(command: Any, path: tuple[str, ...], ctx: Any) -> Iterator[Node]:
    node = Node(path, command, ctx)
    yield node
    for name in node.subcommands():
        sub = command.get_command(ctx, name)
        yield from _walk(sub, (*path, name), sub.context_class(sub, info_name=name, parent=ctx))


def render() -> str:
    """The whole of docs/cli.md."""
    nodes = list(walk())
    out = [
        "# Command reference",
        "",
        f"<!-- Generated from the commands themselves by `{REGENERATE}`: do not edit by hand. -->",
        "",
        "Every `knoxhook` command and option, from the same source as `--help` "
        "(tests/cli/test_reference.py fails when this page is stale). Every command also "
        "takes `-h` / `--help`. The guides say more: [commands.md](commands.md), "
        "[emulator.md](emulator.md), [configuration.md](configuration.md).",
        "",
    ]
    out += [f"{'  ' * max(len(n.path) - 1, 0)}- [`{n.name}`](#{n.anchor})" for n in nodes]
    for node in nodes:
        out += ["", *_section(node)]
    return "\n".join(out) + "\n"


def _section(node: Node) -> list[str]:
    usage = " ".join([node.ctx.command_path, *node.command.collect_usage_pieces(node.ctx)])
    level = "#" * (2 + max(len(node.path) - 1, 0))  # the root and top commands: ##
    lines = [f"{level} `{node.name}`", "", "```text", usage, "```"]
    for block in helptext.blocks(helptext.cleaned(node.command.help)):
        lines.append("")
        if block.verbatim:
            lines += ["```text", *_dedent(block.text), "```"]
        else:
            lines.append(_inline(" ".join(block.text.split())))
    commands = [(name, node.command.get_command(node.ctx, name)) for name in node.subcommands()]
    if commands:
        lines += ["", "| command | what it does |", "| --- | --- |"]
        for name, sub in commands:
            link = f"[`{name}`](#{node.anchor}-{name})"
            lines.append(f"| {link} | {_cell(sub.get_short_help_str(limit=10_000))} |")
    for title, rows in _parameters(node):
        lines += ["", f"{title}:", "", f"| {title.lower()[:-1]} | description |", "| --- | --- |"]
        lines += [f"| `{_cell(term, code=True)}` | {_cell(text)} |" for term, text in rows]
    return lines


def _parameters(node: Node) -> list[tuple[str, list[tuple[str, str]]]]:
    """("Arguments", rows) and ("Options", rows), as ``--help`` shows them (no --help)."""
    help_names = set(node.command.get_help_option_names(node.ctx))
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in node.command.get_params(node.ctx):
        if set(getattr(param, "opts", ())) & help_names:
            continue
        record = param.get_help_record(node.ctx)
        if record is None:  # hidden
            continue
        term, text = record
        envvar = getattr(param, "envvar", None)
        if envvar and not getattr(param, "show_envvar", True):
            text = f"{text}  [env var: {envvar}]"  # honoured, if not shown by --help
        (arguments if param.param_type_name == "argument" else options).append((term, text))
    return [(title, rows) for title, rows in (("Arguments", arguments), ("Options", options))
            if rows]  # fmt: skip


def _dedent(text: str) -> list[str]:
    lines = text.split("\n")
    margin = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return [line[margin:] for line in lines]


def _inline(text: str) -> str:
    """Prose for Markdown: ``<`` and ``*`` would be read as HTML and emphasis."""
    return text.replace("<", "&lt;").replace("*", "\\*")


def _cell(text: str, *, code: bool = False) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if code else _inline(text)


def stale(path: Path = DOC) -> str | None:
    """Why ``path`` is not the current reference, with the fix; None when it is."""
    try:
        current = path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror}): run `{REGENERATE}`"
    return stale_message(path, current, render())


def stale_message(path: Path, current: str, generated: str) -> str | None:
    if current == generated:
        return None
    import difflib

    diff = difflib.unified_diff(
        current.splitlines(), generated.splitlines(), "committed", "generated", lineterm="", n=1
    )
    shown = "\n".join(list(diff)[:40])
    return f"{path} is stale (the commands changed): run `{REGENERATE}`\n{shown}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m knoxhook.cli.reference", description="Print docs/cli.md."
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write it to --path")
    action.add_argument("--check", action="store_true", help="exit 1 when --path is stale")
    parser.add_argument("--path", type=Path, default=DOC, help="default: docs/cli.md")
    args = parser.parse_args(argv)
    if args.check:
        problem = stale(args.path)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    text = render()
    if args.write:
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
