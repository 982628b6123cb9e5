"""Metrics per sensitive group and the fairness gaps between groups, from one bincount per grouping.

Threshold metrics come from the four confusion counts of each group, gathered in a single `np.bincount`
over `code * 4 + label * 2 + prediction`; the functions over counts work on any leading shape, so the
bootstrap reuses them on (resamples, groups, 4) arrays. Ranking metrics per group reuse the one descending
sort of the scores. Groups below the minimum support are marked `too_small`, kept in the table, and left out
of the gaps (which say so); numbers equal fairlearn's `MetricFrame` and gap functions (tested), except that
a group whose rate is undefined (no positives for TPR, say) is left out of that gap, where fairlearn counts
it as 0.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.groups import Grouping
from engine.evaluation.metrics import METRICS, Scores
from engine.evaluation.resampling import divide, spread
from engine.evaluation.segments import grouped

FloatArray = NDArray[np.float64]
TN, FP, FN, TP = 0, 1, 2, 3
RATE_NAMES = ("selection_rate", "tpr", "fpr", "fnr", "ppv", "accuracy", "precision", "recall", "f1")
GAP_NAMES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equal_opportunity_difference",
    "predictive_parity_difference",
)
RANKING_NAMES = ("roc_auc", "pr_auc", "log_loss", "brier")


def confusion_by_group(codes: NDArray[np.intp], groups: int, y: NDArray[np.bool_], predicted: NDArray[np.bool_],
                       weights: FloatArray | None = None) -> FloatArray:
    """(groups, 4) counts of [TN, FP, FN, TP] per group, in one bincount."""
    cells = codes * 4 + y.astype(np.intp) * 2 + predicted.astype(np.intp)
    return np.bincount(cells, weights=weights, minlength=groups * 4).reshape(groups, 4).astype(np.float64)


def rates(counts: FloatArray) -> dict[str, FloatArray]:
    """Threshold metrics from [..., 4] confusion counts; undefined rates are NaN."""
    tn, fp, fn, tp = counts[..., TN], counts[..., FP], counts[..., FN], counts[..., TP]
    support = tn + fp + fn + tp
    tpr = divide(tp, tp + fn)
    ppv = divide(tp, tp + fp)
    return {
        "selection_rate": divide(tp + fp, support),
        "tpr": tpr,
        "fpr": divide(fp, fp + tn),
        "fnr": divide(fn, tp + fn),
        "ppv": ppv,
        "accuracy": divide(tp + tn, support),
        "precision": ppv,
        "recall": tpr,
        "f1": divide(2 * tp, 2 * tp + fp + fn),
    }


def gaps(group_rates: dict[str, FloatArray], eligible: NDArray[np.bool_]) -> dict[str, FloatArray]:
    """Fairness gaps across eligible groups (last axis), as fairlearn's `between_groups` measures."""
    sel_hi, sel_lo = spread(group_rates["selection_rate"], eligible)
    tpr_hi, tpr_lo = spread(group_rates["tpr"], eligible)
    fpr_hi, fpr_lo = spread(group_rates["fpr"], eligible)
    ppv_hi, ppv_lo = spread(group_rates["ppv"], eligible)
    return {
        "demographic_parity_difference": sel_hi - sel_lo,
        "demographic_parity_ratio": divide(sel_lo, sel_hi),
        "equalized_odds_difference": np.maximum(tpr_hi - tpr_lo, fpr_hi - fpr_lo),  # undefined if either is
        "equal_opportunity_difference": tpr_hi - tpr_lo,
        "predictive_parity_difference": ppv_hi - ppv_lo,
    }


def delong_interval(y: NDArray[np.bool_], descending: FloatArray, confidence: float) -> list[float | None]:
    """DeLong's normal interval for the ROC AUC of scores sorted in descending order (None if undefined).

    Every quantity is constant within a block of equal scores (midranks, placements), so each is computed once
    per block and repeated to its rows: the same arrays, to the bit, as ranking all rows, the positives and the
    negatives separately, at the cost of one pass to find the blocks."""
    ascending, labels = descending[::-1], y[::-1]
    positives, negatives = int(labels.sum()), int(labels.size - labels.sum())
    if positives < 2 or negatives < 2:
        return [None, None]
    ends = np.r_[np.flatnonzero(np.diff(ascending)), ascending.size - 1]
    starts = np.r_[0, ends[:-1] + 1]
    block_positives = np.diff(np.r_[0, np.cumsum(labels)[ends]])
    block_negatives = ends - starts + 1 - block_positives
    rank = (starts + ends) / 2 + 1  # every row's midrank among all rows, per block
    rank_positive = _block_midranks(block_positives)  # and among the positives alone, the negatives alone
    rank_negative = _block_midranks(block_negatives)
    auc = (np.repeat(rank, block_positives).sum() - positives * (positives + 1) / 2) / (positives * negatives)
    v10 = np.repeat((rank - rank_positive) / negatives, block_positives)
    v01 = np.repeat(1 - (rank - rank_negative) / positives, block_negatives)
    spread = NormalDist().inv_cdf(1 - (1 - confidence) / 2) * np.sqrt(
        v10.var(ddof=1) / positives + v01.var(ddof=1) / negatives
    )
    return [float(max(auc - spread, 0.0)), float(min(auc + spread, 1.0))]


def _block_midranks(counts: NDArray[np.intp]) -> FloatArray:
    """The 1-based midrank, within the rows of one class, of each block holding `counts` of them (ties share
    the mean of their ranks; a block without any gets a value that is never repeated)."""
    ends = np.cumsum(counts) - 1
    starts = ends - counts + 1
    return np.asarray((starts + ends) / 2 + 1, dtype=np.float64)


def _ranking_by_group(grouping: Grouping, y: NDArray[np.bool_], proba: FloatArray, order: NDArray[np.intp],
                      threshold: float, confidence: float) -> tuple[dict[str, list[float | None]], list[Any]]:
    """ROC AUC, PR AUC, log loss and Brier per group, slicing the one global sort by group; and each group's
    DeLong interval for its ROC AUC."""
    codes = grouping.codes[order]  # each row's group, in descending score order
    bounds = np.r_[0, np.cumsum(np.bincount(grouping.codes, minlength=grouping.size))]  # each group's rows
    by_group_y, by_group_proba = grouped(codes, bounds, y[order]), grouped(codes, bounds, proba[order])
    out: dict[str, list[float | None]] = {name: [] for name in RANKING_NAMES}
    intervals = []
    for g in range(grouping.size):
        rows = slice(bounds[g], bounds[g + 1])
        scores = Scores.presorted(by_group_y[rows], by_group_proba[rows], threshold)
        for name in RANKING_NAMES:
            out[name].append(METRICS[name].compute(scores))
        intervals.append(delong_interval(scores.y, scores.proba, confidence))
    return out, intervals


def _value(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def slice_evidence(grouping: Grouping, y: NDArray[np.bool_], proba: FloatArray, *, threshold: float,
                   order: NDArray[np.intp], min_support: int, confidence: float = 0.95) -> dict[str, Any]:
    """Per-group metrics and gaps of one grouping, as plain JSON data."""
    counts = confusion_by_group(grouping.codes, grouping.size, y, proba >= threshold)
    support = counts.sum(axis=1)
    eligible = support >= min_support
    group_rates = rates(counts)
    ranking, auc_intervals = _ranking_by_group(grouping, y, proba, order, threshold, confidence)
    groups = []
    for g, label in enumerate(grouping.labels):
        metrics: dict[str, float | None] = {name: ranking[name][g] for name in RANKING_NAMES}
        metrics.update({name: _value(group_rates[name][g]) for name in RATE_NAMES})
        groups.append({
            "group": label,
            "support": int(support[g]),
            "positives": int(counts[g, FN] + counts[g, TP]),
            "too_small": not bool(eligible[g]),
            "metrics": metrics,
            "intervals": {"roc_auc": auc_intervals[g]},
        })
    judged = gaps(group_rates, eligible) if eligible.sum() >= 2 else {}
    return {
        "name": grouping.name,
        "columns": list(grouping.columns),
        "edges": list(grouping.edges) if grouping.edges is not None else None,
        "min_support": min_support,
        "groups": groups,
        "gaps": {name: _value(float(judged[name])) if judged else None for name in GAP_NAMES},
        "groups_judged": int(eligible.sum()),
    }
