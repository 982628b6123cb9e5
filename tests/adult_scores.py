"""Real scores for the evidence tests: a logistic regression on half of the Adult sample, scored on the other half."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression

NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]


@dataclass(frozen=True)
class Scored:
    """The held-out half: its rows, labels and the model's probabilities; `prior` is the training positive rate."""

    frame: pd.DataFrame
    y: NDArray[np.bool_]
    proba: NDArray[np.float64]
    prior: float


def score_half(adult: pd.DataFrame, columns: list[str] = NUMERIC) -> Scored:
    """Fit on the first half (standardised numeric columns), score the second half."""
    half = len(adult) // 2
    x = adult[columns].to_numpy(dtype=np.float64)
    x = (x - x[:half].mean(axis=0)) / x[:half].std(axis=0)
    y = (adult["income"] == ">50K").to_numpy()
    model = LogisticRegression(max_iter=1000).fit(x[:half], y[:half])
    proba = model.predict_proba(x[half:])[:, 1]
    return Scored(adult.iloc[half:].reset_index(drop=True), y[half:], proba, float(np.mean(y[:half])))
