"""engine.evaluation.conformal_multiclass and .conformal_quantile: coverage and mean set size / width equal MAPIE's
own metrics on MAPIE's own sets and intervals over the same rows, overall and in every group; wage (ISLR) and
CPS 1985 (AER)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from mapie.classification import SplitConformalClassifier
from mapie.metrics.classification import classification_coverage_score, classification_mean_width_score
from mapie.metrics.regression import regression_coverage_score, regression_mean_width_score
from mapie.regression import ConformalizedQuantileRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from task_data import SENSITIVE, TARGETS, design, group_labels
from threadpoolctl import threadpool_limits

from engine.candidates.base import Features
from engine.evaluation.conformal_multiclass import conformal_multiclass_evidence
from engine.evaluation.conformal_quantile import QuantileDesign, cqr_evidence, threads
from engine.evaluation.groups import Grouping, column_grouping, cross

LEVELS = [0.8, 0.9]
SEED = 7
MIN_GROUP = 20


def _groupings(frame: pd.DataFrame, dataset: str) -> list[Grouping]:
    singles = [column_grouping(frame[c], c) for c in SENSITIVE[dataset]]
    return [*singles, cross(singles)]


def _thirds(n: int) -> tuple[slice, slice, slice]:
    return slice(0, n // 2), slice(n // 2, 3 * n // 4), slice(3 * n // 4, n)


def _check_groups(evidence_level: dict[str, Any], groupings: list[Grouping], score: Any, measure: str) -> None:
    """Each group's numbers equal MAPIE's metrics on that group's rows alone (None where a group has none)."""
    for grouping, stored in zip(groupings, evidence_level["by_group"], strict=True):
        labels = group_labels(grouping)
        assert stored["name"] == grouping.name
        for group in stored["groups"]:
            rows = labels == group["group"]
            assert group["support"] == int(rows.sum())
            assert group["too_small"] == (group["support"] < MIN_GROUP)
            if not rows.any():
                assert group["coverage"] is None and group[measure] is None
                continue
            coverage, size = score(rows)
            assert group["coverage"] == pytest.approx(coverage, abs=1e-12)
            assert group[measure] == pytest.approx(size, abs=1e-12)


@pytest.mark.parametrize("dataset", ["wage", "cps1985"])
def test_multiclass_sets_equal_mapie(dataset: str) -> None:
    frame, x = design(dataset, "multiclass")
    codes, _ = pd.factorize(frame[TARGETS[(dataset, "multiclass")]], sort=True)
    train, valid, test = _thirds(len(frame))
    proba = LogisticRegression(max_iter=2000).fit(x[train], codes[train]).predict_proba(x)
    held = frame.iloc[test].reset_index(drop=True)
    groupings = _groupings(held, dataset)
    evidence = conformal_multiclass_evidence(codes[valid], proba[valid], codes[test], proba[test], levels=LEVELS,
                                             groupings=groupings, min_group_size=MIN_GROUP)
    # MAPIE end to end on the fitted model itself (prefit), over the design rows
    model = LogisticRegression(max_iter=2000).fit(x[train], codes[train])
    mapie = SplitConformalClassifier(model, confidence_level=LEVELS, conformity_score="lac", prefit=True)
    mapie.conformalize(x[valid], codes[valid])
    _, sets = mapie.predict_set(x[test])
    coverage = classification_coverage_score(codes[test], sets)
    width = classification_mean_width_score(sets)
    assert evidence["kind"] == "sets" and evidence["calibration_rows"] == valid.stop - valid.start
    for k, level in enumerate(evidence["levels"]):
        assert level["confidence"] == LEVELS[k]
        assert level["coverage"] == pytest.approx(coverage[k], abs=1e-12)
        assert level["mean_set_size"] == pytest.approx(width[k], abs=1e-12)
        assert level["all_classes_rate"] == pytest.approx(np.mean(sets[:, :, k].sum(axis=1) == proba.shape[1]))

        def score(rows: np.ndarray, k: int = k) -> tuple[float, float]:
            part = sets[rows][:, :, k:k + 1]
            return (float(classification_coverage_score(codes[test][rows], part)[0]),
                    float(classification_mean_width_score(part)[0]))

        _check_groups(level, groupings, score, "mean_set_size")


def _features(frame: pd.DataFrame, target: str, dataset: str) -> Features:
    columns = [c for c in frame.columns if c not in (target, "logwage")]
    numeric = tuple(c for c in columns if pd.api.types.is_numeric_dtype(frame[c]))
    return Features(numeric, tuple(c for c in columns if c not in numeric))


@pytest.mark.parametrize("dataset", ["wage", "cps1985"])
def test_cqr_equals_mapie(dataset: str) -> None:
    frame, _ = design(dataset, "regression")
    target = TARGETS[(dataset, "regression")]
    features = _features(frame, target, dataset)
    y = frame[target].to_numpy(dtype=np.float64)
    train, valid, test = _thirds(len(frame))
    held = frame.iloc[test].reset_index(drop=True)
    groupings = _groupings(held, dataset)
    evidence = cqr_evidence(frame.iloc[train], y[train], frame.iloc[valid], y[valid], frame.iloc[test], y[test],
                            features=features, seed=SEED, levels=LEVELS, groupings=groupings,
                            min_group_size=MIN_GROUP)
    design_ = QuantileDesign.fit(frame.iloc[train], features)
    assert evidence["kind"] == "cqr" and evidence["training_rows"] == train.stop
    for k, level in enumerate(evidence["levels"]):
        mask = design_.categorical_mask
        mapie = ConformalizedQuantileRegressor(
            HistGradientBoostingRegressor(loss="quantile", categorical_features=mask, random_state=SEED),
            confidence_level=LEVELS[k])
        with threadpool_limits(limits=threads(), user_api="openmp"):
            mapie.fit(design_.transform(frame.iloc[train]), y[train])
            mapie.conformalize(design_.transform(frame.iloc[valid]), y[valid])
            _, intervals = mapie.predict_interval(design_.transform(frame.iloc[test]))
        assert level["coverage"] == pytest.approx(regression_coverage_score(y[test], intervals)[0], abs=1e-12)
        assert level["mean_width"] == pytest.approx(regression_mean_width_score(intervals)[0], abs=1e-12)
        assert level["coverage"] >= LEVELS[k] - 0.06, "CQR covers close to its level"

        def score(rows: np.ndarray, intervals: np.ndarray = intervals) -> tuple[float, float]:
            return (float(regression_coverage_score(y[test][rows], intervals[rows])[0]),
                    float(regression_mean_width_score(intervals[rows])[0]))

        _check_groups(level, groupings, score, "mean_width")


def test_quantile_design_codes_unseen_and_missing_categories_as_nan() -> None:
    train = pd.DataFrame({"n": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    design_ = QuantileDesign.fit(train, Features(("n",), ("c",)))
    out = design_.transform(pd.DataFrame({"n": [4.0, np.nan, 5.0], "c": ["b", "z", None]}))
    assert out[0].tolist() == [4.0, 1.0]
    assert np.isnan(out[1, 0]) and np.isnan(out[1, 1]) and np.isnan(out[2, 1])
    assert design_.categorical_mask.tolist() == [False, True]
