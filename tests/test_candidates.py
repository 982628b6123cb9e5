"""engine.candidates: every family fits on real Adult rows, scores raw columns safely, leaks nothing, reproduces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from engine.candidates import BASELINE, FAMILIES, Candidate, TrainingData
from engine.canonical import canonical_json, jsonable
from engine.data import Dataset, load_dataset
from engine.spec import DEFAULT_MISSING_VALUES, DataSpec, SplitSpec
from engine.split import Splits, split_rows

SEED = 42
# Small models: the point is the interface, not the score.
QUICK_PARAMS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "logistic": {"C": 1.0},
    "lightgbm": {"n_estimators": 200, "learning_rate": 0.1, "num_leaves": 15},
    "torch_mlp": {"hidden_sizes": [32], "epochs": 20, "learning_rate": 0.01},
}


@pytest.fixture(scope="module")
def adult(adult_parquet: Path) -> tuple[Dataset, Splits]:
    spec = DataSpec(
        path=adult_parquet,
        target="income",
        positive=">50K",
        sensitive=("sex", "race"),
        features=None,
        include_sensitive=False,
        missing_values=DEFAULT_MISSING_VALUES,
    )
    data = load_dataset(spec)
    return data, split_rows(data.y, SplitSpec(test=0.2, validation=0.2, seed=SEED))


def _training(data: Dataset, splits: Splits, seed: int = SEED) -> TrainingData:
    return TrainingData(
        x_train=data.frame.iloc[splits.train].reset_index(drop=True),
        y_train=data.y[splits.train],
        x_valid=data.frame.iloc[splits.validation].reset_index(drop=True),
        y_valid=data.y[splits.validation],
        features=data.features,
        seed=seed,
    )


def _fit(family: str, training: TrainingData, **params: Any) -> Candidate:
    candidate = FAMILIES[family].build({**FAMILIES[family].default_params, **QUICK_PARAMS[family], **params})
    candidate.fit(training)
    return candidate


@pytest.fixture(scope="module")
def fitted(adult: tuple[Dataset, Splits]) -> dict[str, Candidate]:
    data, splits = adult
    training = _training(data, splits)
    return {family: _fit(family, training) for family in FAMILIES}


def _test_rows(adult: tuple[Dataset, Splits]) -> tuple[pd.DataFrame, np.ndarray]:
    data, splits = adult
    return data.frame.iloc[splits.test].reset_index(drop=True), data.y[splits.test]


def test_registry_names_match_families() -> None:
    assert BASELINE == "baseline"
    for name, family in FAMILIES.items():
        assert family.name == name
        assert set(family.default_params) <= set(family.params_schema["properties"])
    assert set(QUICK_PARAMS) == set(FAMILIES)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fits_and_predicts_probabilities(
    adult: tuple[Dataset, Splits], fitted: dict[str, Candidate], family: str
) -> None:
    x_test, y_test = _test_rows(adult)
    candidate = fitted[family]
    assert candidate.family == family
    proba = candidate.predict_proba(x_test)
    assert isinstance(proba, np.ndarray)
    assert proba.dtype == np.float64
    assert proba.shape == (len(x_test),)
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    if family != BASELINE:
        assert roc_auc_score(y_test, proba) > 0.8  # a real model on real data, not noise


@pytest.mark.parametrize("family", list(FAMILIES))
def test_describe_is_json_serialisable(fitted: dict[str, Candidate], family: str) -> None:
    described = fitted[family].describe()
    text = canonical_json(jsonable(described))
    assert text.startswith("{")
    assert isinstance(described, dict) and described


@pytest.mark.parametrize("family", list(FAMILIES))
def test_predict_before_fit_is_refused(family: str, adult: tuple[Dataset, Splits]) -> None:
    candidate = FAMILIES[family].build(dict(FAMILIES[family].default_params))
    canonical_json(jsonable(candidate.describe()))
    with pytest.raises(RuntimeError, match="before fit"):
        candidate.predict_proba(adult[0].frame.head(3))


def test_baseline_predicts_the_training_prior(adult: tuple[Dataset, Splits], fitted: dict[str, Candidate]) -> None:
    data, splits = adult
    x_test, _ = _test_rows(adult)
    prior = data.y[splits.train].mean()
    proba = fitted[BASELINE].predict_proba(x_test)
    assert np.all(proba == prior)
    assert fitted[BASELINE].describe()["prior"] == prior
    assert np.all(fitted[BASELINE].predict_proba(_unseen_and_missing(x_test)) == prior)


def _unseen_and_missing(x: pd.DataFrame) -> pd.DataFrame:
    odd = x.head(40).copy()
    odd.loc[0:9, "workclass"] = "Never-seen-before"
    odd.loc[10:19, "occupation"] = None
    odd.loc[20:29, "age"] = np.nan
    odd.loc[30:39, ["education", "marital-status", "relationship", "native-country"]] = None
    odd.loc[30:39, ["hours-per-week", "capital-gain"]] = np.nan
    return odd


@pytest.mark.parametrize("family", list(FAMILIES))
def test_unseen_categories_and_missing_values_do_not_crash(
    adult: tuple[Dataset, Splits], fitted: dict[str, Candidate], family: str
) -> None:
    x_test, _ = _test_rows(adult)
    odd = _unseen_and_missing(x_test)
    proba = fitted[family].predict_proba(odd)
    assert proba.shape == (40,)
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))


def test_scoring_ignores_extra_columns_and_column_order(
    adult: tuple[Dataset, Splits], fitted: dict[str, Candidate]
) -> None:
    x_test, _ = _test_rows(adult)
    shuffled = x_test[list(reversed(x_test.columns))].assign(extra=1)
    for candidate in fitted.values():
        assert np.array_equal(candidate.predict_proba(shuffled), candidate.predict_proba(x_test))


def test_logistic_preprocessing_is_fitted_on_training_rows_only(
    adult: tuple[Dataset, Splits], fitted: dict[str, Candidate]
) -> None:
    data, splits = adult
    pipeline = fitted["logistic"].pipeline  # type: ignore[attr-defined]
    numeric = pipeline.named_steps["preprocess"].named_transformers_["numeric"]
    scaler = numeric.named_steps["standardscaler"]
    columns = list(data.features.numeric)
    train_mean = data.frame.iloc[splits.train][columns].to_numpy(dtype=np.float64).mean(axis=0)
    full_mean = data.frame[columns].to_numpy(dtype=np.float64).mean(axis=0)
    assert scaler.mean_.shape == (len(columns),)  # no missing numeric values in training: no indicator columns
    assert scaler.mean_ == pytest.approx(train_mean, rel=1e-12)
    assert not np.allclose(scaler.mean_, full_mean, rtol=1e-9, atol=0)
    imputer = numeric.named_steps["simpleimputer"]
    train_median = np.median(data.frame.iloc[splits.train][columns].to_numpy(dtype=np.float64), axis=0)
    assert imputer.statistics_ == pytest.approx(train_median)


def _category_only_outside_training(data: Dataset, splits: Splits) -> TrainingData:
    """The training rows with `workclass` of one validation row set to a value that no training row has."""
    training = _training(data, splits)
    x_valid = training.x_valid.copy()
    x_valid.loc[0, "workclass"] = "Only-in-validation"
    return TrainingData(training.x_train, training.y_train, x_valid, training.y_valid, training.features, SEED)


@pytest.mark.parametrize("family", ["logistic", "lightgbm"])
def test_categories_are_learned_from_training_rows_only(adult: tuple[Dataset, Splits], family: str) -> None:
    data, splits = adult
    training = _category_only_outside_training(data, splits)
    candidate = _fit(family, training, **({"n_estimators": 20} if family == "lightgbm" else {}))
    preprocess = candidate.pipeline.named_steps["preprocess"]  # type: ignore[attr-defined]
    transformer = preprocess.named_transformers_["categorical"]
    encoder = transformer.named_steps["onehotencoder"] if family == "logistic" else transformer
    position = list(data.features.categorical).index("workclass")
    learned = {str(c) for c in encoder.categories_[position]}
    counts = training.x_train["workclass"].value_counts()
    train_values = set(counts.index)
    # logistic one-hot encodes only levels with at least min_frequency training rows; LightGBM learns them all
    frequent = set(counts[counts >= 5].index) if family == "logistic" else train_values
    assert "Only-in-validation" not in learned
    assert frequent <= learned
    assert learned - train_values <= {"nan", "(missing)"}


def test_lightgbm_records_best_iteration(adult: tuple[Dataset, Splits], fitted: dict[str, Candidate]) -> None:
    n_estimators = QUICK_PARAMS["lightgbm"]["n_estimators"]
    described = fitted["lightgbm"].describe()
    best = described["early_stopping"]["best_iteration"]
    assert isinstance(best, int)
    assert 1 <= best <= n_estimators
    assert described["params"]["n_estimators"] == n_estimators
    data, splits = adult
    short = _fit("lightgbm", _training(data, splits), n_estimators=5, learning_rate=0.01)
    assert 1 <= short.describe()["early_stopping"]["best_iteration"] <= 5


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_seed_same_probabilities(adult: tuple[Dataset, Splits], fitted: dict[str, Candidate], family: str) -> None:
    data, splits = adult
    x_test, _ = _test_rows(adult)
    params = {"subsample": 0.8, "colsample_bytree": 0.8} if family == "lightgbm" else {}
    first = _fit(family, _training(data, splits), **params)
    again = _fit(family, _training(data, splits), **params)
    assert np.array_equal(first.predict_proba(x_test), again.predict_proba(x_test))
    assert canonical_json(jsonable(first.describe())) == canonical_json(jsonable(again.describe()))


def test_lightgbm_seed_is_used(adult: tuple[Dataset, Splits]) -> None:
    data, splits = adult
    x_test, _ = _test_rows(adult)
    params = {"subsample": 0.7, "colsample_bytree": 0.7}
    first = _fit("lightgbm", _training(data, splits, seed=1), **params)
    other = _fit("lightgbm", _training(data, splits, seed=2), **params)
    assert not np.array_equal(first.predict_proba(x_test), other.predict_proba(x_test))
