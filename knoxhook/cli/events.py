"""``knoxhook events``: the KWN event catalogue."""

from __future__ import annotations

from typing import Annotated

import typer

from knoxhook.cli import context, display, registry
from knoxhook.events import Service

COLUMNS = [
    ("name", "Event"),
    ("service", "Service"),
    ("since", "Since"),
    ("description", "Description"),
]
NARROW_DROP = ("since", "service")  # a narrow terminal keeps the name and what it means


events_app = registry.command()


@events_app.command("events")
def events(
    service: Annotated[
        Service | None,
        typer.Option(
            "--service",
            "-s",
            help="Only this service's events: "
            + ", ".join(f"{s.value} ({s.label})" for s in Service)
            + ".",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    json_output: context.JsonOption = False,
    output: context.OutputOption = None,
) -> None:
    """List the events you can subscribe to, with their service and description.

    Needs no credentials and makes no request.

    Examples:

    \b
      knoxhook events
      knoxhook events --service KDMS --json

    JSON: a list of {name, service, service_name, description, since}.
    """
    from knoxhook import events as catalogue

    fmt = context.output_format(json_output, output)
    rows = [e.to_json() for e in catalogue.by_service(service.value if service else None)]
    display.emit(rows, columns=COLUMNS, fmt=fmt, drop=NARROW_DROP)
