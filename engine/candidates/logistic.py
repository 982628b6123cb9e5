"""Logistic regression as one scikit-learn pipeline: impute, scale or one-hot encode, then the model.

Keeping preprocessing and model in one `Pipeline` fitted on the training split is what makes the candidate
leakage-safe and, later, exportable as one serving graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from engine.candidates.base import Family, Features, TrainingData, categorical_frame, pipeline_proba

DEFAULTS: dict[str, Any] = {
    "C": 1.0,
    "max_iter": 1000,
    "class_weight": None,
    "max_categories": 50,
    "min_frequency": 5,
}


def _preprocessor(features: Features, params: dict[str, Any]) -> ColumnTransformer:
    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=params["max_categories"],
            min_frequency=params["min_frequency"],
            sparse_output=False,
        ),
    )
    return ColumnTransformer(
        [("numeric", numeric, list(features.numeric)), ("categorical", categorical, list(features.categorical))],
        verbose_feature_names_out=False,
    )


class LogisticCandidate:
    family = "logistic"

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = {**DEFAULTS, **params}
        self.features: Features | None = None
        self.pipeline: Pipeline | None = None

    def fit(self, data: TrainingData) -> None:
        self.features = data.features
        model = LogisticRegression(
            C=self.params["C"],
            max_iter=self.params["max_iter"],
            class_weight=self.params["class_weight"],
            random_state=data.seed,
        )
        self.pipeline = Pipeline([("preprocess", _preprocessor(data.features, self.params)), ("model", model)])
        self.pipeline.fit(categorical_frame(data.x_train, data.features), data.y_train)

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        return pipeline_proba(self.pipeline, self.features, x, self.family)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"params": self.params}
        if self.pipeline is not None:
            model = self.pipeline.named_steps["model"]
            described["n_model_inputs"] = int(model.coef_.shape[1])
            described["n_iter"] = int(model.n_iter_[0])
        return described


FAMILY = Family(
    name="logistic",
    summary="scikit-learn pipeline: median-impute + scale numerics, one-hot categoricals, logistic regression",
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "C": {"type": "number", "exclusiveMinimum": 0},
            "max_iter": {"type": "integer", "minimum": 10, "maximum": 100000},
            "class_weight": {"enum": [None, "balanced"]},
            "max_categories": {"type": "integer", "minimum": 2, "maximum": 1000},
            "min_frequency": {"type": "integer", "minimum": 1},
        },
    },
    default_params=DEFAULTS,
    build=LogisticCandidate,
)
