"""Overfitting and learning curves: the `generalization` section of a candidate.

The gap: the optimizing metric on the rows the candidate was fitted on beside the same metric on the validation
and test rows. A model that scores far better on its own training rows than on held-out rows has memorised them
(variance); one that scores poorly on both has not learned enough (bias). `gap` is signed so that a positive gap
always means "better on the training rows" (train minus test for a higher-is-better metric, test minus train for
a loss).

The learning curve (`evaluation.learning_curve`: `true` for 10, 25, 50 and 100% of the training rows, or a list
of fractions) refits the candidate on growing, nested shares of the training rows (a seeded permutation, the
first n rows of it, as scikit-learn's `learning_curve` takes the first n of its training fold) and scores each fit
on those rows and on the validation rows: never on the test rows. The rule kind `generalization_gap`
(`engine.policy.rules_fit`) judges the gap; the curve is drawn in the card and the TUI.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.candidates import BASELINE, EXTERNAL, FAMILIES, Candidate, TrainingData
from engine.candidates.calibrated import CalibratedCandidate
from engine.evaluation.cv import score
from engine.evaluation.metrics import METRICS
from engine.progress import Progress, ProgressCallback
from engine.spec import CandidateSpec

JSON = dict[str, Any]
DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def curve_fractions(setting: Any) -> tuple[float, ...]:
    """The fractions of `evaluation.learning_curve` (absent or false: none; true: 10, 25, 50 and 100%)."""
    if setting is True:
        return DEFAULT_FRACTIONS
    if not setting:
        return ()
    return tuple(sorted(float(f) for f in setting))


def curve_sizes(rows: int, fractions: tuple[float, ...]) -> list[int]:
    """Training rows at each fraction, as scikit-learn's `learning_curve` turns fractions into sizes."""
    return [min(max(int(f * rows), 1), rows) for f in fractions]


def gap(metric: str, train: float | None, held_out: float | None) -> float | None:
    """How much better the metric is on the training rows than on held-out rows (positive = better on train)."""
    if train is None or held_out is None:
        return None
    return train - held_out if METRICS[metric].higher_is_better else held_out - train


def why_no_gap(candidate: CandidateSpec, trained_on: str) -> str | None:
    """Why the training rows' metric would not mean what it says, or None."""
    if "no training data was given" in trained_on:
        return "no training rows: the baseline's class prior was taken from the validation part"
    if candidate.family == EXTERNAL and "training data file" not in trained_on:
        return "a model trained elsewhere: the rows it was fitted on are not known here"
    return None


def learning_curve(candidate: CandidateSpec, training: TrainingData, fractions: tuple[float, ...], *, metric: str,
                   threshold: float, progress: ProgressCallback) -> JSON:
    """The metric on the first n rows of a seeded permutation of the training rows and on the validation rows,
    for each fraction's n (see the module's docstring)."""
    order = np.random.default_rng(training.seed).permutation(len(training.y_train))
    points = []
    for fraction, rows in zip(fractions, curve_sizes(order.size, fractions), strict=True):
        progress(Progress("curve", f"learning curve of {candidate.name}: {rows} training rows", candidate.name))
        subset = order[:rows]
        x, y = training.x_train.iloc[subset], training.y_train[subset]
        refit = FAMILIES[candidate.family].build(candidate.params)
        try:
            refit.fit(TrainingData(x_train=x, y_train=y, x_valid=training.x_valid, y_valid=training.y_valid,
                                   features=training.features, seed=training.seed))
            on_train = score(metric, y, refit.predict_proba(x), threshold)
            on_validation = score(metric, training.y_valid, refit.predict_proba(training.x_valid), threshold)
        except Exception as exc:  # a share too small to fit (one label) is a point without scores, not a failure
            points.append({"fraction": fraction, "rows": rows, "train": None, "validation": None,
                           "error": f"{type(exc).__name__}: {exc}"})
            continue
        points.append({"fraction": fraction, "rows": rows, "train": on_train, "validation": on_validation})
    return {"metric": metric, "scored_on": "validation", "points": points}


def generalization(model: Candidate, candidate: CandidateSpec, training: TrainingData, *, trained_on: str,
                   y_test: NDArray[np.bool_], proba_test: NDArray[np.float64], metric: str, threshold: float,
                   fractions: tuple[float, ...], progress: ProgressCallback) -> JSON:
    """The `generalization` section of one fitted candidate: the gap, and the learning curve when asked for."""
    reason = why_no_gap(candidate, trained_on)
    section: JSON = {"metric": metric, "higher_is_better": METRICS[metric].higher_is_better}
    if reason is not None:
        return {**section, "skipped": reason}
    on_train = score(metric, training.y_train, model.predict_proba(training.x_train), threshold)
    on_validation = score(metric, training.y_valid, model.predict_proba(training.x_valid), threshold)
    on_test = score(metric, y_test, proba_test, threshold)
    section |= {"train": on_train, "validation": on_validation, "test": on_test,
                "gap": gap(metric, on_train, on_test), "validation_gap": gap(metric, on_train, on_validation),
                "train_rows": len(training.y_train), "test_rows": int(y_test.size)}
    refittable = candidate.family not in (EXTERNAL, BASELINE) and not isinstance(model, CalibratedCandidate)
    if fractions and refittable:
        section["learning_curve"] = learning_curve(candidate, training, fractions, metric=metric,
                                                   threshold=threshold, progress=progress)
    return section
