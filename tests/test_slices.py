"""engine.evaluation.slices against fairlearn's MetricFrame and gap functions on real Adult scores."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from adult_scores import Scored, score_half
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from numpy.typing import NDArray
from sklearn import metrics as skm

from engine.evaluation.groups import Grouping, sensitive_groupings
from engine.evaluation.slices import GAP_NAMES, RANKING_NAMES, RATE_NAMES, slice_evidence

EXACT = {"rel": 1e-12, "abs": 1e-12}
THRESHOLD = 0.5
GROUPINGS = ("sex", "race", "sex × race")
BOTH = [False, True]

Metric = Callable[[Any, Any], float]

# Threshold metrics on the 0/1 predictions, as fairlearn and scikit-learn compute them.
REFERENCE_RATES: dict[str, Metric] = {
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "ppv": lambda y, p: skm.precision_score(y, p, zero_division=0),
    "accuracy": skm.accuracy_score,
    "precision": lambda y, p: skm.precision_score(y, p, zero_division=0),
    "recall": lambda y, p: skm.recall_score(y, p, zero_division=0),
    "f1": lambda y, p: skm.f1_score(y, p, zero_division=0),
}


def _roc_auc(y: NDArray[np.bool_], p: NDArray[np.float64]) -> float:
    return float(skm.roc_auc_score(y, p)) if 0 < np.sum(y) < len(y) else np.nan


def _pr_auc(y: NDArray[np.bool_], p: NDArray[np.float64]) -> float:
    return float(skm.average_precision_score(y, p)) if np.any(y) else np.nan


# Ranking metrics on the scores.
REFERENCE_RANKING: dict[str, Metric] = {
    "roc_auc": _roc_auc,
    "pr_auc": _pr_auc,
    "log_loss": lambda y, p: skm.log_loss(y, p, labels=BOTH),
    "brier": lambda y, p: skm.brier_score_loss(y, p, labels=BOTH),
}

# When each rate is defined: its denominator from [TN, FP, FN, TP] counts.
DENOMINATORS: dict[str, Callable[[int, int, int, int], int]] = {
    "selection_rate": lambda tn, fp, fn, tp: tn + fp + fn + tp,
    "accuracy": lambda tn, fp, fn, tp: tn + fp + fn + tp,
    "tpr": lambda tn, fp, fn, tp: tp + fn,
    "fnr": lambda tn, fp, fn, tp: tp + fn,
    "recall": lambda tn, fp, fn, tp: tp + fn,
    "fpr": lambda tn, fp, fn, tp: fp + tn,
    "ppv": lambda tn, fp, fn, tp: tp + fp,
    "precision": lambda tn, fp, fn, tp: tp + fp,
    "f1": lambda tn, fp, fn, tp: 2 * tp + fp + fn,
}

FAIRLEARN_GAPS: dict[str, Callable[..., float]] = {
    "demographic_parity_difference": demographic_parity_difference,
    "demographic_parity_ratio": demographic_parity_ratio,
    "equalized_odds_difference": equalized_odds_difference,
    "equal_opportunity_difference": equal_opportunity_difference,
}


@pytest.fixture(scope="module")
def scored(adult_sample: pd.DataFrame) -> Scored:
    return score_half(adult_sample)


@pytest.fixture(scope="module")
def groupings(scored: Scored) -> dict[str, Grouping]:
    found = sensitive_groupings(scored.frame, ["sex", "race"], {})
    return {g.name: g for g in found}


def _order(proba: NDArray[np.float64]) -> NDArray[np.intp]:
    return np.argsort(-proba, kind="mergesort")


def _evidence(scored: Scored, grouping: Grouping, min_support: int) -> dict[str, Any]:
    return slice_evidence(grouping, scored.y, scored.proba, threshold=THRESHOLD, order=_order(scored.proba),
                          min_support=min_support)


def _features(frame: pd.DataFrame, grouping: Grouping) -> pd.Series | pd.DataFrame:
    columns = list(grouping.columns)
    return frame[columns[0]] if len(columns) == 1 else frame[columns]


def _key(label: str) -> str | tuple[str, ...]:
    """The engine's label as the index of fairlearn's `by_group`."""
    parts = tuple(label.split(" × "))
    return parts[0] if len(parts) == 1 else parts


def _counts(y: NDArray[np.bool_], predicted: NDArray[np.bool_]) -> tuple[int, int, int, int]:
    return (int(np.sum(~y & ~predicted)), int(np.sum(~y & predicted)), int(np.sum(y & ~predicted)),
            int(np.sum(y & predicted)))


def _by_group(metrics: dict[str, Metric], y: Any, y_pred: Any, features: Any) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero divisions in small groups
        return MetricFrame(metrics=metrics, y_true=y, y_pred=y_pred, sensitive_features=features).by_group


def test_the_real_scores_have_small_and_one_class_groups(scored: Scored, groupings: dict[str, Grouping]) -> None:
    """The data is what the tests below need: real, mostly distinct scores and some degenerate groups."""
    assert np.unique(scored.proba).size > 1000
    evidence = _evidence(scored, groupings["sex × race"], 0)
    assert any(g["support"] < 30 for g in evidence["groups"])
    assert any(g["positives"] == 0 for g in evidence["groups"])


@pytest.mark.parametrize("name", GROUPINGS)
def test_group_rates_equal_fairlearn_metricframe(scored: Scored, groupings: dict[str, Grouping], name: str) -> None:
    grouping = groupings[name]
    predicted = scored.proba >= THRESHOLD
    evidence = _evidence(scored, grouping, 0)
    expected = _by_group(REFERENCE_RATES, scored.y, predicted, _features(scored.frame, grouping))
    assert [g["group"] for g in evidence["groups"]] == list(grouping.labels)
    compared = 0
    for group in evidence["groups"]:
        rows = grouping.codes == grouping.labels.index(group["group"])
        counts = _counts(scored.y[rows], predicted[rows])
        assert group["support"] == int(rows.sum())
        assert group["positives"] == int(scored.y[rows].sum())
        for metric in RATE_NAMES:
            ours = group["metrics"][metric]
            reference = float(expected.loc[_key(group["group"]), metric])
            if DENOMINATORS[metric](*counts) == 0:
                # undefined rate: None in the evidence, where fairlearn / zero_division=0 report 0
                assert ours is None, (group["group"], metric)
                assert reference == 0.0
            else:
                assert ours == pytest.approx(reference, **EXACT), (group["group"], metric)
                compared += 1
    assert compared >= len(evidence["groups"]) * len(RATE_NAMES) * 0.8


@pytest.mark.parametrize("name", GROUPINGS)
def test_group_ranking_metrics_equal_sklearn(scored: Scored, groupings: dict[str, Grouping], name: str) -> None:
    grouping = groupings[name]
    evidence = _evidence(scored, grouping, 0)
    expected = _by_group(REFERENCE_RANKING, scored.y, scored.proba, _features(scored.frame, grouping))
    for group in evidence["groups"]:
        for metric in RANKING_NAMES:
            ours = group["metrics"][metric]
            reference = float(expected.loc[_key(group["group"]), metric])
            if np.isnan(reference):
                assert ours is None, (group["group"], metric)
            else:
                assert ours == pytest.approx(reference, **EXACT), (group["group"], metric)


@pytest.mark.parametrize("measure", list(FAIRLEARN_GAPS))
@pytest.mark.parametrize("name", GROUPINGS)
def test_gaps_equal_fairlearn_between_groups(scored: Scored, groupings: dict[str, Grouping], name: str,
                                             measure: str) -> None:
    grouping = groupings[name]
    evidence = _evidence(scored, grouping, 0)
    assert evidence["groups_judged"] == grouping.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = FAIRLEARN_GAPS[measure](scored.y, scored.proba >= THRESHOLD,
                                           sensitive_features=_features(scored.frame, grouping),
                                           method="between_groups")
    assert evidence["gaps"][measure] == pytest.approx(float(expected), **EXACT)


@pytest.mark.parametrize("name", GROUPINGS)
def test_predictive_parity_difference_is_the_precision_spread(scored: Scored, groupings: dict[str, Grouping],
                                                              name: str) -> None:
    grouping = groupings[name]
    evidence = _evidence(scored, grouping, 0)
    precision = _by_group({"p": lambda y, p: skm.precision_score(y, p, zero_division=np.nan)}, scored.y,
                          scored.proba >= THRESHOLD, _features(scored.frame, grouping))["p"]
    expected = float(np.nanmax(precision) - np.nanmin(precision))
    assert evidence["gaps"]["predictive_parity_difference"] == pytest.approx(expected, **EXACT)


# grouping, min_support: groups below it are marked, kept, and left out of the gaps
MIN_SUPPORT_CASES = [
    ("race", 30),
    ("race", 60),
    ("race", 100),
    ("sex × race", 30),
    ("sex × race", 100),
]


@pytest.mark.parametrize(("name", "min_support"), MIN_SUPPORT_CASES)
def test_small_groups_are_marked_kept_and_left_out_of_the_gaps(scored: Scored, groupings: dict[str, Grouping],
                                                               name: str, min_support: int) -> None:
    grouping = groupings[name]
    evidence = _evidence(scored, grouping, min_support)
    support = np.bincount(grouping.codes, minlength=grouping.size)
    assert evidence["min_support"] == min_support
    assert [g["group"] for g in evidence["groups"]] == list(grouping.labels)  # every group stays in the table
    assert [g["too_small"] for g in evidence["groups"]] == (support < min_support).tolist()
    assert evidence["groups_judged"] == int(np.sum(support >= min_support))
    # small groups keep their own metrics
    unfiltered = _evidence(scored, grouping, 0)
    assert [g["metrics"] for g in evidence["groups"]] == [g["metrics"] for g in unfiltered["groups"]]
    # the gaps are fairlearn's on the rows of the judged groups only
    keep = support[grouping.codes] >= min_support
    assert not keep.all()
    features = _features(scored.frame, grouping)[keep]
    for measure, function in FAIRLEARN_GAPS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = function(scored.y[keep], scored.proba[keep] >= THRESHOLD, sensitive_features=features,
                                method="between_groups")
        assert evidence["gaps"][measure] == pytest.approx(float(expected), **EXACT), measure


@pytest.mark.parametrize(("name", "min_support"), [("sex", 500), ("race", 200), ("sex × race", 1000)])
def test_fewer_than_two_judged_groups_give_no_gaps(scored: Scored, groupings: dict[str, Grouping], name: str,
                                                   min_support: int) -> None:
    evidence = _evidence(scored, groupings[name], min_support)
    assert evidence["groups_judged"] < 2
    assert evidence["gaps"] == dict.fromkeys(GAP_NAMES)
    assert len(evidence["groups"]) == groupings[name].size


def test_a_single_group_gives_no_gaps() -> None:
    y = np.array([True, False, True, False, False])
    proba = np.array([0.9, 0.2, 0.4, 0.6, 0.1])
    grouping = Grouping("all", ("all",), np.zeros(5, dtype=np.intp), ("everyone",))
    evidence = slice_evidence(grouping, y, proba, threshold=THRESHOLD, order=_order(proba), min_support=0)
    assert evidence["groups_judged"] == 1
    assert set(evidence["gaps"].values()) == {None}
    assert evidence["groups"][0]["metrics"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba), **EXACT)


def _one_class_case() -> tuple[Grouping, NDArray[np.bool_], NDArray[np.float64]]:
    """Group `neg` has only negatives (two flagged), `pos` only positives, `mixed` both."""
    y = np.array([False] * 6 + [True] * 5 + [True, False, True, False, False, True])
    proba = np.array([0.1, 0.7, 0.3, 0.6, 0.2, 0.05, 0.9, 0.4, 0.8, 0.55, 0.3,
                      0.9, 0.3, 0.45, 0.7, 0.2, 0.65])
    codes = np.array([0] * 6 + [1] * 5 + [2] * 6, dtype=np.intp)
    return Grouping("g", ("g",), codes, ("neg", "pos", "mixed")), y, proba


# group, metric, expected value in the evidence (None where the metric is undefined)
ONE_CLASS_EXPECTED = [
    ("neg", "roc_auc", None),
    ("neg", "pr_auc", None),
    ("neg", "tpr", None),
    ("neg", "fnr", None),
    ("neg", "recall", None),
    ("neg", "selection_rate", 2 / 6),
    ("neg", "fpr", 2 / 6),
    ("neg", "accuracy", 4 / 6),
    ("neg", "precision", 0.0),
    ("neg", "f1", 0.0),
    ("pos", "roc_auc", None),
    ("pos", "pr_auc", 1.0),
    ("pos", "fpr", None),
    ("pos", "tpr", 3 / 5),
    ("pos", "fnr", 2 / 5),
    ("pos", "precision", 1.0),
    ("pos", "selection_rate", 3 / 5),
]


@pytest.mark.parametrize(("group", "metric", "expected"), ONE_CLASS_EXPECTED)
def test_one_class_groups_are_undefined_only_where_they_must_be(group: str, metric: str,
                                                                expected: float | None) -> None:
    grouping, y, proba = _one_class_case()
    evidence = slice_evidence(grouping, y, proba, threshold=THRESHOLD, order=_order(proba), min_support=0)
    by_name = {g["group"]: g for g in evidence["groups"]}
    value = by_name[group]["metrics"][metric]
    if expected is None:
        assert value is None
    else:
        assert value == pytest.approx(expected, **EXACT)


def test_one_class_groups_keep_losses_and_gaps() -> None:
    grouping, y, proba = _one_class_case()
    evidence = slice_evidence(grouping, y, proba, threshold=THRESHOLD, order=_order(proba), min_support=0)
    for g, group in enumerate(evidence["groups"]):
        rows = grouping.codes == g
        assert group["metrics"]["log_loss"] == pytest.approx(skm.log_loss(y[rows], proba[rows], labels=BOTH), **EXACT)
        assert group["metrics"]["brier"] == pytest.approx(
            skm.brier_score_loss(y[rows], proba[rows], labels=BOTH), **EXACT)
    mixed = evidence["groups"][2]["metrics"]
    assert mixed["roc_auc"] == pytest.approx(skm.roc_auc_score(y[11:], proba[11:]), **EXACT)
    # gaps over the groups where each rate is defined: TPR of pos and mixed, FPR of neg and mixed
    tpr = {"pos": 3 / 5, "mixed": 2 / 3}
    fpr = {"neg": 2 / 6, "mixed": 1 / 3}
    assert evidence["gaps"]["equal_opportunity_difference"] == pytest.approx(max(tpr.values()) - min(tpr.values()))
    assert evidence["gaps"]["equalized_odds_difference"] == pytest.approx(
        max(max(tpr.values()) - min(tpr.values()), max(fpr.values()) - min(fpr.values())))
    assert evidence["gaps"]["demographic_parity_difference"] == pytest.approx(3 / 5 - 2 / 6)


def test_slice_evidence_shape(scored: Scored, groupings: dict[str, Grouping]) -> None:
    evidence = _evidence(scored, groupings["sex × race"], 30)
    assert evidence["name"] == "sex × race"
    assert evidence["columns"] == ["sex", "race"]
    assert evidence["edges"] is None
    assert set(evidence["gaps"]) == set(GAP_NAMES)
    for group in evidence["groups"]:
        assert set(group) == {"group", "support", "positives", "too_small", "metrics", "intervals"}
        assert set(group["metrics"]) == {*RATE_NAMES, *RANKING_NAMES}
        assert all(v is None or isinstance(v, float) for v in group["metrics"].values())
    assert sum(g["support"] for g in evidence["groups"]) == scored.y.size


def test_bucketed_grouping_records_its_edges(scored: Scored) -> None:
    (age,) = sensitive_groupings(scored.frame, ["age"], {"age": [25, 45, 65]})
    evidence = _evidence(scored, age, 30)
    assert evidence["edges"] == [25, 45, 65]
    assert [g["group"] for g in evidence["groups"]] == ["<25", "25–45", "45–65", "≥65"]


def test_delong_interval_agrees_with_the_bootstrap_and_brackets_sklearn() -> None:
    from sklearn.metrics import roc_auc_score

    from engine.evaluation.bootstrap import bootstrap, percentile_interval
    from engine.evaluation.slices import delong_interval

    rng = np.random.default_rng(5)
    y = rng.random(6000) < 0.3
    p = np.round(np.clip(y * 0.3 + rng.random(6000) * 0.7, 0, 1), 3)  # ties included
    order = np.argsort(-p, kind="mergesort")
    low, high = delong_interval(y[order], p[order], 0.95)
    assert low is not None and high is not None
    assert low < roc_auc_score(y, p) < high
    samples = bootstrap(y, p, threshold=0.5, cells=np.zeros((y.size, 0), dtype=np.intp), n_cells=0, seed=2,
                        resamples=2000)
    boot_low, boot_high = percentile_interval(samples.metric("roc_auc"), 0.95)
    assert low == pytest.approx(boot_low, abs=0.003)
    assert high == pytest.approx(boot_high, abs=0.003)
    assert delong_interval(np.array([True, False, False]), np.array([0.9, 0.5, 0.1]), 0.95) == [None, None]
