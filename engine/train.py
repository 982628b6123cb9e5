"""The `train` stage: fit each candidate on the plan's training set, and fit it again to check reproducibility.

`train_candidate()` fits one candidate of the spec (preprocessing and model on the training rows only);
`calibrate()` wraps a trained candidate in a calibrator fitted on the validation rows. Each also retrains an
unfitted twin with the same data, parameters and seed when the spec asks for reproducibility evidence (a
calibrated variant's twin is calibrated on top of its base's twin), so that `evaluate` can compare the two.
A candidate whose training fails is kept with its error: one family failing never aborts the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from engine.candidates import EXTERNAL, FAMILIES, Candidate, TrainingData
from engine.candidates.calibrated import CalibratedCandidate
from engine.canonical import jsonable
from engine.prepare import Plan
from engine.progress import Progress, ProgressCallback
from engine.search import SearchResult, run_search, summary
from engine.spec import CandidateSpec
from engine.timings import timed


@dataclass(frozen=True)
class Retrain:
    """A second fit of the candidate from the same inputs: the fitted twin, or why there is none."""

    twin: Candidate | None = None
    seconds: float = 0.0
    error: str | None = None
    skipped: str | None = None  # why no retrain was run (the spec turned it off, nothing here can train it)


@dataclass(frozen=True)
class Trained:
    """One candidate after training: the fitted model (None when training failed), its description, its twin."""

    candidate: CandidateSpec
    model: Candidate | None
    description: dict[str, Any]
    seconds: float
    retrain: Retrain
    error: str | None = None
    search: dict[str, Any] | None = None  # the search that chose its parameters: the `search_completed` body


def failure(exc: Exception) -> str:
    """How a failed fit or evaluation is recorded: the exception's type and message."""
    return f"{type(exc).__name__}: {exc}"


def _fit(model: Candidate, training: TrainingData) -> tuple[float, str | None]:
    started = time.perf_counter()
    try:
        model.fit(training)
    except Exception as exc:  # one family failing (LightGBM, a solver) must not abort the other candidates
        return time.perf_counter() - started, failure(exc)
    return time.perf_counter() - started, None


def retrain_twin(twin: Candidate, training: TrainingData) -> Retrain:
    """Fit `twin` (a new, unfitted copy of a candidate) on the same training set: the twin, or its failure."""
    seconds, error = _fit(twin, training)
    return Retrain(twin=None if error else twin, seconds=seconds, error=error)


def _retrain(plan: Plan, name: str, twin: Candidate | None, why_not: str, progress: ProgressCallback) -> Retrain:
    if not plan.settings.reproducibility:
        return Retrain(skipped="evaluation.reproducibility is false in the spec: no retrain was run")
    if twin is None:
        return Retrain(skipped=why_not)
    progress(Progress("reproduce", f"retraining {name} with the same seed", name))
    with timed("retrain"):
        return retrain_twin(twin, plan.training)


def _trained(candidate: CandidateSpec, model: Candidate, seconds: float, error: str | None,
             retrain: Retrain) -> Trained:
    if error is not None:
        return Trained(candidate, None, {"params": candidate.params}, seconds, Retrain(), error)
    return Trained(candidate, model, jsonable(model.describe()), seconds, retrain)


def searched(plan: Plan, candidate: CandidateSpec, progress: ProgressCallback) -> tuple[CandidateSpec, SearchResult]:
    """The candidate with the parameters its recorded search found best (on training and validation rows only)."""
    folds = (candidate.search or {}).get("folds")
    scored = f"{folds}-fold cross-validation of the training rows" if folds else "the validation split"
    progress(Progress("search", f"searching {candidate.name} ({candidate.family}), trials scored on {scored}",
                      candidate.name))
    own_rows = plan.spec.data.train_path is None  # a training file's rows are not positions of this data
    with timed("search"):
        result = run_search(candidate, plan.training, metric=plan.spec.optimizing_metric, progress=progress,
                            test_rows=plan.splits.test if own_rows else None)
    return replace(candidate, params=result.best_params), result


def train_candidate(plan: Plan, candidate: CandidateSpec, progress: ProgressCallback,
                    model: Candidate | None = None) -> Trained:
    """Fit one candidate of the spec (a model trained elsewhere is only bound: nothing to fit) and its twin; a
    candidate with a `search` table is first tuned (`engine.search`) and trained with the best trial's parameters
    (`model`: that fresh model, instead of the one the plan built from the spec's parameters)."""
    if candidate.search is not None:
        try:
            tuned, result = searched(plan, candidate, progress)
        except Exception as exc:  # a trial that cannot fit, or no trial finished: this candidate fails, not the run
            return Trained(candidate, None, {"params": candidate.params}, 0.0, Retrain(), f"search: {failure(exc)}")
        fresh = FAMILIES[tuned.family].build(tuned.params)
        trained = train_candidate(plan, replace(tuned, search=None), progress, fresh)
        description = {**trained.description, "search": summary(result.record)}
        return replace(trained, candidate=tuned, description=description, search=result.record)
    doing = "evaluating" if candidate.family == EXTERNAL else "training and evaluating"
    progress(Progress("train", f"{doing} {candidate.name} ({candidate.family})", candidate.name))
    model = model if model is not None else plan.models[candidate.name]
    with timed("train"):
        seconds, error = _fit(model, plan.training)
    if error is not None:
        return _trained(candidate, model, seconds, error, Retrain())
    external = candidate.family == EXTERNAL
    twin = None if external else FAMILIES[candidate.family].build(candidate.params)
    why_not = "a model trained elsewhere has no trainer here to retrain it"
    return _trained(candidate, model, seconds, None, _retrain(plan, candidate.name, twin, why_not, progress))


def calibrate(plan: Plan, base: Trained, method: str, progress: ProgressCallback) -> Trained:
    """The calibrated variant NAME.METHOD of a trained candidate, fitted on the validation split."""
    variant = CandidateSpec(f"{base.candidate.name}.{method}", base.candidate.family, base.candidate.params)
    progress(Progress("train", f"calibrating {base.candidate.name} ({method}, on the validation split)",
                      variant.name))
    if base.model is None:
        raise ValueError(f"{base.candidate.name} did not train, so it cannot be calibrated")
    model = CalibratedCandidate(base.model, method)
    with timed("train"):
        seconds, error = _fit(model, plan.training)
    if error is not None:
        return _trained(variant, model, seconds, error, Retrain())
    twin = CalibratedCandidate(base.retrain.twin, method) if base.retrain.twin is not None else None
    retrain = _retrain(plan, variant.name, twin, "its base model could not be retrained", progress)
    return _trained(variant, model, seconds, None, retrain)
