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
    else the pane below (class ``stacked``), so no column is cut or hidden off to the
    right when the terminal could show them all (160 columns cut "created" and hid
    "updated" before)."""

    def __init__(self) -> None:
        super().__init__(classes="split")

    @property
    def table(self) -> DataTable[Any]:
        return self.query_one(DataTable)

    def fit(self) -> None:
        table = self.table
        needed = sum(c.get_render_width(table) for c in table.columns.values()) + 2
        self.set_class(_beside(self.size.width) < needed, "stacked")

    def on_resize(self) -> None:
        self.fit()


def _beside(width: int) -> int:
    """The table's width beside the JSON pane (the 2fr : 1fr split)."""
    return width - max(DETAIL_MIN, width // 3)


SUB_COLUMNS = ("id", "URL", "events", "created", "updated")
SUB_DROP = ("updated", "created")  # what a narrow terminal leaves out first (as the CLI's)
SUB_SHRINK = ("URL", "events")  # then cut, with "…": the id is never cut (people copy it)
CELL_PADDING = 2  # DataTable's cell_padding, on both sides of a cell
SCROLLBAR = 2  # kept free for the vertical scrollbar of a long list


def plan_columns(natural: dict[str, int], room: int) -> dict[str, int]:
    """The columns to show and each one's content width, so the table fits ``room``
    cells: all as wide as their content when they fit; else the ``SUB_DROP`` columns
    left out, in order, until it fits; else ``SUB_SHRINK`` cut too, the URL keeping
    two thirds of what is left (events are in the JSON pane below, in full)."""
    shown = dict(natural)

    def width() -> int:
        return sum(w + CELL_PADDING for w in shown.values())

    for name in SUB_DROP:
        if width() <= room:
            return shown
        shown.pop(name, None)
    over = width() - room
    if over <= 0:
        return shown
    url, events = (shown[name] for name in SUB_SHRINK)
    left = max(0, url + events - over)
    events_width = min(events, max(left // 3, left - url), left)
    shown["URL"], shown["events"] = max(3, left - events_width), max(3, events_width)
    return shown


class SubscriptionsView(_Split):
    """The subscriptions table, and the selected one's full JSON beside it (or below,
    when the table would not fit beside it: then the table fits the width, with the
    timestamps left out and long cells cut, ``plan_columns``; nothing scrolls sideways)."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: list[SubscriptionLike] = []
        self._plan: tuple[bool, dict[str, int]] | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="subs", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(classes="detail"):
            yield Static(NO_SELECTION, id="sub-detail", markup=False)

    def on_mount(self) -> None:
        self._lay_out(force=True)

    def show(self, subscriptions: Sequence[SubscriptionLike]) -> None:
        """Replace the rows; the cursor stays on the same subscription if it is still there."""
        keep = self.selected()
        self.subscriptions = list(subscriptions)
        self._lay_out(force=True)
        if keep is not None:
            self.select(keep.subscription_id)
        self.show_detail()

    def fit(self) -> None:
        self._lay_out(force=False)

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

    def _lay_out(self, *, force: bool) -> None:
        """Lay the table out for the view's width: beside the pane with every column
        whole, or stacked with the columns ``plan_columns`` gives the full width; the
        rows again only when that changed (or ``force``: new rows)."""
        rows = [self._values(sub) for sub in self.subscriptions]
        natural = {
            name: max([cell_len(name), *(cell_len(row[name]) for row in rows)])
            for name in SUB_COLUMNS
        }
        width = self.size.width
        full = sum(w + CELL_PADDING for w in natural.values())
        stacked = width > 0 and _beside(width) < full + SCROLLBAR
        plan = (stacked, plan_columns(natural, width - SCROLLBAR) if stacked else natural)
        if plan == self._plan and not force:
            return
        self._plan = plan
        self.set_class(stacked, "stacked")
        columns = plan[1]
        table = self.table
        row = table.cursor_row
        table.clear(columns=True)
        for name in columns:
            table.add_column(name, key=name)
        for sub, cells in zip(self.subscriptions, rows, strict=True):
            table.add_row(
                *(_cut(cells[name], columns[name]) for name in columns), key=sub.subscription_id
            )
        if rows:
            table.move_cursor(row=min(row, len(rows) - 1))

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
    """Callbacks as they arrive (newest last), and the selected record's JSON."""

    def __init__(self, hint: str) -> None:
        super().__init__()
        self.hint = hint
        self.records: dict[str, Record] = {}
        self._seq = 0

    def compose(self) -> ComposeResult:
        yield DataTable(id="cb-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(classes="detail"):
            yield Static(self.hint, id="cb-detail", markup=False)

    def on_mount(self) -> None:
        self.table.add_columns("time", "verdict", "event", "subscription", "nonce")

    def add(self, record: Record) -> tuple[str, ...]:
        """Append a row (dropping the oldest past the cap); its cells."""
        self._seq += 1
        key = str(self._seq)
        table = self.table
        if table.row_count >= MAX_CALLBACK_ROWS:
            oldest = next(iter(self.records))
            table.remove_row(oldest)
            del self.records[oldest]
        self.records[key] = record
        cells = model.record_cells(record)
        table.add_row(*_cells(*cells), key=key)
        if table.row_count == 1:
            self._detail(record)
        self.call_after_refresh(self.fit)
        return cells

    def _detail(self, record: Record) -> None:
        self.query_one("#cb-detail", Static).update(model.record_json(record))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        record = self.records.get(str(event.row_key.value))
        if record is not None:
            self._detail(record)
