"""The linear family as one scikit-learn pipeline: impute, scale or one-hot encode (`onehot`), then the model:
logistic regression (binary), multinomial logistic regression (multiclass) or ridge regression (regression).

Keeping preprocessing and model in one `Pipeline` fitted on the training split is what makes the candidate
leakage-safe and, later, exportable as one serving graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline

from engine.candidates.base import (
    MISSING_CATEGORY,
    Contributions,
    Family,
    Features,
    TrainingData,
    categorical_frame,
    pipeline_proba,
)
from engine.candidates.onehot import input_origins, one_hot_preprocessor

DEFAULTS: dict[str, Any] = {
    "C": 1.0,
    "max_iter": 1000,
    "class_weight": None,
    "max_categories": 50,
    "min_frequency": 5,
}


class LogisticCandidate:
    family = "logistic"

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = {**DEFAULTS, **params}
        self.features: Features | None = None
        self.pipeline: Pipeline | None = None
        self.task = "binary"

    def fit(self, data: TrainingData) -> None:
        self.features = data.features
        self.task = data.task
        model: LogisticRegression | Ridge = LogisticRegression(
            C=self.params["C"],
            max_iter=self.params["max_iter"],
            class_weight=self.params["class_weight"],
            random_state=data.seed,
        ) if data.task != "regression" else Ridge(alpha=float(self.params.get("alpha", 1.0)))
        x_train = categorical_frame(data.x_train, data.features, missing=MISSING_CATEGORY)
        preprocess = one_hot_preprocessor(data.features, self.params, x_train)
        self.pipeline = Pipeline([("preprocess", preprocess), ("model", model)])
        self.pipeline.fit(x_train, data.y_train)

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        return pipeline_proba(self.pipeline, self.features, x, self.family, missing=MISSING_CATEGORY, task=self.task)

    def explain(self, x: pd.DataFrame, background: pd.DataFrame) -> Contributions:
        """Exact SHAP of a linear model on its raw output: w·(z − mean z of the background), one-hot columns summed
        back into the feature they came from. The raw output is the log-odds (binary), each class's logit
        (multinomial, one column per class) or the prediction (ridge regression)."""
        if self.pipeline is None or self.features is None:
            raise RuntimeError("logistic candidate used before fit")
        preprocess, model = self.pipeline.named_steps["preprocess"], self.pipeline.named_steps["model"]
        z = np.asarray(preprocess.transform(categorical_frame(x, self.features, missing=MISSING_CATEGORY)),
                       dtype=np.float64)
        mean = np.asarray(preprocess.transform(categorical_frame(background, self.features, missing=MISSING_CATEGORY)),
                          dtype=np.float64).mean(0)
        weights = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))  # [outputs, model inputs]
        origins = input_origins(preprocess, self.features)
        if origins.size != weights.shape[1]:
            raise RuntimeError(f"{origins.size} model inputs traced back to features, but the model has "
                               f"{weights.shape[1]}")
        values = np.zeros((len(x), len(self.features.all), weights.shape[0]))
        each = (z - mean)[:, :, None] * weights.T[None, :, :]  # [rows, model inputs, outputs]
        np.add.at(values.transpose(1, 0, 2), origins, each.transpose(1, 0, 2))  # summed into their features
        base = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64)) + weights @ mean
        method = "exact linear SHAP (independent features, training background)"
        if self.task == "regression":
            return Contributions(values[:, :, 0], float(base[0]), np.asarray(model.predict(z), dtype=np.float64),
                                 "prediction", method)
        output = np.asarray(model.decision_function(z), dtype=np.float64)
        if self.task == "multiclass":
            return Contributions(values, base, output, "class_logits", method)
        return Contributions(values[:, :, 0], float(base[0]), output, "log_odds", method)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"params": self.params}
        if self.pipeline is not None:
            model = self.pipeline.named_steps["model"]
            described["n_model_inputs"] = int(model.coef_.shape[-1])
            if model.n_iter_ is not None:
                described["n_iter"] = int(np.max(model.n_iter_))
            if self.task != "binary":
                described["model"] = "ridge regression" if self.task == "regression" else "multinomial logistic"
        return described


FAMILY = Family(
    name="logistic",
    summary="scikit-learn pipeline: median-impute + scale numerics, one-hot frequent categoricals, logistic regression",
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "C": {"type": "number", "exclusiveMinimum": 0},
            "alpha": {"type": "number", "minimum": 0,
                      "description": "ridge penalty of a regression (default 1.0); C is the classifiers' inverse"},
            "max_iter": {"type": "integer", "minimum": 10, "maximum": 100000},
            "class_weight": {"enum": [None, "balanced"]},
            "max_categories": {"type": "integer", "minimum": 2, "maximum": 1000},
            "min_frequency": {"type": "integer", "minimum": 1},
        },
    },
    default_params=DEFAULTS,
    build=LogisticCandidate,
)
