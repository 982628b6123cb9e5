"""One event of the trail in full: its body as recorded (canonical JSON, indented), its hash and the hash of
the event before it, which is what chains them (`mlgate verify` recomputes both)."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from engine.audit.trail import Event
from tui.screens.base import MlgateScreen
from tui.text import literal


def event_text(event: Event) -> Text:
    """The event as a reviewer reads it: where it sits in the chain, then its body."""
    body = json.dumps(event.data, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return Text.assemble(
        ("sequence ", "bold"), str(event.seq), ("  kind ", "bold"), literal(event.kind),
        ("  run ", "bold"), literal(event.run_id or "—"), ("  recorded ", "bold"), literal(event.recorded_at), "\n",
        ("hash          ", "bold"), event.hash, "\n",
        ("previous hash ", "bold"), event.prev_hash,
        f"  (the hash of event {event.seq - 1})\n\n" if event.seq > 1 else "  (the chain's start)\n\n",
        Text("\n").join(literal(line) for line in body.splitlines()))  # each line made safe, the lines kept


class EventScreen(MlgateScreen):
    """The body, hash and link of one trail event."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="event.back"),
    ]

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="event-scroll"):
            yield Static(event_text(self.event), id="event-body")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"event {self.event.seq} · {self.event.kind}"
        self.query_one("#event-scroll", VerticalScroll).focus()
