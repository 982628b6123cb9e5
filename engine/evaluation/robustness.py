"""Robustness of one candidate: does it break under noise, and does it change its answer when it must not?

On a seeded sample of test rows: perturbations (Gaussian noise scaled to each numeric feature's standard
deviation, categories resampled from the column's own values, missing values injected) with the drop in ROC AUC
and accuracy; invariance tests (each sensitive column shuffled across rows: when the column is not a feature the
prediction must not move; when it is one, the change is reported); and the directional expectations the spec
declares (raising `capital-gain` must not lower P(>50K)), each with the share of rows that violate it.

Each task reports its own metrics' change (`drop`: how much worse, positive = worse, so an RMSE increase for a
regression and an accuracy drop for a multiclass model; `relative_drop`: that change over the clean value):
binary ROC AUC and accuracy, regression RMSE and MAE, multiclass accuracy and macro F1 (the most probable class).
A regression's directional expectations read the prediction ("raising X must not lower the prediction"); a
multiclass model has no one output to move, so its declared expectations are recorded as not applicable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, roc_auc_score

from engine.candidates.base import Features

FloatArray = NDArray[np.float64]
Predict = Callable[[pd.DataFrame], FloatArray]
INVARIANCE_TOLERANCE = 1e-9
EXPECTATIONS = ("non_decreasing", "non_increasing")
# Each task's metrics under perturbation: the first is the one its rules judge by default; lower-is-better ones.
TASK_METRICS = {"binary": ("roc_auc", "accuracy"), "regression": ("rmse", "mae"),
                "multiclass": ("accuracy", "f1_macro")}
LOWER_IS_BETTER = ("rmse", "mae")


@dataclass(frozen=True)
class Directional:
    """A declared expectation: adding `shift` to `feature` must not move P(positive) against `expect`."""

    feature: str
    shift: float
    expect: str
    tolerance: float = 0.0


@dataclass(frozen=True)
class RobustnessSettings:
    rows: int = 2000
    noise_scale: float = 0.1
    swap_rate: float = 0.1
    missing_rate: float = 0.1
    threshold: float = 0.5
    directional: tuple[Directional, ...] = ()
    seed: int = 42
    task: str = "binary"


def _scores(y: NDArray[Any], output: FloatArray, settings: RobustnessSettings) -> dict[str, float | None]:
    """The task's metrics of `output` on the labels `y` (scikit-learn's)."""
    if settings.task == "regression":
        return {"rmse": float(np.sqrt(mean_squared_error(y, output))), "mae": float(mean_absolute_error(y, output))}
    if settings.task == "multiclass":
        predicted, labels = output.argmax(axis=1), list(range(output.shape[1]))
        return {"accuracy": float(accuracy_score(y, predicted)),
                "f1_macro": float(f1_score(y, predicted, labels=labels, average="macro", zero_division=0))}
    auc = float(roc_auc_score(y, output)) if 0 < y.sum() < y.size else None
    return {"roc_auc": auc, "accuracy": float(np.mean((output >= settings.threshold) == y))}


def _worse(metric: str, before: float | None, after: float | None) -> float | None:
    """How much worse `after` is than `before` (positive = worse): an increase of an error, a drop of a score."""
    if before is None or after is None:
        return None
    return float(after - before) if metric in LOWER_IS_BETTER else float(before - after)


def _flips(clean: FloatArray, output: FloatArray, settings: RobustnessSettings) -> float | None:
    """The share of rows whose decision changes: the label at the threshold, the most probable class; none for a
    regression."""
    if settings.task == "regression":
        return None
    if settings.task == "multiclass":
        return float(np.mean(output.argmax(axis=1) != clean.argmax(axis=1)))
    return float(np.mean((output >= settings.threshold) != (clean >= settings.threshold)))


def _row_change(output: FloatArray, clean: FloatArray) -> FloatArray:
    """Each row's largest absolute change of its output (over the classes of a multiclass model)."""
    change = np.abs(output - clean)
    return change.max(axis=1) if change.ndim == 2 else change


def _noise(x: pd.DataFrame, features: Features, settings: RobustnessSettings, rng: np.random.Generator
           ) -> pd.DataFrame:
    out = x.copy()
    for column in features.numeric:
        values = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        spread = float(np.nanstd(values)) if np.isfinite(values).any() else 0.0
        out[column] = values + rng.normal(0.0, settings.noise_scale * spread, size=values.size)
    return out


def _swap(x: pd.DataFrame, features: Features, settings: RobustnessSettings, rng: np.random.Generator
          ) -> pd.DataFrame:
    out = x.copy()
    for column in features.categorical:
        present = out[column].dropna().to_numpy()
        if present.size == 0:
            continue
        values = out[column].to_numpy(dtype=object)
        chosen = rng.random(values.size) < settings.swap_rate
        values[chosen] = rng.choice(present, size=int(chosen.sum()))
        out[column] = values
    return out


def _missing(x: pd.DataFrame, features: Features, settings: RobustnessSettings, rng: np.random.Generator
             ) -> pd.DataFrame:
    out = x.copy()
    for column in features.all:
        chosen = rng.random(len(out)) < settings.missing_rate
        if column in features.numeric:
            numbers = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan,
                                                                           copy=True)  # written below
            numbers[chosen] = np.nan
            out[column] = numbers
        else:
            out[column] = out[column].astype(object).where(~chosen, None)
    return out


PERTURBATIONS: dict[str, tuple[str, Callable[[pd.DataFrame, Features, RobustnessSettings, np.random.Generator],
                                             pd.DataFrame]]] = {
    "gaussian_noise": ("noise_scale", _noise),
    "category_swap": ("swap_rate", _swap),
    "missing_values": ("missing_rate", _missing),
}


def _perturbation(name: str, x: pd.DataFrame, y: NDArray[Any], clean: FloatArray, predict: Predict,
                  features: Features, settings: RobustnessSettings) -> dict[str, Any]:
    setting, perturb = PERTURBATIONS[name]
    rng = np.random.default_rng([settings.seed, list(PERTURBATIONS).index(name)])
    proba = predict(perturb(x, features, settings, rng))
    before, after = _scores(y, clean, settings), _scores(y, proba, settings)
    drop = {m: _worse(m, before[m], after[m]) for m in before}
    found: dict[str, Any] = {
        setting: getattr(settings, setting),
        "metrics": after,
        "drop": drop,
        "flip_rate": _flips(clean, proba, settings),
        "mean_abs_change": float(np.mean(np.abs(proba - clean))),
    }
    if settings.task != "binary":
        found["relative_drop"] = {m: None if d is None or not before[m] else float(d / abs(before[m]))  # type: ignore[arg-type]
                                  for m, d in drop.items()}
    return found


def _invariance(column: str, x: pd.DataFrame, clean: FloatArray, predict: Predict, features: Features,
                seed: int) -> dict[str, Any]:
    shuffled = x.copy()
    shuffled[column] = x[column].to_numpy()[np.random.default_rng([seed, 99]).permutation(len(x))]
    change = _row_change(predict(shuffled), clean)
    return {"column": column, "is_feature": column in features.all, "test": "column shuffled across rows",
            "violation_rate": float(np.mean(change > INVARIANCE_TOLERANCE)), "max_abs_change": float(change.max())}


def _directional(test: Directional, x: pd.DataFrame, clean: FloatArray, predict: Predict) -> dict[str, Any]:
    if clean.ndim == 2:
        return {"feature": test.feature, "shift": test.shift, "expect": test.expect, "tolerance": test.tolerance,
                "error": "not applicable: a multiclass model has no one output to move in a direction"}
    shifted = x.copy()
    shifted[test.feature] = pd.to_numeric(x[test.feature], errors="coerce").astype(np.float64) + test.shift
    change = predict(shifted) - clean
    wrong = change < -test.tolerance if test.expect == "non_decreasing" else change > test.tolerance
    return {"feature": test.feature, "shift": test.shift, "expect": test.expect, "tolerance": test.tolerance,
            "violation_rate": float(np.mean(wrong)), "mean_change": float(change.mean()),
            "worst_change": float(change.min() if test.expect == "non_decreasing" else change.max())}


def robustness_evidence(predict: Predict, frame: pd.DataFrame, y: NDArray[Any], *, features: Features,
                        sensitive: Sequence[str], settings: RobustnessSettings) -> dict[str, Any]:
    """Perturbation, invariance and directional results on a seeded sample of the test rows in `frame`."""
    started = time.perf_counter()
    rows = np.sort(np.random.default_rng(settings.seed).choice(len(frame), size=min(settings.rows, len(frame)),
                                                                replace=False))
    x, y = frame.iloc[rows].reset_index(drop=True), y[rows]
    clean = predict(x)
    return {
        "rows": int(rows.size),
        "seed": settings.seed,
        **({"threshold": settings.threshold} if settings.task == "binary" else
           {"task": settings.task, "metric": TASK_METRICS[settings.task][0]}),
        "clean": _scores(y, clean, settings),
        "perturbations": {name: _perturbation(name, x, y, clean, predict, features, settings)
                          for name in PERTURBATIONS},
        "invariance": [_invariance(c, x, clean, predict, features, settings.seed) for c in sensitive],
        "directional": [_directional(t, x, clean, predict) for t in settings.directional],
        "seconds": round(time.perf_counter() - started, 4),
    }


def directional_tests(declared: Sequence[Mapping[str, Any]]) -> tuple[Directional, ...]:
    return tuple(Directional(str(d["feature"]), float(d["shift"]), str(d["expect"]), float(d.get("tolerance", 0.0)))
                 for d in declared)
