"""Two candidates of a run side by side: each metric with its CI, each rule's outcome, each group gap, and the
difference, so a reviewer sees what changed; the champion's paired comparison when the run recorded one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Footer, Header, Static

from tui import reads
from tui.screens.over_run import RunView
from tui.text import interval, literal, number, signed, status
from tui.widgets.generic import heading, note
from tui.widgets.tables import SortableTable


def difference(a: Any, b: Any) -> str:
    return signed(float(b) - float(a)) if isinstance(a, int | float) and isinstance(b, int | float) else "—"


def metric_rows(a: reads.Candidate, b: reads.Candidate) -> list[list[Any]]:
    ea, eb = a.evidence, b.evidence
    ia, ib = ea.get("intervals", {}).get("metrics", {}), eb.get("intervals", {}).get("metrics", {})
    names = list(dict.fromkeys([*ea.get("metrics", {}), *eb.get("metrics", {})]))
    return [[m, number(ea.get("metrics", {}).get(m)), interval(ia.get(m)), number(eb.get("metrics", {}).get(m)),
             interval(ib.get(m)), difference(ea.get("metrics", {}).get(m), eb.get("metrics", {}).get(m))]
            for m in names]


def rule_rows(a: reads.Candidate, b: reads.Candidate) -> list[list[Any]]:
    def by_key(c: reads.Candidate) -> dict[str, Mapping[str, Any]]:
        return {f"{o['policy']}/{o['id']}": o for o in c.view.outcomes}
    oa, ob = by_key(a), by_key(b)
    rows = []
    for key in dict.fromkeys([*oa, *ob]):
        left, right = oa.get(key, {}), ob.get(key, {})
        changed = left.get("status") != right.get("status")
        rows.append([Text("≠", style="bold yellow") if changed else Text(""), key,
                     status(str(left.get("status", "—"))), number(left.get("observed")),
                     status(str(right.get("status", "—"))), number(right.get("observed"))])
    return rows


def gap_rows(a: reads.Candidate, b: reads.Candidate) -> list[list[Any]]:
    def gaps(c: reads.Candidate) -> dict[tuple[str, str], Any]:
        return {(str(g.get("name")), m): v for g in c.evidence.get("slices", []) if isinstance(g, Mapping)
                for m, v in (g.get("gaps") or {}).items()}
    ga, gb = gaps(a), gaps(b)
    return [[grouping, measure, number(ga.get((grouping, measure))), number(gb.get((grouping, measure))),
             difference(ga.get((grouping, measure)), gb.get((grouping, measure)))]
            for grouping, measure in dict.fromkeys([*ga, *gb])]


def champion_rows(c: reads.Candidate) -> list[list[Any]]:
    versus = c.evidence.get("comparisons", {}).get("champion")
    if not isinstance(versus, Mapping):
        return []
    return [[m, signed(r.get("lift")), interval(r.get("interval")), number(r.get("p_value"))]
            for m, r in versus.items() if isinstance(r, Mapping)]


class CompareScreen(RunView):
    """Candidate A against candidate B of one run."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="compare.back"),
    ]
    FAILURE_PLACE = "compare-summary"

    def __init__(self, run_id: str, left: str, right: str) -> None:
        super().__init__(run_id)
        self.left, self.right = left, right

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(literal(f"{self.left} against {self.right} · loading…"), id="compare-summary", classes="crumb")
        yield VerticalScroll(id="compare")
        yield Footer()

    def screen_title(self) -> str:
        return f"compare · run {self.run_id}"

    def show_run(self, run: reads.Run) -> None:
        a, b = run.candidates.get(self.left), run.candidates.get(self.right)
        if a is None or b is None:
            self.show_failure(f"run {self.run_id} has no candidate {self.left if a is None else self.right!r}")
            return
        self.query_one("#compare-summary", Static).update(Text.assemble(
            literal(f"A {a.view.name} ({a.view.family}) "), status(a.view.verdict),
            literal(f"  against  B {b.view.name} ({b.view.family}) "), status(b.view.verdict),
            literal(f" · run {self.run_id} · Δ = B − A")))
        widgets: list[Widget] = [
            heading(f"Metrics on held-out rows (★ {run.view.optimizing_metric})"),
            SortableTable(["metric", "A", "A CI", "B", "B CI", "Δ"], metric_rows(a, b), classes="evidence"),
            heading("Rule outcomes (≠ where they differ)"),
            SortableTable(["", "rule", "A", "A observed", "B", "B observed"], rule_rows(a, b),
                          classes="evidence"),
            heading("Group gaps (fairness measures per grouping)"),
            SortableTable(["grouping", "measure", "A", "B", "Δ"], gap_rows(a, b), classes="evidence"),
        ]
        for c in (a, b):
            rows = champion_rows(c)
            widgets.append(heading(f"{c.view.name} against the champion"))
            widgets.append(SortableTable(["metric", "lift", "CI", "p"], rows, classes="evidence") if rows
                           else note("no champion comparison recorded (no champion was promoted before this run)"))
        pane = self.query_one("#compare", VerticalScroll)
        with self.app.batch_update():
            pane.remove_children()
            pane.mount_all(widgets)
