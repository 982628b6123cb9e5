"""The baseline every candidate must beat: the class prior of the training split, for every row.

Its scores carry no ranking (ROC AUC 0.5), its accuracy is the majority-class rate, and it is always trained
and never recommended. For a multiclass task it predicts the training split's class frequencies, for a
regression the training mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates.base import Contributions, Family, OutputSpace, TrainingData


class PriorBaseline:
    family = "baseline"

    def __init__(self, params: dict[str, Any]) -> None:
        self.prior: float | None = None  # P(positive), or the mean of a regression target
        self.priors: NDArray[np.float64] | None = None  # each class's frequency (multiclass)
        self.task = "binary"

    def fit(self, data: TrainingData) -> None:
        self.task = data.task
        if data.task == "multiclass":
            counts = np.bincount(np.asarray(data.y_train, dtype=np.int64), minlength=data.n_classes)
            self.priors = counts.astype(np.float64) / counts.sum()
        else:
            self.prior = float(np.mean(data.y_train))

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        if self.priors is not None:
            return np.tile(self.priors, (len(x), 1))
        if self.prior is None:
            raise RuntimeError("baseline used before fit")
        return np.full(len(x), self.prior, dtype=np.float64)

    def explain(self, x: pd.DataFrame, background: pd.DataFrame) -> Contributions:
        """No feature moves the prior: every contribution is zero and the base is the prior itself (each class's
        frequency for a multiclass task, the training mean for a regression)."""
        output = self.predict_proba(x)
        width = background.shape[1]
        method = "exact (constant model: every contribution is zero)"
        if self.priors is not None:
            return Contributions(np.zeros((len(x), width, self.priors.size)), self.priors.copy(), output,
                                 "probability", method)
        space: OutputSpace = "prediction" if self.task == "regression" else "probability"
        return Contributions(np.zeros((len(x), width)), float(self.prior or 0.0), output, space, method)

    def describe(self) -> dict[str, Any]:
        if self.priors is not None:
            return {"strategy": "class frequencies of the training split", "priors": self.priors.tolist()}
        if self.task == "regression":
            return {"strategy": "mean of the training split's target", "mean": self.prior}
        return {"strategy": "class prior of the training split", "prior": self.prior}


FAMILY = Family(
    name="baseline",
    summary="class prior (predicts the training positive rate for every row)",
    params_schema={"type": "object", "additionalProperties": False, "properties": {}},
    default_params={},
    build=PriorBaseline,
)
