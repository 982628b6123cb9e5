"""The first screen: the runs of the trail, newest first, a page at a time (keyset pages read from the runs
index: `]` older, `[` newer), or every run filtered as you type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static

from tui import reads
from tui.messages import RunChosen
from tui.screens.base import MlgateScreen
from tui.text import literal, status, visible
from tui.widgets.tables import OpenableTable, SortableTable

SHOWN = 200  # rows drawn at once (a page): a table of 10,000 rows redraws too slowly to filter as you type
# Each column with its priority: 0 always shown, higher dropped first when the terminal is narrow.
COLUMNS = (("spec", 0), ("verdict", 0), ("decision", 1), ("run id", 2), ("policies", 3), ("recommended", 3),
           ("time (UTC)", 4), ("complete", 4), ("candidates", 5), ("reviewers", 5), ("data", 6))
HEADERS = tuple(name for name, _ in COLUMNS)


def decision_text(decided: dict[str, str] | None) -> Text:
    """The run's sign-offs as words: `approve logistic`, `reject mlp`; `none` when nobody decided."""
    if not decided:
        return Text("none", style="dim")
    text = Text()
    for index, (candidate, decision) in enumerate(sorted(decided.items())):
        text.append_text(Text.assemble(("; " if index else ""), status(decision), " ", literal(candidate)))
    return text


def row_of(run: dict[str, Any], decided: dict[str, str] | None = None) -> list[Text]:
    reviewers = run.get("reviewers") or []
    return [
        literal(run["name"]), status(str(run["verdict"])), decision_text(decided), Text(str(run["run_id"])),
        literal(", ".join(run.get("policies") or []) or "—"), literal(run.get("recommended") or "—"),
        Text(str(run["started_at"])[:19].replace("T", " ")),
        Text("yes") if run["complete"] else Text("NO", style="yellow"),
        Text(str(len(run.get("candidates", [])))), literal(", ".join(reviewers) or "—"),
        Text(str(run.get("data_sha256") or "")[:12]),
    ]


def matches(run: dict[str, Any], words: list[str]) -> bool:
    haystack = " ".join(visible(v) for v in (run["run_id"], run["started_at"], run["name"], run.get("data_sha256"),
                                             run["verdict"], run.get("recommended"), *run.get("candidates", []),
                                             *run.get("reviewers", []), *run.get("policies", []))).casefold()
    return all(word in haystack for word in words)


@dataclass
class Page:
    """The page shown: its runs, the run they start before (None: the newest), how many runs the trail holds."""

    runs: list[dict[str, Any]]
    before: str | None
    total: int


class RunsScreen(MlgateScreen):
    """The runs of the trail; Enter opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_run", "Open run", id="runs.open", priority=False),
        Binding("slash", "focus_filter", "Filter", id="runs.filter"),
        Binding("right_square_bracket", "older", "Older runs", id="runs.older", show=False),  # said in the count
        Binding("left_square_bracket", "newer", "Newer runs", id="runs.newer", show=False),
        Binding("escape", "clear_filter", "Clear filter", id="runs.clear", show=False),
    ]
    FAILURE_PLACE = "runs-count"

    def __init__(self) -> None:
        super().__init__()
        self.page = Page([], None, 0)
        self.cursors: list[str | None] = [None]  # the `before` of each page from the newest to the one shown
        self.everything: list[dict[str, Any]] | None = None  # every run, read once a filter is typed
        self.complete = False
        self.decided: dict[str, dict[str, str]] = {}
        self.decisions_read = False
        self._debounce: Timer | None = None

    @property
    def runs(self) -> list[dict[str, Any]]:
        """The runs the table draws from: every run while a filter is typed, else the page."""
        return self.everything if self.filtering() and self.everything is not None else self.page.runs

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="type to filter runs (spec, candidate, verdict, reviewer, run id…)", id="runs-filter")
        yield Static(Text("loading runs…"), id="runs-count", classes="crumb")
        yield OpenableTable(HEADERS, priorities=[p for _, p in COLUMNS], id="runs-table")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "runs"
        self.query_one("#runs-table", SortableTable).focus()
        self.reload()

    def reload(self) -> None:
        """The page shown read again from the index (and every run, when a filter is typed)."""
        path, before = self.audit_db, self.cursors[-1]
        self.everything = None
        self.load(self.show_page, lambda: Page(reads.runs_page(path, SHOWN, before), before, reads.count_runs(path)),
                  group="runs")
        if self.filtering():
            self.load_everything()

    def load_everything(self) -> None:
        path = self.audit_db
        self.load(self.show_everything, lambda: reads.list_runs(path), group="everything")

    def show_page(self, page: Page) -> None:
        self.page, self.complete = page, True
        self.apply_filter()
        path, shown = self.audit_db, [run["run_id"] for run in page.runs]
        self.load(self.show_decisions, lambda: reads.decisions(path, shown), group="decisions")

    def show_everything(self, found: list[dict[str, Any]]) -> None:
        self.everything = found
        self.apply_filter()
        path, shown = self.audit_db, [run["run_id"] for run in found[:SHOWN * 5]]
        self.load(self.show_decisions, lambda: reads.decisions(path, shown), group="decisions")

    def show_decisions(self, found: dict[str, dict[str, str]]) -> None:
        self.decided, self.decisions_read = {**self.decided, **found}, True
        if self.runs:
            self.apply_filter()

    def filtering(self) -> bool:
        return bool(self.query_one("#runs-filter", Input).value.split())

    def action_older(self) -> None:
        """]: the page of runs started before the last one shown."""
        if self.page.runs and len(self.page.runs) == SHOWN and not self.filtering():
            self.cursors.append(str(self.page.runs[-1]["run_id"]))
            self.reload()

    def action_newer(self) -> None:
        """[: back to the page of newer runs."""
        if len(self.cursors) > 1 and not self.filtering():
            self.cursors.pop()
            self.reload()

    def apply_filter(self) -> None:
        words = self.query_one("#runs-filter", Input).value.casefold().split()
        if words and self.everything is None:
            self.load_everything()
        found = [run for run in self.runs if matches(run, words)] if words else self.runs
        shown = found[:SHOWN]
        table = self.query_one("#runs-table", SortableTable)
        selected = self.selected_run()
        table.fill([row_of(run, self.decided.get(run["run_id"])) for run in shown],
                   keys=[run["run_id"] for run in shown])
        if selected is not None and selected in {run["run_id"] for run in shown}:
            table.move_cursor(row=table.get_row_index(selected))
        self.query_one("#runs-count", Static).update(literal(
            f"{self.counted(words, len(found))} · newest first · / filters · : jumps to a run · Enter opens it"))

    def counted(self, words: list[str], found: int) -> str:
        """What the table holds, of how many runs."""
        if words:
            if self.everything is None:
                return "filtering every run…"
            total = f"{found} of {len(self.everything)} runs"
            return total + (f" (the newest {SHOWN} shown: type more to narrow)" if found > SHOWN else "")
        if not self.complete:
            return "loading runs…"
        if self.page.total <= SHOWN and len(self.cursors) == 1:
            return f"{self.page.total} runs"
        first = (len(self.cursors) - 1) * SHOWN + 1
        return (f"runs {first:,}–{first + len(self.page.runs) - 1:,} of {self.page.total:,} · ] older · [ newer")

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(0.15, self.apply_filter)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#runs-table", SortableTable).focus()

    def key_down(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one("#runs-table", SortableTable).focus()

    def selected_run(self) -> str | None:
        table = self.query_one("#runs-table", SortableTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        run_id = self.selected_run()
        if run_id is not None:
            self.post_message(RunChosen(run_id))

    def action_focus_filter(self) -> None:
        self.query_one("#runs-filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#runs-filter", Input).value = ""
        self.query_one("#runs-table", SortableTable).focus()
