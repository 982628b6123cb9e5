"""Split-conformal prediction sets: how often a candidate's set of plausible labels holds the truth, per group.

MAPIE's `SplitConformalClassifier` (LAC score) conformalizes the already-fitted candidate on the validation
split (prefit: the candidate is neither refitted nor re-scored; MAPIE reads the scores it already gave), then
predicts a set of labels for every test row at each confidence level of the spec. A reviewer reads empirical
coverage and mean set size overall and per sensitive group: marginal coverage can hide a group whose sets
miss the truth far more often than promised.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin

from engine.evaluation.groups import Grouping

FloatArray = NDArray[np.float64]
METHOD = "split conformal, LAC score (MAPIE SplitConformalClassifier, prefit), conformalized on the validation split"


class ScoresAsInput(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted classifier whose only input column is P(positive): lets MAPIE use the candidate's own scores."""

    def __init__(self) -> None:
        self.classes_ = np.array([0, 1])

    def fit(self, x: FloatArray, y: NDArray[np.intp]) -> ScoresAsInput:
        return self

    def predict_proba(self, x: FloatArray) -> FloatArray:
        p = np.asarray(x, dtype=np.float64)[:, 0]
        return np.column_stack([1.0 - p, p])

    def predict(self, x: FloatArray) -> NDArray[np.intp]:
        return (np.asarray(x, dtype=np.float64)[:, 0] >= 0.5).astype(np.intp)


def prediction_sets(valid_y: NDArray[np.bool_], valid_proba: FloatArray, test_proba: FloatArray,
                    levels: Sequence[float]) -> NDArray[np.bool_]:
    """(test rows, 2 classes, levels) membership of each label in each test row's prediction set."""
    from mapie.classification import SplitConformalClassifier

    mapie = SplitConformalClassifier(ScoresAsInput(), confidence_level=list(levels), conformity_score="lac",
                                     prefit=True)
    mapie.conformalize(valid_proba.reshape(-1, 1), valid_y.astype(np.intp))
    _, sets = mapie.predict_set(test_proba.reshape(-1, 1))
    return np.asarray(sets, dtype=bool)


def _by_group(grouping: Grouping, covered: NDArray[np.bool_], size: NDArray[np.intp],
              min_group_size: int) -> dict[str, Any]:
    support = np.bincount(grouping.codes, minlength=grouping.size)
    hits = np.bincount(grouping.codes, weights=covered.astype(np.float64), minlength=grouping.size)
    sizes = np.bincount(grouping.codes, weights=size.astype(np.float64), minlength=grouping.size)
    return {
        "name": grouping.name, "columns": list(grouping.columns),
        "groups": [
            {"group": label, "support": int(n), "too_small": bool(n < min_group_size),
             "coverage": float(hits[k] / n) if n else None, "mean_set_size": float(sizes[k] / n) if n else None}
            for k, (label, n) in enumerate(zip(grouping.labels, support, strict=True))
        ],
    }


def conformal_evidence(valid_y: NDArray[np.bool_], valid_proba: FloatArray, test_y: NDArray[np.bool_],
                       test_proba: FloatArray, *, levels: Sequence[float], groupings: Sequence[Grouping],
                       min_group_size: int) -> dict[str, Any]:
    """Coverage and mean set size on the test split at each level, overall and per group of every grouping."""
    started = time.perf_counter()
    sets = prediction_sets(valid_y, valid_proba, test_proba, levels)
    truth = test_y.astype(np.intp)
    results = []
    for k, level in enumerate(levels):
        members = sets[:, :, k]
        covered = members[np.arange(truth.size), truth]
        size = members.sum(axis=1)
        results.append({
            "confidence": float(level),
            "coverage": float(covered.mean()),
            "mean_set_size": float(size.mean()),
            "empty_rate": float(np.mean(size == 0)),
            "both_labels_rate": float(np.mean(size == 2)),
            "by_group": [_by_group(g, covered, size, min_group_size) for g in groupings],
        })
    return conformal_section(METHOD, calibration_rows=valid_y.size, rows=test_y.size, min_group_size=min_group_size,
                             levels=results, started=started)


def conformal_section(method: str, *, calibration_rows: int, rows: int, min_group_size: int,
                      levels: list[dict[str, Any]], started: float) -> dict[str, Any]:
    """The `conformal` section of any task type: its method, sizes, results per level and the time it took."""
    return {
        "method": method,
        "calibration_rows": int(calibration_rows),
        "rows": int(rows),
        "min_group_size": min_group_size,
        "levels": levels,
        "seconds": round(time.perf_counter() - started, 4),
    }
