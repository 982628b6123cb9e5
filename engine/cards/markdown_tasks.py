"""The card's section for a regression or multiclass candidate (`mlgate.task_analysis`), as Markdown.

Regression: the residuals by prediction bucket (mean and quantiles: where the model errs and which way) and the
groups with the largest loss. Multiclass: every class's metrics with the F1 interval, the confusion matrix, the
class-wise calibration, and the groups with the lowest accuracy. A binary card has no such section. The HTML card
adds the figures of `figures_tasks.py` after it.
"""

from __future__ import annotations

from typing import Any

from engine.cards.markup import UNDEFINED, code, interval, md, missing, number, table


def _worst(analysis: dict[str, Any]) -> list[str]:
    worst = analysis.get("worst_slices") or []
    if not worst:
        return []
    return ["Groups with the largest loss (enough rows to judge):", "",
            *table(["grouping", "group", "rows", "measure", "value"],
                   ([code(w["grouping"]), md(w["group"]), str(w["support"]), md(w["metric"]), number(w["value"])]
                    for w in worst)), ""]


def _regression(analysis: dict[str, Any]) -> list[str]:
    rows = ([f"{b['lower']:.4g}–{b['upper']:.4g}", str(b["count"]), number(b["mean_prediction"]),
             number(b["mean_target"]), number(b["mean_residual"]), number(b["mae"]),
             *(number((b.get("residual_quantiles") or {}).get(q)) for q in ("p10", "p50", "p90")),
             f"{b['share_of_squared_error']:.1%}"]
            for b in analysis["by_prediction"])
    return [
        "## Residuals", "",
        f"Residual = target − prediction on the {analysis['rows']} test rows, by equal-mass bucket of the prediction "
        "(a positive mean: the model predicts too low there).", "",
        *table(["prediction", "rows", "mean prediction", "mean target", "mean residual", "MAE", "residual p10",
                "residual median", "residual p90", "share of squared error"], rows), "",
        *_worst(analysis),
    ]


def _multiclass(analysis: dict[str, Any]) -> list[str]:
    classes = analysis["classes"]
    per_class = ([md(c["class"]), str(c["support"]), str(c["predicted"]),
                  *(number(c.get(k), UNDEFINED) for k in ("precision", "recall", "f1", "roc_auc")),
                  interval((c.get("intervals") or {}).get("f1"))]
                 for c in analysis["per_class"])
    matrix = ([md(name), *(str(v) for v in row)] for name, row in zip(classes, analysis["confusion_matrix"],
                                                                        strict=True))
    ece = {str(r["class"]): r.get("ece") for r in analysis.get("reliability", [])}
    return [
        "## Classes", "",
        *table(["class", "rows", "predicted", "precision", "recall", "F1", "ROC AUC (one-vs-rest)", "F1 interval"],
               per_class), "",
        "Confusion matrix (rows: true class; columns: predicted class):", "",
        *table(["true \\ predicted", *(md(c) for c in classes)], matrix), "",
        f"Class-wise ECE {number(analysis.get('classwise_ece'))} (the mean of each class's one-vs-rest ECE: "
        + ", ".join(f"{md(c)} {number(ece.get(str(c)))}" for c in classes) + ").", "",
        *_worst(analysis),
    ]


def task_analysis(card: dict[str, Any]) -> list[str]:
    """The regression's residuals or the multiclass candidate's classes; nothing for a binary card."""
    analysis = card["mlgate"].get("task_analysis")
    if analysis is None:
        return []
    if (reason := missing(analysis)) is not None:
        return ["## Residuals and classes", "", reason, ""]
    return _regression(analysis) if analysis["task"] == "regression" else _multiclass(analysis)
