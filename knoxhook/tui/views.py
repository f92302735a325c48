"""The three views of the TUI: subscriptions (+ JSON), event catalogue, callbacks (+ JSON).

Each is a widget that renders what the app hands it; none calls the backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from knoxhook.tui import model
from knoxhook.tui.model import Record, SubscriptionLike

MAX_CALLBACK_ROWS = 1000  # keep memory bounded on a busy receiver
NO_SELECTION = "(no subscription selected)"
DETAIL_MIN = 40  # columns the JSON pane needs beside a table (app.py's .detail min-width)


def _cells(*values: str) -> list[Text]:
    return [Text(v) for v in values]  # Text, so a "[" in a URL is never read as markup


def _cut(value: str, width: int) -> Text:
    """A cell of at most ``width`` cells, ending in "…" when cut (a ``Text``: no markup)."""
    text = Text(value)
    text.truncate(width, overflow="ellipsis")
    return text


class _Split(Horizontal):
    """A table and a JSON pane: side by side when the whole table fits beside the pane,
    else the pane below (class ``stacked``), and then the table fits the width: the
    ``DROP`` columns left out, then the ``SHRINK`` ones cut with "…" (``plan_columns``);
    nothing is hidden off to the right (160 columns cut "created" and hid "updated"
    before; 60 showed two columns of five). The JSON pane has every value in full."""

    COLUMNS: tuple[str, ...] = ()
    DROP: tuple[str, ...] = ()
    SHRINK: tuple[str, str] = ("", "")

    def __init__(self) -> None:
        super().__init__(classes="split")
        self._plan: tuple[bool, dict[str, int]] | None = None

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one(DataTable)

    def rows(self) -> list[tuple[str, dict[str, str]]]:
        """(row key, column -> text) of every row, in order."""
        raise NotImplementedError

    def natural(self) -> dict[str, int]:
        """Each column's width with nothing cut (its heading or its widest cell)."""
        rows = [cells for _, cells in self.rows()]
        return {
            name: max([cell_len(name), *(cell_len(row[name]) for row in rows)])
            for name in self.COLUMNS
        }

    def fit(self) -> None:
        self.lay_out(force=False)

    def on_resize(self) -> None:
        self.fit()

    def lay_out(self, *, force: bool, natural: dict[str, int] | None = None) -> bool:
        """Lay the table out for the view's width: beside the pane with every column
        whole, or stacked with the columns ``plan_columns`` gives the full width; the
        rows again only when that changed (or ``force``). True when it laid them out."""
        natural = natural or self.natural()
        width = self.size.width
        full = sum(w + CELL_PADDING for w in natural.values())
        stacked = width > 0 and _beside(width) < full + SCROLLBAR
        columns = (
            plan_columns(natural, width - SCROLLBAR, self.DROP, self.SHRINK) if stacked else natural
        )
        if (stacked, columns) == self._plan and not force:
            return False
        self._plan = stacked, columns
        self.set_class(stacked, "stacked")
        table = self.table
        row = table.cursor_row
        table.clear(columns=True)
        for name in columns:
            table.add_column(name, key=name)
        rows = self.rows()
        for key, cells in rows:
            table.add_row(*self.cut(cells), key=key)
        if rows:
            table.move_cursor(row=min(row, len(rows) - 1))
        return True

    def cut(self, cells: dict[str, str]) -> list[Text]:
        """A row's cells as the current layout shows them."""
        columns = self._plan[1] if self._plan else {name: 10**6 for name in self.COLUMNS}
        return [_cut(cells[name], columns[name]) for name in columns]


def _beside(width: int) -> int:
    """The table's width beside the JSON pane (the 2fr : 1fr split)."""
    return width - max(DETAIL_MIN, width // 3)


SUB_COLUMNS = ("id", "URL", "events", "created", "updated")
SUB_DROP = ("updated", "created")  # what a narrow terminal leaves out first (as the CLI's)
SUB_SHRINK = ("URL", "events")  # then cut, with "…": the id is never cut (people copy it)
CB_COLUMNS = ("time", "verdict", "event", "subscription", "nonce")
CB_DROP = ("subscription",)  # the event says what it was; the JSON pane has the id
CB_SHRINK = ("verdict", "nonce")  # the verdict's reason keeps two thirds of what is left
CELL_PADDING = 2  # DataTable's cell_padding, on both sides of a cell
SCROLLBAR = 2  # kept free for the vertical scrollbar of a long list


def plan_columns(
    natural: dict[str, int],
    room: int,
    drop: Sequence[str] = SUB_DROP,
    shrink: tuple[str, str] = SUB_SHRINK,
) -> dict[str, int]:
    """The columns to show and each one's content width, so the table fits ``room``
    cells: all as wide as their content when they fit; else the ``drop`` columns left
    out, in order, until it fits; else the two ``shrink`` columns cut too, the first
    keeping two thirds of what is left (the JSON pane shows them in full)."""
    shown = dict(natural)

    def width() -> int:
        return sum(w + CELL_PADDING for w in shown.values())

    for name in drop:
        if width() <= room:
            return shown
        shown.pop(name, None)
    over = width() - room
    if over <= 0:
        return shown
    first, second = (shown[name] for name in shrink)
    left = max(0, first + second - over)
    second_width = min(second, max(left // 3, left - first), left)
    shown[shrink[0]], shown[shrink[1]] = max(3, left - second_width), max(3, second_width)
    return shown


class SubscriptionsView(_Split):
    """The subscriptions table, and the selected one's full JSON beside it (or below:
    then the timestamps are left out first, and the URL and events cut)."""

    COLUMNS, DROP, SHRINK = SUB_COLUMNS, SUB_DROP, SUB_SHRINK

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: list[SubscriptionLike] = []

    def compose(self) -> ComposeResult:
        yield DataTable(id="subs", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(classes="detail"):
            yield Static(NO_SELECTION, id="sub-detail", markup=False)

    def on_mount(self) -> None:
        self.lay_out(force=True)

    def show(self, subscriptions: Sequence[SubscriptionLike]) -> None:
        """Replace the rows; the cursor stays on the same subscription if it is still there."""
        keep = self.selected()
        self.subscriptions = list(subscriptions)
        self.lay_out(force=True)
        if keep is not None:
            self.select(keep.subscription_id)
        self.show_detail()

    def rows(self) -> list[tuple[str, dict[str, str]]]:
        return [(sub.subscription_id, self._values(sub)) for sub in self.subscriptions]

    @staticmethod
    def _values(sub: SubscriptionLike) -> dict[str, str]:
        values = (
            sub.subscription_id,
            model.shown_url(sub.url),
            ", ".join(sub.events),
            model.when(sub.created_at),
            model.when(sub.updated_at),
        )
        return dict(zip(SUB_COLUMNS, values, strict=True))

    def select(self, subscription_id: str) -> bool:
        """Put the cursor on ``subscription_id``; False when it is not listed."""
        if subscription_id not in {s.subscription_id for s in self.subscriptions}:
            return False
        self.table.move_cursor(row=self.table.get_row_index(subscription_id))
        return True

    def selected(self) -> SubscriptionLike | None:
        table = self.table
        if not self.subscriptions or table.row_count == 0:
            return None
        row = min(table.cursor_row, len(self.subscriptions) - 1)
        key = table.coordinate_to_cell_key(table.cursor_coordinate._replace(row=row)).row_key
        return next((s for s in self.subscriptions if s.subscription_id == key.value), None)

    def show_detail(self) -> None:
        sub = self.selected()
        text = model.subscription_json(sub) if sub else NO_SELECTION
        self.query_one("#sub-detail", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()


class EventsView(DataTable[Text]):
    """The catalogue grouped by service: each event free, or the id that holds it."""

    def __init__(self) -> None:
        super().__init__(id="events-table", cursor_type="row", zebra_stripes=True)
        self.held: dict[str, str] = {}

    def on_mount(self) -> None:
        self.add_columns("service", "event", "held by", "description")
        self.show([])

    def show(self, subscriptions: Sequence[SubscriptionLike]) -> None:
        self.held = model.holders(subscriptions)
        row = self.cursor_row
        self.clear()
        for service, name, holder, description in model.catalogue_rows(self.held):
            self.add_row(*_cells(service, name, holder, description), key=name)
        self.move_cursor(row=row)

    def highlighted(self) -> str | None:
        """The event name under the cursor."""
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return str(key.value)


class CallbacksView(_Split):
    """Callbacks as they arrive (newest last), and the selected record's JSON (below it
    on a narrow terminal: then the subscription id is left out first, and the verdict
    and nonce cut)."""

    COLUMNS, DROP, SHRINK = CB_COLUMNS, CB_DROP, CB_SHRINK

    def __init__(self, hint: str) -> None:
        super().__init__()
        self.hint = hint
        self.records: dict[str, Record] = {}
        self._cells: dict[str, dict[str, str]] = {}
        self._widest = {name: cell_len(name) for name in CB_COLUMNS}  # grows, never shrinks
        self._seq = 0

    def compose(self) -> ComposeResult:
        yield DataTable(id="cb-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(classes="detail"):
            yield Static(self.hint, id="cb-detail", markup=False)

    def on_mount(self) -> None:
        self.lay_out(force=True)

    def rows(self) -> list[tuple[str, dict[str, str]]]:
        return list(self._cells.items())

    def natural(self) -> dict[str, int]:
        return dict(self._widest)  # a running maximum: no pass over 1,000 rows per callback

    def add(self, record: Record) -> tuple[str, ...]:
        """Append a row (dropping the oldest past the cap); its cells."""
        self._seq += 1
        key = str(self._seq)
        table = self.table
        if len(self._cells) >= MAX_CALLBACK_ROWS:
            oldest = next(iter(self.records))
            table.remove_row(oldest)
            del self.records[oldest], self._cells[oldest]
        cells = model.record_cells(record)
        self.records[key] = record
        self._cells[key] = dict(zip(CB_COLUMNS, cells, strict=True))
        for name, text in self._cells[key].items():
            self._widest[name] = max(self._widest[name], cell_len(text))
        if not self.lay_out(force=False):  # the layout holds: only the new row
            table.add_row(*self.cut(self._cells[key]), key=key)
        if table.row_count == 1:
            self._detail(record)
        return cells

    def _detail(self, record: Record) -> None:
        self.query_one("#cb-detail", Static).update(model.record_json(record))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        record = self.records.get(str(event.row_key.value))
        if record is not None:
            self._detail(record)
