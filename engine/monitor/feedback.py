"""Performance on labelled feedback, compared with the figures the champion was approved on, and a label-free
estimate for batches whose labels have not arrived yet.

With labels, the batch's evidence is computed exactly as an audit computes it (`engine.evaluation.performance`:
metrics with bootstrap intervals, slices per sensitive group, calibration), so the existing rule kinds apply to
the batch. Each approved metric is compared with a two-sample interval for the change (the batch's rows are new
rows, so no pairing): normal intervals recovered from both bootstrap intervals, combined in quadrature.
Without labels, confidence-based performance estimation (CBPE) treats a calibrated score as the probability
that the row is positive and takes the expected confusion matrix: an estimate, always marked as one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from engine.evaluation.metrics import METRICS

JSON = dict[str, Any]


def _normal(value: float, bounds: Sequence[float | None] | None, z: float) -> float | None:
    """The standard error implied by a two-sided interval (None when it has no bounds)."""
    if bounds is None or bounds[0] is None or bounds[1] is None:
        return None
    return (float(bounds[1]) - float(bounds[0])) / (2 * z)


def versus_approval(batch: Mapping[str, Any], approved: Mapping[str, Any], *, confidence: float = 0.95) -> JSON:
    """Each metric both evidences hold: approved and batch values with intervals, the change and its interval
    (batch - approved, in the metric's own direction: negative is worse), and whether the decay is significant."""
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    out: JSON = {}
    approved_intervals = (approved.get("intervals") or {}).get("metrics", {})
    batch_intervals = (batch.get("intervals") or {}).get("metrics", {})
    for name, metric in METRICS.items():
        then, now = approved.get("metrics", {}).get(name), batch.get("metrics", {}).get(name)
        if then is None or now is None:
            continue
        sign = 1.0 if metric.higher_is_better else -1.0
        change = sign * (float(now) - float(then))
        se_then = _normal(then, approved_intervals.get(name), z)
        se_now = _normal(now, batch_intervals.get(name), z)
        interval = None
        if se_then is not None and se_now is not None:
            half = z * float(np.hypot(se_then, se_now))
            interval = [change - half, change + half]
        out[name] = {"approved": then, "approved_interval": approved_intervals.get(name), "batch": now,
                     "batch_interval": batch_intervals.get(name), "change": change, "change_interval": interval,
                     "significant_decay": None if interval is None else bool(interval[1] < 0)}
    return {"method": "two-sample normal interval from both bootstrap intervals (new rows: unpaired)",
            "confidence": confidence, "metrics": out}


def estimated_performance(scores: NDArray[np.float64], *, threshold: float) -> JSON:
    """CBPE: the expected accuracy, precision, recall and ROC AUC if the scores are calibrated probabilities."""
    p = np.clip(np.asarray(scores, np.float64), 0.0, 1.0)
    predicted = p >= threshold
    tp, fp = float(p[predicted].sum()), float((1 - p[predicted]).sum())
    fn, tn = float(p[~predicted].sum()), float((1 - p[~predicted]).sum())
    positives, negatives = tp + fn, fp + tn
    order = np.argsort(-p, kind="mergesort")
    tpr = np.concatenate([[0.0], np.cumsum(p[order]) / positives]) if positives else None
    fpr = np.concatenate([[0.0], np.cumsum(1 - p[order]) / negatives]) if negatives else None
    auc = float(np.trapezoid(tpr, fpr)) if tpr is not None and fpr is not None else None
    total = len(p)
    return {"estimate": True, "method": "confidence-based performance estimation (CBPE): the scores taken as "
                                        "calibrated probabilities",
            "rows": total, "threshold": threshold,
            "metrics": {"accuracy": (tp + tn) / total if total else None,
                        "precision": tp / (tp + fp) if tp + fp else None,
                        "recall": tp / positives if positives else None, "roc_auc": auc},
            "expected_positive_rate": positives / total if total else None}
