"""The card document's part for a regression or multiclass candidate: what its card draws beyond the metrics.

A regression's residuals by prediction bucket (with their quantiles) and their histogram, and its worst groups;
a multiclass candidate's confusion matrix, per-class table (each metric with its interval) and per-class
reliability. Copied from the recorded evidence as is (`engine.cards.document` puts it under
`mlgate.task_analysis`); `markdown_tasks.py` and `figures_tasks.py` draw it.
"""

from __future__ import annotations

from typing import Any


def task_analysis(task: str, evidence: dict[str, Any] | None) -> dict[str, Any]:
    """The `task_analysis` part of a `task` (regression or multiclass) candidate's card."""
    if not evidence:
        return {"status": "not evaluated", "reason": "the candidate has no evidence"}
    if task == "regression":
        analysis = evidence.get("error_analysis") or {}
        return {"status": "evaluated", "task": task, "rows": evidence["rows"],
                "by_prediction": analysis.get("by_prediction", []),
                "residual_histogram": analysis.get("residual_histogram"),
                "worst_slices": analysis.get("worst_slices", [])}
    calibration = evidence.get("calibration") or {}
    return {"status": "evaluated", "task": task, "rows": evidence["rows"], "classes": evidence["classes"],
            "confusion_matrix": evidence["confusion_matrix"], "per_class": evidence.get("per_class", []),
            "reliability": calibration.get("per_class", []), "classwise_ece": calibration.get("classwise_ece"),
            "worst_slices": (evidence.get("error_analysis") or {}).get("worst_slices", [])}
