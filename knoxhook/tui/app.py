"""The ``knoxhook ui`` Textual app: subscriptions, the event catalogue, live callbacks.

Data comes in through injected objects (``knoxhook.tui.model``): the app never talks
HTTP itself. Every backend call runs in a worker thread so the screen never freezes;
every error it raises is shown inline (status line + notification), never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, TypeVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.filter import LineFilter, Monochrome, NoColor
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane

from knoxhook.errors import KnoxhookError
from knoxhook.tui.model import (
    CallbackSource,
    Record,
    SubscriptionBackend,
    SubscriptionLike,
    shown_url,
)
from knoxhook.tui.screens import ConfirmScreen, FormResult, SubscriptionForm
from knoxhook.tui.status import Status
from knoxhook.tui.threads import in_daemon_thread
from knoxhook.tui.views import CallbacksView, EventsView, SubscriptionsView

T = TypeVar("T")
STATUS_INTERVAL = 15.0  # seconds between two reads of the (local) certificate/token state
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


class KnoxhookApp(App[None]):
    """Subscriptions table + detail, event catalogue, and the callback stream."""

    TITLE = "knoxhook"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    TabbedContent { height: 1fr; }
    TabPane { height: 1fr; padding: 0; }
    #status { height: 1; padding: 0 1; background: $boost; }
    #status.warning { background: $warning 40%; }
    #source { height: 1; padding: 0 1; }
    #message { height: 1; padding: 0 1; }
    #message.error { background: $error 30%; }
    .split { height: 1fr; }
    .split DataTable { width: 2fr; height: 1fr; }
    .detail { width: 1fr; min-width: 40; height: 1fr; border-left: solid $primary; padding: 0 1; }
    .split.stacked { layout: vertical; }
    .split.stacked DataTable { width: 1fr; height: 2fr; }
    .split.stacked .detail {
        width: 1fr; height: 1fr; border-left: none; border-top: solid $primary;
    }
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
        self.last_message = ""
        self.last_error = ""
        # --no-color: the filter Textual itself adds for NO_COLOR (which it handles)
        self._no_color_filter: LineFilter | None = None
        if no_color and not self.no_color:
            self.no_color = True
            self._no_color_filter = NoColor() if self.native_ansi_color else Monochrome()

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, plus the monochrome one of ``--no-color``."""
        filters = super().get_line_filters()
        if self._no_color_filter is None:
            return filters
        return [*filters, self._no_color_filter]

    # --- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="status", markup=False)
        if self.callback_source is not None:  # the header's subtitle is cut on narrow screens
            yield Static(self.callback_source.description, id="source", markup=False)
        with TabbedContent(initial="subscriptions"):
            with TabPane("Subscriptions [1]", id="subscriptions"):
                yield SubscriptionsView()
            with TabPane("Events [2]", id="events"):
                yield EventsView()
            with TabPane("Callbacks [3]", id="callbacks"):
                yield CallbacksView(self._callbacks_hint())
        yield Static("", id="message", markup=False)
        yield Footer()

    def _callbacks_hint(self) -> str:
        if self.callback_source is None:
            return "No callback source: run `knoxhook ui --listen PORT` or `--follow FILE`."
        return f"Waiting for callbacks ({self.callback_source.description})."

    def on_mount(self) -> None:
        self.subs_view.table.focus()
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

    @property
    def subs_view(self) -> SubscriptionsView:
        return self.query_one(SubscriptionsView)

    @property
    def subscriptions(self) -> list[SubscriptionLike]:
        """The subscriptions as last listed."""
        return self.subs_view.subscriptions

    def selected(self) -> SubscriptionLike | None:
        return self.subs_view.selected()

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

        The thread is a daemon of our own, awaited by a Textual (async) worker, so ``q``
        quits at once even while a request hangs (``knoxhook.tui.threads``).
        ``reload_on_error``: after a refused change, list again (quietly), since a
        refusal often means our view was stale (another client took the event).
        """

        async def job() -> None:
            try:
                result = await in_daemon_thread(call)
            except Exception as exc:  # a bug in a lower layer must not kill the UI either
                self.show_error(f"{what} failed: {_describe(exc)}")
                if reload_on_error:
                    self._reload(quiet=True)
                return
            done(result)

        self.run_worker(job(), name=what, group="backend", exit_on_error=False)

    # --- subscriptions ----------------------------------------------------------------

    def action_refresh(self) -> None:
        self.show_message("loading subscriptions...")
        self._reload()

    @work(exclusive=True, group="listing", exit_on_error=False)
    async def _reload(self, quiet: bool = False) -> None:
        """List again; ``quiet`` keeps the message line (an error the user must see).

        Exclusive: a new listing cancels the one still under way, so two quick
        refreshes (or a refresh and the reload after a change) cannot finish out of
        order and leave the older list on the screen.
        """
        try:
            subscriptions = await in_daemon_thread(lambda: list(self.backend.list()))
        except Exception as exc:  # a bug in a lower layer must not kill the UI either
            self.show_error(f"listing subscriptions failed: {_describe(exc)}")
            return
        self._listed(subscriptions, quiet=quiet)

    def refresh_status(self) -> None:
        """Re-read the certificate/token status (after a request may have fetched a token)."""
        if self.status_provider is not None:
            self._in_worker("reading the status", self.status_provider, self._status)

    def _status(self, status: Status) -> None:
        line = self.query_one("#status", Static)
        line.set_class(status.warning, "warning")
        line.update(status.text)

    def _listed(self, subscriptions: list[SubscriptionLike], *, quiet: bool = False) -> None:
        self.subs_view.show(subscriptions)
        self.query_one(EventsView).show(subscriptions)
        self.refresh_status()
        if not quiet:
            count = len(subscriptions)
            self.show_message(f"{count} subscription{'s' if count != 1 else ''}")

    def action_create(self) -> None:
        """A new subscription; from the Events view, with the highlighted free event ticked."""
        events = self.query_one(EventsView)
        chosen = events.highlighted() if self._active_tab() == "events" else None
        preselect = (chosen,) if chosen and chosen not in events.held else ()
        form = SubscriptionForm(events.held, preselect=preselect)
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
            form = SubscriptionForm(self.query_one(EventsView).held, current=sub)
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
        question = f"Delete subscription {ident}?\n{shown_url(sub.url)}\n{', '.join(sub.events)}"
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

    def _active_tab(self) -> str:
        return self.query_one(TabbedContent).active

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        widget = {"subscriptions": self.subs_view.table, "events": self.query_one(EventsView)}
        widget.get(tab, self.query_one(CallbacksView).table).focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on an event: go to the subscription holding it, or create one."""
        if not isinstance(event.data_table, EventsView):
            return
        holder = event.data_table.held.get(str(event.row_key.value))
        if holder is None:
            self.action_create()
        elif self.subs_view.select(holder):
            self.action_tab("subscriptions")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The main-screen keys do nothing while a form or a question is open."""
        modal = isinstance(self.screen, ModalScreen)
        return not (modal and action in MAIN_ACTIONS)

    # --- callbacks --------------------------------------------------------------------

    def on_callback_arrived(self, message: CallbackArrived) -> None:
        _, verdict, event, sub, _ = self.query_one(CallbacksView).add(message.record)
        verified = f" {event} for {sub}" if event != "-" else ""  # see model.record_cells
        self.show_message(f"callback: {verdict}{verified}")
