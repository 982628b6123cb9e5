"""Cross-validation as stability evidence: the `cross_validation` section of a candidate (`split.folds = K`).

Each trainable candidate is refitted from its family and parameters on every fold of the development rows
(`engine.folds`: the split's strategy respected) and scored on that fold's held-out rows with the optimizing
metric. The test part is never touched: the audit's test metrics stay the final estimate, the folds say how much
the metric moves when the training rows change. A fold's early-stopping rows (families that use them) are a
seeded stratified share of the fold's own training rows, the share the audit's validation part has of the
development rows, so no held-out row of the fold is seen while fitting.

The section holds every fold's score and rows, their mean, standard deviation (population, ddof 0, as
`numpy.std`), spread (best minus worst) and worst fold; the rule kind `cv_stability` (`engine.policy.rules_fit`)
judges it. A model trained elsewhere cannot be refitted and a calibrated variant is its base refitted plus a
calibrator, so both record why they have no folds (their rules are `unknown`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from engine.candidates import EXTERNAL, FAMILIES, Candidate, Features, TrainingData
from engine.candidates.calibrated import CalibratedCandidate
from engine.evaluation.metrics import METRICS, Scores
from engine.folds import Fold
from engine.progress import Progress, ProgressCallback
from engine.spec import CandidateSpec

JSON = dict[str, Any]
NO_DEVELOPMENT_ROWS = ("no training rows are taken from the data (a training file is given, or nothing here "
                       "trains): there is nothing to cut into folds")


def fold_training(x: pd.DataFrame, y: NDArray[np.bool_], features: Features, *, seed: int,
                  early_stopping_share: float) -> TrainingData:
    """The training set of one fold: its rows, less a seeded stratified share kept for early stopping."""
    rows = np.arange(len(y))
    try:
        fit, stop = train_test_split(rows, test_size=early_stopping_share, stratify=y, random_state=seed)
    except ValueError:  # too few rows of a label to stratify: a plain seeded share
        fit, stop = train_test_split(rows, test_size=early_stopping_share, random_state=seed)
    fit, stop = np.sort(fit), np.sort(stop)
    return TrainingData(x_train=x.iloc[fit], y_train=y[fit], x_valid=x.iloc[stop], y_valid=y[stop],
                        features=features, seed=seed)


def score(metric: str, y: NDArray[np.bool_], proba: NDArray[np.float64], threshold: float) -> float | None:
    """The metric of `proba` against `y` (None where it is undefined)."""
    return METRICS[metric].compute(Scores.of(y, proba, threshold))


def summary(metric: str, scores: list[float | None]) -> JSON:
    """Mean, population standard deviation, spread and worst of the fold scores (None if any is undefined)."""
    if not scores or any(s is None for s in scores):
        return {"mean": None, "std": None, "spread": None, "worst": None}
    values = np.asarray(scores, dtype=np.float64)
    worst = float(values.min() if METRICS[metric].higher_is_better else values.max())
    return {"mean": float(values.mean()), "std": float(values.std()), "spread": float(values.max() - values.min()),
            "worst": worst}


def why_no_folds(model: Candidate, candidate: CandidateSpec) -> str | None:
    """Why this candidate cannot be refitted per fold, or None when it can."""
    if candidate.family == EXTERNAL:
        return "a model trained elsewhere has no trainer here to refit on each fold"
    if isinstance(model, CalibratedCandidate):
        return "a calibrated variant: its base candidate's folds are its stability evidence"
    return None


def cross_validation(model: Candidate, candidate: CandidateSpec, folds: tuple[Fold, ...], *, frame: pd.DataFrame,
                     y: NDArray[np.bool_], features: Features, metric: str, threshold: float, seed: int,
                     strategy: str, early_stopping_share: float, progress: ProgressCallback,
                     asked: int | None) -> JSON | None:
    """The `cross_validation` section of one candidate (None when the spec asks for no folds, `asked`)."""
    if not asked:
        return None
    base: JSON = {"folds": asked, "strategy": strategy, "metric": metric,
                  "higher_is_better": METRICS[metric].higher_is_better}
    reason = why_no_folds(model, candidate) or (None if folds else NO_DEVELOPMENT_ROWS)
    if reason is not None:
        return {**base, "skipped": reason}
    per_fold = []
    for number, fold in enumerate(folds, start=1):
        progress(Progress("cv", f"cross-validating {candidate.name}: fold {number} of {len(folds)}", candidate.name))
        refit = FAMILIES[candidate.family].build(candidate.params)
        try:
            refit.fit(fold_training(frame.iloc[fold.train], y[fold.train], features, seed=seed,
                                    early_stopping_share=early_stopping_share))
            value = score(metric, y[fold.held_out], refit.predict_proba(frame.iloc[fold.held_out]), threshold)
        except Exception as exc:  # a fold that cannot be fitted leaves the section's rules unknown, never a pass
            return {**base, "error": f"fold {number}: {type(exc).__name__}: {exc}"}
        per_fold.append({"fold": number, **fold.record(), "score": value})
    return {**base, "per_fold": per_fold, **summary(metric, [f["score"] for f in per_fold])}
