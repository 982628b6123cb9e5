"""The recorded search against plain Optuna on the same data and seed: time, overhead ratio, and agreement.

Run `.venv/bin/python bench/search.py` (`--trials 30`, `--rows 7000`): a seeded sample of Adult (`bench/audit.py`'s
sample), split as an audit splits it, then a LightGBM search of N trials twice: through `engine.search.run_search`
(every trial recorded: rows seen, digests, importances) and through a bare Optuna study with the same sampler, seed
and objective (fit the same family on the training rows, score ROC AUC on the validation split, nothing recorded).
It prints both wall times, their ratio, whether the two runs drew the same parameters and the same scores, whether
a second recorded search with the same seed replays the first, and how many test rows any trial saw.

A benchmark, not a test: nothing here is collected by pytest, and nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.audit import sample  # noqa: E402
from engine.candidates import FAMILIES  # noqa: E402
from engine.evaluation.metrics import METRICS, Scores  # noqa: E402
from engine.prepare import Outputs, prepare  # noqa: E402
from engine.search import run_search, settings  # noqa: E402
from engine.spec import build_spec  # noqa: E402

SPACE = {"learning_rate": {"low": 0.02, "high": 0.3, "log": True}, "num_leaves": {"low": 4, "high": 96},
         "min_child_samples": {"low": 5, "high": 80}, "subsample": {"choices": [0.7, 0.85, 1.0]}}


def bare_optuna(candidate: Any, data: Any, trials: int) -> list[tuple[dict[str, Any], float]]:
    """The same search with Optuna alone: same sampler and seed, same objective, nothing recorded."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = settings(dict(candidate.search), data.seed)

    def objective(trial: Any) -> float:
        params = {**candidate.params}
        for name, d in SPACE.items():
            if "choices" in d:
                params[name] = trial.suggest_categorical(name, d["choices"])
            elif isinstance(d["low"], int):
                params[name] = trial.suggest_int(name, d["low"], d["high"], log=bool(d.get("log")))
            else:
                params[name] = trial.suggest_float(name, d["low"], d["high"], log=bool(d.get("log")))
        model = FAMILIES[candidate.family].build(params)
        model.fit(data)
        return float(METRICS["roc_auc"].compute(Scores.of(data.y_valid, model.predict_proba(data.x_valid))) or 0)

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=int(search["seed"])))
    study.optimize(objective, n_trials=trials)
    return [(t.params, float(t.value)) for t in study.trials]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--rows", type=int, default=7000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = build_spec({
            "name": "bench-search", "data": {"path": str(sample(folder, rows=args.rows)), "target": "income",
                                             "positive": ">50K", "sensitive": ["sex", "race"]},
            "candidates": [{"name": "gbm", "family": "lightgbm", "params": {"n_estimators": 200},
                            "search": {"trials": args.trials, "space": SPACE}}],
        }, source="bench/search.py")
        plan = prepare(spec, Outputs(folder / "audit.duckdb", folder / "cards", folder / "artifacts"))
        candidate = next(c for c in spec.candidates if c.search is not None)
        started = time.perf_counter()
        recorded = run_search(candidate, plan.training, metric="roc_auc", progress=lambda _: None,
                              test_rows=plan.splits.test)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        reference = bare_optuna(candidate, plan.training, args.trials)
        theirs = time.perf_counter() - started
        replay = run_search(candidate, plan.training, metric="roc_auc", progress=lambda _: None)
    trials = [(t.params, t.score) for t in recorded.trials]
    print(f"load average {os.getloadavg()[0]:.2f} · {args.rows} rows of Adult · {args.trials} LightGBM trials")
    print(f"recorded search {ours:.2f} s · bare Optuna {theirs:.2f} s · ratio {ours / theirs:.3f}")
    print(f"same parameters and scores as bare Optuna: {trials == reference}")
    print(f"same seed replays the same trials: {trials == [(t.params, t.score) for t in replay.trials]}")
    print(f"best trial {recorded.record['best']['number']} ROC AUC {recorded.record['best']['score']:.4f} · "
          f"test rows seen by any trial: {recorded.record['test_rows_seen']}")


if __name__ == "__main__":
    main()
