"""The one small interface every model family implements, and the feature typing they share.

A candidate is built from its family's parameters, fitted on the training split (with the validation split
for early stopping where the family uses it), and scores raw feature columns: preprocessing lives inside the
candidate and is fitted on the training rows only, so nothing about validation or test rows leaks into it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

# How a missing categorical value reaches families whose preprocessing must export to ONNX (string tensors
# have no NaN): the empty string, which the data loader already reads as missing, so it is never a real level.
MISSING_CATEGORY = ""


@dataclass(frozen=True)
class Features:
    """The feature columns of an audit, split by how they are preprocessed."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]


@dataclass(frozen=True)
class TrainingData:
    """Raw feature columns and labels of the training and validation splits.

    The labels are booleans (True = positive) for a binary task, class codes 0..n_classes-1 for a multiclass one
    and float64 values for a regression (`engine.tasks`)."""

    x_train: pd.DataFrame
    y_train: NDArray[Any]
    x_valid: pd.DataFrame
    y_valid: NDArray[Any]
    features: Features
    seed: int
    task: str = "binary"
    n_classes: int = 2


class Candidate(Protocol):
    """A trained model candidate: what the audit needs from every family."""

    family: str

    def fit(self, data: TrainingData) -> None:
        """Fit preprocessing and model on the training split (validation only for early stopping)."""

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        """The model's output for each row of raw feature columns, in the task's units: P(positive) [N] (binary),
        the class probabilities [N, k] (multiclass) or the predicted value [N] (regression)."""

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable facts for the trail and the card: parameters as fitted, sizes, early stopping."""


# log_odds: a binary model's raw score; probability: P(positive) or each class's probability; prediction: a
# regression's predicted value; class_logits: a multiclass model's raw score per class (softmax gives the
# probabilities).
OutputSpace = Literal["log_odds", "probability", "prediction", "class_logits"]


@dataclass(frozen=True)
class Contributions:
    """Each row's additive feature contributions, by original feature (columns in `Features.all` order).

    `output` is the model's own output for each row in `space`, computed apart from the contributions, so
    `values.sum(axis=1) + base == output` is a real check of faithfulness, not an identity. A multiclass
    explanation has one column of everything per class: values [rows, features, classes], base [classes],
    output [rows, classes].
    """

    values: NDArray[np.float64]
    base: float | NDArray[np.float64]
    output: NDArray[np.float64]
    space: OutputSpace
    method: str


@runtime_checkable
class Explainable(Protocol):
    """Optional: a family that explains itself exactly (the explainer falls back to shap's model-agnostic one)."""

    def explain(self, x: pd.DataFrame, background: pd.DataFrame) -> Contributions:
        """Contributions for the rows of `x`; `background` (training rows) is the reference where one is needed."""


@dataclass(frozen=True)
class Family:
    """A model family: its name, the JSON Schema of its parameters, its defaults and its builder."""

    name: str
    summary: str
    params_schema: dict[str, Any]
    default_params: dict[str, Any]
    build: Callable[[dict[str, Any]], Candidate]


def pipeline_proba(pipeline: Any, features: Features | None, x: pd.DataFrame, family: str,
                   *, missing: Any = np.nan, task: str = "binary") -> NDArray[np.float64]:
    """The task's output from a fitted scikit-learn pipeline over raw feature columns: P(positive) (binary),
    class probabilities (multiclass) or predictions (regression)."""
    if pipeline is None or features is None:
        raise RuntimeError(f"{family} candidate used before fit")
    frame = categorical_frame(x, features, missing=missing)
    if task == "regression":
        return np.asarray(pipeline.predict(frame), dtype=np.float64)
    proba = np.asarray(pipeline.predict_proba(frame), dtype=np.float64)
    return proba if task == "multiclass" else np.asarray(proba[:, 1], dtype=np.float64)


def task_of(candidate: Any) -> str:
    """The task a fitted candidate was trained for (families that know only binary say nothing: binary)."""
    return str(getattr(candidate, "task", "binary"))


def categorical_frame(x: pd.DataFrame, features: Features, *, missing: Any = np.nan) -> pd.DataFrame:
    """Feature columns in a fixed order, categoricals as Python strings with missing values as `missing`."""
    out = x.loc[:, features.all].copy()
    for column in features.categorical:
        values = out[column]
        out[column] = values.astype(str).astype(object).where(values.notna(), missing)
    for column in features.numeric:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(np.float64)
    return out
