"""The evidence behind a rule, each section drawn by its own view, in one scroll pane of collapsible sections.

Which evidence a rule kind shows is part of its record in the rule-kind registry (`RuleKind.shows` in
`engine/policy/registry.py`); `view_for_kind` reads it there, so a new kind needs no line here. How each section
of evidence is drawn is this module's table:

- `SECTION_VIEWS`: evidence section -> the function that draws it (metrics with CIs and lift, slice tables with
  too-small groups marked, calibration with its reliability diagram, conformal coverage, explanations as bars,
  serving figures in ms, rows/s and bytes, ...). `tests/test_tui_review.py` fails for a section a kind shows
  that has no view here.
- `SHOWN_ALSO`: sections drawn after another one (the curves after the metrics they summarise).

A section no view draws is drawn generically (`tui.widgets.generic`: tables with units, never a tree). A rule kind
that is not in the registry shows the evidence keys its name shares, else all of them. Nothing here fails on
evidence it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from engine.policy.registry import RULE_KINDS
from tui.text import literal, number, status
from tui.widgets import sections
from tui.widgets.decisions import decisions_view
from tui.widgets.generic import generic, heading, note
from tui.widgets.performance import Context, View, curves_view, metrics_view, slices_view
from tui.widgets.task_views import TASK_VIEWS

__all__ = ["EVIDENCE_VIEWS", "SECTION_VIEWS", "Context", "heading", "note", "render_all", "render_key", "render_rule",
           "search_section"]

SECTION_VIEWS: dict[str, View] = {
    "metrics": metrics_view,
    "curves": curves_view,
    "slices": slices_view,
    "conformal": sections.conformal_view,
    "explanations": sections.explanations_view,
    "robustness": sections.robustness_view,
    "serving": sections.serving_view,
    "reproducibility": sections.reproducibility_view,
    "lineage": sections.lineage_view,
    "champion": sections.champion_view,
    "comparisons": sections.comparisons_view,
    # the data's certificate, its profile, the folds, the train/test gap with its learning curve, the test set's
    # exposure and the drift reference: tables of findings; the decisions explained, each openable
    "split_integrity": lambda value, ctx: generic(value),
    "data_quality": lambda value, ctx: generic(value),
    "cross_validation": lambda value, ctx: generic(value),
    "generalization": lambda value, ctx: generic(value),
    "exposure": lambda value, ctx: generic(value),
    "decisions": decisions_view,
    "drift_reference": lambda value, ctx: generic(value),
    # a regression's or multiclass candidate's own evidence, and calibration (binary, or multiclass top-label)
    **TASK_VIEWS,
}
# Every section a registered kind shows has a view: its own, else the generic one (a new kind's new section is
# drawn generically until it gets one; `tests/test_tui_review.py` lists which kinds still lack their own view).
EVIDENCE_VIEWS: dict[str, View] = {
    **SECTION_VIEWS,
    **{key: lambda value, ctx: generic(value) for kind in RULE_KINDS.values() for key in kind.shows
       if key not in SECTION_VIEWS},
}
SHOWN_ALSO: dict[str, tuple[str, ...]] = {"metrics": ("curves",)}
# Keys drawn inside another key's view (metrics shows intervals and the comparison with the baseline).
SHOWN_WITH: dict[str, str] = {"intervals": "metrics", "lift_over_baseline": "metrics"}
TITLES: dict[str, str] = {"metrics": "Metrics on held-out rows", "curves": "ROC and precision-recall curves",
                          "slices": "Groups (slices)", "error_analysis": "Where the errors are",
                          "not_applicable": "Not applicable to this task", "confusion_matrix": "Confusion matrix",
                          "per_class": "Per class"}


def view_for_kind(kind: str) -> tuple[str, ...]:
    """The evidence sections a rule kind's record says to show; () for a kind the registry does not know."""
    record = RULE_KINDS.get(kind)
    return record.shows if record is not None else ()


def keys_for_rule(kind: str, evidence: Mapping[str, Any]) -> list[str]:
    """The evidence keys behind a rule kind: those its registry record shows (the ones present, else all of them
    so the panel says which is missing), else keys sharing a word with it, else all."""
    shows = view_for_kind(kind)
    if shows:
        return [k for k in shows if k in evidence] or list(shows)
    words = set(kind.split("_"))
    shared = [k for k in evidence if k in words or kind in k or set(k.split("_")) & words]
    return shared or [k for k in evidence if k not in SHOWN_WITH]


def title_of(key: str) -> str:
    return TITLES.get(key, key.replace("_", " ").capitalize())


def render_key(key: str, ctx: Context) -> list[Widget]:
    """The widgets of one evidence section: its own view, or the generic one."""
    if key not in ctx.evidence:
        return [note(f"UNKNOWN: the evidence {key!r} was not computed for this candidate")]
    view = EVIDENCE_VIEWS.get(key)
    return view(ctx.evidence[key], ctx) if view is not None else generic(ctx.evidence[key])


def section(key: str, ctx: Context, *, collapsed: bool) -> Collapsible:
    """One evidence section as a collapsible block of the pane (Enter or a click opens and closes it)."""
    return Collapsible(*render_key(key, ctx), title=title_of(key), collapsed=collapsed,
                       classes=f"section section-{key}")


def outcome_lines(outcome: Mapping[str, Any], ctx: Context) -> list[Widget]:
    """A rule's outcome: its status, observed value against threshold, message, waiver and parameters."""
    line = Text.assemble(status(str(outcome.get("status", ""))), " ",
                         literal(f"{outcome.get('id')} · {outcome.get('kind')} · {outcome.get('severity')} · "
                                 f"policy {outcome.get('policy')}"))
    widgets: list[Widget] = [
        Static(line, classes="rule-title"),
        note(f"observed {number(outcome.get('observed'))} against threshold {number(outcome.get('threshold'))}"),
        note(str(outcome.get("message", ""))),
    ]
    waiver = outcome.get("waiver")
    if isinstance(waiver, Mapping):
        widgets.append(note(Text.assemble(status("waived"), literal(
            f" (recorded {outcome.get('recorded_status')}) by {waiver.get('reviewer')} until "
            f"{waiver.get('until') or 'no expiry'}: {waiver.get('reason')}"))))
    if ctx.params:
        shown = {k: v for k, v in ctx.params.items() if k not in ("id", "kind", "severity", "checklist")}
        widgets.append(note("rule: " + ", ".join(f"{k}={v}" for k, v in shown.items())))
    return widgets


def search_section(search: Mapping[str, Any]) -> Collapsible:
    """The recorded hyper-parameter search that chose a candidate's parameters (its description's `search`: best
    trial, score distribution, importances), drawn generically as tables, collapsed."""
    return Collapsible(*generic(dict(search)), title="Hyper-parameter search", collapsed=True,
                       classes="section section-search")


def render_rule(outcome: Mapping[str, Any], ctx: Context) -> list[Widget]:
    """A rule's outcome, then the evidence sections its kind shows, each open in its collapsible block."""
    widgets = outcome_lines(outcome, ctx)
    keys = keys_for_rule(str(outcome.get("kind", "")), ctx.evidence)
    also = [k for key in keys for k in SHOWN_ALSO.get(key, ()) if k in ctx.evidence and k not in keys]
    widgets.extend(section(key, ctx, collapsed=False) for key in [*keys, *also])
    return widgets


def render_all(ctx: Context) -> list[Widget]:
    """Every evidence section of a candidate, collapsed (their titles are the table of contents) but the metrics."""
    return [section(key, ctx, collapsed=key != "metrics") for key in ctx.evidence if key not in SHOWN_WITH]
