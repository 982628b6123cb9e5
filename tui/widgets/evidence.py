"""The evidence behind a rule, each kind of evidence drawn by the view that fits it.

Which evidence a rule kind shows is part of its record in the rule-kind registry (`RuleKind.shows` in
`engine/policy/registry.py`); `view_for_kind` reads it there, so a new kind needs no line here. How each section
of evidence is drawn is this module's table:

- `EVIDENCE_VIEWS`: evidence key -> the function that draws it (metrics with CIs and lift, slice tables with
  too-small groups marked, calibration with its reliability diagram, ...); the other sections the registry
  names (conformal, explanations, serving, ...) are drawn generically under their name.

Generic drawing: a list of records as a sortable table, a flat object as a key/value table, anything deeper as a
tree. A rule kind that is not in the registry shows the evidence keys its name shares, else all of them. Nothing
here fails on evidence it does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static, Tree

from engine.policy.groups import grouping_name
from engine.policy.registry import RULE_KINDS
from tui.text import NONE, interval, literal, number, signed, status
from tui.widgets.charts import bars, reliability
from tui.widgets.tables import SortableTable

SCALAR = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Context:
    """What a view may need besides its evidence: the whole evidence, the rule's parameters, the outcome."""

    evidence: Mapping[str, Any]
    optimizing_metric: str
    params: Mapping[str, Any] = field(default_factory=dict)
    outcome: Mapping[str, Any] | None = None


View = Callable[[Any, Context], list[Widget]]


def heading(text: str) -> Static:
    return Static(Text(text, style="bold"), classes="evidence-heading")


def note(text: str | Text) -> Static:
    return Static(text if isinstance(text, Text) else literal(text), classes="evidence-note")


def metrics_view(metrics: Any, ctx: Context) -> list[Widget]:
    """Each metric with its CI, and its lift over the baseline with the CI and p-value of the paired comparison."""
    if not isinstance(metrics, Mapping):
        return generic(metrics, ctx)
    intervals = ctx.evidence.get("intervals", {}).get("metrics", {})
    lifts = ctx.evidence.get("comparisons", {}).get("baseline", {})
    rows = []
    for name, value in metrics.items():
        lift = lifts.get(name, {}) if isinstance(lifts, Mapping) else {}
        marker = "★ " if name == ctx.optimizing_metric else ""
        rows.append([f"{marker}{name}", number(value), interval(intervals.get(name)), signed(lift.get("lift")),
                     interval(lift.get("interval")), number(lift.get("p_value"), 6)])
    confidence = ctx.evidence.get("intervals", {}).get("confidence")
    label = f"{confidence:.0%} CI" if isinstance(confidence, float) else "CI"
    baseline = ctx.evidence.get("baseline")
    widgets: list[Widget] = [
        heading("Metrics on held-out rows" + (f" · lift over the baseline ({baseline!s})" if baseline else "")),
        SortableTable(["metric", "value", label, "lift", "lift CI", "p (one-sided)"], rows, classes="evidence"),
    ]
    method = ctx.evidence.get("intervals", {}).get("method")
    if method:
        widgets.append(note(f"intervals: {method}"))
    return widgets


# The per-group rate behind each fairness measure, shown in the slice table of a fairness rule.
FAIRNESS_GROUP_METRIC = {"demographic_parity": "selection_rate", "equal_opportunity": "tpr",
                         "equalized_odds": "tpr", "predictive_parity": "ppv"}


def _slice_metric(ctx: Context) -> str:
    metric = ctx.params.get("metric")
    measure = str(ctx.params.get("measure", ""))
    by_measure = next((m for prefix, m in FAIRNESS_GROUP_METRIC.items() if measure.startswith(prefix)), None)
    return str(metric) if metric else by_measure or ctx.optimizing_metric


def _wanted_grouping(ctx: Context) -> str | None:
    by = ctx.params.get("by")
    if by is None:
        return None
    return grouping_name(by) if isinstance(by, list) else str(by)


def slices_view(slices: Any, ctx: Context) -> list[Widget]:
    """One table per grouping (the rule's own when it names one): each group's support, metric and CI, with the
    groups too small to judge marked; then the grouping's fairness gaps with their CIs."""
    if not isinstance(slices, list):
        return generic(slices, ctx)
    metric = _slice_metric(ctx)
    wanted = _wanted_grouping(ctx)
    overall = ctx.evidence.get("metrics", {}).get(metric, ctx.evidence.get("rates", {}).get(metric))
    widgets: list[Widget] = [note(f"{metric} by group; overall {number(overall)}. Groups under the minimum "
                                  "support are marked TOO SMALL and not judged.")]
    for grouping in slices:
        if not isinstance(grouping, Mapping):
            continue
        name = str(grouping.get("name", ""))
        if wanted is not None and name != wanted:
            continue
        rows = []
        for group in grouping.get("groups", []):
            metrics, intervals = group.get("metrics", {}), group.get("intervals", {})
            value = metrics.get(metric)
            gap = None if value is None or overall is None else float(value) - float(overall)
            rows.append([group.get("group"), number(group.get("support")), number(group.get("positives")),
                         number(value), interval(intervals.get(metric)), signed(gap),
                         Text("TOO SMALL", style="yellow") if group.get("too_small") else Text("judged")])
        widgets.append(heading(f"{name} · {grouping.get('groups_judged', NONE)} groups judged "
                               f"(minimum support {grouping.get('min_support', NONE)})"))
        widgets.append(SortableTable(["group", "support", "positives", metric, "CI", "vs overall", "judged"],
                                     rows, classes="evidence"))
        gaps, gap_intervals = grouping.get("gaps", {}), grouping.get("gap_intervals", {})
        if gaps:
            widgets.append(SortableTable(
                ["fairness measure", "value", "CI"],
                [[measure, number(value), interval(gap_intervals.get(measure))] for measure, value in gaps.items()],
                classes="evidence"))
    if len(widgets) == 1:
        widgets.append(note(f"no grouping {wanted!s} in the evidence"))
    return widgets


def calibration_view(calibration: Any, ctx: Context) -> list[Widget]:
    """Per binning strategy: ECE, MCE and Brier, the reliability diagram and its bins; then ECE by group."""
    if not isinstance(calibration, Mapping):
        return generic(calibration, ctx)
    widgets: list[Widget] = []
    first = str(ctx.params.get("strategy", "uniform"))  # the binning the rule judged comes first
    for strategy, result in sorted(calibration.items(), key=lambda item: item[0] != first):
        if strategy == "ece_by_group" or not isinstance(result, Mapping) or "diagram" not in result:
            continue
        widgets.append(heading(f"Reliability ({strategy} bins): ECE {number(result.get('ece'))} · "
                               f"MCE {number(result.get('mce'))} · Brier {number(result.get('brier'))}"))
        diagram = result.get("diagram", [])
        widgets.append(Static(reliability(diagram), classes="chart"))
        widgets.append(SortableTable(
            ["bin", "rows", "mean predicted", "observed", "gap"],
            [[f"{number(b.get('lower'), 3)}–{number(b.get('upper'), 3)}", number(b.get("count")),
              number(b.get("mean_predicted")), number(b.get("fraction_positive")),
              signed(None if b.get("mean_predicted") is None or b.get("fraction_positive") is None
                     else float(b["fraction_positive"]) - float(b["mean_predicted"]))]
             for b in diagram if isinstance(b, Mapping)],
            classes="evidence"))
    by_group = calibration.get("ece_by_group")
    if isinstance(by_group, Mapping):
        wanted = _wanted_grouping(ctx)
        for grouping, groups in by_group.items():
            if (wanted is not None and grouping != wanted) or not isinstance(groups, Mapping):
                continue
            widgets.append(heading(f"ECE by {grouping}"))
            widgets.append(Static(bars([(str(g), None if v is None else float(v)) for g, v in groups.items()]),
                                  classes="chart"))
    return widgets or generic(calibration, ctx)


def _records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _flat(value: Any) -> bool:
    return isinstance(value, Mapping) and all(isinstance(v, SCALAR) for v in value.values())


def generic(value: Any, ctx: Context) -> list[Widget]:
    """Any evidence: records as a table, a flat object as key/value rows, anything else as a tree."""
    if _records(value) and all(isinstance(v, SCALAR) for row in value for v in row.values()):
        columns = list(dict.fromkeys(k for row in value for k in row))
        return [SortableTable(columns, [[number(row.get(c)) for c in columns] for row in value], classes="evidence")]
    if _flat(value):
        return [SortableTable(["key", "value"], [[k, number(v)] for k, v in value.items()], classes="evidence")]
    if isinstance(value, SCALAR):
        return [note(number(value))]
    tree: Tree[None] = Tree(Text("evidence"), classes="evidence-tree")
    tree.show_root = False
    _grow(tree.root, value)
    tree.root.expand_all()
    return [tree]


def _grow(node: Any, value: Any) -> None:
    items: Sequence[tuple[Any, Any]] = (
        list(value.items()) if isinstance(value, Mapping) else list(enumerate(value)) if isinstance(value, list) else []
    )
    for key, child in items:
        if isinstance(child, SCALAR):
            node.add_leaf(literal(f"{key}: {number(child)}"))
        else:
            _grow(node.add(literal(str(key))), child)


def titled(key: str) -> View:
    """The generic view of a section under its name (a section the registry names but no view here draws)."""
    def view(value: Any, ctx: Context) -> list[Widget]:
        return [heading(key), *generic(value, ctx)]
    return view


DRAWN: dict[str, View] = {
    "metrics": metrics_view,
    "slices": slices_view,
    "calibration": calibration_view,
}
EVIDENCE_VIEWS: dict[str, View] = {
    **DRAWN,
    **{key: titled(key) for kind in RULE_KINDS.values() for key in kind.shows if key not in DRAWN},
}
# Keys drawn inside another key's view (metrics shows intervals and the comparison with the baseline).
SHOWN_WITH: dict[str, str] = {"intervals": "metrics", "comparisons": "metrics", "lift_over_baseline": "metrics"}
# The registry's choice for each kind, as a table when imported (`view_for_kind` reads the registry each time).
RULE_EVIDENCE: dict[str, tuple[str, ...]] = {name: kind.shows for name, kind in RULE_KINDS.items()}


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


def render_key(key: str, ctx: Context) -> list[Widget]:
    """The widgets of one evidence key: its own view, or the generic one."""
    if key not in ctx.evidence:
        return [heading(key), note(f"UNKNOWN: the evidence {key!r} was not computed for this candidate")]
    view = EVIDENCE_VIEWS.get(key)
    if view is not None:
        return view(ctx.evidence[key], ctx)
    return [heading(key), *generic(ctx.evidence[key], ctx)]


def render_rule(outcome: Mapping[str, Any], ctx: Context) -> list[Widget]:
    """A rule's outcome (observed value against threshold, message, waiver), then the evidence behind it."""
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
    for key in keys_for_rule(str(outcome.get("kind", "")), ctx.evidence):
        widgets.extend(render_key(key, ctx))
    return widgets


def render_all(ctx: Context) -> list[Widget]:
    """Every evidence key of a candidate, each in its view."""
    widgets: list[Widget] = []
    for key in ctx.evidence:
        if key not in SHOWN_WITH:
            widgets.extend(render_key(key, ctx))
    return widgets
