"""A regression candidate's measures per sensitive group and the gaps between groups, with intervals.

Every measure comes from five sums per group (weight, residual, squared and absolute residual, shifted target;
engine.evaluation.regression_kernel's `SUMS`; the mean prediction is the mean target less the mean residual): the
point estimate from one bincount per sum, each resample's from the kernel's finest-cell sums added up per group,
through the same functions. Residuals are
`y - ŷ` (a positive mean residual: the model under-predicts the group). The gaps, over groups with enough
support only: the largest difference and ratio (min / max, fairlearn's `between_groups`) of group RMSE and MAE,
the worst group's squared and absolute loss (what a bounded-group-loss check bounds), the spread of mean
residuals, and mean-prediction parity. Numbers equal fairlearn's `MetricFrame` (tested); a group without rows
has no measures (None), never 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.groups import Grouping
from engine.evaluation.resampling import bounds, divide, spread, value
from engine.evaluation.task_metrics import REGRESSION_GAPS

FloatArray = NDArray[np.float64]
GROUP_MEASURES = ("rmse", "mae", "mse", "mean_residual", "mean_prediction", "mean_target")
GAP_NAMES = REGRESSION_GAPS


def row_stats(y: FloatArray, predicted: FloatArray, shift: float) -> FloatArray:
    """(rows, 5) per-row terms of the five sums, in `SUMS` order."""
    residual = y - predicted
    return np.column_stack([np.ones_like(y), residual, residual**2, np.abs(residual), y - shift])


def group_sums(codes: NDArray[np.intp], groups: int, stats: FloatArray) -> FloatArray:
    """(1, groups, 5) sums of each group: the point estimate's 'resample' (every weight 1)."""
    sums = [np.bincount(codes, weights=stats[:, s], minlength=groups) for s in range(stats.shape[1])]
    return np.asarray(np.stack(sums, axis=-1)[None], dtype=np.float64)


def measures(sums: FloatArray, shift: float) -> dict[str, FloatArray]:
    """Every group measure from (..., 5) sums; NaN for a group without rows."""
    weight = sums[..., 0]
    mse = divide(sums[..., 2], weight)
    mean_residual = divide(sums[..., 1], weight)
    mean_target = divide(sums[..., 4], weight) + shift
    return {
        "rmse": np.sqrt(mse),
        "mae": divide(sums[..., 3], weight),
        "mse": mse,
        "mean_residual": mean_residual,
        "mean_prediction": mean_target - mean_residual,
        "mean_target": mean_target,
    }


def gaps(group: dict[str, FloatArray], eligible: NDArray[np.bool_]) -> dict[str, FloatArray]:
    """Gaps across eligible groups (last axis); NaN where fewer than one group has the measure defined."""
    rmse_hi, rmse_lo = spread(group["rmse"], eligible)
    mae_hi, mae_lo = spread(group["mae"], eligible)
    mse_hi, _ = spread(group["mse"], eligible)
    res_hi, res_lo = spread(group["mean_residual"], eligible)
    pred_hi, pred_lo = spread(group["mean_prediction"], eligible)
    return {
        "rmse_difference": rmse_hi - rmse_lo,
        "rmse_ratio": divide(rmse_lo, rmse_hi),
        "mae_difference": mae_hi - mae_lo,
        "mae_ratio": divide(mae_lo, mae_hi),
        "max_group_mse": mse_hi,
        "max_group_mae": mae_hi,
        "mean_residual_difference": res_hi - res_lo,
        "mean_prediction_difference": pred_hi - pred_lo,
        # a ratio of mean predictions means something only when none is negative
        "mean_prediction_ratio": np.where(pred_lo >= 0, divide(pred_lo, pred_hi), np.nan),
    }


def r2_by_group(grouping: Grouping, y: FloatArray, predicted: FloatArray) -> list[float | None]:
    """R² of each group (None for a group whose target is constant: scikit-learn's `force_finite=False` NaN)."""
    support = np.bincount(grouping.codes, minlength=grouping.size).astype(np.float64)
    mean = divide(np.bincount(grouping.codes, weights=y, minlength=grouping.size), support)
    total = np.bincount(grouping.codes, weights=(y - mean[grouping.codes]) ** 2, minlength=grouping.size)
    residual = np.bincount(grouping.codes, weights=(y - predicted) ** 2, minlength=grouping.size)
    return [value(1.0 - r / t) if t > 0 else None for r, t in zip(residual, total, strict=True)]


def regression_slice(grouping: Grouping, y: FloatArray, predicted: FloatArray, stats: FloatArray, *, shift: float,
                     min_support: int, resampled: FloatArray | None, confidence: float) -> dict[str, Any]:
    """One grouping's slice evidence: per-group measures (with intervals when `resampled` (resamples, groups, 5)
    sums are given), and the gaps between groups with enough support."""
    point_sums = group_sums(grouping.codes, grouping.size, stats)
    support = point_sums[0, :, 0]
    eligible = support >= min_support
    point = {name: v[0] for name, v in measures(point_sums, shift).items()}
    r2 = r2_by_group(grouping, y, predicted)
    sampled = measures(resampled, shift) if resampled is not None else None
    sampled_bounds = {name: bounds(sampled[name], confidence) for name in GROUP_MEASURES} if sampled else {}
    groups = []
    for g, label in enumerate(grouping.labels):
        entry: dict[str, Any] = {
            "group": label, "support": int(support[g]), "too_small": not bool(eligible[g]),
            "metrics": {**{name: value(point[name][g]) for name in GROUP_MEASURES}, "r2": r2[g]},
        }
        if sampled_bounds:
            entry["intervals"] = {name: sampled_bounds[name][g] for name in GROUP_MEASURES}
        groups.append(entry)
    judged = int(eligible.sum())
    point_gaps = gaps(point, eligible) if judged >= 2 else {}
    evidence: dict[str, Any] = {
        "name": grouping.name, "columns": list(grouping.columns),
        "edges": list(grouping.edges) if grouping.edges is not None else None,
        "min_support": min_support, "groups": groups, "groups_judged": judged,
        "gaps": {name: value(float(point_gaps[name])) if point_gaps else None for name in GAP_NAMES},
    }
    if sampled is not None:
        sampled_gaps = gaps(sampled, eligible) if judged >= 2 else {}
        evidence["gap_intervals"] = {
            name: bounds(sampled_gaps[name], confidence) if sampled_gaps else [None, None] for name in GAP_NAMES
        }
    return evidence
