"""The certificate's fast paths against the plain ways, on real Adult rows with planted repeats: duplicates
across the split against a pandas merge, label conflicts against a pandas groupby, a hash collision never makes a
finding, the leakage screen's score against scikit-learn, the profile's missing rates and constant features
against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from engine.candidates import Features
from engine.evaluation.columns import Columns, read_columns, row_hashes
from engine.evaluation.data_quality import constant_features, missing_rates
from engine.evaluation.integrity import (
    HashGroups,
    SplitRows,
    binned,
    conflicting_labels,
    duplicates_across,
    single_feature_auc,
)

Planted = tuple[pd.DataFrame, NDArray[np.bool_], Features, SplitRows]


@pytest.fixture(scope="module")
def planted(adult_sample: pd.DataFrame) -> Planted:
    """The Adult sample with 150 of its rows repeated (50 with the label flipped) and a few values missing."""
    rng = np.random.default_rng(3)
    frame = adult_sample.drop(columns=["income"]).copy()
    y = (adult_sample["income"] == ">50K").to_numpy()
    copies = rng.choice(len(frame), 150, replace=False)
    frame = pd.concat([frame, frame.iloc[copies]], ignore_index=True)
    y = np.concatenate([y, y[copies] ^ (np.arange(150) < 50)])
    frame.loc[rng.choice(len(frame), 40, replace=False), "workclass"] = None
    frame.loc[rng.choice(len(frame), 40, replace=False), "age"] = np.nan
    numeric = tuple(c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]))
    features = Features(numeric, tuple(c for c in frame.columns if c not in numeric))
    rows = rng.permutation(len(frame))
    third = len(frame) // 3
    parts = SplitRows(np.sort(rows[:third]), np.sort(rows[third:2 * third]), np.sort(rows[2 * third:]))
    return frame, y, features, parts


def reference_duplicates(frame: pd.DataFrame, parts: SplitRows) -> set[int]:
    keys = list(frame.columns)
    development = frame.iloc[parts.development].drop_duplicates()
    test = frame.iloc[parts.test].reset_index(names="row")
    joined = test.merge(development, on=keys, how="inner")
    return set(joined["row"])


def test_duplicates_and_conflicts_equal_pandas_on_planted_repeats(planted: Planted) -> None:
    frame, y, features, parts = planted
    columns = read_columns(frame, features)
    groups = HashGroups.of(row_hashes(columns, len(frame)))
    found = duplicates_across(groups, parts, columns)
    expected = reference_duplicates(frame, parts)
    assert found["rows"] == len(expected) > 0 and set(r - 1 for r in found["examples"]) <= expected

    table = frame.assign(label=y)
    per_key = table.groupby(list(frame.columns), dropna=False)["label"].transform("nunique")
    conflicts = conflicting_labels(groups, y, columns)
    assert conflicts["rows"] == int((per_key > 1).sum()) >= 50


def test_a_hash_collision_never_makes_a_finding(planted: Planted) -> None:
    frame, y, features, parts = planted
    columns = read_columns(frame, features)
    everything_collides = HashGroups.of(np.zeros(len(frame), dtype=np.uint64))  # the worst hash there is
    honest = HashGroups.of(row_hashes(columns, len(frame)))
    assert duplicates_across(everything_collides, parts, columns)["rows"] <= duplicates_across(
        honest, parts, columns)["rows"]
    assert conflicting_labels(everything_collides, y, columns)["rows"] == conflicting_labels(honest, y, columns)["rows"]


def test_the_leakage_score_is_scikit_learns_roc_auc_of_the_binned_feature(planted: Planted) -> None:
    frame, y, features, _ = planted
    columns: Columns = read_columns(frame, features)
    rows = np.arange(len(frame))
    for name in ("age", "education", "hours-per-week"):
        bins = binned(columns, name, rows)
        rate = np.bincount(bins, weights=y) / np.maximum(np.bincount(bins), 1)
        assert single_feature_auc(bins, y) == pytest.approx(roc_auc_score(y, rate[bins]), abs=1e-12)


def test_missing_rates_and_constant_features_equal_pandas(planted: Planted) -> None:
    frame, _, features, parts = planted
    columns = read_columns(frame.assign(flat=1.0), Features((*features.numeric, "flat"), features.categorical))
    by_name = {"train": parts.train, "validation": parts.validation, "test": parts.test}
    rates = {m["feature"]: m for m in missing_rates(columns, by_name, len(frame))}
    for name in ("age", "workclass", "education"):
        for part, rows in by_name.items():
            assert rates[name][part] == pytest.approx(frame[name].iloc[rows].isna().mean(), abs=1e-6)
    flagged = {c["feature"] for c in constant_features(columns, parts.development, seed=0)}
    shares = frame.assign(flat=1.0).iloc[parts.development].apply(
        lambda c: c.value_counts(dropna=False, normalize=True).iloc[0])
    assert flagged == set(shares[shares >= 0.99].index) and "flat" in flagged
