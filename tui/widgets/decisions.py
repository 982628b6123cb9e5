"""The `decisions` evidence: its findings as tables (`generic`), then the adverse decisions the audit kept whole
as one table whose Enter opens a decision's own screen (`tui.screens.decision`): its reasons, what was withheld
from them and why, and the recourse found."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widget import Widget

from tui.text import literal, number
from tui.widgets.generic import generic, heading, note
from tui.widgets.tables import OpenableTable

TABLE_ID = "decisions-explained"
NO_RECOURSE = "none found"


def explained(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The decisions the evidence kept whole (none in evidence recorded before they were kept)."""
    found = section.get("explained")
    return [d for d in found if isinstance(d, Mapping)] if isinstance(found, list) else []


def changes_text(option: Mapping[str, Any] | None, section: Mapping[str, Any]) -> str:
    """A recourse in words: `hours-per-week 40 → 52`, or why there is none."""
    if option is None:
        recourse = section.get("recourse")
        searched = not (isinstance(recourse, Mapping) and "error" in recourse)
        return NO_RECOURSE if searched else "not searched"
    return "; ".join(f"{c.get('feature')} {c.get('from')} → {c.get('to')}" for c in option.get("changes", []))


def decision_row(decision: Mapping[str, Any], section: Mapping[str, Any]) -> list[Text]:
    reasons: Sequence[Mapping[str, Any]] = decision.get("reasons") or []
    withheld: Sequence[Mapping[str, Any]] = decision.get("withheld") or []
    return [Text(str(decision.get("test_row"))), Text(number(decision.get("score"))),
            literal(reasons[0].get("text") or reasons[0].get("feature") if reasons else "—"),
            literal(", ".join(str(w.get("feature")) for w in withheld) or "—"),
            literal(changes_text(decision.get("recourse"), section))]


def decisions_view(value: Any, ctx: Any) -> list[Widget]:
    """The section's findings, then its adverse decisions one per row (Enter opens one)."""
    if not isinstance(value, Mapping):
        return generic(value)
    widgets = generic({k: v for k, v in value.items() if k != "explained"})
    kept = explained(value)
    if not kept:
        return widgets
    widgets.append(heading(f"Adverse decisions explained ({len(kept)} of {value.get('explained_rows', '?')}; "
                           "Enter opens one: its reasons, withheld features and recourse)"))
    table = OpenableTable(["test row", "score", "principal reason", "withheld", "recourse"],
                          priorities=(0, 1, 0, 2, 1), id=TABLE_ID, classes="evidence")
    table.fill([decision_row(d, value) for d in kept], keys=[str(i) for i in range(len(kept))])
    widgets.append(table)
    widgets.append(note("the reasons are contributions on the served artifact, in log-odds against the reference "
                        "row; withheld features are never given as a reason"))
    return widgets
