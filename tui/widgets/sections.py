"""The views of the evidence beyond performance: conformal sets, explanations, robustness, serving,
reproducibility, lineage and the champion. Each turns its section's JSON into headed tables and charts with
units (`tui.units`), the part a rule is about first (`parts` of the section a rule kind judges, e.g. the
latency of `serving`), the other parts after it, collapsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.widget import Widget
from textual.widgets import Collapsible, Static

from tui.text import NONE, interval, number, signed
from tui.units import quantity
from tui.widgets.charts import bars
from tui.widgets.generic import generic, heading, key_values, note, record_table, records
from tui.widgets.performance import Context
from tui.widgets.tables import SortableTable

# The part of a section each rule kind judges: shown first and open, the others collapsed below it.
PARTS_OF_KIND: dict[str, tuple[str, ...]] = {
    "onnx_parity": ("skew",),
    "latency": ("latency",),
    "throughput": ("throughput",),
    "model_size": ("size", "memory"),
    "feature_availability": ("features",),
    "artifacts_packaged": ("artifact",),
}


def failed(value: Any) -> list[Widget] | None:
    """A section stored as `{"error": ...}` (it could not be computed): said so, its rules are unknown."""
    if isinstance(value, Mapping) and set(value) == {"error"}:
        return [note(f"NOT COMPUTED: {value['error']}")]
    return None


def parts_view(value: Any, ctx: Context, *, title: str) -> list[Widget]:
    """A section of named parts, each a collapsible table; the rule's own parts first and open."""
    if not isinstance(value, Mapping):
        return generic(value)
    wanted = PARTS_OF_KIND.get(ctx.kind, ())
    nested = [k for k in value if isinstance(value[k], Mapping)]
    flat = [(k, v) for k, v in value.items() if k not in nested]
    order = sorted(nested, key=lambda k: (k not in wanted, nested.index(k)))
    widgets: list[Widget] = []
    for part in order:
        collapsed = bool(wanted) and part not in wanted
        widgets.append(Collapsible(*generic(value[part]), title=f"{title} · {part}", collapsed=collapsed,
                                   classes="part"))
    if flat:
        widgets.append(key_values(flat))
    return widgets


def serving_view(serving: Any, ctx: Context) -> list[Widget]:
    """Latency (ms), throughput (rows/s), size, memory, ONNX parity, features and the packaged artifact."""
    return failed(serving) or parts_view(serving, ctx, title="serving")


def conformal_view(conformal: Any, ctx: Context) -> list[Widget]:
    """Each confidence level: coverage against its target, set sizes, and coverage by group."""
    if failed(conformal) or not isinstance(conformal, Mapping) or "levels" not in conformal:
        return failed(conformal) or generic(conformal)
    levels = [lv for lv in conformal.get("levels", []) if isinstance(lv, Mapping)]
    widgets: list[Widget] = [note(f"{conformal.get('method', '')} · {quantity('rows', conformal.get('rows'))} test "
                                  f"rows, {quantity('rows', conformal.get('calibration_rows'))} calibration rows")]
    widgets.append(SortableTable(
        ["target coverage", "coverage", "gap", "mean set size", "empty sets", "both labels"],
        [[quantity("coverage", lv.get("confidence")), quantity("coverage", lv.get("coverage")),
          signed(None if lv.get("coverage") is None or lv.get("confidence") is None
                 else float(lv["coverage"]) - float(lv["confidence"])),
          number(lv.get("mean_set_size"), 3), quantity("empty_rate", lv.get("empty_rate")),
          quantity("both_labels_rate", lv.get("both_labels_rate"))] for lv in levels], classes="evidence"))
    for level in levels:
        for grouping in level.get("by_group", []) or []:
            if not isinstance(grouping, Mapping):
                continue
            target = quantity("coverage", level.get("confidence"))
            widgets.append(heading(f"coverage by {grouping.get('name')} at {target}"))
            widgets.append(SortableTable(
                ["group", "support", "coverage", "mean set size", "judged"],
                [[g.get("group"), quantity("support", g.get("support")), quantity("coverage", g.get("coverage")),
                  number(g.get("mean_set_size"), 3), "TOO SMALL" if g.get("too_small") else "judged"]
                 for g in grouping.get("groups", []) if isinstance(g, Mapping)], classes="evidence"))
    return widgets


def explanations_view(explanations: Any, ctx: Context) -> list[Widget]:
    """The features ranked by mean |SHAP| as bars, sensitive proxies marked, and the faithfulness check."""
    if failed(explanations) or not isinstance(explanations, Mapping):
        return failed(explanations) or generic(explanations)
    ranking = [r for r in explanations.get("ranking", []) if isinstance(r, Mapping)]
    faithful = explanations.get("faithfulness") or {}
    widgets: list[Widget] = [
        note(f"{explanations.get('method', '')} · output {explanations.get('output_space', NONE)} · "
             f"{quantity('rows', explanations.get('rows'))} rows explained"),
        note(f"faithfulness: max |sum of contributions + base − output| = "
             f"{quantity('max_abs_error', faithful.get('max_abs_error'))}"),
        heading("Features by mean |contribution|"),
        bars_of([(str(r.get("feature")) + (" (sensitive)" if r.get("sensitive") else ""), r.get("mean_abs"))
                 for r in ranking[:15]]),
        SortableTable(["feature", "mean |contribution|", "sensitive", "association with sensitive columns"],
                      [[r.get("feature"), number(r.get("mean_abs")), "yes" if r.get("sensitive") else "no",
                        ", ".join(f"{k} {number(v, 3)}" for k, v in (r.get("associations") or {}).items())]
                       for r in ranking], classes="evidence"),
    ]
    risky = [r for r in explanations.get("highest_risk_rows", []) if isinstance(r, Mapping)]
    if risky:
        widgets.append(Collapsible(*[record_table(list(r.get("contributions", []))) for r in risky],
                                   title=f"the {len(risky)} highest-risk rows explained", collapsed=True))
    return widgets


def bars_of(rows: list[tuple[str, Any]]) -> Widget:
    return Static(bars([(label, None if v is None else float(v)) for label, v in rows]), classes="chart")


def robustness_view(robustness: Any, ctx: Context) -> list[Widget]:
    """Metric drops under each perturbation, directional expectations and invariance to sensitive columns."""
    if failed(robustness) or not isinstance(robustness, Mapping):
        return failed(robustness) or generic(robustness)
    clean = robustness.get("clean") or {}
    widgets: list[Widget] = [note(f"on {quantity('rows', robustness.get('rows'))} test rows; clean: "
                                  + ", ".join(f"{k} {number(v)}" for k, v in clean.items()))]
    perturbations = robustness.get("perturbations") or {}
    rows = []
    for name, result in perturbations.items():
        if not isinstance(result, Mapping):
            continue
        strength = next((f"{k} {quantity(k, v)}" for k, v in result.items() if k.endswith(("_rate", "_scale"))), "")
        drops = result.get("drop") or {}
        rows.append([name, strength, *(signed(drops.get(m)) for m in clean), quantity("flip_rate", result.get(
            "flip_rate")), quantity("mean_abs_change", result.get("mean_abs_change"))])
    widgets.append(heading("Perturbations: drop of each metric (positive = worse)"))
    widgets.append(SortableTable(["perturbation", "strength", *(f"{m} drop" for m in clean), "labels flipped",
                                  "mean |Δp|"], rows, classes="evidence"))
    for key, title in (("directional", "Directional expectations"), ("invariance", "Invariance to sensitive columns")):
        if records(robustness.get(key)):
            widgets.extend([heading(title), record_table(robustness[key])])
    return widgets


def reproducibility_view(value: Any, ctx: Context) -> list[Widget]:
    """Retrained twice from the same inputs: identical or not, and by how much the scores differ."""
    if failed(value) or not isinstance(value, Mapping):
        return failed(value) or generic(value)
    same = value.get("identical")
    verdict = "IDENTICAL scores" if same else "scores DIFFER" if same is False else "not retrained"
    return [note(f"{verdict} · max |Δ score| {quantity('max_abs_diff', value.get('max_abs_diff'))} · labels "
                 f"disagreeing {quantity('label_disagreement', value.get('label_disagreement'))}"), *generic(value)]


def lineage_view(value: Any, ctx: Context) -> list[Widget]:
    """Where the model came from: inputs' hashes, code version, libraries, machine, seeds."""
    return failed(value) or parts_view(value, ctx, title="lineage")


def champion_view(value: Any, ctx: Context) -> list[Widget]:
    """The model's current champion (if any), the versions a rollback may return to, and the comparison."""
    if failed(value) or not isinstance(value, Mapping):
        return failed(value) or generic(value)
    current = value.get("current")
    widgets: list[Widget] = [note(f"model {value.get('model', NONE)} · champion: "
                                  + (f"{current}" if current else "none yet (no run promoted)"))]
    available = value.get("available") or []
    widgets.append(note(f"{len(available)} earlier champion(s) to roll back to"))
    if records(available):
        widgets.append(record_table(available))
    widgets.extend(generic({k: v for k, v in value.items() if k not in ("available", "model", "current")}))
    return widgets


def comparisons_view(value: Any, ctx: Context) -> list[Widget]:
    """The paired comparisons: each metric's lift with its CI and p-value, against the baseline and the champion."""
    if not isinstance(value, Mapping):
        return generic(value)
    widgets: list[Widget] = []
    for against, metrics in value.items():
        if not isinstance(metrics, Mapping) or not metrics:
            widgets.append(note(f"versus {against}: {metrics if metrics else 'no comparison recorded'}"))
            continue
        if not all(isinstance(m, Mapping) for m in metrics.values()):
            widgets.extend([heading(f"versus {against}"), *generic(metrics)])
            continue
        widgets.append(heading(f"versus the {against}: lift (positive = better)"))
        widgets.append(SortableTable(["metric", "lift", "CI", "p (one-sided)"],
                                     [[m, signed(r.get("lift")), interval(r.get("interval")),
                                       number(r.get("p_value"), 4)] for m, r in metrics.items()],
                                     classes="evidence"))
    return widgets
