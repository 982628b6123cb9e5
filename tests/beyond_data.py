"""Real fitted candidates on the Adult sample and the context the beyond-metrics evidence is computed in.

Rows are split 50/25/25 (train / validation = conformal calibration / test) with a fixed seed, as the service
splits them; the candidate stays fitted so tests can ask it for predictions directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates import FAMILIES, Candidate, TrainingData
from engine.candidates.base import Features
from engine.candidates.calibrated import CalibratedCandidate
from engine.evaluation.beyond import BeyondContext, beyond_context, beyond_settings
from engine.evaluation.groups import sensitive_groupings
from engine.spec import DEFAULT_EVALUATION

NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
CATEGORICAL = ("workclass", "education", "marital-status", "occupation", "relationship", "native-country")
FEATURES = Features(NUMERIC, CATEGORICAL)
SEED = 5


@dataclass(frozen=True)
class Fitted:
    model: Candidate
    context: BeyondContext
    test_proba: NDArray[np.float64]


def splits(n: int) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    order = np.random.default_rng(SEED).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2: 3 * n // 4]), np.sort(order[3 * n // 4:])


def fit(adult: pd.DataFrame, family: str, *, features: Features = FEATURES, sensitive: Sequence[str] = ("sex", "race"),
        params: dict[str, Any] | None = None, calibration: str | None = None, min_group_size: int = 30,
        **evaluation: Any) -> Fitted:
    """Fit one candidate of `family` (optionally wrapped in a calibrated variant) and build its context."""
    y = (adult["income"] == ">50K").to_numpy()
    train, valid, test = splits(len(adult))
    data = TrainingData(adult.iloc[train], y[train], adult.iloc[valid], y[valid], features, SEED)
    model: Candidate = FAMILIES[family].build({**FAMILIES[family].default_params, **(params or {})})
    model.fit(data)
    if calibration is not None:
        model = CalibratedCandidate(model, calibration)
        model.fit(data)
    settings = beyond_settings({**DEFAULT_EVALUATION, "min_group_size": min_group_size, **evaluation}, threshold=0.5,
                               seed=SEED, features=features, source="test")
    groupings = sensitive_groupings(adult.iloc[test], list(sensitive), {})
    context = beyond_context(settings, adult, y, x_train=adult.iloc[train], validation=valid, test=test,
                             features=features, sensitive=sensitive, groupings=groupings)
    return Fitted(model, context, model.predict_proba(adult.iloc[test]))


def _group(name: str, support: int, coverage: float, too_small: bool = False) -> dict[str, Any]:
    return {"group": name, "support": support, "too_small": too_small, "coverage": coverage, "mean_set_size": 1.1}


# Evidence parts as the service stores them, for a candidate that passes every shipped rule of these kinds.
GOOD_BEYOND: dict[str, Any] = {
    "conformal": {"levels": [{"confidence": 0.9, "coverage": 0.91, "mean_set_size": 1.2, "by_group": [
        {"name": "sex", "columns": ["sex"], "groups": [_group("Female", 400, 0.93), _group("Male", 900, 0.9)]},
        {"name": "race", "columns": ["race"], "groups": [_group("White", 1100, 0.9), _group("Other", 12, 0.5, True)]},
    ]}]},
    "explanations": {"method": "exact", "faithfulness": {"max_abs_error": 1e-15}, "proxy_threshold": 0.2, "ranking": [
        {"feature": "capital-gain", "mean_abs": 0.9, "sensitive": False, "associations": {"sex": 0.0}},
        {"feature": "education-num", "mean_abs": 0.5, "sensitive": False, "associations": {"sex": 0.01}},
        {"feature": "relationship", "mean_abs": 0.3, "sensitive": False, "associations": {"sex": 0.12}},
        {"feature": "sex", "mean_abs": 0.0, "sensitive": True, "associations": {"sex": 1.0}},
    ]},
    "robustness": {
        "perturbations": {name: {"drop": {"roc_auc": 0.01, "accuracy": 0.005}}
                          for name in ("gaussian_noise", "category_swap", "missing_values")},
        "invariance": [{"column": "sex", "is_feature": False, "violation_rate": 0.0},
                       {"column": "age", "is_feature": True, "violation_rate": 0.9}],
        "directional": [{"feature": "capital-gain", "shift": 5000.0, "expect": "non_decreasing",
                         "violation_rate": 0.0}],
    },
}
