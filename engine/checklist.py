"""The production-readiness checklist: the items every rule serves, in the order a reviewer walks them.

One table shared by the policy schema (tested equal), `policy explain`, the model cards and the TUI, so the
vocabulary of DESIGN.md is written once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.decision import BLOCKING_STATUSES, WAIVED, blocks


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
    ChecklistItem("data_and_split", "Data and split",
                  "the split is honest (no duplicates, entities or future rows across it; no label leak) and the "
                  "data's quality is known"),

    ChecklistItem("decisions_explained", "Decisions explained",
                  "each adverse decision has faithful reasons on the served model, none of them protected, "
                  "and a recourse"),
)
# Judged after approval by monitoring runs (engine.monitor), not by an audit: shown with the champion, and in
# `policy explain` for a policy that covers it, but not in an audited candidate's checklist.
AFTER_APPROVAL: tuple[ChecklistItem, ...] = (
    ChecklistItem("monitoring", "Monitoring",
                  "after approval, the monitored conditions (drift, feedback performance, fairness) still hold"),
)
CHECKLIST_IDS: tuple[str, ...] = tuple(item.id for item in (*CHECKLIST, *AFTER_APPROVAL))

NOT_COVERED = "not covered"


def item_status(outcomes: Sequence[Mapping[str, Any]], fail_on: str = "block") -> str:
    """One checklist item's status from its rules' outcomes (waivers applied), as a reviewer reads it: `fail`
    or `unknown` when a rule that blocks under `fail_on` did not pass, `warn` when only warnings did not pass,
    then `waived`, `pass`, or `not covered` when no rule serves the item. Which outcome blocks is
    `engine.decision.blocks`; the outcomes are their JSON, as the cards and the TUI hold them."""
    if not outcomes:
        return NOT_COVERED
    blocking = [o["status"] for o in outcomes if blocks(o["severity"], o["status"], fail_on)]
    if any(s in ("fail", "error") for s in blocking):
        return "fail"
    if blocking:
        return "unknown"
    if any(o["status"] in BLOCKING_STATUSES for o in outcomes):
        return "warn"
    if any(o["status"] == WAIVED for o in outcomes):
        return WAIVED
    return "pass"
