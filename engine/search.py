"""Recorded hyper-parameter search: a candidate's `search` table tuned with Optuna, never on a test row.

A candidate may carry `search = {trials, space, sampler, pruner, timeout_s, seed, folds, metric}`. Each trial
draws parameters from `space` (on top of the candidate's own), fits the family on the training rows and scores it
on the validation split, or, with `folds`, by K-fold cross-validation on the training rows (each fold is a step the
pruner may stop early). The test split is never handed to a trial: a trial only sees the plan's `TrainingData`,
and the rows each trial fitted on and scored are kept (`Trial.rows_fit`, `rows_scored`) and their digests recorded,
so a test can prove the two disjoint from the test rows. The sampler is seeded (the search's `seed`, else the
split's) and trials run one after the other, so the same seed replays the same trials; a `timeout_s` that stops
the search early is recorded (`stopped_by`), since it breaks the replay. The best trial's parameters become the
candidate's, which is then trained and audited as any other. `record()` is the `search_completed` event's body:
every trial (parameters, score, duration, state, seed), the best, the score distribution and the parameter
importances (Optuna's fANOVA evaluator, seeded). optuna is imported only when a search runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.candidates import FAMILIES, TrainingData
from engine.canonical import digest, jsonable
from engine.evaluation.metrics import METRICS, Scores
from engine.progress import Progress, ProgressCallback
from engine.spec import CandidateSpec

DEFAULT_SEARCH: dict[str, Any] = {"trials": 20, "sampler": "tpe", "pruner": "median"}


@dataclass
class Trial:
    """One finished trial: what it tried, how it scored, and which rows it fitted on and scored."""

    number: int
    params: dict[str, Any]
    score: float | None
    state: str
    seconds: float
    steps: list[float] = field(default_factory=list)
    rows_fit: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    rows_scored: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))

    def to_json(self, seed: int) -> dict[str, Any]:
        rows = {"fit": int(self.rows_fit.size), "scored": int(self.rows_scored.size),
                "fit_sha256": rows_digest(self.rows_fit), "scored_sha256": rows_digest(self.rows_scored)}
        return {"number": self.number, "params": jsonable(self.params), "score": self.score, "state": self.state,
                "seconds": round(self.seconds, 3), "seed": seed, "steps": self.steps, "rows": rows}


@dataclass(frozen=True)
class SearchResult:
    """A finished search: every trial, the best one's parameters (the candidate's own merged in) and the record."""

    trials: list[Trial]
    best_params: dict[str, Any]
    record: dict[str, Any]


def rows_digest(rows: NDArray[np.intp]) -> str:
    """SHA-256 of a set of row positions (sorted), so the trail names the rows a trial saw without listing them."""
    return digest(sorted(int(r) for r in rows))


def settings(search: dict[str, Any], split_seed: int) -> dict[str, Any]:
    """The search table with its defaults filled in (the seed: the split's when none is given)."""
    return {**DEFAULT_SEARCH, "seed": split_seed, **search}


def _suggest(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameters from the space: `choices`, or `low`/`high` (integers when both are; `log`, `step`)."""
    params: dict[str, Any] = {}
    for name, dimension in space.items():
        if "choices" in dimension:
            params[name] = trial.suggest_categorical(name, list(dimension["choices"]))
        elif isinstance(dimension["low"], int) and isinstance(dimension["high"], int):
            params[name] = trial.suggest_int(name, dimension["low"], dimension["high"],
                                             step=int(dimension.get("step", 1)), log=bool(dimension.get("log")))
        else:
            params[name] = trial.suggest_float(name, float(dimension["low"]), float(dimension["high"]),
                                               step=dimension.get("step"), log=bool(dimension.get("log")))
    return params


def _parts(data: TrainingData, folds: int | None, seed: int) -> list[tuple[TrainingData, Any, NDArray[np.bool_]]]:
    """What each step fits on and scores: the validation split, or K stratified folds of the training rows."""
    if not folds:
        return [(data, data.x_valid, data.y_valid)]
    from sklearn.model_selection import StratifiedKFold

    parts = []
    for fit, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(data.x_train, data.y_train):
        fold = TrainingData(x_train=data.x_train.iloc[fit], y_train=data.y_train[fit],
                            x_valid=data.x_train.iloc[held], y_valid=data.y_train[held], features=data.features,
                            seed=data.seed)
        parts.append((fold, fold.x_valid, fold.y_valid))
    return parts


def _positions(*frames: Any) -> NDArray[np.intp]:
    return np.unique(np.concatenate([np.asarray(f.index, dtype=np.intp) for f in frames]))


def _sampler(optuna: Any, name: str, seed: int) -> Any:
    return optuna.samplers.RandomSampler(seed=seed) if name == "random" else optuna.samplers.TPESampler(seed=seed)


def _pruner(optuna: Any, name: str) -> Any:
    return optuna.pruners.MedianPruner(n_startup_trials=3) if name == "median" else optuna.pruners.NopPruner()


def run_search(candidate: CandidateSpec, data: TrainingData, *, metric: str, progress: ProgressCallback,
               test_rows: NDArray[np.intp] | None = None) -> SearchResult:
    """Tune `candidate` (which carries a `search` table) on `data`, the plan's training and validation rows.

    `test_rows`: the test split's row positions, when `data` holds rows of the same frame; the record then says how
    many of them any trial saw (zero, unless something is badly wrong)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = settings(dict(candidate.search or {}), data.seed)
    metric = str(search.get("metric", metric))
    seed, higher = int(search["seed"]), METRICS[metric].higher_is_better
    parts = _parts(data, search.get("folds"), seed)
    trials: list[Trial] = []

    def objective(trial: Any) -> float:
        started = time.perf_counter()
        tried = _suggest(trial, search["space"])
        record = Trial(trial.number, tried, None, "running", 0.0)
        trials.append(record)
        running = float("nan")
        for step, (fit, x_scored, y_scored) in enumerate(parts):
            model = FAMILIES[candidate.family].build({**candidate.params, **tried})
            model.fit(fit)
            record.rows_fit = np.union1d(record.rows_fit, _positions(fit.x_train, fit.x_valid))
            record.rows_scored = np.union1d(record.rows_scored, _positions(x_scored))
            value = METRICS[metric].compute(Scores.of(y_scored, model.predict_proba(x_scored)))
            record.steps.append(float("nan") if value is None else float(value))
            finite = [v for v in record.steps if np.isfinite(v)]
            running = float(np.mean(finite)) if finite else float("nan")
            record.seconds = time.perf_counter() - started
            if step < len(parts) - 1:  # a single step (the validation split) has nothing left to prune
                trial.report(running, step)
                if trial.should_prune():
                    record.state = "pruned"
                    raise optuna.TrialPruned()
        record.score, record.state = running, "complete" if np.isfinite(running) else "failed"
        return running  # NaN (the metric undefined on every step): Optuna records the trial as failed

    study = optuna.create_study(direction="maximize" if higher else "minimize",
                                sampler=_sampler(optuna, search["sampler"], seed),
                                pruner=_pruner(optuna, search["pruner"]))
    total = int(search["trials"])

    def report(study: Any, trial: Any) -> None:
        done = trials[-1]
        best = study.best_value if any(t.state == "complete" for t in trials) else None
        score = "pruned" if done.state == "pruned" else f"{metric} {done.score:.4f}"
        progress(Progress("search", f"{candidate.name}: trial {trial.number + 1}/{total} {score}"
                                    + (f" (best {best:.4f})" if best is not None else ""), candidate.name))

    started = time.perf_counter()
    study.optimize(objective, n_trials=total, timeout=search.get("timeout_s"), callbacks=[report], catch=())
    best = study.best_trial
    best_params = {**candidate.params, **best.params}
    record = _record(candidate, search, metric, higher, trials, best.number, _importances(optuna, study, seed),
                     time.perf_counter() - started, len(parts))
    seen = np.unique(np.concatenate([np.concatenate([t.rows_fit, t.rows_scored]) for t in trials]))
    record["test_rows_seen"] = None if test_rows is None else int(np.intersect1d(seen, test_rows).size)
    return SearchResult(trials, best_params, record)


def _importances(optuna: Any, study: Any, seed: int) -> dict[str, Any]:
    """Each parameter's share of the score's variance (fANOVA, seeded), or why it could not be computed."""
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"evaluator": "fANOVA", "values": {name: float(value) for name, value in found.items()}}


def _record(candidate: CandidateSpec, search: dict[str, Any], metric: str, higher: bool, trials: list[Trial],
            best: int, importances: dict[str, Any], seconds: float, steps: int) -> dict[str, Any]:
    """The `search_completed` event's body: the settings, every trial, the best, the distribution, importances."""
    seed = int(search["seed"])
    scores = [t.score for t in trials if t.state == "complete" and t.score is not None and np.isfinite(t.score)]
    quantiles = dict(zip(("min", "q25", "median", "q75", "max"),
                         (float(q) for q in np.quantile(scores, [0, 0.25, 0.5, 0.75, 1.0])), strict=True)) \
        if scores else {}
    chosen = next(t for t in trials if t.number == best)
    folds = search.get("folds")
    return {
        "candidate": candidate.name, "family": candidate.family, "metric": metric,
        "direction": "maximize" if higher else "minimize", "sampler": search["sampler"], "pruner": search["pruner"],
        "seed": seed, "trials_requested": int(search["trials"]), "timeout_s": search.get("timeout_s"),
        "space": search["space"],
        "scored_on": f"{folds}-fold cross-validation on the training rows" if folds else "the validation split",
        "steps_per_trial": steps,
        "stopped_by": "trials" if len(trials) >= int(search["trials"]) else "timeout",
        "seconds": round(seconds, 3),
        "trials": [t.to_json(seed) for t in trials],
        "best": {"number": chosen.number, "params": jsonable(chosen.params), "score": chosen.score},
        "scores": {"complete": len(scores), "pruned": sum(t.state == "pruned" for t in trials), **quantiles},
        "importances": importances,
    }


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """What the candidate's description keeps of its search (the card reads it): all but the trials."""
    return {key: value for key, value in record.items() if key != "trials"} | {"trials": len(record["trials"])}
