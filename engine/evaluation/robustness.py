"""Robustness of one candidate: does it break under noise, and does it change its answer when it must not?

On a seeded sample of test rows: perturbations (Gaussian noise scaled to each numeric feature's standard
deviation, categories resampled from the column's own values, missing values injected) with the drop in ROC AUC
and accuracy; invariance tests (each sensitive column shuffled across rows: when the column is not a feature the
prediction must not move; when it is one, the change is reported); and the directional expectations the spec
declares (raising `capital-gain` must not lower P(>50K)), each with the share of rows that violate it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from engine.candidates.base import Features

FloatArray = NDArray[np.float64]
Predict = Callable[[pd.DataFrame], FloatArray]
INVARIANCE_TOLERANCE = 1e-9
EXPECTATIONS = ("non_decreasing", "non_increasing")


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


def _scores(y: NDArray[np.bool_], proba: FloatArray, threshold: float) -> dict[str, float | None]:
    auc = float(roc_auc_score(y, proba)) if 0 < y.sum() < y.size else None
    return {"roc_auc": auc, "accuracy": float(np.mean((proba >= threshold) == y))}


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
            numbers = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
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


def _perturbation(name: str, x: pd.DataFrame, y: NDArray[np.bool_], clean: FloatArray, predict: Predict,
                  features: Features, settings: RobustnessSettings) -> dict[str, Any]:
    setting, perturb = PERTURBATIONS[name]
    rng = np.random.default_rng([settings.seed, list(PERTURBATIONS).index(name)])
    proba = predict(perturb(x, features, settings, rng))
    before, after = _scores(y, clean, settings.threshold), _scores(y, proba, settings.threshold)
    return {
        setting: getattr(settings, setting),
        "metrics": after,
        "drop": {m: None if before[m] is None or after[m] is None else float(before[m] - after[m])  # type: ignore[operator]
                 for m in before},
        "flip_rate": float(np.mean((proba >= settings.threshold) != (clean >= settings.threshold))),
        "mean_abs_change": float(np.mean(np.abs(proba - clean))),
    }


def _invariance(column: str, x: pd.DataFrame, clean: FloatArray, predict: Predict, features: Features,
                seed: int) -> dict[str, Any]:
    shuffled = x.copy()
    shuffled[column] = x[column].to_numpy()[np.random.default_rng([seed, 99]).permutation(len(x))]
    change = np.abs(predict(shuffled) - clean)
    return {"column": column, "is_feature": column in features.all, "test": "column shuffled across rows",
            "violation_rate": float(np.mean(change > INVARIANCE_TOLERANCE)), "max_abs_change": float(change.max())}


def _directional(test: Directional, x: pd.DataFrame, clean: FloatArray, predict: Predict) -> dict[str, Any]:
    shifted = x.copy()
    shifted[test.feature] = pd.to_numeric(x[test.feature], errors="coerce").astype(np.float64) + test.shift
    change = predict(shifted) - clean
    wrong = change < -test.tolerance if test.expect == "non_decreasing" else change > test.tolerance
    return {"feature": test.feature, "shift": test.shift, "expect": test.expect, "tolerance": test.tolerance,
            "violation_rate": float(np.mean(wrong)), "mean_change": float(change.mean()),
            "worst_change": float(change.min() if test.expect == "non_decreasing" else change.max())}


def robustness_evidence(predict: Predict, frame: pd.DataFrame, y: NDArray[np.bool_], *, features: Features,
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
        "threshold": settings.threshold,
        "clean": _scores(y, clean, settings.threshold),
        "perturbations": {name: _perturbation(name, x, y, clean, predict, features, settings)
                          for name in PERTURBATIONS},
        "invariance": [_invariance(c, x, clean, predict, features, settings.seed) for c in sensitive],
        "directional": [_directional(t, x, clean, predict) for t in settings.directional],
        "seconds": round(time.perf_counter() - started, 4),
    }


def directional_tests(declared: Sequence[Mapping[str, Any]]) -> tuple[Directional, ...]:
    return tuple(Directional(str(d["feature"]), float(d["shift"]), str(d["expect"]), float(d.get("tolerance", 0.0)))
                 for d in declared)
