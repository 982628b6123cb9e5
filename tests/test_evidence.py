"""engine.evaluation.evidence: evaluate() on real Adult scores, and the paired comparison with a reference."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from adult_scores import Scored, score_half
from numpy.typing import NDArray
from sklearn import metrics as skm
from sklearn_reference import SKLEARN

from engine.evaluation.bootstrap import GROUP_LOSSES, HEADLINE, BootstrapSamples, percentile_interval
from engine.evaluation.comparisons import compare
from engine.evaluation.groups import Grouping, sensitive_groupings
from engine.evaluation.metrics import METRICS
from engine.evaluation.performance import WORST_SLICES, EvidenceSettings, evaluate
from engine.evaluation.slices import GAP_NAMES, RATE_NAMES

EXACT = {"rel": 1e-12, "abs": 1e-12}
SETTINGS = EvidenceSettings(resamples=300, seed=11, min_group_size=30)
Evaluated = tuple[dict[str, Any], BootstrapSamples | None]


@pytest.fixture(scope="module")
def scored(adult_sample: pd.DataFrame) -> Scored:
    return score_half(adult_sample)


@pytest.fixture(scope="module")
def groupings(scored: Scored) -> list[Grouping]:
    return sensitive_groupings(scored.frame, ["sex", "race"], {})


@pytest.fixture(scope="module")
def evaluated(scored: Scored, groupings: list[Grouping]) -> Evaluated:
    return evaluate(scored.y, scored.proba, groupings=groupings, settings=SETTINGS)


@pytest.fixture(scope="module")
def baseline(scored: Scored, groupings: list[Grouping]) -> Evaluated:
    """The class-prior baseline: the training positive rate for every row."""
    prior = np.full(scored.y.size, scored.prior)
    return evaluate(scored.y, prior, groupings=groupings, settings=SETTINGS)


def test_evidence_has_every_part(evaluated: Evaluated, scored: Scored) -> None:
    evidence, samples = evaluated
    assert {"metrics", "rates", "slices", "calibration", "error_analysis", "intervals"} <= set(evidence)
    assert evidence["rows"] == scored.y.size
    assert evidence["positives"] == int(scored.y.sum())
    assert evidence["threshold"] == SETTINGS.threshold
    assert [s["name"] for s in evidence["slices"]] == ["sex", "race", "sex × race"]
    assert set(evidence["calibration"]) == {"uniform", "quantile", "ece_by_group"}
    assert set(evidence["error_analysis"]) == {"by_probability", "worst_slices"}
    assert samples is not None
    assert samples.metrics.shape == (SETTINGS.resamples, len(HEADLINE))
    json.dumps(evidence, allow_nan=False)  # plain JSON data, no NaN


@pytest.mark.parametrize("metric", list(METRICS))
def test_metrics_equal_sklearn(evaluated: Evaluated, scored: Scored, metric: str) -> None:
    evidence, _ = evaluated
    expected = SKLEARN[metric](scored.y, scored.proba, SETTINGS.threshold)
    assert evidence["metrics"][metric] == pytest.approx(float(expected), **EXACT)


def test_overall_rates_equal_sklearn_confusion_matrix(evaluated: Evaluated, scored: Scored) -> None:
    evidence, _ = evaluated
    tn, fp, fn, tp = skm.confusion_matrix(scored.y, scored.proba >= SETTINGS.threshold).ravel()
    expected = {
        "selection_rate": (tp + fp) / (tn + fp + fn + tp), "tpr": tp / (tp + fn), "fpr": fp / (fp + tn),
        "fnr": fn / (fn + tp), "ppv": tp / (tp + fp), "accuracy": (tp + tn) / (tn + fp + fn + tp),
        "precision": tp / (tp + fp), "recall": tp / (tp + fn), "f1": 2 * tp / (2 * tp + fp + fn),
    }
    assert evidence["rates"] == pytest.approx(expected, **EXACT)


@pytest.mark.parametrize("metric", list(METRICS))
def test_intervals_bracket_the_point_estimate(evaluated: Evaluated, metric: str) -> None:
    evidence, samples = evaluated
    assert samples is not None
    intervals = evidence["intervals"]
    assert (intervals["confidence"], intervals["resamples"], intervals["seed"]) == (0.95, 300, 11)
    low, high = intervals["metrics"][metric]
    point = evidence["metrics"][metric]
    assert low < high
    assert low <= point <= high
    assert [low, high] == percentile_interval(samples.metric(metric), 0.95).tolist()


def test_slice_intervals_come_from_the_bootstrap(evaluated: Evaluated) -> None:
    evidence, _ = evaluated
    for evidence_slice in evidence["slices"]:
        assert set(evidence_slice["gap_intervals"]) == set(GAP_NAMES)
        for measure in ("demographic_parity_difference", "equalized_odds_difference"):
            low, high = evidence_slice["gap_intervals"][measure]
            assert 0 <= low <= high <= 1
        for group in evidence_slice["groups"]:
            # every rate and loss by bootstrap, ROC AUC by DeLong; PR AUC by group has none
            assert set(group["intervals"]) == {*RATE_NAMES, "roc_auc", "log_loss", "brier"}
            if not group["too_small"]:
                for metric in ("selection_rate", "roc_auc", "log_loss"):
                    low, high = group["intervals"][metric]
                    assert low <= group["metrics"][metric] <= high, (group["group"], metric)
            if group["positives"] == 0:  # no resample has a positive in the group
                assert group["intervals"]["roc_auc"] == [None, None]
                assert group["intervals"]["tpr"] == [None, None]


def _bounds(values: NDArray[np.float64], confidence: float) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in percentile_interval(values, confidence)]


def test_group_intervals_are_percentiles_of_the_groups_resampled_metrics(evaluated: Evaluated) -> None:
    evidence, samples = evaluated
    assert samples is not None
    offset = 0
    for evidence_slice in evidence["slices"]:
        for g, group in enumerate(evidence_slice["groups"]):
            cell = samples.counts[:, (offset + g) * 4:(offset + g + 1) * 4]  # TN, FP, FN, TP per resample
            with np.errstate(divide="ignore", invalid="ignore"):
                tpr = cell[:, 3] / (cell[:, 2] + cell[:, 3])
                selection = (cell[:, 1] + cell[:, 3]) / cell.sum(axis=1)
            assert group["intervals"]["tpr"] == _bounds(tpr, 0.95)
            assert group["intervals"]["selection_rate"] == _bounds(selection, 0.95)
            for k, name in enumerate(GROUP_LOSSES):
                assert group["intervals"][name] == _bounds(samples.group_losses[:, offset + g, k], 0.95), name
        offset += len(evidence_slice["groups"])
    assert offset == samples.group_losses.shape[1]


def _width(evidence: dict[str, Any], metric: str) -> float:
    low, high = evidence["intervals"]["metrics"][metric]
    return float(high - low)


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "log_loss"])
def test_intervals_narrow_with_more_rows(scored: Scored, metric: str) -> None:
    few, _ = evaluate(scored.y[:300], scored.proba[:300], groupings=[], settings=SETTINGS)
    many, _ = evaluate(scored.y, scored.proba, groupings=[], settings=SETTINGS)
    # five times the rows: about sqrt(5) ≈ 2.2 times narrower
    assert _width(many, metric) < 0.7 * _width(few, metric)


def test_no_resamples_no_intervals(scored: Scored, groupings: list[Grouping], evaluated: Evaluated) -> None:
    evidence, samples = evaluate(scored.y, scored.proba, groupings=groupings,
                                 settings=EvidenceSettings(resamples=0, seed=11))
    assert samples is None
    assert "intervals" not in evidence
    for evidence_slice in evidence["slices"]:
        assert "gap_intervals" not in evidence_slice
        # without resamples only the analytic (DeLong) interval of each group's ROC AUC remains
        assert all(set(g["intervals"]) == {"roc_auc"} for g in evidence_slice["groups"])
    assert evidence["metrics"] == evaluated[0]["metrics"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_raise(scored: Scored, groupings: list[Grouping], bad: float) -> None:
    proba = scored.proba.copy()
    proba[[3, 700]] = bad
    with pytest.raises(ValueError, match="2 predicted probabilities are NaN or infinite"):
        evaluate(scored.y, proba, groupings=groupings, settings=SETTINGS)


def test_same_settings_same_evidence(scored: Scored, groupings: list[Grouping], evaluated: Evaluated) -> None:
    again, samples = evaluate(scored.y, scored.proba, groupings=groupings, settings=SETTINGS)
    first, first_samples = evaluated
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)
    assert samples is not None and first_samples is not None
    assert np.array_equal(samples.metrics, first_samples.metrics)
    assert np.array_equal(samples.counts, first_samples.counts)
    other, _ = evaluate(scored.y, scored.proba, groupings=groupings,
                        settings=EvidenceSettings(resamples=300, seed=12, min_group_size=30))
    assert other["metrics"] == first["metrics"]
    assert other["intervals"]["metrics"] != first["intervals"]["metrics"]


def _expected_worst(evidence: dict[str, Any], metric: str, min_support: int) -> list[tuple[str, str, float]]:
    found = [(s["name"], g["group"], g["metrics"][metric]) for s in evidence["slices"] for g in s["groups"]
             if g["support"] >= min_support and g["metrics"][metric] is not None]
    reverse = not METRICS[metric].higher_is_better
    return sorted(found, key=lambda c: c[2], reverse=reverse)[:WORST_SLICES]


@pytest.mark.parametrize(("metric", "min_group_size"), [("roc_auc", 30), ("roc_auc", 100), ("accuracy", 30),
                                                        ("log_loss", 30)])
def test_worst_slices_are_the_lowest_scoring_judged_groups(scored: Scored, groupings: list[Grouping], metric: str,
                                                           min_group_size: int) -> None:
    settings = EvidenceSettings(resamples=0, optimizing_metric=metric, min_group_size=min_group_size)
    evidence, _ = evaluate(scored.y, scored.proba, groupings=groupings, settings=settings)
    worst = evidence["error_analysis"]["worst_slices"]
    assert [(w["grouping"], w["group"], w["value"]) for w in worst] == _expected_worst(evidence, metric,
                                                                                        min_group_size)
    assert len(worst) == WORST_SLICES
    assert all(w["metric"] == metric and w["support"] >= min_group_size for w in worst)
    values = [w["value"] for w in worst]
    assert values == sorted(values, reverse=not METRICS[metric].higher_is_better)


def test_error_analysis_by_probability(evaluated: Evaluated, scored: Scored) -> None:
    evidence, _ = evaluated
    buckets = evidence["error_analysis"]["by_probability"]
    assert sum(b["count"] for b in buckets) == scored.y.size
    assert sum(b["share_of_errors"] for b in buckets) == pytest.approx(1.0)
    errors = (scored.proba >= SETTINGS.threshold) != scored.y
    for bucket in buckets:
        rows = (scored.proba > bucket["lower"]) & (scored.proba <= bucket["upper"])
        if bucket["lower"] == 0:
            rows |= scored.proba == 0
        assert bucket["count"] == rows.sum()
        assert bucket["positive_rate"] == pytest.approx(scored.y[rows].mean(), **EXACT)
        assert bucket["accuracy"] == pytest.approx(1 - errors[rows].mean(), **EXACT)


# ---------------------------------------------------------------------------------------------------------------
# compare(): lift over a reference, paired


def test_baseline_is_the_class_prior(baseline: Evaluated) -> None:
    evidence, _ = baseline
    assert evidence["metrics"]["roc_auc"] == 0.5


@pytest.mark.parametrize("metric", list(METRICS))
def test_lift_is_positive_when_the_candidate_is_better(evaluated: Evaluated, baseline: Evaluated,
                                                       metric: str) -> None:
    (evidence, samples), (reference, reference_samples) = evaluated, baseline
    forward = compare(evidence, samples, reference, reference_samples, confidence=0.95)[metric]
    backward = compare(reference, reference_samples, evidence, samples, confidence=0.95)[metric]
    if reference["metrics"][metric] is None:  # the prior predicts no positive: its precision is undefined
        assert metric == "precision" and forward["lift"] is None and forward["p_value"] is None
        return
    difference = evidence["metrics"][metric] - reference["metrics"][metric]
    better = difference if METRICS[metric].higher_is_better else -difference
    assert better > 0  # the model beats the prior on every metric
    assert forward["lift"] == pytest.approx(better, **EXACT)
    assert backward["lift"] == pytest.approx(-better, **EXACT)
    assert forward["p_value"] <= 0.01
    assert backward["p_value"] >= 0.99
    low, high = forward["interval"]
    assert 0 < low <= forward["lift"] <= high


def test_log_loss_lift_is_the_reduction_in_loss(evaluated: Evaluated, baseline: Evaluated) -> None:
    (evidence, samples), (reference, reference_samples) = evaluated, baseline
    entry = compare(evidence, samples, reference, reference_samples, confidence=0.95)["log_loss"]
    assert evidence["metrics"]["log_loss"] < reference["metrics"]["log_loss"]
    assert entry["lift"] == pytest.approx(reference["metrics"]["log_loss"] - evidence["metrics"]["log_loss"])
    assert entry["lift"] > 0


def test_p_value_of_a_strong_model_against_the_prior(evaluated: Evaluated, baseline: Evaluated) -> None:
    (evidence, samples), (reference, reference_samples) = evaluated, baseline
    entry = compare(evidence, samples, reference, reference_samples, confidence=0.95)["roc_auc"]
    assert entry["p_value"] == pytest.approx(1 / (SETTINGS.resamples + 1))  # no resample where it is not better


def test_a_model_against_itself(evaluated: Evaluated) -> None:
    evidence, samples = evaluated
    comparison = compare(evidence, samples, evidence, samples, confidence=0.95)
    assert set(comparison) == set(METRICS)
    for entry in comparison.values():
        assert entry == {"lift": 0.0, "interval": [0.0, 0.0], "p_value": 1.0}


def _paired(samples: BootstrapSamples, reference: BootstrapSamples, metric: str) -> NDArray[np.float64]:
    sign = 1.0 if METRICS[metric].higher_is_better else -1.0
    paired = sign * (samples.metric(metric) - reference.metric(metric))
    return paired[np.isfinite(paired)]


@pytest.mark.parametrize("metric", ["roc_auc", "pr_auc", "f1", "log_loss", "brier"])
def test_paired_interval_and_p_value_come_from_the_same_resamples(scored: Scored, groupings: list[Grouping],
                                                                  adult_sample: pd.DataFrame,
                                                                  evaluated: Evaluated, metric: str) -> None:
    """A weaker real model (two columns) against the full one: the same resamples, differenced row by row."""
    weaker = score_half(adult_sample, ["age", "hours-per-week"])
    reference, reference_samples = evaluate(scored.y, weaker.proba, groupings=groupings, settings=SETTINGS)
    evidence, samples = evaluated
    assert samples is not None and reference_samples is not None
    entry = compare(evidence, samples, reference, reference_samples, confidence=0.9)[metric]
    paired = _paired(samples, reference_samples, metric)
    assert entry["interval"] == percentile_interval(paired, 0.9).tolist()
    assert entry["p_value"] == (1 + np.count_nonzero(paired <= 0)) / (paired.size + 1)
    # unpaired (other seed) differences would be much wider: pairing cancels the shared resampling noise
    assert entry["interval"][1] - entry["interval"][0] < _width(evidence, metric) + _width(reference, metric)


def test_compare_without_samples_has_only_point_lifts(evaluated: Evaluated, baseline: Evaluated) -> None:
    (evidence, samples), (reference, _) = evaluated, baseline
    for metric, entry in compare(evidence, samples, reference, None, confidence=0.95).items():
        assert entry["interval"] == [None, None]
        assert entry["p_value"] is None
        assert (entry["lift"] is None) == (reference["metrics"][metric] is None), metric
