"""`evaluate()`: the evidence about one candidate, from its scores on the held-out test split.

Evidence is plain JSON data, stored in the trail as is; verdicts are computed from it later, so a stored run
can be re-checked against another policy without retraining.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.metrics import METRICS, Scores, headline_metrics, lift


def evaluate(y: NDArray[np.bool_], proba: NDArray[np.float64], *, threshold: float) -> dict[str, Any]:
    """Headline metrics at `threshold` on held-out labels `y` and scores `proba`."""
    scores = Scores.of(y, proba, threshold)
    return {
        "split": "test",
        "rows": int(y.size),
        "positives": int(np.count_nonzero(y)),
        "threshold": threshold,
        "metrics": headline_metrics(scores),
    }


def add_lift(evidence: dict[str, Any], baseline: dict[str, Any], *, baseline_name: str) -> dict[str, Any]:
    """`evidence` with each metric's lift over the baseline (positive = better than the baseline)."""
    lifts = {name: lift(name, evidence["metrics"][name], baseline["metrics"][name]) for name in METRICS}
    return {**evidence, "baseline": baseline_name, "lift_over_baseline": lifts}
