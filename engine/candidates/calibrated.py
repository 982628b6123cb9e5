"""Post-hoc calibration of a trained candidate (Platt or isotonic), fitted on the validation split only.

A calibrated variant wraps an already-fitted candidate and maps its scores through a calibrator learned on
validation rows, so the policy judges exactly what would ship. The test split is never seen by either.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from engine.candidates.base import Candidate, TrainingData

METHODS = ("platt", "isotonic")
_EPS = 1e-12


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    clipped = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=np.float64).reshape(-1, 1)


class CalibratedCandidate:
    """`base` (already fitted) followed by a calibrator fitted on the validation split."""

    def __init__(self, base: Candidate, method: str) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown calibration method {method!r}")
        self.base = base
        self.family = base.family
        self.method = method
        self.calibrator: LogisticRegression | IsotonicRegression | None = None
        self.rows = 0

    def fit(self, data: TrainingData) -> None:
        scores = self.base.predict_proba(data.x_valid)
        if self.method == "platt":
            self.calibrator = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(scores), data.y_valid)
        else:
            self.calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                scores, data.y_valid.astype(np.float64)
            )
        self.rows = int(scores.size)

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        if self.calibrator is None:
            raise RuntimeError("calibrated candidate used before fit")
        scores = self.base.predict_proba(x)
        if isinstance(self.calibrator, LogisticRegression):
            return np.asarray(self.calibrator.predict_proba(_logit(scores))[:, 1], dtype=np.float64)
        return np.asarray(self.calibrator.predict(scores), dtype=np.float64)

    def describe(self) -> dict[str, Any]:
        return {
            **self.base.describe(),
            "calibration": {"method": self.method, "fitted_on": "validation split", "rows": self.rows},
        }
