"""A candidate's checklist: the items of `engine.checklist.CHECKLIST` in order, each with its status and the
rules behind it, and the evidence behind the selected rule. Moving through the items is the review; waive and
sign off from here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Header, Static

from engine.checklist import CHECKLIST, item_status
from tui import reads
from tui.messages import WaiverChosen
from tui.refusals import waiver_refusal
from tui.screens.decision import DecisionScreen
from tui.screens.over_run import RunView
from tui.text import literal, number, status
from tui.widgets.decisions import TABLE_ID as DECISIONS_TABLE
from tui.widgets.evidence import Context, note, render_all, render_rule, search_section
from tui.widgets.tables import OpenableTable, SortableTable

RULE_PRIORITIES = (0, 0, 1, 1, 2)


def by_item(outcomes: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {item.id: [] for item in CHECKLIST}
    for outcome in outcomes:
        grouped.setdefault(str(outcome.get("checklist")), []).append(outcome)
    return grouped


class CandidateScreen(RunView):
    """Checklist items (left), the selected item's rules (top right), the selected rule's evidence (below)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="candidate.back"),
        Binding("tab", "app.focus_next", "Next pane", id="candidate.next"),
        Binding("w", "waive", "Waive rule", id="candidate.waive"),
        Binding("a", "approve", "Approve", id="candidate.approve"),
        Binding("x", "reject", "Reject", id="candidate.reject"),
        Binding("c", "card", "Model card", id="candidate.card"),
        Binding("e", "all_evidence", "All evidence", id="candidate.evidence"),
    ]
    FAILURE_PLACE = "candidate-summary"

    def __init__(self, run_id: str, candidate: str) -> None:
        super().__init__(run_id)
        self.candidate = candidate
        self.outcomes: dict[str, list[Mapping[str, Any]]] = {}
        self.shown: tuple[str, ...] | None = None
        self.rule_keys: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(literal(f"{self.candidate} · run {self.run_id} · loading…"), id="candidate-summary",
                     classes="crumb")
        with Horizontal(id="review"):
            yield OpenableTable(["checklist item", "status"], id="checklist")
            with Vertical(id="detail"):
                yield Static(id="item-ready-if", classes="evidence-note")
                yield SortableTable(["rule", "status", "observed", "threshold", "severity"], priorities=RULE_PRIORITIES,
                                    id="rules")
                yield VerticalScroll(id="evidence")
        yield Footer()

    def screen_title(self) -> str:
        return f"{self.candidate} · run {self.run_id}"

    def chosen(self) -> str | None:
        return self.candidate

    @property
    def current(self) -> reads.Candidate | None:
        return None if self.run is None else self.run.candidates.get(self.candidate)

    def show_run(self, run: reads.Run) -> None:
        c = self.current
        if c is None:
            self.query_one("#candidate-summary", Static).update(literal(f"run {self.run_id} has no {self.candidate}"))
            return
        v = c.view
        self.outcomes = by_item(v.outcomes)
        decision = v.decision
        summary = Text.assemble(
            literal(f"{v.name} ({v.family}) · run {self.run_id} · verdict "), status(v.verdict),
            literal(" · ★ recommended" if run.view.recommended == v.name else ""),
            literal(" · sign-off: "), status(decision["decision"]) if decision else Text("none", style="dim"),
            literal(f" by {decision['reviewer']}: {decision['reason']}" if decision else ""),
        )
        self.query_one("#candidate-summary", Static).update(summary)
        checklist = self.query_one("#checklist", SortableTable)
        row = checklist.cursor_row
        titles = {item.id: item.title for item in CHECKLIST}
        items = list(self.outcomes)
        checklist.fill([[literal(titles.get(i, i)), status(item_status(self.outcomes[i], v.fail_on))] for i in items],
                       keys=items)
        shown = self.shown  # read again (the trail changed): the reviewer stays on the evidence they were reading
        checklist.move_cursor(row=min(row, len(items) - 1))
        self.show_item(items[checklist.cursor_row])
        if shown is not None:
            self.show_evidence(shown)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        if key is None:
            return
        if event.data_table.id == "checklist":
            self.show_item(str(key))
        elif event.data_table.id == "rules" and str(key) in self.rule_keys:  # never a row of an earlier item
            self.show_evidence(("rule", str(key)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.data_table.id == "checklist":
            self.query_one("#rules", SortableTable).focus()
        elif event.data_table.id == DECISIONS_TABLE and self.current is not None and event.row_key.value:
            section = self.current.evidence.get("decisions") or {}
            self.app.push_screen(DecisionScreen(self.candidate, section, int(event.row_key.value)))

    def show_item(self, item_id: str) -> None:
        ready = {item.id: item for item in CHECKLIST}.get(item_id)
        text = f"ready only if {ready.ready_if}" if ready else f"checklist item {item_id}"
        outcomes = self.outcomes.get(item_id, [])
        if not outcomes:
            text += " · NOT COVERED: no rule of the policies serves this item"
        self.query_one("#item-ready-if", Static).update(literal(text))
        keys = [f"{o['policy']}/{o['id']}" for o in outcomes]
        self.rule_keys = keys
        self.query_one("#rules", SortableTable).fill(
            [[literal(o["id"]), status(str(o["status"])), Text(number(o.get("observed"))),
              Text(number(o.get("threshold"))), literal(o["severity"])] for o in outcomes], keys=keys)
        if keys:
            self.show_evidence(("rule", keys[0]))
        else:
            self.shown = None
            self.fill_pane([note(f"NOT COVERED: no rule of the policies serves {item_id}; no evidence is judged "
                                 "for it (press e for every evidence section)")])

    def outcome(self, key: str) -> Mapping[str, Any] | None:
        c = self.current
        return None if c is None else next((o for o in c.view.outcomes if f"{o['policy']}/{o['id']}" == key), None)

    def show_evidence(self, what: tuple[str, ...]) -> None:
        """Fill the evidence pane: ("rule", "policy/id") for one rule, ("all",) for every evidence key."""
        c, run = self.current, self.run
        if c is None or run is None:
            return
        self.shown = what
        if what[0] == "all":
            widgets = render_all(Context(c.evidence, run.view.optimizing_metric))
            if c.description.get("search"):
                widgets.append(search_section(c.description["search"]))
        else:
            outcome = self.outcome(what[1])
            if outcome is None:
                return
            params = run.rules.get((str(outcome["policy"]), str(outcome["id"])), {})
            widgets = render_rule(outcome, Context(c.evidence, run.view.optimizing_metric, params, outcome))
        if not c.evidence:
            widgets.append(Static(literal(f"no evidence recorded: {c.error or 'the candidate was not evaluated'}")))
        self.fill_pane(widgets)

    def fill_pane(self, widgets: list[Widget]) -> None:
        """Replace what the evidence pane shows, in one update (nothing of the previous rule stays)."""
        pane = self.query_one("#evidence", VerticalScroll)
        with self.app.batch_update():
            pane.remove_children()
            pane.mount_all(widgets)
        pane.scroll_home(animate=False)

    def selected_rule(self) -> Mapping[str, Any] | None:
        rules = self.query_one("#rules", SortableTable)
        if rules.row_count == 0:
            return None
        key = rules.coordinate_to_cell_key(rules.cursor_coordinate).row_key.value
        return None if key is None else self.outcome(str(key))

    def action_waive(self) -> None:
        outcome = self.selected_rule()
        if outcome is None:
            self.notify("select a rule first (Tab to the rules table)", severity="warning")
            return
        refused = waiver_refusal(outcome)
        if refused is not None:
            self.refuse(refused)
            return
        self.post_message(WaiverChosen(self.run_id, self.candidate, outcome))

    def action_all_evidence(self) -> None:
        self.show_evidence(("all",))
        self.query_one("#evidence", VerticalScroll).focus()
