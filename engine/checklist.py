"""The production-readiness checklist: the items every rule serves, in the order a reviewer walks them.

One table shared by the policy schema (tested equal), `policy explain`, the model cards and the TUI, so the
vocabulary of DESIGN.md is written once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    title: str
    ready_if: str


CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("optimizing_metric", "Optimizing metric",
                  "its optimizing metric beats the baselines on held-out data, significantly"),
    ChecklistItem("satisficing_metrics", "Satisficing metrics", "latency, size and cost thresholds hold"),
    ChecklistItem("slice_metrics", "Slice metrics", "no critical slice regresses (no Simpson's-paradox win)"),
    ChecklistItem("fairness", "Fairness", "fairness gaps across sensitive groups are within bounds"),
    ChecklistItem("calibration", "Calibration",
                  "probabilities mean what they say (ECE, reliability), if they drive decisions"),
    ChecklistItem("explainability", "Explainability",
                  "explanations exist, are faithful (SHAP values sum to the output) and name the top drivers"),
    ChecklistItem("robustness", "Robustness", "perturbation, invariance and directional tests hold"),
    ChecklistItem("feature_availability", "Feature availability",
                  "every feature it uses is available at serving time"),
    ChecklistItem("skew", "Training/serving skew",
                  "the served artifact (ONNX) predicts what the trained model predicts"),
    ChecklistItem("reproducibility", "Reproducibility",
                  "code, data, parameters, seeds and environment are recorded; a retrain reproduces it"),
    ChecklistItem("artifacts", "Packaged artifacts",
                  "model + preprocessing + input schema + signature are packaged together"),
    ChecklistItem("rollback", "Rollback", "a previous approved champion exists to roll back to"),
)
CHECKLIST_IDS: tuple[str, ...] = tuple(item.id for item in CHECKLIST)

# The status of an item from the statuses of its rules, worst first: how a reviewer reads the checklist.
NOT_COVERED = "not covered"
_PRECEDENCE = ("fail", "error", "unknown", "warn", "waived", "pass")


def rule_status(status: str, severity: str) -> str:
    """A rule's status as the checklist shows it: a failed warning reads `warn`."""
    return "warn" if status == "fail" and severity == "warn" else status


def item_status(statuses: list[str]) -> str:
    """The checklist status of an item whose rules ended with `statuses` (see `rule_status`)."""
    if not statuses:
        return NOT_COVERED
    return next(s for s in _PRECEDENCE if s in statuses) if set(statuses) <= set(_PRECEDENCE) else "unknown"
