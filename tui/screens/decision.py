"""One adverse decision of the test split, from the `decisions` evidence the audit recorded: why the served model
decided so (its reasons, principal first, in log-odds against the reference row), which features were withheld
from the reasons and why (sensitive columns and their proxies), and the cheapest change over the actionable
features that would flip it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Footer, Header, Static

from tui.screens.base import MlgateScreen
from tui.text import literal, number, signed
from tui.widgets.decisions import changes_text, explained
from tui.widgets.generic import heading, note
from tui.widgets.tables import SortableTable


def outcome_line(section: Mapping[str, Any], decision: Mapping[str, Any]) -> str:
    adverse = section.get("adverse", "negative")
    side = "below" if adverse == "negative" else "at or above"
    return (f"test row {decision.get('test_row')} · score {number(decision.get('score'))} · adverse: the "
            f"{adverse} outcome (score {side} the threshold {number(section.get('threshold'))})")


def decision_widgets(section: Mapping[str, Any], decision: Mapping[str, Any]) -> list[Widget]:
    """The decision's reasons, withheld features and recourse, each as a table (or a sentence when none)."""
    reasons = [[str(r.get("rank")), literal(r.get("feature")), literal(r.get("value")),
                signed(r.get("contribution")), literal(r.get("text"))] for r in decision.get("reasons") or []]
    withheld = [[literal(w.get("feature")), literal(w.get("value")), str(w.get("would_rank")),
                 signed(w.get("contribution")), literal(w.get("why"))] for w in decision.get("withheld") or []]
    option = decision.get("recourse")
    widgets: list[Widget] = [heading("Reasons (principal first; each one's contribution to the score, in log-odds)")]
    widgets.append(SortableTable(["rank", "feature", "value", "contribution", "reason given"], reasons,
                                 id="decision-reasons", classes="evidence") if reasons
                   else note("no feature pushed the score towards this decision"))
    widgets.append(heading("Withheld from the reasons (never given to the person)"))
    widgets.append(SortableTable(["feature", "value", "would rank", "contribution", "why withheld"], withheld,
                                 id="decision-withheld", classes="evidence") if withheld
                   else note("none: no sensitive column or proxy was among this decision's reasons"))
    widgets.append(heading("Recourse (the cheapest change over the actionable features that flips it)"))
    if isinstance(option, Mapping):
        rows = [[literal(c.get("feature")), literal(c.get("from")), literal(c.get("to"))]
                for c in option.get("changes", [])]
        widgets.append(SortableTable(["feature", "from", "to"], rows, id="decision-recourse", classes="evidence"))
        widgets.append(note(f"cost {number(option.get('cost'))} · score after the change "
                            f"{number(option.get('score'))}"))
    else:
        recourse = section.get("recourse")
        why = recourse.get("error") if isinstance(recourse, Mapping) and "error" in recourse else None
        widgets.append(note(f"not searched: {why}" if why else
                            f"{changes_text(None, section)} within the actionable features and their bounds"))
    return widgets


class DecisionScreen(MlgateScreen):
    """One adverse decision of the test split: its reasons, the features withheld from them, and its recourse.
    n and p move to the next and previous decision."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="decision.back"),
        Binding("n", "step(1)", "Next decision", id="decision.next"),
        Binding("p", "step(-1)", "Previous decision", id="decision.previous"),
    ]

    def __init__(self, candidate: str, section: Mapping[str, Any], index: int) -> None:
        super().__init__()
        self.candidate, self.section = candidate, section
        self.decisions = explained(section)
        self.index = index

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="decision-summary", classes="crumb")
        yield VerticalScroll(id="decision-detail")
        yield Footer()

    async def on_mount(self) -> None:
        await self.show()
        self.query_one("#decision-detail", VerticalScroll).focus()

    async def show(self) -> None:
        decision = self.decisions[self.index]
        self.title = f"decision · {self.candidate} · test row {decision.get('test_row')}"
        self.query_one("#decision-summary", Static).update(Text.assemble(
            literal(f"{self.candidate} · decision {self.index + 1} of {len(self.decisions)} · "),
            literal(outcome_line(self.section, decision))))
        pane = self.query_one("#decision-detail", VerticalScroll)
        with self.app.batch_update():
            await pane.remove_children()  # the tables' ids are reused: the old ones go first
            await pane.mount_all(decision_widgets(self.section, decision))

    async def action_step(self, by: int) -> None:
        index = max(0, min(len(self.decisions) - 1, self.index + by))
        if index != self.index:
            self.index = index
            await self.show()
