"""Split-conformal prediction sets of a multiclass candidate: how often the set of plausible classes holds the
truth, and how many classes it holds, overall and per sensitive group.

MAPIE's `SplitConformalClassifier` (LAC score, prefit) conformalizes the already-fitted candidate on the
validation split: the candidate is neither refitted nor re-scored, MAPIE reads the class probabilities it already
gave (`ProbabilitiesAsInput`). Each test row then gets a set of classes at each confidence level of the spec. A
set of every class always covers: the mean set size says what the coverage cost, and a group whose sets are
larger (or miss more often) than the others' is one the model is less sure about.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin

from engine.evaluation.conformal import conformal_section
from engine.evaluation.groups import Grouping
from engine.evaluation.resampling import divide, value

FloatArray = NDArray[np.float64]
KIND = "sets"
METHOD = "split conformal, LAC score (MAPIE SplitConformalClassifier, prefit), conformalized on the validation split"


class ProbabilitiesAsInput(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted classifier whose input columns are the candidate's class probabilities: MAPIE uses them as they are."""

    def __init__(self, classes: int = 3) -> None:
        self.classes = classes
        self.classes_ = np.arange(classes)

    def fit(self, x: FloatArray, y: NDArray[np.intp]) -> ProbabilitiesAsInput:
        return self

    def predict_proba(self, x: FloatArray) -> FloatArray:
        return np.asarray(x, dtype=np.float64)

    def predict(self, x: FloatArray) -> NDArray[np.intp]:
        return np.asarray(np.argmax(np.asarray(x, dtype=np.float64), axis=1), dtype=np.intp)


def prediction_sets(valid_y: NDArray[np.intp], valid_proba: FloatArray, test_proba: FloatArray,
                    levels: Sequence[float]) -> NDArray[np.bool_]:
    """(test rows, classes, levels) membership of each class in each test row's prediction set."""
    from mapie.classification import SplitConformalClassifier

    mapie = SplitConformalClassifier(ProbabilitiesAsInput(valid_proba.shape[1]), confidence_level=list(levels),
                                     conformity_score="lac", prefit=True)
    mapie.conformalize(valid_proba, np.asarray(valid_y, dtype=np.intp))
    _, sets = mapie.predict_set(test_proba)
    return np.asarray(sets, dtype=bool)


def sets_by_group(grouping: Grouping, covered: NDArray[np.bool_], size: NDArray[np.intp],
                  min_group_size: int) -> dict[str, Any]:
    """Coverage and mean set size of each group of `grouping` (None where a group has no rows)."""
    support = np.bincount(grouping.codes, minlength=grouping.size).astype(np.float64)
    coverage = divide(np.bincount(grouping.codes, weights=covered.astype(np.float64), minlength=grouping.size),
                      support)
    mean_size = divide(np.bincount(grouping.codes, weights=size.astype(np.float64), minlength=grouping.size),
                       support)
    return {
        "name": grouping.name, "columns": list(grouping.columns),
        "groups": [{"group": label, "support": int(support[k]), "too_small": bool(support[k] < min_group_size),
                    "coverage": value(coverage[k]), "mean_set_size": value(mean_size[k])}
                   for k, label in enumerate(grouping.labels)],
    }


def conformal_multiclass_evidence(valid_y: NDArray[np.intp], valid_proba: FloatArray, test_y: NDArray[np.intp],
                                  test_proba: FloatArray, *, levels: Sequence[float], groupings: Sequence[Grouping],
                                  min_group_size: int) -> dict[str, Any]:
    """Coverage and mean set size on the test split at each level, overall and per group of every grouping."""
    started = time.perf_counter()
    sets = prediction_sets(valid_y, valid_proba, test_proba, levels)
    truth = np.asarray(test_y, dtype=np.intp)
    classes = test_proba.shape[1]
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
            "all_classes_rate": float(np.mean(size == classes)),
            "by_group": [sets_by_group(g, covered, size, min_group_size) for g in groupings],
        })
    section = conformal_section(METHOD, calibration_rows=valid_y.size, rows=truth.size,
                                min_group_size=min_group_size, levels=results, started=started)
    return {"kind": KIND, **section}
