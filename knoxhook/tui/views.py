"""The three views of the TUI: subscriptions (+ JSON), event catalogue, callbacks (+ JSON).

Each is a widget that renders what the app hands it; none calls the backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
        beside = self.size.width - max(DETAIL_MIN, self.size.width // 3)  # the 2fr : 1fr split
        self.set_class(beside < needed, "stacked")

    def on_resize(self) -> None:
        self.fit()


class SubscriptionsView(_Split):
    """The subscriptions table, and the selected one's full JSON beside it."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: list[SubscriptionLike] = []

    def compose(self) -> ComposeResult:
        yield DataTable(id="subs", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(classes="detail"):
            yield Static(NO_SELECTION, id="sub-detail", markup=False)

    def on_mount(self) -> None:
        self.table.add_columns("id", "URL", "events", "created", "updated")

    def show(self, subscriptions: Sequence[SubscriptionLike]) -> None:
        """Replace the rows; the cursor stays on the same subscription if it is still there."""
        keep = self.selected()
        self.subscriptions = list(subscriptions)
        table = self.table
        table.clear()
        for sub in subscriptions:
            table.add_row(
                *_cells(
                    sub.subscription_id,
                    model.shown_url(sub.url),
                    ", ".join(sub.events),
                    model.when(sub.created_at),
                    model.when(sub.updated_at),
                ),
                key=sub.subscription_id,
            )
        if keep is not None:
            self.select(keep.subscription_id)
        self.show_detail()
        self.call_after_refresh(self.fit)  # the column widths are known after a refresh

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
