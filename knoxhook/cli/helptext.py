"""How a command's help text is laid out: prose wraps to the terminal, examples never do.

click re-wraps every paragraph of a help text to the terminal's width, joining its lines,
unless the paragraph starts with a ``\\b`` line. So an example written on one line of a
docstring came out split mid-command (``auth login --help`` broke before
``--client-secret-stdin``; ``auth token --help`` put the URL on a line of its own).

The rule, as in Markdown: a paragraph whose first line is indented is verbatim (printed
line for line, however narrow the terminal); so is a ``\\b`` paragraph, and so are the
indented lines right under a line ending in ``:`` (``Examples:``). Everything else is
prose and wraps. ``blocks()`` applies the rule; the help formatter (``Context``, which
``registry`` gives every knoxhook command) and the command reference
(``knoxhook.cli.reference``) both read help texts through it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import typer

from knoxhook.cli._typer import HelpFormatter as _ClickHelpFormatter

NO_REWRAP = "\b"  # click's marker: the paragraph after this line is not re-wrapped


@dataclass(frozen=True)
class Block:
    """One paragraph of a help text; ``verbatim`` lines keep their own indentation."""

    text: str
    verbatim: bool


def cleaned(help_text: str | None) -> str:
    """A help text as click shows it: dedented, cut at the first form feed."""
    return inspect.cleandoc(help_text or "").partition("\f")[0]


def blocks(text: str) -> list[Block]:
    """The paragraphs of a (cleaned) help text, each prose or verbatim."""
    result: list[Block] = []
    for paragraph in _paragraphs(text):
        lines = paragraph.split("\n")
        if lines[0].strip() == NO_REWRAP:
            if len(lines) > 1:
                result.append(Block("\n".join(lines[1:]), verbatim=True))
        elif lines[0].startswith(" "):
            result.append(Block(paragraph, verbatim=True))
        elif (
            len(lines) > 1
            and lines[0].rstrip().endswith(":")
            and all(line.startswith(" ") for line in lines[1:])
        ):  # "Examples:" with its examples on the next lines, no blank line between
            result.append(Block(lines[0], verbatim=False))
            result.append(Block("\n".join(lines[1:]), verbatim=True))
        else:
            result.append(Block(paragraph, verbatim=False))
    return result


def example_lines(help_text: str | None) -> list[str]:
    """Every verbatim line of a help text, stripped: what must never be re-wrapped."""
    return [
        line.strip()
        for block in blocks(cleaned(help_text))
        if block.verbatim
        for line in block.text.split("\n")
        if line.strip()
    ]


def _paragraphs(text: str) -> list[str]:
    """Paragraphs as click splits them: on empty (or blank) lines."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.expandtabs().split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


def protect(text: str) -> str:
    """``text`` with a ``\\b`` line before every verbatim block, for click's wrapper."""
    return "\n\n".join(
        f"{NO_REWRAP}\n{block.text}" if block.verbatim else block.text for block in blocks(text)
    )


class HelpFormatter(_ClickHelpFormatter):
    """click's formatter; a help text's verbatim blocks are never re-wrapped."""

    def write_text(self, text: str) -> None:
        super().write_text(protect(text))


class Context(typer.Context):
    """The context of every knoxhook command (``registry`` sets it): our formatter."""

    formatter_class = HelpFormatter


def adopt(command: Any) -> Any:
    """Give ``command`` (and the subcommands it already holds) knoxhook's help layout."""
    command.context_class = Context
    for sub in getattr(command, "commands", {}).values():
        adopt(sub)
    return command
