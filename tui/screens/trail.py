"""The trail as a log: the newest events with a short summary each, filtered as you type; export from here."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static

from engine.audit.recent import recent_events
from engine.audit.trail import Event
from tui.screens.base import MlgateScreen
from tui.screens.event import EventScreen
from tui.text import literal, visible
from tui.widgets.tables import OpenableTable, SortableTable

LIMIT = 2000
SUMMARY_KEYS = ("candidate", "decision", "rule_id", "reviewer", "reason", "until", "verdict", "recommended", "format")


def summary(event: Event) -> str:
    data: dict[str, Any] = event.data
    parts = [f"{k}={visible(data[k])}" for k in SUMMARY_KEYS if data.get(k) is not None]
    if event.kind == "run_started":
        parts.insert(0, f"spec={visible(data.get('spec', {}).get('name'))}")
    return " · ".join(parts)


class TrailScreen(MlgateScreen):
    """The newest events of the trail."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="trail.back"),
        Binding("slash", "focus_filter", "Filter", id="trail.filter"),
        Binding("E", "app.export", "Export", id="trail.export"),
    ]
    FAILURE_PLACE = "trail-count"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter events: kind, run id, candidate, reviewer…", id="trail-filter")
        yield Static(Text("loading events…"), id="trail-count", classes="crumb")
        yield OpenableTable(["seq", "kind", "summary", "run", "time (UTC)"], priorities=(0, 0, 0, 2, 1), id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "audit trail"
        self.query_one("#events", SortableTable).focus()
        self.reload()

    def reload(self) -> None:
        path = self.audit_db
        self.load(self.show_events, lambda: recent_events(path, limit=LIMIT) if path.is_file() else [], group="trail")

    def show_events(self, found: list[Event]) -> None:
        self.events = found
        self.apply_filter()

    def apply_filter(self) -> None:
        words = self.query_one("#trail-filter", Input).value.casefold().split()
        rows, keys = [], []
        for e in self.events:
            line = [str(e.seq), e.kind, summary(e), e.run_id or "", e.recorded_at[:19].replace("T", " ")]
            if all(w in " ".join(line).casefold() for w in words):
                rows.append(line)
                keys.append(str(e.seq))
        self.query_one("#events", SortableTable).fill(rows, keys=keys)
        self.query_one("#trail-count", Static).update(literal(
            f"{len(rows)} of the newest {len(self.events)} events (at most {LIMIT}) · newest first · Enter opens one"))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        chosen = next((e for e in self.events if str(e.seq) == event.row_key.value), None)
        if chosen is not None:
            self.app.push_screen(EventScreen(chosen))

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.15, self.apply_filter)

    def action_focus_filter(self) -> None:
        self.query_one("#trail-filter", Input).focus()
