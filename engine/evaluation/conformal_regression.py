"""Split-conformal prediction intervals of a regression candidate: how often they hold the truth, per group.

MAPIE's `SplitConformalRegressor` (absolute residual score, prefit) conformalizes the already-fitted candidate
on the validation split: the candidate is neither refitted nor re-scored, MAPIE reads the predictions it already
gave (`PredictionsAsInput`). Each test row then gets the interval ŷ ± q at each confidence level of the spec. A
reviewer reads empirical coverage and mean width overall and per sensitive group: marginal coverage can hide a
group whose intervals miss far more often than promised.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, RegressorMixin

from engine.evaluation.conformal import conformal_section
from engine.evaluation.groups import Grouping
from engine.evaluation.resampling import divide, value

FloatArray = NDArray[np.float64]
KIND = "split"
METHOD = ("split conformal, absolute residual score (MAPIE SplitConformalRegressor, prefit), conformalized on the "
          "validation split")


class PredictionsAsInput(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted regressor whose only input column is the candidate's prediction: MAPIE uses it as it is."""

    def __init__(self) -> None:
        self.fitted_ = True

    def fit(self, x: FloatArray, y: FloatArray) -> PredictionsAsInput:
        return self

    def predict(self, x: FloatArray) -> FloatArray:
        return np.asarray(x, dtype=np.float64)[:, 0]


def prediction_intervals(valid_y: FloatArray, valid_predicted: FloatArray, test_predicted: FloatArray,
                         levels: Sequence[float]) -> FloatArray:
    """(test rows, 2 bounds, levels) lower and upper ends of each test row's interval at each level."""
    from mapie.regression import SplitConformalRegressor

    mapie = SplitConformalRegressor(PredictionsAsInput(), confidence_level=list(levels), conformity_score="absolute",
                                    prefit=True)
    mapie.conformalize(valid_predicted.reshape(-1, 1), valid_y)
    _, intervals = mapie.predict_interval(test_predicted.reshape(-1, 1))
    return np.asarray(intervals, dtype=np.float64).reshape(test_predicted.size, 2, len(levels))


def intervals_by_group(grouping: Grouping, covered: NDArray[np.bool_], width: FloatArray, min_group_size: int
                       ) -> dict[str, Any]:
    """Coverage and mean width of each group of `grouping` (None where a group has no rows)."""
    support = np.bincount(grouping.codes, minlength=grouping.size).astype(np.float64)
    coverage = divide(np.bincount(grouping.codes, weights=covered.astype(np.float64), minlength=grouping.size),
                      support)
    mean_width = divide(np.bincount(grouping.codes, weights=width, minlength=grouping.size), support)
    return {
        "name": grouping.name, "columns": list(grouping.columns),
        "groups": [{"group": label, "support": int(support[k]), "too_small": bool(support[k] < min_group_size),
                    "coverage": value(coverage[k]), "mean_width": value(mean_width[k])}
                   for k, label in enumerate(grouping.labels)],
    }


def conformal_regression_evidence(valid_y: FloatArray, valid_predicted: FloatArray, test_y: FloatArray,
                                  test_predicted: FloatArray, *, levels: Sequence[float],
                                  groupings: Sequence[Grouping], min_group_size: int) -> dict[str, Any]:
    """Coverage and mean width of the intervals on the test split at each level, overall and per group."""
    started = time.perf_counter()
    intervals = prediction_intervals(valid_y, valid_predicted, test_predicted, levels)
    results = [interval_level(level, intervals[:, 0, k], intervals[:, 1, k], test_y, groupings, min_group_size)
               for k, level in enumerate(levels)]
    section = conformal_section(METHOD, calibration_rows=valid_y.size, rows=test_y.size,
                                min_group_size=min_group_size, levels=results, started=started)
    return {"kind": KIND, **section}


def interval_level(level: float, lower: FloatArray, upper: FloatArray, test_y: FloatArray,
                   groupings: Sequence[Grouping], min_group_size: int) -> dict[str, Any]:
    """One confidence level's coverage and mean width of intervals [lower, upper], overall and per group."""
    covered = (lower <= test_y) & (test_y <= upper)
    width = upper - lower
    return {
        "confidence": float(level),
        "coverage": float(covered.mean()),
        "mean_width": float(width.mean()),
        "by_group": [intervals_by_group(g, covered, width, min_group_size) for g in groupings],
    }
