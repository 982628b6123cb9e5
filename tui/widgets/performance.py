"""The views of the performance evidence: metrics with their CIs and lift, the ROC and precision-recall curves
as charts, the slice tables (too-small groups marked, fairness gaps with their CIs) and calibration with its
reliability diagram. Counts are whole numbers; every table grows to its rows (the evidence pane scrolls as one).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from engine.policy.groups import grouping_name
from tui.text import NONE, interval, number, signed
from tui.units import quantity
from tui.widgets.charts import bars, curve, reliability
from tui.widgets.generic import generic, heading, note
from tui.widgets.tables import SortableTable


@dataclass(frozen=True)
class Context:
    """What a view may need besides its evidence: the whole evidence, the rule's parameters, the outcome."""

    evidence: Mapping[str, Any]
    optimizing_metric: str
    params: Mapping[str, Any] = field(default_factory=dict)
    outcome: Mapping[str, Any] | None = None

    @property
    def kind(self) -> str:
        return str((self.outcome or {}).get("kind", ""))


View = Callable[[Any, Context], list[Widget]]


def metrics_view(metrics: Any, ctx: Context) -> list[Widget]:
    """Each metric with its CI, and its lift over the baseline with the CI and p-value of the paired comparison."""
    if not isinstance(metrics, Mapping):
        return generic(metrics)
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


def slice_metric(ctx: Context) -> str:
    metric = ctx.params.get("metric")
    measure = str(ctx.params.get("measure", ""))
    by_measure = next((m for prefix, m in FAIRNESS_GROUP_METRIC.items() if measure.startswith(prefix)), None)
    return str(metric) if metric else by_measure or ctx.optimizing_metric


def wanted_grouping(ctx: Context) -> str | None:
    by = ctx.params.get("by")
    if by is None:
        return None
    return grouping_name(by) if isinstance(by, list) else str(by)


def slices_view(slices: Any, ctx: Context) -> list[Widget]:
    """One table per grouping (the rule's own when it names one): each group's support, metric and CI, with the
    groups too small to judge marked; then the grouping's fairness gaps with their CIs."""
    if not isinstance(slices, list):
        return generic(slices)
    metric = slice_metric(ctx)
    wanted = wanted_grouping(ctx)
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
            rows.append([group.get("group"), quantity("support", group.get("support")),
                         quantity("positives", group.get("positives")),
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
        return generic(calibration)
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
            [[f"{number(b.get('lower'), 3)}–{number(b.get('upper'), 3)}", quantity("count", b.get("count")),
              number(b.get("mean_predicted")), number(b.get("fraction_positive")),
              signed(None if b.get("mean_predicted") is None or b.get("fraction_positive") is None
                     else float(b["fraction_positive"]) - float(b["mean_predicted"]))]
             for b in diagram if isinstance(b, Mapping)],
            classes="evidence"))
    by_group = calibration.get("ece_by_group")
    if isinstance(by_group, Mapping):
        wanted = wanted_grouping(ctx)
        for grouping, groups in by_group.items():
            if (wanted is not None and grouping != wanted) or not isinstance(groups, Mapping):
                continue
            widgets.append(heading(f"ECE by {grouping}"))
            widgets.append(Static(bars([(str(g), None if v is None else float(v)) for g, v in groups.items()]),
                                  classes="chart"))
    return widgets or generic(calibration)


CURVES = {"roc": ("fpr", "tpr", "false positive rate", "true positive rate", True),
          "pr": ("recall", "precision", "recall", "precision", False)}
CURVE_OF_METRIC = {"roc_auc": "roc", "pr_auc": "pr"}


def curves_view(curves: Any, ctx: Context) -> list[Widget]:
    """The ROC and precision-recall curves as charts (the one the rule's metric summarises first)."""
    if not isinstance(curves, Mapping):
        return generic(curves)
    first = CURVE_OF_METRIC.get(str(ctx.params.get("metric", ctx.optimizing_metric)), "roc")
    widgets: list[Widget] = []
    for name in sorted(curves, key=lambda n: n != first):
        points, spec = curves[name], CURVES.get(name)
        if spec is None or not isinstance(points, Mapping):
            widgets.extend([heading(f"curve {name}"), *generic(points)])
            continue
        x_key, y_key, x_label, y_label, diagonal = spec
        xs, ys = points.get(x_key) or [], points.get(y_key) or []
        area = ctx.evidence.get("metrics", {}).get(f"{name}_auc")
        widgets.append(heading(f"{name.upper()} curve · area {number(area)} · {len(xs)} points"))
        widgets.append(Static(curve(xs, ys, x_label=x_label, y_label=y_label, diagonal=diagonal), classes="chart"))
    return widgets
