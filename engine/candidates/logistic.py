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

from engine.candidates.base import (
    Contributions,
    Family,
    Features,
    TrainingData,
    categorical_frame,
    pipeline_proba,
)

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


def _origins(preprocess: ColumnTransformer, features: Features) -> NDArray[np.intp]:
    """For each model input, the index (in `features.all`) of the original feature it was made from."""
    indicators: list[int] = []
    if features.numeric:
        imputer = preprocess.named_transformers_["numeric"].steps[0][1]
        indicators = [] if imputer.indicator_ is None else [int(i) for i in imputer.indicator_.features_]
    widths: list[int] = []
    if features.categorical:
        encoder = preprocess.named_transformers_["categorical"].steps[-1][1]
        infrequent = encoder.infrequent_categories_
        widths = [len(c) - (len(infrequent[i]) - 1 if infrequent[i] is not None else 0)
                  for i, c in enumerate(encoder.categories_)]
    offset = len(features.numeric)
    origins = [*range(offset), *indicators, *(offset + i for i, w in enumerate(widths) for _ in range(w))]
    return np.asarray(origins, dtype=np.intp)


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

    def explain(self, x: pd.DataFrame, background: pd.DataFrame) -> Contributions:
        """Exact SHAP of a linear model in log-odds: w·(z − mean z of the background), one-hot columns (and
        missing-value indicators) summed back into the feature they came from."""
        if self.pipeline is None or self.features is None:
            raise RuntimeError("logistic candidate used before fit")
        preprocess, model = self.pipeline.named_steps["preprocess"], self.pipeline.named_steps["model"]
        z = np.asarray(preprocess.transform(categorical_frame(x, self.features)), dtype=np.float64)
        mean = np.asarray(preprocess.transform(categorical_frame(background, self.features)), dtype=np.float64).mean(0)
        weights = np.asarray(model.coef_[0], dtype=np.float64)
        origins = _origins(preprocess, self.features)
        if origins.size != weights.size:
            raise RuntimeError(f"{origins.size} model inputs traced back to features, but the model has {weights.size}")
        values = np.zeros((len(x), len(self.features.all)))
        np.add.at(values.T, origins, ((z - mean) * weights).T)
        output = np.asarray(model.decision_function(z), dtype=np.float64)
        return Contributions(values, float(model.intercept_[0] + mean @ weights), output, "log_odds",
                             "exact linear SHAP (independent features, training background)")

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
