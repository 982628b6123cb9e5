"""engine.evaluation.metrics against scikit-learn on the same inputs (random, tied, extreme and real scores)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from numpy.typing import NDArray
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn_reference import SKLEARN

from engine.evaluation.metrics import METRICS, Scores, binary_curve, curve_points, headline_metrics, lift

THRESHOLDS = (0.3, 0.5, 0.7)
EXACT = {"rel": 1e-12, "abs": 1e-12}


THRESHOLD_METRICS = ("accuracy", "precision", "recall", "f1")


def _random(rng: np.random.Generator) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    y = rng.random(2000) < 0.3
    return y, rng.random(2000)


def _tied(rng: np.random.Generator) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Scores on a 0.1 grid (ties everywhere, and scores exactly at each threshold), weakly informative."""
    y = rng.random(3000) < 0.4
    p = np.clip(np.round(rng.random(3000) * 0.8 + 0.2 * y, 1), 0.0, 1.0)
    return y, p


def _extreme(rng: np.random.Generator) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Exact 0 and 1 scores, right and wrong: the clipping of log loss matters."""
    y = rng.random(500) < 0.5
    p = rng.choice([0.0, 1.0, 1e-300, 1 - 1e-17, 0.5], size=500)
    return y, p


def _real(adult: pd.DataFrame) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """A logistic regression fitted on the first 2,000 sample rows' numeric columns, scored on the rest."""
    numeric = adult.select_dtypes("number").to_numpy(dtype=np.float64)
    numeric = (numeric - numeric[:2000].mean(axis=0)) / numeric[:2000].std(axis=0)
    y = (adult["income"] == ">50K").to_numpy()
    model = LogisticRegression(max_iter=1000).fit(numeric[:2000], y[:2000])
    return y[2000:], model.predict_proba(numeric[2000:])[:, 1]


SYNTHETIC = {"random": _random, "tied": _tied, "extreme": _extreme}


@pytest.fixture(scope="module")
def real_scores(adult_sample: pd.DataFrame) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    y, p = _real(adult_sample)
    assert y.any() and not y.all() and np.unique(p).size > 900  # real, mostly distinct scores
    return y, p


def _inputs(name: str, request: pytest.FixtureRequest) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    if name == "real":
        return request.getfixturevalue("real_scores")
    return SYNTHETIC[name](np.random.default_rng(20240601))


@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("data", [*SYNTHETIC, "real"])
@pytest.mark.parametrize("metric", list(METRICS))
def test_metric_equals_sklearn(metric: str, data: str, threshold: float, request: pytest.FixtureRequest) -> None:
    y, p = _inputs(data, request)
    ours = METRICS[metric].compute(Scores.of(y, p, threshold))
    expected = SKLEARN[metric](y, p, threshold)
    assert ours is not None
    assert isinstance(ours, float)
    assert ours == pytest.approx(float(expected), **EXACT)


def test_sklearn_table_covers_every_metric() -> None:
    assert set(SKLEARN) == set(METRICS)


def test_tied_scores_really_are_tied_and_on_the_thresholds() -> None:
    _, p = _tied(np.random.default_rng(20240601))
    assert np.unique(p).size <= 11
    for threshold in THRESHOLDS:
        assert np.any(p == threshold)


def test_headline_metrics_computes_every_metric(real_scores: tuple[NDArray[np.bool_], NDArray[np.float64]]) -> None:
    y, p = real_scores
    scores = Scores.of(y, p, 0.5)
    values = headline_metrics(scores)
    assert list(values) == list(METRICS)
    for name, value in values.items():
        assert value == pytest.approx(SKLEARN[name](y, p, 0.5), **EXACT)


def test_curve_points_lie_on_sklearn_curves() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(5000) < 0.3
    p = np.round(np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1), 3)  # ties, like real scores
    points = curve_points(Scores.of(y, p), points=50)
    assert points is not None
    fpr, tpr, _ = skm.roc_curve(y, p, drop_intermediate=False)
    roc = set(zip(np.round(fpr, 12), np.round(tpr, 12), strict=True))
    assert 2 < len(points["roc"]["fpr"]) <= 51
    assert all((round(a, 12), round(b, 12)) in roc
               for a, b in zip(points["roc"]["fpr"], points["roc"]["tpr"], strict=True))
    assert points["roc"]["fpr"][-1] == 1.0 and points["roc"]["tpr"][-1] == 1.0
    precision, recall, _ = skm.precision_recall_curve(y, p, drop_intermediate=False)
    pr = set(zip(np.round(recall, 12), np.round(precision, 12), strict=True))
    assert all((round(r, 12), round(q, 12)) in pr
               for r, q in zip(points["pr"]["recall"], points["pr"]["precision"], strict=True))
    assert curve_points(Scores.of(np.ones(4, dtype=bool), np.full(4, 0.5))) is None


def test_binary_curve_matches_sklearn_counts() -> None:
    y, p = _tied(np.random.default_rng(3))
    curve = binary_curve(y, p)
    fpr, tpr, _ = skm.roc_curve(y, p, drop_intermediate=False)
    assert np.array_equal(curve.tps, np.rint(tpr[1:] * y.sum()))
    assert np.array_equal(curve.fps, np.rint(fpr[1:] * (~y).sum()))
    assert curve.positives == y.sum()
    assert curve.negatives == (~y).sum()


# Degenerate inputs where a rate's denominator is zero: undefined (None), as sklearn's zero_division=np.nan.
ZERO_DIVISION = {
    "nothing predicted positive": (np.array([True, False, True, False]), np.array([0.1, 0.2, 0.05, 0.4]), 0.5),
    "everything predicted positive": (np.array([True, False, False, False]), np.array([0.9, 0.8, 0.7, 0.6]), 0.5),
    "no positives, none predicted": (np.array([False, False, False]), np.array([0.1, 0.2, 0.3]), 0.5),
    "no positives, some predicted": (np.array([False, False, False]), np.array([0.1, 0.6, 0.9]), 0.5),
    "all positives, none predicted": (np.array([True, True, True]), np.array([0.1, 0.2, 0.3]), 0.5),
}


@pytest.mark.parametrize("metric", THRESHOLD_METRICS)
@pytest.mark.parametrize("case", list(ZERO_DIVISION))
def test_zero_division_is_undefined_as_sklearn_zero_division_nan(case: str, metric: str) -> None:
    y, p, threshold = ZERO_DIVISION[case]
    ours = METRICS[metric].compute(Scores.of(y, p, threshold))
    reference = SKLEARN[metric](y, p, threshold)
    if np.isnan(reference):
        assert ours is None
    else:
        assert ours == reference


SINGLE_CLASS = {
    "all negative": (np.zeros(50, dtype=bool), np.linspace(0.01, 0.99, 50)),
    "all positive": (np.ones(50, dtype=bool), np.linspace(0.01, 0.99, 50)),
}


@pytest.mark.parametrize("case", list(SINGLE_CLASS))
def test_single_class_has_no_roc_auc(case: str) -> None:
    y, p = SINGLE_CLASS[case]
    assert METRICS["roc_auc"].compute(Scores.of(y, p)) is None


def test_no_positives_has_no_average_precision() -> None:
    y, p = SINGLE_CLASS["all negative"]
    assert METRICS["pr_auc"].compute(Scores.of(y, p)) is None


def test_all_positives_average_precision_equals_sklearn() -> None:
    y, p = SINGLE_CLASS["all positive"]
    assert METRICS["pr_auc"].compute(Scores.of(y, p)) == pytest.approx(skm.average_precision_score(y, p), **EXACT)


@pytest.mark.parametrize("metric", [*THRESHOLD_METRICS, "log_loss", "brier"])
@pytest.mark.parametrize("case", list(SINGLE_CLASS))
def test_single_class_threshold_and_loss_metrics_equal_sklearn(case: str, metric: str) -> None:
    y, p = SINGLE_CLASS[case]
    ours = METRICS[metric].compute(Scores.of(y, p, 0.5))
    reference = SKLEARN[metric](y, p, 0.5)
    if np.isnan(reference):
        assert ours is None
    else:
        assert ours == pytest.approx(reference, **EXACT)


def test_empty_input_is_undefined_not_a_crash() -> None:
    """Every metric guards against no rows (`if not s.y.size`, `if self.tps.size`), so building Scores must too."""
    empty = Scores.of(np.array([], dtype=bool), np.array([], dtype=np.float64))
    assert headline_metrics(empty) == {
        "roc_auc": None,
        "pr_auc": None,
        "accuracy": None,
        "precision": None,
        "recall": None,
        "f1": None,
        "log_loss": None,
        "brier": None,
    }


def test_scores_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="equal length"):
        Scores.of(np.array([True, False]), np.array([0.5]))
    with pytest.raises(ValueError, match="1-D"):
        Scores.of(np.ones((2, 2), dtype=bool), np.ones((2, 2)))


LIFTS = [
    # metric, candidate, baseline, expected lift (positive = candidate better)
    ("roc_auc", 0.80, 0.50, 0.30),
    ("roc_auc", 0.45, 0.50, -0.05),
    ("pr_auc", 0.60, 0.25, 0.35),
    ("log_loss", 0.30, 0.55, 0.25),
    ("log_loss", 0.60, 0.55, -0.05),
    ("brier", 0.10, 0.18, 0.08),
    ("brier", 0.20, 0.18, -0.02),
]


@pytest.mark.parametrize(("metric", "candidate", "baseline", "expected"), LIFTS)
def test_lift_is_positive_when_the_candidate_is_better(
    metric: str, candidate: float, baseline: float, expected: float
) -> None:
    assert lift(metric, candidate, baseline) == pytest.approx(expected, **EXACT)


@pytest.mark.parametrize(("candidate", "baseline"), [(None, 0.5), (0.5, None), (None, None)])
def test_lift_of_a_missing_value_is_none(candidate: float | None, baseline: float | None) -> None:
    assert lift("roc_auc", candidate, baseline) is None


def test_losses_are_lower_is_better_and_scores_higher_is_better() -> None:
    lower = {name for name, m in METRICS.items() if not m.higher_is_better}
    assert lower == {"log_loss", "brier"}


def _schema_enum(relative: str, *keys: str) -> list[str]:
    node = json.loads((ROOT / relative).read_text(encoding="utf-8"))
    for key in keys:
        node = node[key]
    return list(node)


@pytest.mark.parametrize(
    ("schema", "keys"),
    [
        ("engine/spec-v1.schema.json", ("$defs", "metric", "enum")),
        ("engine/policy/policy-v1.schema.json", ("$defs", "metric", "enum")),
    ],
)
def test_metric_names_equal_the_schema_enums(schema: str, keys: tuple[str, ...]) -> None:
    from engine.evaluation.task_metrics import ALL_METRICS

    assert _schema_enum(schema, *keys) == list(ALL_METRICS)
    assert list(ALL_METRICS)[:len(METRICS)] == list(METRICS)  # the binary metrics first, in their order
