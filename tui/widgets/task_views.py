"""The evidence views of a regression or multiclass candidate: what binary evidence does not have.

- `confusion_view`: the confusion matrix as a table (rows: the true class; columns: the predicted class).
- `per_class_view`: every class's support, predictions, precision, recall, F1 with its interval and ROC AUC.
- `error_analysis_view`: a regression's residual summary by prediction bucket (mean, quantiles, MAE, share of the
  squared error) and its residual histogram as bars; for either task, the groups with the largest loss.
- `task_calibration_view`: a multiclass candidate's top-label reliability (drawn as the binary one is), then each
  class's ECE and the class-wise ECE.

Class and group names are recorded text: they pass through `literal` / `visible`, never markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.widget import Widget
from textual.widgets import Static

from tui.text import interval, number, signed, visible
from tui.widgets.charts import bars
from tui.widgets.generic import generic, heading, note
from tui.widgets.performance import Context, calibration_view
from tui.widgets.tables import SortableTable

QUANTILES = ("p10", "p25", "p50", "p75", "p90")


def confusion_view(matrix: Any, ctx: Context) -> list[Widget]:
    """Rows: the true class; columns: the predicted class; each row's total and the share on the diagonal."""
    classes = [str(c) for c in ctx.evidence.get("classes", [])]
    if not isinstance(matrix, list) or len(matrix) != len(classes) or not all(isinstance(r, list) for r in matrix):
        return generic(matrix)
    rows = []
    for index, (name, row) in enumerate(zip(classes, matrix, strict=True)):
        total = sum(int(v) for v in row)
        rows.append([name, *(str(int(v)) for v in row), str(total),
                     number(int(row[index]) / total if total else None)])
    return [heading(f"Confusion matrix on {ctx.evidence.get('rows', sum(map(sum, matrix)))} test rows "
                    "(rows: true class; columns: predicted)"),
            SortableTable(["true \\ predicted", *classes, "rows", "recall"], rows, classes="evidence")]


def per_class_view(per_class: Any, ctx: Context) -> list[Widget]:
    """Each class's metrics, the F1 interval beside the F1; undefined (a class never predicted) is a dash."""
    if not isinstance(per_class, list) or not all(isinstance(c, Mapping) for c in per_class):
        return generic(per_class)
    rows = [[c.get("class"), number(c.get("support")), number(c.get("predicted")),
             *(number(c.get(k)) for k in ("precision", "recall", "f1")),
             interval((c.get("intervals") or {}).get("f1")), number(c.get("roc_auc"))]
            for c in per_class]
    return [heading("Per class (one-vs-rest)"),
            SortableTable(["class", "rows", "predicted", "precision", "recall", "F1", "F1 CI", "ROC AUC"], rows,
                          classes="evidence")]


def _residual_summary(buckets: list[Mapping[str, Any]]) -> list[Widget]:
    rows = [[f"{number(b.get('lower'), 2)}–{number(b.get('upper'), 2)}", number(b.get("count")),
             number(b.get("mean_prediction")), signed(b.get("mean_residual")), number(b.get("mae")),
             *(signed((b.get("residual_quantiles") or {}).get(q)) for q in ("p10", "p50", "p90")),
             f"{float(b['share_of_squared_error']):.1%}" if b.get("share_of_squared_error") is not None else "—"]
            for b in buckets]
    return [heading("Residuals (target − prediction) by prediction bucket"),
            SortableTable(["prediction", "rows", "mean prediction", "mean residual", "MAE", "p10", "median", "p90",
                           "share of squared error"], rows, classes="evidence"),
            note("a positive mean residual: the model predicts too low in that bucket")]


def _histogram(histogram: Mapping[str, Any]) -> list[Widget]:
    edges, counts = histogram.get("edges") or [], histogram.get("counts") or []
    if len(edges) != len(counts) + 1 or not counts:
        return []
    rows = [(f"{float(low):+.2f} to {float(high):+.2f}", float(count))
            for low, high, count in zip(edges, edges[1:], counts, strict=False)]
    return [heading("Residual histogram (rows per bin)"), Static(bars(rows, digits=0), classes="chart")]


def error_analysis_view(analysis: Any, ctx: Context) -> list[Widget]:
    """A regression's residual summary and histogram; for either task, the groups with the largest loss (a binary
    candidate's error analysis: drawn generically, as before)."""
    if not isinstance(analysis, Mapping) or ctx.evidence.get("task") not in ("regression", "multiclass"):
        return generic(analysis)
    widgets: list[Widget] = []
    buckets = analysis.get("by_prediction")
    if isinstance(buckets, list) and all(isinstance(b, Mapping) for b in buckets) and buckets:
        widgets += _residual_summary(buckets)
    if isinstance(analysis.get("residual_histogram"), Mapping):
        widgets += _histogram(analysis["residual_histogram"])
    worst = analysis.get("worst_slices")
    if isinstance(worst, list) and worst and all(isinstance(w, Mapping) for w in worst):
        widgets.append(heading("Groups with the largest loss (enough rows to judge)"))
        widgets.append(SortableTable(["grouping", "group", "rows", "measure", "value"],
                                     [[w.get("grouping"), w.get("group"), number(w.get("support")),
                                       w.get("metric"), number(w.get("value"))] for w in worst],
                                     classes="evidence"))
    known = {"by_prediction", "residual_histogram", "worst_slices"}
    rest = {k: v for k, v in analysis.items() if k not in known}
    return widgets + (generic(rest) if rest else []) if widgets else generic(analysis)


def task_calibration_view(calibration: Any, ctx: Context) -> list[Widget]:
    """Multiclass: the top-label reliability and ECE by group (the binary view), then each class's ECE; any other
    calibration evidence: the binary view."""
    if not isinstance(calibration, Mapping) or "top_label" not in calibration:
        return calibration_view(calibration, ctx)
    top = {"top label": calibration["top_label"], "ece_by_group": calibration.get("ece_by_group")}
    widgets = calibration_view(top, Context(ctx.evidence, ctx.optimizing_metric, {**ctx.params,
                                                                                  "strategy": "top label"},
                                            ctx.outcome))
    per_class = calibration.get("per_class")
    if isinstance(per_class, list) and per_class and all(isinstance(c, Mapping) for c in per_class):
        widgets.append(heading(f"Class-wise ECE {number(calibration.get('classwise_ece'))} (mean of each class's "
                               "one-vs-rest ECE)"))
        widgets.append(Static(bars([(visible(c.get("class")), None if c.get("ece") is None else float(c["ece"]))
                                    for c in per_class]), classes="chart"))
    return widgets


TASK_VIEWS = {"confusion_matrix": confusion_view, "per_class": per_class_view, "error_analysis": error_analysis_view,
              "calibration": task_calibration_view}
