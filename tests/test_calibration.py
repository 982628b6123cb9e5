"""engine.evaluation.calibration: reliability bins equal scikit-learn's calibration_curve; ECE, MCE, Brier by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from adult_scores import Scored, score_half
from numpy.typing import NDArray
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from engine.evaluation.calibration import STRATEGIES, calibration_evidence, ece_by_group, reliability
from engine.evaluation.groups import Grouping, sensitive_groupings

EXACT = {"rel": 1e-12, "abs": 1e-12}
Data = tuple[NDArray[np.bool_], NDArray[np.float64]]


@pytest.fixture(scope="module")
def scored(adult_sample: pd.DataFrame) -> Scored:
    return score_half(adult_sample)


def _synthetic(case: str) -> Data:
    rng = np.random.default_rng(11)
    p = rng.random(3000)
    y = rng.random(3000) < p**1.5  # miscalibrated on purpose
    if case == "tied":  # on a 0.1 grid: scores exactly on the equal-width edges
        p = np.round(p, 1)
    if case == "skewed":  # most mass near 0, as a rare-positive model gives
        p = p**4
    return y, p


def _data(case: str, scored: Scored) -> Data:
    return (scored.y, scored.proba) if case == "real" else _synthetic(case)


CASES = ["real", "random", "tied", "skewed"]


@pytest.mark.parametrize("bins", [5, 10, 15])
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("case", CASES)
def test_diagram_equals_sklearn_calibration_curve(scored: Scored, case: str, strategy: str, bins: int) -> None:
    y, p = _data(case, scored)
    diagram = reliability(y, p, bins=bins, strategy=strategy)["diagram"]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy=strategy)
    assert np.array_equal([b["fraction_positive"] for b in diagram], prob_true)
    assert np.array_equal([b["mean_predicted"] for b in diagram], prob_pred)
    assert sum(b["count"] for b in diagram) == y.size
    assert all(b["count"] > 0 for b in diagram)
    assert all(b["lower"] - 1e-12 <= b["mean_predicted"] <= b["upper"] + 1e-12 for b in diagram)


def test_tied_scores_sit_on_the_bin_edges() -> None:
    _, p = _synthetic("tied")
    edges = np.linspace(0, 1, 11)
    assert np.isin(p, edges).mean() > 0.5
    assert np.isin(edges[[0, 1, 2, 4, 5, 8, 9, 10]], p).all()


def _hand_bins(y: NDArray[np.bool_], p: NDArray[np.float64],
               edges: NDArray[np.float64]) -> list[tuple[int, float, float]]:
    """(count, fraction positive, mean predicted) of each filled bin; a score on an inner edge goes to the lower bin."""
    out = []
    for i in range(len(edges) - 1):
        upper_ok = p <= edges[i + 1] if i < len(edges) - 2 else np.ones(p.size, dtype=bool)
        lower_ok = p > edges[i] if i > 0 else np.ones(p.size, dtype=bool)
        rows = lower_ok & upper_ok
        if rows.any():
            out.append((int(rows.sum()), float(np.mean(y[rows])), float(np.mean(p[rows]))))
    return out


def _edges(p: NDArray[np.float64], bins: int, strategy: str) -> NDArray[np.float64]:
    if strategy == "uniform":
        return np.linspace(0, 1, bins + 1)
    return np.percentile(p, np.linspace(0, 1, bins + 1) * 100)  # as calibration_curve


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("case", CASES)
def test_ece_mce_and_brier_decomposition_by_hand(scored: Scored, case: str, strategy: str) -> None:
    y, p = _data(case, scored)
    result = reliability(y, p, bins=10, strategy=strategy)
    bins = _hand_bins(y, p, _edges(p, 10, strategy))
    assert [b["count"] for b in result["diagram"]] == [count for count, _, _ in bins]
    ece = sum(count / y.size * abs(frac - mean) for count, frac, mean in bins)
    mce = max(abs(frac - mean) for _, frac, mean in bins)
    base = y.mean()
    assert result["ece"] == pytest.approx(ece, **EXACT)
    assert result["mce"] == pytest.approx(mce, **EXACT)
    assert result["reliability"] == pytest.approx(sum(c / y.size * (m - f) ** 2 for c, f, m in bins), **EXACT)
    assert result["resolution"] == pytest.approx(sum(c / y.size * (f - base) ** 2 for c, f, _ in bins), **EXACT)
    assert result["uncertainty"] == pytest.approx(base * (1 - base), **EXACT)
    assert result["brier"] == pytest.approx(brier_score_loss(y, p), **EXACT)
    assert result["strategy"] == strategy
    assert result["bins"] == 10
    assert 0 <= result["ece"] <= result["mce"] <= 1


def test_ece_of_perfectly_calibrated_bins_is_zero() -> None:
    """Every score equals the positive rate of its bin."""
    p = np.repeat([0.05, 0.25, 0.5, 0.75, 0.95], 20)
    y = np.concatenate([np.arange(20) < k for k in (1, 5, 10, 15, 19)])
    result = reliability(y, p, bins=10, strategy="uniform")
    assert result["ece"] == pytest.approx(0, abs=1e-15)
    assert result["mce"] == pytest.approx(0, abs=1e-15)
    assert len(result["diagram"]) == 5


@pytest.mark.parametrize("name", ["sex", "race", "sex × race"])
def test_ece_by_group_equals_reliability_on_each_group_alone(scored: Scored, name: str) -> None:
    grouping = next(g for g in sensitive_groupings(scored.frame, ["sex", "race"], {}) if g.name == name)
    values = ece_by_group(grouping, scored.y, scored.proba, bins=10)
    assert len(values) == grouping.size
    for g, value in enumerate(values):
        rows = grouping.codes == g
        alone = reliability(scored.y[rows], scored.proba[rows], bins=10, strategy="uniform")
        assert value == pytest.approx(alone["ece"], **EXACT), grouping.labels[g]


def test_ece_by_group_of_an_empty_group_is_none() -> None:
    y, p = _synthetic("random")
    codes = (np.arange(y.size) % 2).astype(np.intp)  # group 2 has no rows
    grouping = Grouping("g", ("g",), codes, ("a", "b", "empty"))
    values = ece_by_group(grouping, y, p, bins=10)
    assert values[2] is None
    assert values[0] == pytest.approx(reliability(y[codes == 0], p[codes == 0], bins=10, strategy="uniform")["ece"])


@pytest.mark.parametrize("value", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_constant_predictions_do_not_crash(strategy: str, value: float) -> None:
    y = np.arange(200) % 4 == 0
    p = np.full(200, value)
    result = reliability(y, p, bins=10, strategy=strategy)
    (only,) = result["diagram"]
    assert only["count"] == 200
    assert only["mean_predicted"] == pytest.approx(value)
    assert only["fraction_positive"] == 0.25
    assert result["ece"] == pytest.approx(abs(0.25 - value), **EXACT)
    assert result["mce"] == pytest.approx(abs(0.25 - value), **EXACT)
    assert result["resolution"] == pytest.approx(0, abs=1e-15)
    assert result["brier"] == pytest.approx(brier_score_loss(y, p), **EXACT)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy=strategy)
    assert [only["fraction_positive"]] == prob_true.tolist()
    assert [only["mean_predicted"]] == prob_pred.tolist()
    grouping = Grouping("g", ("g",), (np.arange(200) % 2).astype(np.intp), ("a", "b"))
    assert ece_by_group(grouping, y, p, bins=10) == [pytest.approx(abs(0.5 - value)), pytest.approx(value)]


def test_calibration_evidence_has_both_strategies_and_every_grouping(scored: Scored) -> None:
    groupings = sensitive_groupings(scored.frame, ["sex", "race"], {})
    evidence = calibration_evidence(scored.y, scored.proba, groupings, bins=10)
    assert set(evidence) == {"uniform", "quantile", "ece_by_group"}
    for strategy in STRATEGIES:
        assert evidence[strategy] == reliability(scored.y, scored.proba, bins=10, strategy=strategy)
    assert list(evidence["ece_by_group"]) == ["sex", "race", "sex × race"]
    for grouping in groupings:
        stored = evidence["ece_by_group"][grouping.name]
        assert list(stored) == list(grouping.labels)
        assert list(stored.values()) == ece_by_group(grouping, scored.y, scored.proba, bins=10)
