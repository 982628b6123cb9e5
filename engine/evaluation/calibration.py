"""Whether probabilities mean what they say: ECE and MCE, the Brier decomposition, reliability bins.

Bins follow scikit-learn's `calibration_curve` exactly (`uniform` = equal width, `quantile` = equal mass,
bin of each score by `searchsorted` on the inner edges), so the stored reliability diagram equals it. Per
group, the expected calibration error comes from one bincount over `group * bins + bin`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.groups import Grouping

FloatArray = NDArray[np.float64]
STRATEGIES = ("uniform", "quantile")


def bin_edges(proba: FloatArray, bins: int, strategy: str) -> FloatArray:
    if strategy == "quantile":
        return np.asarray(np.percentile(proba, np.linspace(0, 1, bins + 1) * 100), dtype=np.float64)
    return np.linspace(0.0, 1.0, bins + 1)


def bin_ids(proba: FloatArray, edges: FloatArray) -> NDArray[np.intp]:
    return np.asarray(np.searchsorted(edges[1:-1], proba), dtype=np.intp)


def _per_bin(ids: NDArray[np.intp], bins: int, y: NDArray[np.bool_], proba: FloatArray) -> tuple[FloatArray, ...]:
    count = np.bincount(ids, minlength=bins).astype(np.float64)
    positives = np.bincount(ids, weights=y.astype(np.float64), minlength=bins).astype(np.float64)
    predicted = np.bincount(ids, weights=proba, minlength=bins).astype(np.float64)
    return count, positives, predicted


def reliability(y: NDArray[np.bool_], proba: FloatArray, *, bins: int, strategy: str) -> dict[str, Any]:
    """ECE, MCE, Brier and its reliability/resolution/uncertainty split, and the diagram's bins."""
    edges = bin_edges(proba, bins, strategy)
    count, positives, predicted = _per_bin(bin_ids(proba, edges), bins, y, proba)
    filled = count > 0
    fraction = positives[filled] / count[filled]
    mean_predicted = predicted[filled] / count[filled]
    weight = count[filled] / y.size
    gap = np.abs(fraction - mean_predicted)
    base_rate = float(np.mean(y))
    return {
        "strategy": strategy,
        "bins": bins,
        "ece": float(np.sum(weight * gap)),
        "mce": float(np.max(gap)),
        "brier": float(np.mean((proba - y) ** 2)),
        "reliability": float(np.sum(weight * (mean_predicted - fraction) ** 2)),
        "resolution": float(np.sum(weight * (fraction - base_rate) ** 2)),
        "uncertainty": base_rate * (1 - base_rate),
        "diagram": [
            {"lower": float(edges[i]), "upper": float(edges[i + 1]), "count": int(count[i]),
             "mean_predicted": float(predicted[i] / count[i]), "fraction_positive": float(positives[i] / count[i])}
            for i in np.flatnonzero(filled)
        ],
    }


def ece_by_group(grouping: Grouping, y: NDArray[np.bool_], proba: FloatArray, *, bins: int) -> list[float | None]:
    """Equal-width expected calibration error of each group (None for an empty group)."""
    ids = bin_ids(proba, bin_edges(proba, bins, "uniform"))
    cells = grouping.codes * bins + ids
    count, positives, predicted = (
        a.reshape(grouping.size, bins) for a in _per_bin(cells, grouping.size * bins, y, proba)
    )
    support = count.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_bin = np.abs(positives - predicted)  # = count * |fraction - mean_predicted|
        ece = per_bin.sum(axis=1) / support
    return [None if s == 0 else float(e) for s, e in zip(support, ece, strict=True)]


def calibration_evidence(y: NDArray[np.bool_], proba: FloatArray, groupings: list[Grouping], *,
                         bins: int) -> dict[str, Any]:
    """Both bin strategies overall, and the equal-width ECE of every group of every grouping."""
    return {
        **{strategy: reliability(y, proba, bins=bins, strategy=strategy) for strategy in STRATEGIES},
        "ece_by_group": {
            g.name: dict(zip(g.labels, ece_by_group(g, y, proba, bins=bins), strict=True)) for g in groupings
        },
    }
