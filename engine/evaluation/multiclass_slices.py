"""A multiclass candidate's measures per sensitive group and the gaps between groups, with intervals.

Per group: accuracy, balanced accuracy and log loss, and for every class its one-vs-rest TPR, FPR and
selection rate (the share of the group predicted as that class). Per class, across groups with enough
support: the TPR and FPR differences and their maximum (one-vs-rest equalized odds), and the selection-rate
difference and ratio (one-vs-rest demographic parity); the grouping's headline gaps are the worst class's,
named. Everything comes from each group's confusion counts and log-loss sum: one bincount for the point
estimate, the bootstrap's finest-cell counts added up per group for each resample, through the same functions.
Numbers equal fairlearn's `MetricFrame` on the one-vs-rest labels (tested), except that a rate undefined in a
group (a class absent from it, for TPR) is left out of that gap, where fairlearn counts it as 0.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.groups import Grouping
from engine.evaluation.multiclass_metrics import per_class
from engine.evaluation.resampling import bounds, divide, spread, value, values
from engine.evaluation.task_metrics import MULTICLASS_GAPS

FloatArray = NDArray[np.float64]
GROUP_MEASURES = ("accuracy", "balanced_accuracy", "log_loss")
CLASS_MEASURES = ("tpr", "fpr", "selection_rate")
CLASS_GAPS = ("tpr_difference", "fpr_difference", "equalized_odds_difference", "demographic_parity_difference",
              "demographic_parity_ratio")
GAP_NAMES = MULTICLASS_GAPS
WORST = {"equalized_odds_difference": "max", "demographic_parity_difference": "max",
         "demographic_parity_ratio": "min"}


def group_confusion(codes: NDArray[np.intp], groups: int, y: NDArray[np.intp], predicted: NDArray[np.intp],
                    classes: int) -> FloatArray:
    """(1, groups, K, K) confusion counts of each group: the point estimate's 'resample'."""
    cells = (codes * classes + y) * classes + predicted
    counts = np.bincount(cells, minlength=groups * classes * classes).astype(np.float64)
    return counts.reshape(1, groups, classes, classes)


def measures(confusion: FloatArray, losses: FloatArray) -> dict[str, FloatArray]:
    """Group measures from (..., groups, K, K) counts and (..., groups) log-loss sums (per class: (..., groups,
    K)); NaN where undefined."""
    classes = per_class(confusion)
    support = classes["support"].sum(axis=-1)
    correct = np.diagonal(confusion, axis1=-2, axis2=-1).sum(axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        balanced = np.nanmean(classes["recall"], axis=-1)
    return {
        "accuracy": divide(correct, support),
        "balanced_accuracy": balanced,
        "log_loss": divide(losses, support),
        **{name: classes[name] for name in CLASS_MEASURES},
        "class_support": classes["support"],
    }


def gaps(group: dict[str, FloatArray], eligible: NDArray[np.bool_]) -> dict[str, FloatArray]:
    """Per-class gaps (..., K) and the grouping's gaps (...) across eligible groups."""
    by_class = {name: spread(np.moveaxis(group[name], -1, -2), eligible) for name in CLASS_MEASURES}
    tpr_hi, tpr_lo = by_class["tpr"]
    fpr_hi, fpr_lo = by_class["fpr"]
    sel_hi, sel_lo = by_class["selection_rate"]
    per_class_gaps = {
        "tpr_difference": tpr_hi - tpr_lo,
        "fpr_difference": fpr_hi - fpr_lo,
        "equalized_odds_difference": np.maximum(tpr_hi - tpr_lo, fpr_hi - fpr_lo),  # undefined if either is
        "demographic_parity_difference": sel_hi - sel_lo,
        "demographic_parity_ratio": divide(sel_lo, sel_hi),
    }
    acc_hi, acc_lo = spread(group["accuracy"], eligible)
    loss_hi, loss_lo = spread(group["log_loss"], eligible)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a gap undefined for every class
        worst = {name: (np.nanmax if how == "max" else np.nanmin)(per_class_gaps[name], axis=-1)
                 for name, how in WORST.items()}
    return {"accuracy_difference": acc_hi - acc_lo, "accuracy_ratio": divide(acc_lo, acc_hi),
            "log_loss_difference": loss_hi - loss_lo, **worst,
            **{f"class_{name}": v for name, v in per_class_gaps.items()}}


def _worst_class(per_class_gap: FloatArray, how: str, classes: list[str]) -> str | None:
    if np.all(np.isnan(per_class_gap)):
        return None
    return classes[int(np.nanargmax(per_class_gap) if how == "max" else np.nanargmin(per_class_gap))]


def multiclass_slice(grouping: Grouping, y: NDArray[np.intp], predicted: NDArray[np.intp], nll: FloatArray,
                     classes: list[str], *, min_support: int, resampled: tuple[FloatArray, FloatArray] | None,
                     confidence: float) -> dict[str, Any]:
    """One grouping's slice evidence; `resampled` is the (resamples, groups, K, K) counts and (resamples, groups)
    log-loss sums of the bootstrap, for intervals."""
    k = len(classes)
    confusion = group_confusion(grouping.codes, grouping.size, y, predicted, k)
    losses = np.bincount(grouping.codes, weights=nll, minlength=grouping.size)[None].astype(np.float64)
    point = {name: v[0] for name, v in measures(confusion, losses).items()}
    support = confusion[0].sum(axis=(1, 2))
    eligible = support >= min_support
    sampled = measures(*resampled) if resampled is not None else None
    sampled_bounds = ({name: bounds(sampled[name], confidence) for name in (*GROUP_MEASURES, *CLASS_MEASURES)}
                      if sampled is not None else {})
    groups = []
    for g, label in enumerate(grouping.labels):
        entry: dict[str, Any] = {
            "group": label, "support": int(support[g]), "too_small": not bool(eligible[g]),
            "metrics": {name: value(point[name][g]) for name in GROUP_MEASURES},
            "per_class": {"support": [int(s) for s in point["class_support"][g]],
                          **{name: values(point[name][g]) for name in CLASS_MEASURES}},
        }
        if sampled_bounds:
            entry["intervals"] = {name: sampled_bounds[name][g] for name in GROUP_MEASURES}
            entry["per_class_intervals"] = {name: sampled_bounds[name][g] for name in CLASS_MEASURES}
        groups.append(entry)
    judged = int(eligible.sum())
    point_gaps = gaps(point, eligible) if judged >= 2 else None
    evidence: dict[str, Any] = {
        "name": grouping.name, "columns": list(grouping.columns),
        "edges": list(grouping.edges) if grouping.edges is not None else None,
        "min_support": min_support, "groups": groups, "groups_judged": judged,
        "gaps": {name: value(float(point_gaps[name])) if point_gaps else None for name in GAP_NAMES},
        "class_gaps": {name: values(point_gaps[f"class_{name}"]) if point_gaps else [None] * k
                       for name in CLASS_GAPS},
        "worst_class": {name: _worst_class(point_gaps[f"class_{name}"], how, classes) if point_gaps else None
                        for name, how in WORST.items()},
    }
    if sampled is not None:
        sampled_gaps = gaps(sampled, eligible) if judged >= 2 else None
        evidence["gap_intervals"] = {name: bounds(sampled_gaps[name], confidence) if sampled_gaps else [None, None]
                                     for name in GAP_NAMES}
        evidence["class_gap_intervals"] = {
            name: bounds(sampled_gaps[f"class_{name}"], confidence) if sampled_gaps else [[None, None]] * k
            for name in CLASS_GAPS}
    return evidence
