"""Real predictions for the regression and multiclass evidence tests: simple scikit-learn models fitted on half
of the wage (ISLR) and CPS 1985 (AER) rows, scored on the other half."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression, Ridge

from engine.evaluation.groups import Grouping, column_grouping, cross

CLOSE = {"rel": 1e-9, "abs": 1e-9}
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATA = {"wage": FIXTURES / "wage" / "wage.csv", "cps1985": FIXTURES / "cps1985" / "cps1985.csv"}
TARGETS = {("wage", "regression"): "wage", ("cps1985", "regression"): "wage",
           ("wage", "multiclass"): "education", ("cps1985", "multiclass"): "occupation"}
SENSITIVE = {"wage": ("race", "jobclass"), "cps1985": ("gender", "ethnicity")}
SPLIT_SEED = 15  # the files are sorted (CPS 1985 by occupation): halves of a fixed shuffle
LEFT_OUT = {"wage": ("logwage",), "cps1985": ()}


@dataclass(frozen=True)
class Held:
    """The held-out half: its rows, target (numbers or class codes), the model's output, the baseline's."""

    frame: pd.DataFrame
    y: NDArray[np.float64] | NDArray[np.intp]
    output: NDArray[np.float64]
    baseline: NDArray[np.float64]
    classes: list[str]

    def groupings(self, sensitive: tuple[str, ...]) -> list[Grouping]:
        singles = [column_grouping(self.frame[c], c) for c in sensitive]
        return [*singles, cross(singles)] if len(singles) > 1 else singles


def _design(frame: pd.DataFrame, target: str, dataset: str) -> NDArray[np.float64]:
    features = frame.drop(columns=[target, *LEFT_OUT[dataset]])
    x = pd.get_dummies(features, drop_first=True, dtype=np.float64).to_numpy(dtype=np.float64)
    half = len(frame) // 2
    return np.asarray((x - x[:half].mean(axis=0)) / (x[:half].std(axis=0) + 1e-12), dtype=np.float64)


def design(dataset: str, task: str) -> tuple[pd.DataFrame, NDArray[np.float64]]:
    """The rows in a fixed shuffle and their standardised one-hot design matrix (the target left out)."""
    frame = pd.read_csv(DATA[dataset])
    frame = frame.iloc[np.random.default_rng(SPLIT_SEED).permutation(len(frame))].reset_index(drop=True)
    return frame, _design(frame, TARGETS[(dataset, task)], dataset)


def held_out(dataset: str, task: str) -> Held:
    """Fit on the first half (a ridge regression or a multinomial logistic regression), score the second."""
    frame, x = design(dataset, task)
    target = TARGETS[(dataset, task)]
    half = len(frame) // 2
    rest = frame.iloc[half:].reset_index(drop=True)
    if task == "regression":
        y = frame[target].to_numpy(dtype=np.float64)
        predicted = Ridge(alpha=1.0).fit(x[:half], y[:half]).predict(x[half:])
        return Held(rest, y[half:], predicted, np.full(len(rest), y[:half].mean()), [])
    codes, classes = pd.factorize(frame[target], sort=True)
    model = LogisticRegression(max_iter=2000).fit(x[:half], codes[:half])
    prior = np.bincount(codes[:half], minlength=len(classes)) / half
    return Held(rest, np.asarray(codes[half:], dtype=np.intp), model.predict_proba(x[half:]),
                np.tile(prior, (len(rest), 1)), [str(c) for c in classes])


def same(ours: float | None, reference: float) -> bool:
    """mlgate's number equals the reference's; None (undefined) only where the reference is NaN or infinite."""
    if ours is None:
        return not np.isfinite(reference)
    return bool(ours == pytest.approx(reference, **CLOSE))


def group_labels(grouping: Grouping) -> NDArray[np.str_]:
    """Each row's group label: the one sensitive feature handed to fairlearn."""
    return np.asarray(grouping.labels)[grouping.codes]
