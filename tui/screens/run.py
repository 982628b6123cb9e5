"""One run: its candidates as a leaderboard (metric with CI, lift over baseline, verdict, rule counts)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Static

from engine.leaderboard import Leaderboard, Row, from_view
from tui import reads
from tui.messages import CandidateChosen, CompareChosen
from tui.screens.over_run import RunView
from tui.text import interval, literal, number, signed, status
from tui.widgets.tables import OpenableTable, SortableTable

COUNTED = ("pass", "fail", "unknown", "waived")


def leaderboard(run: reads.Run) -> Leaderboard:
    """The run's leaderboard model (engine.leaderboard), the one the CLI and the CI reports show too."""
    return from_view(run.view, evidence={n: c.evidence for n, c in run.candidates.items()},
                     errors={n: c.error for n, c in run.candidates.items()})


def leaderboard_row(row: Row) -> list[Text]:
    counts = (row.counts.passed, row.counts.failed, row.counts.unknown, row.counts.waived)
    return [
        Text(row.marker, style="bold yellow"),
        literal(row.name), literal(row.family + (" (baseline)" if row.is_baseline else "")),
        Text(number(row.value)), Text(interval(row.interval)),
        Text("—" if row.is_baseline else signed(row.lift)),
        status("error" if row.error else row.verdict),
        *(Text(str(n)) for n in counts),
        status(row.signoff) if row.signoff else Text("—", style="dim"),
    ]


def leaderboard_headers(metric: str) -> list[str]:
    return ["", "candidate", "family", metric, "CI", "lift", "verdict", *COUNTED, "sign-off"]


# Each leaderboard column's priority (0 always shown; higher dropped first on a narrow terminal).
PRIORITIES = (0, 0, 5, 1, 3, 2, 0, 3, 2, 4, 4, 1)


class RunScreen(RunView):
    """The leaderboard of one run; Enter opens a candidate's checklist."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="run.back"),
        Binding("enter", "open_candidate", "Checklist", id="run.open"),
        Binding("c", "card", "Model card", id="run.card"),
        Binding("a", "approve", "Approve", id="run.approve"),
        Binding("x", "reject", "Reject", id="run.reject"),
        Binding("m", "mark", "Mark", id="run.mark"),
        Binding("v", "compare", "Compare", id="run.compare"),
    ]
    FAILURE_PLACE = "run-summary"

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.marked: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(literal(f"run {self.run_id} · loading…"), id="run-summary", classes="crumb")
        yield OpenableTable(leaderboard_headers("metric"), priorities=PRIORITIES, id="leaderboard")
        yield Static(id="run-notes", classes="evidence-note")
        yield Footer()

    def show_run(self, run: reads.Run) -> None:
        v = run.view
        table = self.query_one("#leaderboard", SortableTable)
        selected = self.selected()
        if table.header_text(3) != v.optimizing_metric:
            table.set_headers(leaderboard_headers(v.optimizing_metric), priorities=PRIORITIES)
        board = leaderboard(run)
        names = [row.name for row in board.rows]
        table.fill([leaderboard_row(row) for row in board.rows], keys=names)
        if selected in names:
            table.move_cursor(row=names.index(selected))
        summary = Text.assemble(literal(f"run {v.run_id} · {v.name} · started {v.started_at[:19]} · verdict "),
                                status(v.verdict),
                                literal(f" · recommended: {v.recommended + ' (★)' if v.recommended else 'none'} · "
                                        f"{'complete' if v.complete else 'INCOMPLETE: it never finished'}"))
        self.query_one("#run-summary", Static).update(summary)
        errors = [f"ERROR {n}: {c.error}" for n, c in run.candidates.items() if c.error]
        notes = ["the baseline is the reference every candidate must beat; it is never recommended", *errors]
        self.query_one("#run-notes", Static).update(literal("\n".join(notes)))

    def chosen(self) -> str | None:
        return self.selected()

    def selected(self) -> str | None:
        table = self.query_one("#leaderboard", SortableTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return None if key is None else str(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_candidate()

    def action_open_candidate(self) -> None:
        name = self.selected()
        if name is not None:
            self.post_message(CandidateChosen(self.run_id, name))

    def action_mark(self) -> None:
        """Mark the selected candidate: `v` on another compares the two."""
        self.marked = self.selected()
        self.notify(f"marked {self.marked}: select another and press v to compare", title="compare")

    def action_compare(self) -> None:
        """The marked candidate (else the recommended one, else the baseline, else the next) against the selected."""
        name = self.selected()
        if name is None or self.run is None:
            return
        view = self.run.view
        baseline = next((c.name for c in view.candidates if c.standing().is_baseline), None)
        others = [c.name for c in view.candidates]
        other = next((n for n in (self.marked, view.recommended, baseline, *others) if n and n != name), None)
        if other is None:
            self.notify("mark a candidate with m first", severity="warning")
            return
        self.post_message(CompareChosen(self.run_id, other, name))
