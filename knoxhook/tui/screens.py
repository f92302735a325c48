"""Modal screens of the TUI: the subscription form and the delete confirmation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, SelectionList
from textual.widgets.selection_list import Selection

from knoxhook import events as catalogue
from knoxhook.errors import UsageError
from knoxhook.tui.model import SubscriptionLike, check_url, shown_url


@dataclass(frozen=True)
class FormResult:
    """What the form returns: a checked URL and at least one event."""

    url: str
    events: tuple[str, ...]


class SubscriptionForm(ModalScreen[FormResult | None]):
    """Create or edit a subscription: URL, and an event picker.

    Events held by another subscription are listed but disabled, with the holder's id:
    Knox allows each event in at most one subscription (knox-api.md §3).
    """

    DEFAULT_CSS = """
    SubscriptionForm { align: center middle; }
    SubscriptionForm > #form {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    SubscriptionForm #picker { height: 18; }
    SubscriptionForm #form-error { color: $error; height: auto; }
    SubscriptionForm #buttons { height: auto; align: right middle; }
    SubscriptionForm Button { margin-left: 1; }
    """
    BINDINGS = [  # noqa: RUF012 - Textual reads this class attribute
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(
        self,
        held: Mapping[str, str],
        *,
        current: SubscriptionLike | None = None,
        preselect: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.held = held
        self.current = current
        self.preselect = tuple(preselect)

    def compose(self) -> ComposeResult:
        current = self.current
        mine = set(current.events) if current else set(self.preselect)
        own_id = current.subscription_id if current else None
        selections: list[Selection[str]] = []
        for event in catalogue.CATALOGUE:
            holder = self.held.get(event.name)
            taken = holder is not None and holder != own_id
            label = f"{event.service:<5} {event.name}"
            if taken:
                label += f"  (held by {holder})"
            selections.append(
                Selection(label, event.name, event.name in mine, id=None, disabled=taken)
            )
        title = f"Edit subscription {own_id}" if current else "New subscription"
        with Vertical(id="form"):
            yield Label(f"[b]{title}[/b]")
            yield Label("Callback URL")
            yield Input(
                value=shown_url(current.url) if current else "",
                placeholder="https://example.com/knox/callback",
                id="url",
            )
            yield Label("Events (space toggles; greyed out = held by another subscription)")
            yield SelectionList[str](*selections, id="picker")
            yield Label("", id="form-error", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#url", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#picker", SelectionList).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def show_error(self, message: str) -> None:
        self.query_one("#form-error", Label).update(message)

    def action_save(self) -> None:
        try:
            url = self._url(self.query_one("#url", Input).value)
        except UsageError as exc:
            self.show_error(exc.message)
            self.query_one("#url", Input).focus()
            return
        picker: SelectionList[str] = self.query_one("#picker", SelectionList)
        chosen = tuple(e.name for e in catalogue.CATALOGUE if e.name in picker.selected)
        if not chosen:
            self.show_error("pick at least one event")
            picker.focus()
            return
        self.dismiss(FormResult(url, chosen))

    def _url(self, typed: str) -> str:
        """The checked URL. The form shows a URL's password as ``***``: left as it was,
        the URL is the subscription's own; changed, the password must be typed again."""
        from urllib.parse import urlsplit

        from knoxhook.httptrace import REDACTED

        current = self.current
        if current is not None and typed == shown_url(current.url):
            return current.url
        url = check_url(typed)
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password == REDACTED:
            raise UsageError(f"type the URL's password again: the form shows it as {REDACTED}")
        return url

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; ``y`` confirms, ``n`` or escape declines."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > #confirm {
        width: 70; max-width: 100%; height: auto;
        border: thick $error; background: $surface; padding: 1 2;
    }
    ConfirmScreen #buttons { height: auto; align: right middle; margin-top: 1; }
    ConfirmScreen Button { margin-left: 1; }
    """
    BINDINGS = [  # noqa: RUF012 - Textual reads this class attribute
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(self.question, id="question", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Yes, delete (y)", variant="error", id="yes")
                yield Button("No (n)", id="no")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
