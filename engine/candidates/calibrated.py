"""Post-hoc calibration of a trained candidate, fitted on the validation split only.

A calibrated variant wraps an already-fitted candidate and maps its scores through a calibrator learned on
validation rows, so the policy judges exactly what would ship. The test split is never seen by either. A binary
model takes Platt scaling or isotonic regression of P(positive); a multiclass model takes temperature scaling:
its log-probabilities (its logits, up to a per-row constant) divided by one temperature T > 0 fitted by the
validation log loss, then the softmax — the class ranking of every row is unchanged, only its confidence moves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from engine.candidates.base import Candidate, TrainingData

METHODS_BY_TASK: dict[str, tuple[str, ...]] = {"binary": ("platt", "isotonic"), "multiclass": ("temperature",),
                                               "regression": ()}
METHODS = tuple(method for methods in METHODS_BY_TASK.values() for method in methods)
EPS = 1e-12  # probabilities are clipped here before any logarithm (the ONNX graphs use the same constant)
# log T is searched in [-LOG_T_BOUND, LOG_T_BOUND]: T from 1/50 (sharpen) to 50 (flatten) covers every model seen.
LOG_T_BOUND = float(np.log(50.0))


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    clipped = np.clip(p, EPS, 1 - EPS)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=np.float64).reshape(-1, 1)


def _log_proba(p: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(np.log(np.clip(p, EPS, 1.0)), dtype=np.float64)


def fit_temperature(proba: NDArray[np.float64], codes: NDArray[Any]) -> float:
    """The T > 0 that minimises the mean log loss of softmax(log(proba) / T) on these labelled rows."""
    logits, rows = _log_proba(proba), np.arange(len(codes))

    def log_loss(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[rows, codes].mean())

    found = minimize_scalar(log_loss, bounds=(-LOG_T_BOUND, LOG_T_BOUND), method="bounded",
                            options={"xatol": 1e-6})
    if not np.isfinite(found.fun):  # no rows, or outputs that are not probabilities: no temperature fits
        raise ValueError("temperature scaling: the validation log loss is not finite")
    return float(np.exp(found.x))


def temperature_scaled(proba: NDArray[np.float64], temperature: float) -> NDArray[np.float64]:
    return np.asarray(softmax(_log_proba(proba) / temperature, axis=1), dtype=np.float64)


class CalibratedCandidate:
    """`base` (already fitted) followed by a calibrator fitted on the validation split."""

    def __init__(self, base: Candidate, method: str) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}")
        self.base = base
        self.family = base.family
        self.method = method
        self.calibrator: LogisticRegression | IsotonicRegression | None = None
        self.temperature: float | None = None
        self.rows = 0

    @property
    def task(self) -> str:
        return str(getattr(self.base, "task", "binary"))

    def fit(self, data: TrainingData) -> None:
        scores = self.base.predict_proba(data.x_valid)
        if self.method == "temperature":
            self.temperature = fit_temperature(scores, np.asarray(data.y_valid, dtype=np.int64))
        elif self.method == "platt":
            self.calibrator = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(scores), data.y_valid)
        else:
            self.calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                scores, data.y_valid.astype(np.float64)
            )
        self.rows = len(scores)

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        if self.calibrator is None and self.temperature is None:
            raise RuntimeError("calibrated candidate used before fit")
        scores = self.base.predict_proba(x)
        if self.temperature is not None:
            return temperature_scaled(scores, self.temperature)
        if isinstance(self.calibrator, LogisticRegression):
            return np.asarray(self.calibrator.predict_proba(_logit(scores))[:, 1], dtype=np.float64)
        return np.asarray(self.calibrator.predict(scores), dtype=np.float64)  # type: ignore[union-attr]

    def describe(self) -> dict[str, Any]:
        fitted = {"temperature": self.temperature} if self.temperature is not None else {}
        return {
            **self.base.describe(),
            "calibration": {"method": self.method, "fitted_on": "validation split", "rows": self.rows, **fitted},
        }
