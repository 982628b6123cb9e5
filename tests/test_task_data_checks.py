"""The data checks of regression and multiclass targets (engine/evaluation/target_checks.py) on real data (ISLR Wage,
CPS 1985), each against scikit-learn / scipy / pandas on the same inputs, and the rules that judge them on pass,
fail and unknown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import r2_score, roc_auc_score

from engine.data import load_dataset
from engine.evaluation.columns import read_columns, row_hashes
from engine.evaluation.integrity import HashGroups, SplitRows, binned
from engine.evaluation.target_checks import label_shift, target_conflicts, target_leakage, task_integrity
from engine.policy.rules_data import data_quality, split_integrity
from engine.spec import DEFAULT_MISSING_VALUES, DataSpec, SplitSpec
from engine.split import split_rows

FIXTURES = Path(__file__).parent / "fixtures"
CASES = {  # data file, target, task
    "wage regression": (FIXTURES / "wage" / "wage.csv", "wage", "regression"),
    "wage multiclass": (FIXTURES / "wage" / "wage.csv", "education", "multiclass"),
    "cps1985 regression": (FIXTURES / "cps1985" / "cps1985.csv", "wage", "regression"),
    "cps1985 multiclass": (FIXTURES / "cps1985" / "cps1985.csv", "occupation", "multiclass"),
}


def _load(case: str, *, leave_out: tuple[str, ...] = ()) -> Any:
    path, target, task = CASES[case]
    data = load_dataset(DataSpec(path, target, None, (), None, False, DEFAULT_MISSING_VALUES, task=task))
    if leave_out:
        features = tuple(c for c in data.features.all if c not in leave_out)
        data = load_dataset(DataSpec(path, target, None, (), features, False, DEFAULT_MISSING_VALUES, task=task))
    return data


def _parts(data: Any) -> SplitRows:
    splits = split_rows(data.y, SplitSpec(test=0.2, validation=0.2, seed=3))
    return SplitRows(splits.train, splits.validation, splits.test)


@pytest.mark.parametrize("case", list(CASES))
def test_label_conflicts_equal_pandas_on_the_same_rows(case: str) -> None:
    data = _load(case)
    frame = data.frame.copy()
    y = np.asarray(data.y).copy()
    # one more row: a copy of row 0's features with another target, so every data set has a conflict
    frame = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    y = np.append(y, y[0] + 1 if data.task == "regression" else (y[0] + 1) % len(data.classes))
    columns = read_columns(frame, data.features)
    found = target_conflicts(HashGroups.of(row_hashes(columns, len(frame))), y, columns)
    keyed = frame.loc[:, list(data.features.all)].astype(str).assign(_y=y)
    targets = keyed.groupby(list(data.features.all))["_y"].transform("nunique")
    expected = np.flatnonzero(targets.to_numpy() > 1)
    assert found["rows"] == expected.size >= 2 and found["rate"] == pytest.approx(expected.size / len(frame))
    assert found["examples"] == [int(r) + 1 for r in expected[:5]]
    assert found["groups"] == keyed[targets > 1].groupby(list(data.features.all)).ngroups


@pytest.mark.parametrize("case", list(CASES))
def test_the_leakage_screen_equals_scikit_learn_on_each_feature_s_bins(case: str) -> None:
    data = _load(case)
    parts = _parts(data)
    columns = read_columns(data.frame, data.features)
    names = list(data.features.all)
    screen = target_leakage(columns, data.y, parts.train, names, task=data.task, seed=1, threshold=-1.0)
    key = "r2" if data.task == "regression" else "auc"
    assert screen["measure"] == key and len(screen["flagged"]) == len(names)
    y = data.y[parts.train]
    for entry in screen["flagged"]:
        bins = binned(columns, entry["feature"], parts.train)
        if data.task == "regression":  # each bin's mean as the prediction
            means = pd.Series(y).groupby(bins).transform("mean").to_numpy()
            expected = r2_score(y, means)
        else:  # each bin's share of a class as its score, one class against the rest, averaged
            expected = np.mean([roc_auc_score(y == k, pd.Series(y == k).groupby(bins).transform("mean"))
                                for k in range(len(data.classes))])
        assert entry[key] == pytest.approx(expected, abs=1e-6), entry


def test_logwage_is_flagged_as_a_leak_of_wage_and_a_copy_of_the_class_too() -> None:
    data = _load("wage regression")
    parts = _parts(data)
    cert = task_integrity(data.frame, data.y, parts, data.features, task="regression", data_sha256=None, seed=1)
    assert [e["feature"] for e in cert["leakage"]["flagged"]] == ["logwage"]
    assert cert["leakage"]["flagged"][0]["r2"] > 0.95
    finding = split_integrity({"split_integrity": cert}, {"max_duplicate_rate": 0.01, "max_conflict_rate": 0.01})
    assert finding.status == "fail" and "logwage (R²" in finding.message
    honest = _load("wage regression", leave_out=("logwage",))
    clean = task_integrity(honest.frame, honest.y, parts, honest.features, task="regression", data_sha256=None,
                           seed=1)
    assert clean["leakage"]["flagged"] == []
    # Wage's features are few and coarse: repeated rows with other wages are common (the packs warn of them apart)
    repeats_allowed = {"max_duplicate_rate": 1, "max_conflict_rate": 1}
    assert split_integrity({"split_integrity": clean}, repeats_allowed).status == "pass"
    assert split_integrity({"split_integrity": clean}, {"max_conflict_rate": 0.01}).status == "fail"
    assert split_integrity({"split_integrity": cert}, {"max_single_feature_r2": 1.0, "max_duplicate_rate": 0.01,
                                                       "max_conflict_rate": 0.01}).status == "pass"
    assert split_integrity({"split_integrity": {"error": "x"}}, {}).status == "unknown"
    classes = _load("wage multiclass")
    copied = classes.frame.assign(copy=np.asarray(classes.classes)[classes.y])
    features = type(classes.features)(classes.features.numeric, (*classes.features.categorical, "copy"))
    cert = task_integrity(copied, classes.y, parts, features, task="multiclass", data_sha256=None, seed=1)
    assert [e["feature"] for e in cert["leakage"]["flagged"]] == ["copy"] and cert["leakage"]["flagged"][0]["auc"] == 1


@pytest.mark.parametrize("case", list(CASES))
def test_the_target_shift_equals_scipy_and_numpy(case: str) -> None:
    data = _load(case)
    parts = _parts(data)
    rows = {"train": parts.train, "validation": parts.validation, "test": parts.test}
    shift = label_shift(data.y, rows, task=data.task)
    if data.task == "regression":
        for name in ("validation", "test"):
            test = ks_2samp(data.y[parts.train], data.y[rows[name]])
            assert shift["against"][name]["statistic"] == pytest.approx(test.statistic, abs=1e-6)
            assert shift["against"][name]["p_value"] == pytest.approx(test.pvalue, rel=1e-9)
    else:
        k = len(data.classes)
        share = {n: np.bincount(data.y[r], minlength=k) / r.size for n, r in rows.items()}
        for name in ("validation", "test"):
            expected = np.abs(share[name] - share["train"]).max()
            assert shift["against"][name]["largest_share_difference"] == pytest.approx(expected, abs=1e-6)
    quality = {"label_shift": shift}
    if data.task == "regression":  # judged by the KS test's p-value
        lowest = min(a["p_value"] for a in shift["against"].values())
        assert data_quality({"data_quality": quality}, {"min_label_shift_p": lowest * 0.999}).status == "pass"
        failed = data_quality({"data_quality": quality}, {"min_label_shift_p": min(1.0, lowest * 1.001)})
        assert failed.status == "fail" and "distribution shifts" in failed.message
    else:
        value = shift["value"]
        assert value == max(a["largest_share_difference"] for a in shift["against"].values())
        assert data_quality({"data_quality": quality}, {"max_label_shift": value + 1e-9}).status == "pass"
        failed = data_quality({"data_quality": quality}, {"max_label_shift": value / 2})
        assert failed.status == "fail" and "the target shifts" in failed.message
    assert data_quality({"data_quality": {"error": "x"}}, {}).status == "unknown"


def test_a_shifted_regression_target_fails_and_a_stratified_one_passes() -> None:
    data = _load("cps1985 regression")
    order = np.argsort(data.y, kind="mergesort")  # the highest wages all in the test part
    cut = {"train": order[:300], "validation": order[300:400], "test": order[400:]}
    shifted = label_shift(data.y, cut, task="regression")
    assert shifted["against"]["test"]["statistic"] == 1.0 and shifted["against"]["test"]["p_value"] < 1e-10
    assert data_quality({"data_quality": {"label_shift": shifted}}, {}).status == "fail"
    parts = _parts(data)
    honest = label_shift(data.y, {"train": parts.train, "validation": parts.validation, "test": parts.test},
                         task="regression")
    assert data_quality({"data_quality": {"label_shift": honest}}, {}).status == "pass"
