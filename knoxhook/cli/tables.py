"""Tables for people (rich, fitted to the terminal) and for scripts (tsv).

- **tsv** (``-o tsv``, and what a table becomes when stdout is not a terminal, as gh
  does): a header line of the JSON keys, then one line per row, fields separated by a
  tab; no borders, no padding, no colour. A single object is one ``key<TAB>value`` line
  per field. Tabs, newlines and backslashes in a value are written ``\\t``, ``\\n``,
  ``\\\\``, so a row is always one line; a list is joined with ``,``, an object is compact
  JSON, null is empty, booleans are ``true``/``false``.
- **table**: a word is never cut into pieces. Each column is given at least its longest
  word (a word longer than ``WHOLE_WORD``, a URL, may fold ``FOLD_WIDTH`` wide; the first
  column, the id people copy, is always whole); when
  that does not fit the terminal, the low-value columns the command names (``drop``:
  timestamps) go first, and when it still does not fit each row is stacked as
  ``heading  value`` lines. Lines never end in padding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

Column = tuple[str, str]  # (key in the JSON object, table heading)
WHOLE_WORD = 40  # a word up to this long (an event name, a timestamp) is never cut...
FOLD_WIDTH = 24  # ...a longer one (a URL) may be folded in pieces this wide
_TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)


# --- tsv --------------------------------------------------------------------------------


def tsv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        text = ",".join(tsv_cell(v) for v in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def tsv(data: Any, columns: Sequence[Column] | None) -> str:
    """``data`` (an object, or a list of objects) as tab-separated lines."""
    if isinstance(data, Mapping):
        return "".join(f"{tsv_cell(k)}\t{tsv_cell(v)}\n" for k, v in data.items())
    rows = list(data)
    keys = [k for k, _ in columns] if columns else list(rows[0]) if rows else []
    if not keys:
        return ""
    lines = ["\t".join(tsv_cell(k) for k in keys)]
    lines += ["\t".join(tsv_cell(row.get(k)) for k in keys) for row in rows]
    return "\n".join(lines) + "\n"


# --- tables for people ------------------------------------------------------------------


def cell_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return "\n".join(cell_text(v) for v in value) if value else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _longest(texts: Sequence[str], *, words: bool) -> int:
    pieces = (p for t in texts for p in (t.split() if words else t.splitlines()))
    return max((len(p) for p in pieces), default=1)


def fit(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int, drop: Sequence[str]
) -> tuple[list[int], list[int] | None]:
    """(indexes of the columns to show, their minimum widths), or (all, None): stack.

    A rich table with a box needs 3 cells per column (padding, rule) plus 1."""
    shown = list(range(len(columns)))
    floors = []
    for i, (_, heading) in enumerate(columns):
        texts = [heading, *(row[i] for row in rows)]
        word = _longest(texts, words=i > 0)
        floors.append(word if i == 0 or word <= WHOLE_WORD else FOLD_WIDTH)
    order = [i for key in drop for i, (k, _) in enumerate(columns) if k == key]

    def needed() -> int:
        return sum(floors[i] for i in shown) + 3 * len(shown) + 1

    while needed() > width and order:
        shown.remove(order.pop(0))
    if needed() > width:
        return list(range(len(columns))), None
    return shown, [floors[i] for i in shown]


def render(
    out: Console,
    data: Any,
    columns: Sequence[Column] | None,
    title: str | None,
    drop: Sequence[str] = (),
) -> str | None:
    """The table as text (lines stripped of trailing padding); None for an empty list."""
    from rich.table import Table
    from rich.text import Text

    if isinstance(data, Mapping):
        return _print(out, _key_values(data.items(), title))
    rows = list(data)
    if not rows:
        return None
    cols = list(columns or [(k, k) for k in rows[0]])
    cells = [[cell_text(row.get(key)) for key, _ in cols] for row in rows]
    shown, floors = fit(cols, cells, out.width, drop)
    if floors is None:  # even the narrowest table does not fit: one block per row
        blocks: list[RenderableType] = []
        for number, row in enumerate(cells):
            blocks.append(Text(("\n" if number else "") + row[0], style="bold"))
            blocks.append(_key_values(((cols[i][1], row[i]) for i in shown[1:]), None, indent=2))
        return _print(out, *blocks)
    table = Table(title=title)
    for number, (i, floor) in enumerate(zip(shown, floors, strict=True)):
        # never fold the first column (the id people copy), nor any word shorter than the floor
        table.add_column(cols[i][1], overflow="fold", no_wrap=number == 0, min_width=floor)
    for row in cells:
        # Text, not a str: a value is data, never rich markup ("[b]" in a URL stays "[b]")
        table.add_row(*(Text(row[i]) for i in shown))
    return _print(out, table)


def _key_values(pairs: Any, title: str | None, *, indent: int = 0) -> RenderableType:
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in pairs:
        table.add_row(Text(str(key)), Text(value if isinstance(value, str) else cell_text(value)))
    return Padding(table, (0, 0, 0, indent)) if indent else table


def _print(out: Console, *renderables: RenderableType) -> str:
    with out.capture() as captured:
        for renderable in renderables:
            out.print(renderable)
    return strip_padding(captured.get())


def strip_padding(text: str) -> str:
    """Every line without the spaces rich pads it with (before any closing colour code)."""
    return _TRAILING.sub(r"\1", text)
