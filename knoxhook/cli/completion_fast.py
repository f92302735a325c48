"""Answering the common completion requests without importing typer, click or rich.

``import typer`` alone (~90 ms here) is more than Debian's whole ``gh --version``
(issue 9 item 2, benchmarks/README.md). ``entry.main`` calls ``answer()`` first when
``_KNOXHOOK_COMPLETE`` is set: it walks the words typed so far through
``completion_table`` (generated from the real commands by ``completion.render_table``)
and prints what typer's bash/zsh/fish completers would print, byte for byte. Whatever
it does not understand (``--``, ``--opt=value``, ``-abc``, unknown words, positional
arguments, values of options without a known completer, help texts rich would wrap)
returns False, and the request goes to typer's completion unchanged (cli/completion.py).

The rules below are click's ``_resolve_context``/``_resolve_incomplete`` and
``Command.shell_complete``/``TyperGroup.shell_complete``, restricted to that subset;
tests/cli/test_completion.py compares the two paths through real processes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from knoxhook.cli.completion_table import EVENT_NAMES, NODES, SERVICES

Item = tuple[str, str | None, str | None]  # value, zsh help, fish help (already rendered)
UNSAFE = "\0"  # in the table: a help rich would change (markup, emoji): typer answers


def values_for(completer: str | None, incomplete: str) -> list[str] | None:
    """The known values of a ``completer`` (``completer_of``) starting with ``incomplete``."""
    # The catalogue's names, copied into the table: knoxhook.events costs ~20 ms to import.
    if completer == "event":
        return sorted(n for n in EVENT_NAMES if n.startswith(incomplete.upper()))
    if completer == "service":
        return sorted(s for s in SERVICES if s.startswith(incomplete.upper()))
    if completer == "profile":
        from knoxhook.config import config_dir, list_profiles
        from knoxhook.errors import KnoxhookError

        try:
            return [p for p in list_profiles(config_dir()) if p.startswith(incomplete)]
        except KnoxhookError:  # a broken config.toml: no names, never a traceback
            return []
    return None


def completer_of(opts: Any) -> str | None:
    """Which values an option with these names completes: the one rule for both paths."""
    for name, completer in (
        ("--event", "event"),
        ("--service", "service"),
        ("--profile", "profile"),
    ):
        if name in opts:
            return completer
    return None


def answer() -> bool:
    """Print the answer to this completion request; False: not one we know, nothing printed."""
    instruction, _, shell = os.environ.get("_KNOXHOOK_COMPLETE", "").partition("_")
    if instruction != "complete" or shell not in ("bash", "zsh", "fish"):
        return False
    try:
        args, incomplete = _words(shell)
    except ValueError:
        return False
    items = _items(args, incomplete)
    if items is None or (shell != "bash" and not _fits(items, shell)):
        return False
    if shell == "bash":
        out = "\n".join(value for value, _, _ in items)
    elif shell == "zsh":
        lines = [f'"{_zsh_escape(v)}":"{h}"' if h else f'"{_zsh_escape(v)}"' for v, h, _ in items]
        out = f"_arguments '*: :(({chr(10).join(lines)}))'" if lines else "_files"
    else:
        action = os.environ.get("_TYPER_COMPLETE_FISH_ACTION", "")
        if action == "is-args":  # typer exits without printing: 0 when there are values
            sys.exit(0 if items else 1)
        lines = [f"{v}\t{h}" if h else v for v, _, h in items]
        out = "\n".join(lines) if action == "get-args" else ""
    sys.stdout.write(out + "\n")
    sys.stdout.flush()
    return True


def _words(shell: str) -> tuple[list[str], str]:
    """``args, incomplete`` as typer's ``get_completion_args`` of that shell reads them."""
    if shell == "bash":
        words = _split(os.environ["COMP_WORDS"]) if "COMP_WORDS" in os.environ else None
        if words is None:
            raise ValueError("no COMP_WORDS")
        cword = int(os.environ.get("COMP_CWORD", ""))
        if cword < 0:
            raise ValueError("negative COMP_CWORD")
        return words[1:cword], words[cword] if cword < len(words) else ""
    line = os.environ.get("_TYPER_COMPLETE_ARGS", "")
    args = _split(line)[1:]
    if args and not line.endswith(" "):
        return args[:-1], args[-1]
    return args, ""


def _split(string: str) -> list[str]:
    """click's ``split_arg_string``: shlex, keeping a partial last token."""
    import shlex

    lex = shlex.shlex(string, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    out: list[str] = []
    try:
        out.extend(lex)
    except ValueError:
        out.append(lex.token)
    return out


def _items(args: list[str], incomplete: str) -> list[Item] | None:
    """The completion items of ``incomplete`` after ``args``; None: ask typer."""
    if "--" in args or incomplete == "=" or (incomplete[:1] == "-" and "=" in incomplete):
        return None
    walked = _walk(args)
    if walked is None:
        return None
    node, used, pending = walked
    if incomplete[:1] == "-":
        if pending is not None:  # `--event -`: whether click counts --event as given: ask
            return None
        return [
            (name, zsh, fish)
            for opt in node["options"]
            if not opt["hidden"] and (opt["multiple"] or opt["name"] not in used)
            for name in _names(opt)
            if name.startswith(incomplete)
            for zsh, fish in [opt["help"]]
        ]
    if pending is not None:
        values = values_for(pending["completer"], incomplete)
        return None if values is None else [(v, None, None) for v in values]
    if node["arguments"] or not node["group"]:
        # an argument's values, or a command's positional words: typer decides
        return None if node["arguments"] else []
    return [
        (name, zsh, fish) for name, zsh, fish in node["commands"] if name.startswith(incomplete)
    ]


def _names(opt: dict[str, Any]) -> list[str]:
    """An option's names in the order click lists them. The help option's come from a set
    (``Command.get_help_option_names``): their order is this process's string hashing,
    which the same set built the same way here reproduces."""
    if "set" not in opt:
        return list(opt["names"])
    names = set(opt["set"])
    for name in opt["set"]:
        if name not in opt["names"]:
            names.discard(name)
    return list(names)


def _walk(args: list[str]) -> tuple[dict[str, Any], set[str], dict[str, Any] | None] | None:
    """The command the words lead to, the options given to it, and the option whose value
    is being typed (``--event KG``); None where the words leave the known subset."""
    path: list[str] = []
    node, used = NODES[""], set()
    i = 0
    while i < len(args):
        word = args[i]
        if word[:1] == "-":
            opt = next((o for o in node["options"] if word in o["names"]), None)
            if opt is None or opt["kind"] == "other":
                return None
            used.add(opt["name"])
            if opt["kind"] == "value":
                if i + 1 == len(args):
                    return node, used, opt
                if args[i + 1][:1] == "-":
                    return None
                i += 1
        elif node["group"]:
            if word not in node["names"]:
                return None
            path.append(word)
            node, used = NODES[" ".join(path)], set()
        elif not node["arguments"]:
            return None  # a stray word: left to typer
        i += 1
    return node, used, None


def _fits(items: list[Item], shell: str) -> bool:
    """Whether every help is one line rich leaves alone at this terminal's width.

    typer renders zsh and fish helps through a rich Console, which wraps at its width:
    TERMINAL_WIDTH, else COLUMNS, else the terminal of stdin/stdout/stderr, else 80. The
    table holds the rendering at an unlimited width (None where rich changes the text);
    a help shorter than every one of those widths is printed as is.
    """
    helps = [item[1] if shell == "zsh" else item[2] for item in items]
    if not any(helps):
        return True
    widths = [80]
    for var in ("TERMINAL_WIDTH", "COLUMNS"):
        if os.environ.get(var, "").isdigit():
            widths.append(int(os.environ[var]))
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError, ValueError):
            widths.append(os.get_terminal_size(fd).columns)
    limit = min(widths)
    return all(h is None or (h != UNSAFE and len(h) < limit) for h in helps)


def _zsh_escape(s: str) -> str:
    return (
        s.replace('"', '""')
        .replace("'", "''")
        .replace("$", "\\$")
        .replace("`", "\\`")
        .replace(":", r"\\:")
    )
