"""Headline binary-classification metrics, computed by hand because mlgate needs them fast and in bulk.

The ranking metrics share one descending sort of the scores and one cumulative sum of true and false
positives at each distinct threshold (the same construction as scikit-learn's `_binary_clf_curve`), so
ROC AUC and average precision cost one sort together (slices reuse it per group). The threshold metrics come
from the four confusion counts. Each function returns exactly what scikit-learn returns on the same inputs
(tested), or None where the metric is undefined: one class for ROC AUC, no predicted positives for precision,
no positives for recall (scikit-learn's `zero_division=np.nan`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Curve:
    """True and false positive counts at each distinct score, highest score first."""

    tps: FloatArray
    fps: FloatArray

    @property
    def positives(self) -> float:
        return float(self.tps[-1]) if self.tps.size else 0.0

    @property
    def negatives(self) -> float:
        return float(self.fps[-1]) if self.fps.size else 0.0


@dataclass(frozen=True)
class Scores:
    """Labels, scores and the decision threshold, with the sorted curve computed once."""

    y: BoolArray
    proba: FloatArray
    threshold: float
    curve: Curve

    @classmethod
    def of(cls, y: NDArray[np.bool_], proba: NDArray[np.floating], threshold: float = 0.5) -> Scores:
        y_bool = np.asarray(y, dtype=bool)
        p = np.asarray(proba, dtype=np.float64)
        if y_bool.shape != p.shape or y_bool.ndim != 1:
            raise ValueError(f"labels {y_bool.shape} and scores {p.shape} must be 1-D of equal length")
        return cls(y=y_bool, proba=p, threshold=threshold, curve=binary_curve(y_bool, p))

    @classmethod
    def presorted(cls, y: BoolArray, proba: FloatArray, threshold: float) -> Scores:
        """Scores already sorted by descending score (a slice of a sort done once): no second sort."""
        return cls(y=y, proba=proba, threshold=threshold, curve=sorted_curve(y, proba))


def binary_curve(y: BoolArray, proba: FloatArray) -> Curve:
    """Cumulative true/false positives at each distinct score, sorted by descending score."""
    order = np.argsort(-proba, kind="mergesort")
    return sorted_curve(y[order], proba[order])


def sorted_curve(sorted_y: BoolArray, sorted_scores: FloatArray) -> Curve:
    """The curve of labels and scores that are already in descending score order."""
    if sorted_scores.size == 0:
        return Curve(tps=np.zeros(0), fps=np.zeros(0))
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    tps = np.cumsum(sorted_y, dtype=np.float64)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    return Curve(tps=tps, fps=fps.astype(np.float64))


def roc_auc(s: Scores) -> float | None:
    """Area under the ROC curve (trapezoidal, ties averaged), None when a class is absent."""
    pos, neg = s.curve.positives, s.curve.negatives
    if pos == 0 or neg == 0:
        return None
    tpr = np.r_[0.0, s.curve.tps / pos]
    fpr = np.r_[0.0, s.curve.fps / neg]
    return float(np.trapezoid(tpr, fpr))


def pr_auc(s: Scores) -> float | None:
    """Average precision: sum over thresholds of (recall step) x precision, None without positives."""
    pos = s.curve.positives
    if pos == 0:
        return None
    precision = s.curve.tps / (s.curve.tps + s.curve.fps)
    recall_steps = np.diff(np.r_[0.0, s.curve.tps / pos])
    return float(np.sum(recall_steps * precision))


def _confusion(s: Scores) -> tuple[int, int, int, int]:
    predicted = s.proba >= s.threshold
    tp = int(np.count_nonzero(predicted & s.y))
    fp = int(np.count_nonzero(predicted & ~s.y))
    fn = int(np.count_nonzero(~predicted & s.y))
    tn = s.y.size - tp - fp - fn
    return tp, fp, fn, tn


def _ratio(numerator: float, denominator: float) -> float | None:
    """A rate, or None where it is undefined (no predicted positives for precision, no positives for recall):
    scikit-learn's `zero_division=np.nan`. A 0.0 there would read as a measured failure, and a lift over it as
    a measured gain."""
    return numerator / denominator if denominator else None


def accuracy(s: Scores) -> float | None:
    tp, _, _, tn = _confusion(s)
    return _ratio(tp + tn, s.y.size) if s.y.size else None


def precision(s: Scores) -> float | None:
    tp, fp, _, _ = _confusion(s)
    return _ratio(tp, tp + fp)


def recall(s: Scores) -> float | None:
    tp, _, fn, _ = _confusion(s)
    return _ratio(tp, tp + fn)


def f1(s: Scores) -> float | None:
    tp, fp, fn, _ = _confusion(s)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def log_loss(s: Scores) -> float | None:
    """Mean negative log-likelihood, scores clipped to [eps, 1 - eps] as scikit-learn does."""
    if not s.y.size:
        return None
    eps = np.finfo(s.proba.dtype).eps
    p = np.clip(s.proba, eps, 1 - eps)
    return float(-np.mean(np.where(s.y, np.log(p), np.log1p(-p))))


def brier(s: Scores) -> float | None:
    if not s.y.size:
        return None
    return float(np.mean((s.proba - s.y) ** 2))


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable[[Scores], float | None]
    higher_is_better: bool
    label: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", roc_auc, True, "ROC AUC"),
        Metric("pr_auc", pr_auc, True, "PR AUC (average precision)"),
        Metric("accuracy", accuracy, True, "accuracy"),
        Metric("precision", precision, True, "precision"),
        Metric("recall", recall, True, "recall"),
        Metric("f1", f1, True, "F1"),
        Metric("log_loss", log_loss, False, "log loss"),
        Metric("brier", brier, False, "Brier score"),
    )
}


def headline_metrics(s: Scores) -> dict[str, float | None]:
    """Every metric of `METRICS` on one set of scores."""
    return {name: metric.compute(s) for name, metric in METRICS.items()}


CURVE_POINTS = 101


def curve_points(s: Scores, points: int = CURVE_POINTS) -> dict[str, dict[str, list[float]]] | None:
    """The ROC and precision-recall curves at up to `points` of the distinct thresholds, for figures.

    The thresholds kept are evenly spaced along the curve (first and last always), so the stored curve is
    exactly scikit-learn's `roc_curve` / `precision_recall_curve` at those thresholds; None when a class is
    absent.
    """
    pos, neg = s.curve.positives, s.curve.negatives
    if pos == 0 or neg == 0:
        return None
    keep = np.unique(np.linspace(0, s.curve.tps.size - 1, min(points, s.curve.tps.size)).round().astype(np.intp))
    tps, fps = s.curve.tps[keep], s.curve.fps[keep]
    return {
        "roc": {"fpr": [0.0, *(fps / neg).tolist()], "tpr": [0.0, *(tps / pos).tolist()]},
        "pr": {"recall": (tps / pos).tolist(), "precision": (tps / (tps + fps)).tolist()},
    }


def lift(metric: str, candidate: float | None, baseline: float | None) -> float | None:
    """How much better `candidate` is than `baseline` on `metric` (positive = better, either direction)."""
    if candidate is None or baseline is None:
        return None
    difference = candidate - baseline
    return difference if METRICS[metric].higher_is_better else -difference
