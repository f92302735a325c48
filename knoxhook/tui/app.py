"""The ``knoxhook ui`` Textual app: subscriptions, the event catalogue, live callbacks.

Data comes in through injected objects (``knoxhook.tui.model``): the app never talks
HTTP itself. Every backend call runs in a worker thread so the screen never freezes;
every error it raises is shown inline (status line + notification), never a crash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.filter import Monochrome
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from knoxhook.errors import KnoxhookError
from knoxhook.tui import model
from knoxhook.tui.model import CallbackSource, Record, SubscriptionBackend, SubscriptionLike
from knoxhook.tui.screens import ConfirmScreen, FormResult, SubscriptionForm
from knoxhook.tui.status import Status

T = TypeVar("T")
STATUS_INTERVAL = 15.0  # seconds between two reads of the (local) certificate/token state
MAX_CALLBACK_ROWS = 1000  # keep memory bounded on a busy receiver
MAIN_ACTIONS = frozenset({"quit", "refresh", "create", "edit", "delete", "tab"})


class CallbackArrived(Message):
    """A callback record, posted from the source's thread (post_message is thread-safe)."""

    def __init__(self, record: Record) -> None:
        super().__init__()
        self.record = record


def _describe(exc: Exception) -> str:
    if isinstance(exc, KnoxhookError):
        return exc.message + (f" ({exc.hint})" if exc.hint else "")
    return f"unexpected {type(exc).__name__}: {exc}"


def _cells(*values: str) -> list[Text]:
    return [Text(v) for v in values]  # Text, so a "[" in a URL is never read as markup


class KnoxhookApp(App[None]):
    """Subscriptions table + detail, event catalogue, and the callback stream."""

    TITLE = "knoxhook"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    TabbedContent { height: 1fr; }
    TabPane { height: 1fr; padding: 0; }
    #status { height: 1; padding: 0 1; background: $boost; }
    #status.warning { background: $warning 40%; }
    #message { height: 1; padding: 0 1; }
    #message.error { background: $error 30%; }
    .split { height: 1fr; }
    .split DataTable { width: 2fr; height: 1fr; }
    .detail { width: 1fr; min-width: 40; height: 1fr; border-left: solid $primary; padding: 0 1; }
    #events-table { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("r", "refresh", "Refresh"),
        Binding("n", "create", "New"),
        Binding("e", "edit", "Edit"),
        Binding("d", "delete", "Delete"),
        Binding("1", "tab('subscriptions')", "Subs"),
        Binding("2", "tab('events')", "Events"),
        Binding("3", "tab('callbacks')", "Callbacks"),
    ]

    def __init__(
        self,
        backend: SubscriptionBackend,
        *,
        callbacks: CallbackSource | None = None,
        status: Callable[[], Status] | None = None,
        subtitle: str = "",
        no_color: bool = False,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.callback_source = callbacks
        self.status_provider = status
        self.sub_title = subtitle
        self.subscriptions: list[SubscriptionLike] = []
        self.records: dict[str, Record] = {}
        self.last_message = ""
        self.last_error = ""
        self._record_seq = 0
        if no_color and not self.no_color:  # --no-color; NO_COLOR itself Textual handles
            self.no_color = True
            self._filters.append(Monochrome())

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="status", markup=False)
        with TabbedContent(initial="subscriptions"):
            with TabPane("Subscriptions [1]", id="subscriptions"), Horizontal(classes="split"):
                yield DataTable(id="subs", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(classes="detail"):
                    yield Static("(no subscription selected)", id="sub-detail", markup=False)
            with TabPane("Events [2]", id="events"):
                yield DataTable(id="events-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Callbacks [3]", id="callbacks"), Horizontal(classes="split"):
                yield DataTable(id="cb-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(classes="detail"):
                    yield Static(self._callbacks_hint(), id="cb-detail", markup=False)
        yield Static("", id="message", markup=False)
        yield Footer()

    def _callbacks_hint(self) -> str:
        if self.callback_source is None:
            return "No callback source: run `knoxhook ui --listen PORT` or `--follow FILE`."
        return f"Waiting for callbacks ({self.callback_source.description})."

    def on_mount(self) -> None:
        self._table("subs").add_columns("id", "URL", "events", "created", "updated")
        self._table("events-table").add_columns("service", "event", "held by", "description")
        self._table("cb-table").add_columns("time", "verdict", "event", "subscription", "nonce")
        self._fill_events()
        self._table("subs").focus()
        self.action_refresh()
        self.refresh_status()
        if self.status_provider is not None:  # the token's time left goes down
            self.set_interval(STATUS_INTERVAL, self.refresh_status)
        if self.callback_source is not None:
            self.callback_source.start(self._post_record)

    def _post_record(self, record: Record) -> None:
        self.post_message(CallbackArrived(record))  # from the source's thread

    def on_unmount(self) -> None:
        if self.callback_source is not None:
            self.callback_source.stop()

    def _table(self, table_id: str) -> DataTable[Any]:
        return self.query_one(f"#{table_id}", DataTable)

    # --- messages to the user ---------------------------------------------------------

    def show_message(self, text: str) -> None:
        self.last_message = text
        line = self.query_one("#message", Static)
        line.remove_class("error")
        line.update(text)

    def show_error(self, text: str) -> None:
        self.last_error = text
        line = self.query_one("#message", Static)
        line.add_class("error")
        line.update(text)
        self.notify(text, title="error", severity="error", timeout=8, markup=False)

    # --- running backend calls off the UI thread --------------------------------------

    def _in_worker(
        self,
        what: str,
        call: Callable[[], T],
        done: Callable[[T], None],
        *,
        reload_on_error: bool = False,
    ) -> None:
        """Run ``call`` in a thread; ``done(result)`` or an inline error back on the UI.

        ``reload_on_error``: after a refused change, list again (quietly), since the
        refusal often means our view was stale (another client took the event).
        """

        def job() -> None:
            try:
                result = call()
            except Exception as exc:  # a bug in a lower layer must not kill the UI either
                self._from_thread(self.show_error, f"{what} failed: {_describe(exc)}")
                if reload_on_error:
                    self._from_thread(self._reload, True)
                return
            self._from_thread(done, result)

        self.run_worker(job, name=what, group="backend", thread=True, exit_on_error=False)

    def _from_thread(self, fn: Callable[[T], None], arg: T) -> None:
        with contextlib.suppress(RuntimeError):  # the app closed while the call ran
            self.call_from_thread(fn, arg)

    # --- subscriptions ----------------------------------------------------------------

    def action_refresh(self) -> None:
        self.show_message("loading subscriptions...")
        self._reload()

    def _reload(self, quiet: bool = False) -> None:
        """List again; ``quiet`` keeps the message line (an error the user must see)."""
        self._in_worker(
            "listing subscriptions",
            lambda: list(self.backend.list()),
            lambda subs: self._listed(subs, quiet=quiet),
        )

    def refresh_status(self) -> None:
        """Re-read the certificate/token status (after a request may have fetched a token)."""
        if self.status_provider is not None:
            self._in_worker("reading the status", self.status_provider, self._status)

    def _status(self, status: Status) -> None:
        line = self.query_one("#status", Static)
        line.set_class(status.warning, "warning")
        line.update(status.text)

    def _listed(self, subscriptions: list[SubscriptionLike], *, quiet: bool = False) -> None:
        self.subscriptions = subscriptions
        table = self._table("subs")
        keep = self.selected()
        table.clear()
        for sub in subscriptions:
            table.add_row(
                *_cells(
                    sub.subscription_id,
                    sub.url,
                    ", ".join(sub.events),
                    model.when(sub.created_at),
                    model.when(sub.updated_at),
                ),
                key=sub.subscription_id,
            )
        if keep is not None and keep.subscription_id in {s.subscription_id for s in subscriptions}:
            table.move_cursor(row=table.get_row_index(keep.subscription_id))
        self._fill_events()
        self._show_detail()
        self.refresh_status()
        if not quiet:
            count = len(subscriptions)
            self.show_message(f"{count} subscription{'s' if count != 1 else ''}")

    def _fill_events(self) -> None:
        table = self._table("events-table")
        table.clear()
        for service, name, holder, description in model.catalogue_rows(
            model.holders(self.subscriptions)
        ):
            table.add_row(*_cells(service, name, holder, description), key=name)

    def selected(self) -> SubscriptionLike | None:
        table = self._table("subs")
        if not self.subscriptions or table.row_count == 0:
            return None
        row = min(table.cursor_row, len(self.subscriptions) - 1)
        key = table.coordinate_to_cell_key(table.cursor_coordinate._replace(row=row)).row_key
        return next((s for s in self.subscriptions if s.subscription_id == key.value), None)

    def _show_detail(self) -> None:
        sub = self.selected()
        text = model.subscription_json(sub) if sub else "(no subscription selected)"
        self.query_one("#sub-detail", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "subs":
            self._show_detail()
        elif event.data_table.id == "cb-table" and event.row_key.value in self.records:
            detail = model.record_json(self.records[event.row_key.value])
            self.query_one("#cb-detail", Static).update(detail)

    def action_create(self) -> None:
        form = SubscriptionForm(model.holders(self.subscriptions))
        self.push_screen(form, self._create)

    def _create(self, result: FormResult | None) -> None:
        if result is None:
            return
        self.show_message(f"creating a subscription for {result.url}...")
        self._in_worker(
            "create",
            lambda: self.backend.create(result.url, list(result.events)),
            lambda sub: self._changed(f"created {sub.subscription_id}"),
            reload_on_error=True,
        )

    def action_edit(self) -> None:
        sub = self._need_selection()
        if sub is not None:
            form = SubscriptionForm(model.holders(self.subscriptions), current=sub)
            self.push_screen(form, lambda result: self._update(sub, result))

    def _update(self, sub: SubscriptionLike, result: FormResult | None) -> None:
        if result is None:
            return
        url = result.url if result.url != sub.url else None
        new_events = list(result.events) if set(result.events) != set(sub.events) else None
        if url is None and new_events is None:
            self.show_message("nothing changed")
            return
        ident = sub.subscription_id
        self._in_worker(
            f"update {ident}",
            lambda: self.backend.update(ident, url=url, events=new_events),
            lambda _: self._changed(f"updated {ident}"),
            reload_on_error=True,
        )

    def action_delete(self) -> None:
        sub = self._need_selection()
        if sub is None:
            return
        ident = sub.subscription_id
        question = f"Delete subscription {ident}?\n{sub.url}\n{', '.join(sub.events)}"
        self.push_screen(ConfirmScreen(question), lambda yes: self._delete(ident, bool(yes)))

    def _delete(self, ident: str, yes: bool) -> None:
        if not yes:
            self.show_message("delete cancelled")
            return
        self._in_worker(
            f"delete {ident}",
            lambda: self.backend.delete(ident),
            lambda _: self._changed(f"deleted {ident}"),
            reload_on_error=True,
        )

    def _changed(self, what: str) -> None:
        self.notify(what, markup=False)
        self.show_message(what)
        self._reload(quiet=True)

    def _need_selection(self) -> SubscriptionLike | None:
        self.action_tab("subscriptions")
        sub = self.selected()
        if sub is None:
            self.show_error("no subscription selected (press n to create one)")
        return sub

    # --- navigation -------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self._table(
            {"subscriptions": "subs", "events": "events-table"}.get(tab, "cb-table")
        ).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The main-screen keys do nothing while a form or a question is open."""
        modal = isinstance(self.screen, ModalScreen)
        return not (modal and action in MAIN_ACTIONS)

    # --- callbacks --------------------------------------------------------------------

    def on_callback_arrived(self, message: CallbackArrived) -> None:
        self._record_seq += 1
        key = str(self._record_seq)
        self.records[key] = message.record
        table = self._table("cb-table")
        if table.row_count >= MAX_CALLBACK_ROWS:
            oldest = next(iter(self.records))
            table.remove_row(oldest)
            del self.records[oldest]
        table.add_row(*_cells(*model.record_cells(message.record)), key=key)
        cells = model.record_cells(message.record)
        if table.row_count == 1:
            self.query_one("#cb-detail", Static).update(model.record_json(message.record))
        self.show_message(f"callback: {cells[1]} {cells[2]} for {cells[3]}")

    def callback_rows(self) -> Sequence[tuple[str, ...]]:
        """The callback table's rows as plain strings (for tests and screenshots)."""
        table = self._table("cb-table")
        return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
