"""`evaluate()`: the performance evidence of one candidate, from its scores on the held-out test split.

It is the part of a candidate's `Evidence` (engine.evaluation.evidence) that comes from its test scores alone:
headline metrics with bootstrap intervals, metrics and fairness gaps per sensitive group with intervals,
calibration, ROC and PR curve points for figures, and an error analysis, as plain JSON sections. The bootstrap
samples are returned beside it so that candidates, the baseline and the champion can be compared paired
(engine.evaluation.comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.bootstrap import GROUP_LOSSES, HEADLINE, BootstrapSamples, bootstrap, percentile_interval
from engine.evaluation.calibration import bin_edges, bin_ids, calibration_evidence
from engine.evaluation.groups import Grouping
from engine.evaluation.metrics import METRICS, Scores, curve_points, headline_metrics
from engine.evaluation.segments import descending_order
from engine.evaluation.slices import GAP_NAMES, RATE_NAMES, confusion_by_group, gaps, rates, slice_evidence

FloatArray = NDArray[np.float64]
WORST_SLICES = 5


@dataclass(frozen=True)
class EvidenceSettings:
    """How evidence is computed (from the spec's `evaluation` table); recorded with every run."""

    threshold: float = 0.5
    optimizing_metric: str = "roc_auc"
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 42
    calibration_bins: int = 10
    min_group_size: int = 30


def interval(samples: FloatArray, confidence: float) -> list[float | None] | list[list[float | None]]:
    bounds = percentile_interval(samples, confidence)
    if bounds.ndim == 1:
        return [None if np.isnan(v) else float(v) for v in bounds]
    return [[None if np.isnan(v) else float(v) for v in pair] for pair in bounds.T]


def group_cells(groupings: list[Grouping], y: NDArray[np.bool_], predicted: NDArray[np.bool_]) -> tuple[Any, int]:
    """(rows, groupings) flat indices of (group, label, prediction) cells, all groupings side by side."""
    offsets = np.cumsum([0, *(g.size for g in groupings)])
    outcome = y.astype(np.intp) * 2 + predicted.astype(np.intp)
    columns = [(offsets[j] + g.codes) * 4 + outcome for j, g in enumerate(groupings)]
    cells = np.stack(columns, axis=1) if columns else np.zeros((y.size, 0), dtype=np.intp)
    return np.ascontiguousarray(cells, dtype=np.intp), int(offsets[-1]) * 4


def _slice_intervals(slices: list[dict[str, Any]], groupings: list[Grouping], samples: BootstrapSamples,
                     confidence: float) -> None:
    """Add bootstrap intervals of every group's metrics and of every gap, in place."""
    offset = 0
    for evidence, grouping in zip(slices, groupings, strict=True):
        counts = samples.counts[:, offset * 4:(offset + grouping.size) * 4].reshape(-1, grouping.size, 4)
        losses = samples.group_losses[:, offset:offset + grouping.size, :]
        offset += grouping.size
        resampled = rates(counts)
        per_metric = {**{name: resampled[name] for name in RATE_NAMES},
                      **{name: losses[:, :, k] for k, name in enumerate(GROUP_LOSSES)}}
        for name, values in per_metric.items():
            bounds = interval(values, confidence)
            for group, pair in zip(evidence["groups"], bounds, strict=True):
                group.setdefault("intervals", {})[name] = pair
        eligible = np.array([not g["too_small"] for g in evidence["groups"]])
        if eligible.sum() >= 2:
            resampled_gaps = gaps(resampled, eligible)
            evidence["gap_intervals"] = {name: interval(resampled_gaps[name], confidence) for name in GAP_NAMES}
        else:
            evidence["gap_intervals"] = {name: [None, None] for name in GAP_NAMES}


def _overall_rates(y: NDArray[np.bool_], predicted: NDArray[np.bool_]) -> dict[str, float | None]:
    """Selection rate, TPR, FPR, FNR and PPV over all test rows (the reference for slice gaps)."""
    counts = confusion_by_group(np.zeros(y.size, dtype=np.intp), 1, y, predicted)
    return {name: None if np.isnan(v[0]) else float(v[0]) for name, v in rates(counts).items()}


def _by_probability(y: NDArray[np.bool_], proba: FloatArray, threshold: float, bins: int) -> list[dict[str, Any]]:
    """Error analysis by predicted-probability bucket (equal width)."""
    edges = bin_edges(proba, bins, "uniform")
    ids = bin_ids(proba, edges)
    count = np.bincount(ids, minlength=bins)
    positives = np.bincount(ids, weights=y.astype(np.float64), minlength=bins)
    errors = np.bincount(ids, weights=((proba >= threshold) != y).astype(np.float64), minlength=bins)
    total_errors = max(float(errors.sum()), 1.0)
    return [
        {"lower": float(edges[i]), "upper": float(edges[i + 1]), "count": int(count[i]),
         "positive_rate": float(positives[i] / count[i]), "accuracy": float(1 - errors[i] / count[i]),
         "share_of_errors": float(errors[i] / total_errors)}
        for i in np.flatnonzero(count)
    ]


def _worst_slices(slices: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """The lowest-scoring groups with enough support, across every grouping."""
    sign = 1.0 if METRICS[metric].higher_is_better else -1.0
    candidates = [
        {"grouping": s["name"], "group": g["group"], "support": g["support"], "metric": metric,
         "value": g["metrics"][metric]}
        for s in slices for g in s["groups"]
        if not g["too_small"] and g["metrics"].get(metric) is not None
    ]
    return sorted(candidates, key=lambda c: sign * c["value"])[:WORST_SLICES]


def evaluate(y: NDArray[np.bool_], proba: FloatArray, *, groupings: list[Grouping],
             settings: EvidenceSettings) -> tuple[dict[str, Any], BootstrapSamples | None]:
    """The evidence of one candidate on held-out labels `y` and scores `proba`, and its bootstrap samples."""
    if not np.all(np.isfinite(proba)):
        raise ValueError(f"{int(np.sum(~np.isfinite(proba)))} predicted probabilities are NaN or infinite")
    threshold = settings.threshold
    order = descending_order(proba)
    scores = Scores.presorted(y[order], proba[order], threshold)
    slices = [
        slice_evidence(g, y, proba, threshold=threshold, order=order, min_support=settings.min_group_size,
                       confidence=settings.confidence)
        for g in groupings
    ]
    evidence: dict[str, Any] = {
        "split": "test",
        "rows": int(y.size),
        "positives": int(np.count_nonzero(y)),
        "threshold": threshold,
        "metrics": headline_metrics(scores),
        "rates": _overall_rates(y, proba >= threshold),
        "curves": curve_points(scores),
        "slices": slices,
        "calibration": calibration_evidence(y, proba, groupings, bins=settings.calibration_bins),
        "error_analysis": {
            "by_probability": _by_probability(y, proba, threshold, settings.calibration_bins),
            "worst_slices": _worst_slices(slices, settings.optimizing_metric),
        },
    }
    if settings.resamples <= 0:
        return evidence, None
    cells, n_cells = group_cells(groupings, y, proba >= threshold)
    samples = bootstrap(y, proba, threshold=threshold, cells=cells, n_cells=n_cells, seed=settings.seed,
                        resamples=settings.resamples, order=order)
    evidence["intervals"] = {
        "method": "percentile bootstrap with Poisson(1) row weights; DeLong for the ROC AUC of each group; "
                  "none for each group's PR AUC",
        "confidence": settings.confidence,
        "resamples": settings.resamples,
        "seed": settings.seed,
        "metrics": {name: interval(samples.metric(name), settings.confidence) for name in HEADLINE},
    }
    _slice_intervals(slices, groupings, samples, settings.confidence)
    return evidence, samples

