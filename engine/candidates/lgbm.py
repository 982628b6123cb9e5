"""Gradient-boosted trees with LightGBM, early-stopped on the validation split.

Categorical columns are ordinal-encoded (categories learned on the training split; unseen and missing
values become NaN, which LightGBM treats as missing) and passed to LightGBM as native categoricals, so no
one-hot explosion. The objective follows the task: binary log loss, softmax (multiclass) or squared error
(regression), each early-stopped on its own loss. lightgbm is imported only when a candidate of this family is
fitted.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from engine.candidates.base import (
    Contributions,
    Family,
    Features,
    OutputSpace,
    TrainingData,
    categorical_frame,
    pipeline_proba,
)

DEFAULTS: dict[str, Any] = {
    "n_estimators": 500,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "reg_lambda": 0.0,
    "early_stopping_rounds": 50,
    "max_categories": 255,
    "n_jobs": 1,
}
EVAL_METRIC = {"binary": "binary_logloss", "multiclass": "multi_logloss", "regression": "l2"}


def _preprocessor(features: Features, params: dict[str, Any]) -> ColumnTransformer:
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=params["max_categories"],
        dtype=np.float64,
    )
    return ColumnTransformer(
        [("numeric", "passthrough", list(features.numeric)), ("categorical", encoder, list(features.categorical))],
        verbose_feature_names_out=False,
    )


class LightGBMCandidate:
    family = "lightgbm"

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = {**DEFAULTS, **params}
        self.features: Features | None = None
        self.pipeline: Pipeline | None = None
        self.best_iteration: int | None = None
        self.task = "binary"

    def fit(self, data: TrainingData) -> None:
        import lightgbm

        self.features = data.features
        self.task = data.task
        preprocess = _preprocessor(data.features, self.params)
        x_train = preprocess.fit_transform(categorical_frame(data.x_train, data.features))
        x_valid = preprocess.transform(categorical_frame(data.x_valid, data.features))
        booster_params = {k: v for k, v in self.params.items() if k not in ("early_stopping_rounds", "max_categories")}
        estimator = lightgbm.LGBMRegressor if data.task == "regression" else lightgbm.LGBMClassifier
        model = estimator(
            **booster_params,
            subsample_freq=1 if booster_params["subsample"] < 1 else 0,
            random_state=data.seed,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )
        categorical_indices = list(range(len(data.features.numeric), len(data.features.all)))
        model.fit(
            x_train,
            data.y_train,
            eval_X=(x_valid,),
            eval_y=(data.y_valid,),
            eval_metric=EVAL_METRIC[data.task],
            categorical_feature=categorical_indices,
            callbacks=[lightgbm.early_stopping(self.params["early_stopping_rounds"], verbose=False)],
        )
        self.best_iteration = int(model.best_iteration_ or model.n_estimators)
        self.pipeline = Pipeline([("preprocess", preprocess), ("model", model)])

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        return pipeline_proba(self.pipeline, self.features, x, self.family, task=self.task)

    def explain(self, x: pd.DataFrame, background: pd.DataFrame) -> Contributions:
        """TreeSHAP through LightGBM's own `pred_contrib`, in raw space (a binary model's log-odds, a regression's
        prediction, each class's logit of a multiclass model); one column per feature (and per class). Rows are
        independent, so every core works on them (the trained model keeps one thread: shap's TreeExplainer runs the
        same TreeSHAP on it, single-threaded); the values do not depend on the thread count."""
        if self.pipeline is None or self.features is None:
            raise RuntimeError("lightgbm candidate used before fit")
        z = self.pipeline.named_steps["preprocess"].transform(categorical_frame(x, self.features))
        model = self.pipeline.named_steps["model"]
        threads = os.cpu_count() or 1
        contributions = np.asarray(model.predict(z, pred_contrib=True, num_threads=threads), dtype=np.float64)
        raw = np.asarray(model.predict(z, raw_score=True, num_threads=threads), dtype=np.float64)
        method = "LightGBM pred_contrib (TreeSHAP)"
        if self.task == "multiclass":  # [rows, classes * (features + 1)]: each class's block, its bias last
            blocks = contributions.reshape(len(z), raw.shape[1], -1)
            return Contributions(blocks[:, :, :-1].transpose(0, 2, 1), blocks[0, :, -1].copy(), raw,
                                 "class_logits", method)
        space: OutputSpace = "prediction" if self.task == "regression" else "log_odds"
        return Contributions(contributions[:, :-1], float(contributions[0, -1]), raw, space, method)

    def describe(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "early_stopping": {
                "metric": f"{EVAL_METRIC[self.task]} on the validation split",
                "best_iteration": self.best_iteration,
            },
        }


FAMILY = Family(
    name="lightgbm",
    summary="LightGBM gradient-boosted trees, native categoricals, early stopping on the validation split",
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "n_estimators": {"type": "integer", "minimum": 1, "maximum": 100000},
            "learning_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "num_leaves": {"type": "integer", "minimum": 2, "maximum": 131072},
            "min_child_samples": {"type": "integer", "minimum": 1},
            "subsample": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "colsample_bytree": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "reg_lambda": {"type": "number", "minimum": 0},
            "early_stopping_rounds": {"type": "integer", "minimum": 1},
            "max_categories": {"type": "integer", "minimum": 2, "maximum": 10000},
            "n_jobs": {"type": "integer", "minimum": 0, "maximum": 1024,
                       "description": "threads (1 by default: concurrent audits share the cores; 0 = all)"},
        },
    },
    default_params=DEFAULTS,
    build=LightGBMCandidate,
)
