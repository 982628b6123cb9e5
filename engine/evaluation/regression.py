"""`evaluate_regression()`: the evidence of a regression candidate from its predictions on the test split.

The counterpart of `performance.evaluate` for a numeric target: headline metrics (RMSE, MAE, median absolute
error, MAPE over the rows whose target is not zero (those are counted), R² and the mean error, a bias: mean of
`y - ŷ`), each with a seeded Poisson bootstrap interval; measures and gaps per sensitive group with intervals
(engine.evaluation.regression_slices); an error analysis by prediction bucket and a residual histogram (the
cards' figures); and, when the baseline's or the champion's predictions on the same rows are given, the paired
lift over each. Every number equals scikit-learn / fairlearn on the same rows (tests/test_regression_metrics.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.groups import Grouping
from engine.evaluation.performance import EvidenceSettings
from engine.evaluation.regression_kernel import HEADLINE, RegressionSamples, percentage_errors, regression_bootstrap
from engine.evaluation.regression_slices import GROUP_MEASURES, regression_slice, row_stats
from engine.evaluation.resampling import INTERVAL_METHOD, Finest, Reference, bounds, comparisons, value
from engine.evaluation.task_metrics import DIRECTIONS

FloatArray = NDArray[np.float64]
WORST_SLICES = 5
HISTOGRAM_BINS = 30


def regression_metrics(y: FloatArray, predicted: FloatArray) -> dict[str, float | None]:
    """Every headline metric on the rows given (None where undefined: no rows, a constant target for R², no
    nonzero target for MAPE)."""
    if y.size == 0:
        return dict.fromkeys(HEADLINE)
    residual = y - predicted
    ape, nonzero = percentage_errors(y, predicted)
    total = float(np.sum((y - np.mean(y)) ** 2))
    counted = float(nonzero.sum())
    return {
        "rmse": float(np.sqrt(np.mean(residual**2))),
        "mae": float(np.mean(np.abs(residual))),
        "median_absolute_error": float(np.median(np.abs(residual))),
        "mape": float(ape.sum() / counted) if counted else None,
        "r2": 1.0 - float(np.sum(residual**2)) / total if total > 0 else None,
        "mean_error": float(np.mean(residual)),
    }


def _checked(name: str, values: FloatArray, rows: int) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (rows,):
        raise ValueError(f"{name} has shape {array.shape}, expected ({rows},)")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{int(np.sum(~np.isfinite(array)))} {name} values are NaN or infinite")
    return array


RESIDUAL_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def _residual_quantiles(ids: NDArray[np.intp], residual: FloatArray, size: int) -> FloatArray:
    """(buckets, quantiles) of the residuals in each bucket (`np.quantile`'s linear method); NaN for an empty one.
    One stable sort by bucket (small integers), then `np.quantile` (a partition, not a sort) on each bucket's slice."""
    order = np.argsort(ids, kind="stable")
    ordered, starts = residual[order], np.searchsorted(ids[order], np.arange(size + 1))
    out = np.full((size, len(RESIDUAL_QUANTILES)), np.nan)
    for b in np.flatnonzero(np.diff(starts)):
        out[b] = np.quantile(ordered[starts[b]:starts[b + 1]], RESIDUAL_QUANTILES)
    return out


def _by_prediction(y: FloatArray, predicted: FloatArray, bins: int) -> list[dict[str, Any]]:
    """Error analysis by prediction bucket (equal mass): where the model errs, and which way, with the residual's
    quantiles in each bucket (the spread of the errors, drawn in the card)."""
    edges = np.unique(np.quantile(predicted, np.linspace(0, 1, bins + 1)))
    ids = np.searchsorted(edges[1:-1], predicted, side="right")
    size = max(edges.size - 1, 1)
    residual = y - predicted
    count = np.bincount(ids, minlength=size)
    sums = {name: np.bincount(ids, weights=w, minlength=size) for name, w in
            (("prediction", predicted), ("target", y), ("residual", residual), ("absolute", np.abs(residual)),
             ("squared", residual**2))}
    total_squared = max(float(sums["squared"].sum()), np.finfo(np.float64).tiny)
    upper = edges[1:] if edges.size > 1 else edges
    quantiles = _residual_quantiles(ids, residual, size)
    return [
        {"lower": float(edges[i]), "upper": float(upper[i]), "count": int(count[i]),
         "mean_prediction": float(sums["prediction"][i] / count[i]), "mean_target": float(sums["target"][i] / count[i]),
         "mean_residual": float(sums["residual"][i] / count[i]), "mae": float(sums["absolute"][i] / count[i]),
         "share_of_squared_error": float(sums["squared"][i] / total_squared),
         "residual_quantiles": {f"p{round(q * 100)}": float(v) for q, v in zip(RESIDUAL_QUANTILES, quantiles[i],
                                                                             strict=True)}}
        for i in np.flatnonzero(count)
    ]


def _histogram(residual: FloatArray) -> dict[str, list[float] | list[int]]:
    counts, edges = np.histogram(residual, bins=HISTOGRAM_BINS)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def _worst_slices(slices: list[dict[str, Any]], measure: str) -> list[dict[str, Any]]:
    """The groups with the largest loss (with enough support), across every grouping."""
    found = [
        {"grouping": s["name"], "group": g["group"], "support": g["support"], "metric": measure,
         "value": g["metrics"][measure]}
        for s in slices for g in s["groups"] if not g["too_small"] and g["metrics"].get(measure) is not None
    ]
    return sorted(found, key=lambda c: -c["value"])[:WORST_SLICES]


def _reference(name: str, y: FloatArray, predicted: FloatArray | None, settings: EvidenceSettings
               ) -> Reference | None:
    """A reference's metrics and its resampled metrics (same seed: the same resamples as the candidate's)."""
    if predicted is None:
        return None
    values = _checked(f"{name} predictions", predicted, y.size)
    samples = None
    if settings.resamples > 0:
        samples = regression_bootstrap(y, values, finest=np.zeros(y.size, dtype=np.int32), n_cells=1,
                                       seed=settings.seed, resamples=settings.resamples).by_name()
    return regression_metrics(y, values), samples


def evaluate_regression(y: FloatArray, predicted: FloatArray, *, groupings: list[Grouping],
                        settings: EvidenceSettings, baseline: FloatArray | None = None,
                        champion: FloatArray | None = None) -> dict[str, Any]:
    """The evidence of one regression candidate on held-out targets `y` and its predictions `predicted`."""
    y = _checked("targets", y, np.asarray(y).size)
    predicted = _checked("predictions", predicted, y.size)
    shift = float(np.mean(y)) if y.size else 0.0
    stats = row_stats(y, predicted, shift)
    samples: RegressionSamples | None = None
    grouped: list[FloatArray | None] = [None] * len(groupings)
    if settings.resamples > 0:
        finest = Finest.of(groupings, y.size)
        samples = regression_bootstrap(y, predicted, finest=finest.codes, n_cells=finest.size, seed=settings.seed,
                                       resamples=settings.resamples)
        grouped = list(finest.by_grouping(samples.sums, groupings))
    slices = [
        regression_slice(g, y, predicted, stats, shift=shift, min_support=settings.min_group_size, resampled=s,
                         confidence=settings.confidence)
        for g, s in zip(groupings, grouped, strict=True)
    ]
    points = regression_metrics(y, predicted)
    worst_by = settings.optimizing_metric if settings.optimizing_metric in GROUP_MEASURES[:3] else "rmse"
    evidence: dict[str, Any] = {
        "task": "regression",
        "split": "test",
        "rows": int(y.size),
        "zero_targets": int(np.count_nonzero(y == 0)),
        "metrics": points,
        "slices": slices,
        "error_analysis": {
            "by_prediction": _by_prediction(y, predicted, settings.calibration_bins) if y.size else [],
            "residual_histogram": _histogram(y - predicted),
            "worst_slices": _worst_slices(slices, worst_by),
        },
    }
    if samples is not None:
        evidence["intervals"] = {
            "method": INTERVAL_METHOD, "confidence": settings.confidence, "resamples": settings.resamples,
            "seed": settings.seed,
            "metrics": {name: bounds(samples.metric(name), settings.confidence) for name in HEADLINE},
        }
    references = {name: ref for name, other in (("baseline", baseline), ("champion", champion))
                  if (ref := _reference(name, y, other, settings)) is not None}
    if references:
        evidence["comparisons"] = comparisons(points, samples.by_name() if samples else None, references,
                                              directions=DIRECTIONS, confidence=settings.confidence)
    return evidence


__all__ = ["evaluate_regression", "regression_metrics", "value"]
