"""engine.evaluation.regression against scikit-learn, fairlearn's MetricFrame and a plain numpy bootstrap loop,
on real wage (ISLR) and CPS 1985 (AER) predictions of a ridge regression fitted on the other half of the rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame
from mapie.regression import SplitConformalRegressor
from numpy.typing import NDArray
from sklearn import metrics as skm
from sklearn.linear_model import Ridge
from task_data import CLOSE, SENSITIVE, design, group_labels, held_out, same

from engine.canonical import jsonable
from engine.evaluation.bootstrap import resample_weights
from engine.evaluation.conformal_regression import conformal_regression_evidence
from engine.evaluation.evidence import evidence_errors
from engine.evaluation.groups import Grouping, column_grouping
from engine.evaluation.performance import EvidenceSettings
from engine.evaluation.regression import evaluate_regression
from engine.evaluation.regression_kernel import SUMS, regression_bootstrap
from engine.evaluation.regression_slices import GAP_NAMES, GROUP_MEASURES

SETTINGS = EvidenceSettings(resamples=40, seed=11, confidence=0.9, min_group_size=10)
FloatArray = NDArray[np.float64]
Metric = Callable[[FloatArray, FloatArray], float]


def _mape(y: FloatArray, p: FloatArray) -> float:
    kept = y != 0
    return float(skm.mean_absolute_percentage_error(y[kept], p[kept]))


SKLEARN: dict[str, Metric] = {
    "rmse": skm.root_mean_squared_error,
    "mae": skm.mean_absolute_error,
    "median_absolute_error": skm.median_absolute_error,
    "mape": _mape,
    "r2": lambda y, p: float(skm.r2_score(y, p, force_finite=False)),
    "mean_error": lambda y, p: float(np.mean(y - p)),
}
FAIRLEARN: dict[str, Metric] = {
    "rmse": skm.root_mean_squared_error,
    "mae": skm.mean_absolute_error,
    "mse": skm.mean_squared_error,
    "mean_residual": lambda y, p: float(np.mean(y - p)),
    "mean_prediction": lambda y, p: float(np.mean(p)),
    "mean_target": lambda y, p: float(np.mean(y)),
}


class Case:
    """Held-out targets, predictions, the baseline's, groupings, and the evidence computed from them."""

    def __init__(self, y: FloatArray, predicted: FloatArray, baseline: FloatArray, groupings: list[Grouping]):
        self.y, self.predicted, self.baseline, self.groupings = y, predicted, baseline, groupings
        self.evidence = evaluate_regression(y, predicted, groupings=groupings, settings=SETTINGS, baseline=baseline)


def _case(name: str) -> Case:
    dataset = "wage" if name == "wage" else "cps1985"
    held = held_out(dataset, "regression")
    groupings = held.groupings(SENSITIVE[dataset])
    y, predicted = held.y.astype(np.float64).copy(), held.output.copy()
    if name == "cps edited":  # the edge cases on real rows: ties, zero targets, a constant target in a group
        predicted = np.round(predicted * 2) / 2  # half-dollar predictions: many tied absolute errors
        y[::13] = 0.0
        y[(held.frame["ethnicity"] == "hispanic").to_numpy()] = 7.5
    return Case(y, predicted, held.baseline, groupings)


@pytest.fixture(scope="module", params=["wage", "cps", "cps edited"])
def case(request: pytest.FixtureRequest) -> Case:
    return _case(request.param)


def test_headline_metrics_equal_scikit_learn(case: Case) -> None:
    for name, reference in SKLEARN.items():
        assert same(case.evidence["metrics"][name], reference(case.y, case.predicted)), name


def test_mape_leaves_zero_targets_out_and_counts_them() -> None:
    edited = _case("cps edited")
    zeros = int(np.count_nonzero(edited.y == 0))
    assert zeros > 0 and edited.evidence["zero_targets"] == zeros
    everything = skm.mean_absolute_percentage_error(edited.y, edited.predicted)  # huge: divides by eps
    assert edited.evidence["metrics"]["mape"] < 10 < everything


def test_group_measures_equal_fairlearn(case: Case) -> None:
    for grouping, evidence in zip(case.groupings, case.evidence["slices"], strict=True):
        frame = MetricFrame(metrics=FAIRLEARN, y_true=case.y, y_pred=case.predicted,
                            sensitive_features=group_labels(grouping))
        for group in evidence["groups"]:
            assert group["support"] == int(np.sum(group_labels(grouping) == group["group"]))
            for name in GROUP_MEASURES:
                assert same(group["metrics"][name], frame.by_group.loc[group["group"], name]), (name, group["group"])


def _gap_reference(case: Case, grouping: Grouping, min_support: int) -> dict[str, float]:
    labels = group_labels(grouping)
    support = {g: int(np.sum(labels == g)) for g in grouping.labels}
    kept = np.isin(labels, [g for g, n in support.items() if n >= min_support])
    frame = MetricFrame(metrics=FAIRLEARN, y_true=case.y[kept], y_pred=case.predicted[kept],
                        sensitive_features=labels[kept])
    difference, ratio, worst = frame.difference(), frame.ratio(), frame.group_max()
    return {
        "rmse_difference": difference["rmse"], "rmse_ratio": ratio["rmse"], "mae_difference": difference["mae"],
        "mae_ratio": ratio["mae"], "max_group_mse": worst["mse"], "max_group_mae": worst["mae"],
        "mean_residual_difference": difference["mean_residual"],
        "mean_prediction_difference": difference["mean_prediction"],
        "mean_prediction_ratio": ratio["mean_prediction"] if frame.by_group["mean_prediction"].min() >= 0 else np.nan,
    }


def test_gaps_equal_fairlearn_over_groups_with_enough_support(case: Case) -> None:
    judged_somewhere_small = False
    for grouping, evidence in zip(case.groupings, case.evidence["slices"], strict=True):
        judged_somewhere_small |= any(g["too_small"] for g in evidence["groups"])
        if evidence["groups_judged"] < 2:
            assert all(v is None for v in evidence["gaps"].values())
            continue
        reference = _gap_reference(case, grouping, SETTINGS.min_group_size)
        assert set(evidence["gaps"]) == set(GAP_NAMES)
        for name, expected in reference.items():
            assert same(evidence["gaps"][name], expected), (grouping.name, name)
    assert judged_somewhere_small or case.y.size > 1000  # the cps crossings hold groups below the support


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_a_constant_target_group_has_measures_but_no_r2() -> None:
    edited = _case("cps edited")
    ethnicity = next(s for s in edited.evidence["slices"] if s["name"] == "ethnicity")
    hispanic = next(g for g in ethnicity["groups"] if g["group"] == "hispanic")
    assert hispanic["metrics"]["r2"] is None and hispanic["metrics"]["rmse"] is not None
    rows = edited.y == 7.5
    assert not np.isfinite(skm.r2_score(edited.y[rows], edited.predicted[rows], force_finite=False))
    assert skm.r2_score(edited.y[rows], edited.predicted[rows]) in (0.0, 1.0)  # the default would invent a value
    others = next(g for g in ethnicity["groups"] if g["group"] == "cauc")
    rows = (group_labels(edited.groupings[1]) == "cauc")
    assert others["metrics"]["r2"] == pytest.approx(skm.r2_score(edited.y[rows], edited.predicted[rows]), **CLOSE)


def test_undefined_gaps_are_none_not_zero() -> None:
    held = held_out("cps1985", "regression")
    groupings = held.groupings(SENSITIVE["cps1985"])
    shifted = held.output - held.output.mean()  # negative predictions: a ratio of means means nothing
    evidence = evaluate_regression(held.y, shifted, groupings=groupings,
                                   settings=EvidenceSettings(resamples=0, min_group_size=10))
    assert evidence["slices"][0]["gaps"]["mean_prediction_ratio"] is None
    assert evidence["slices"][0]["gaps"]["rmse_ratio"] is not None
    alone = evaluate_regression(held.y, held.output, groupings=groupings,
                                settings=EvidenceSettings(resamples=0, min_group_size=10_000))
    assert all(v is None for s in alone["slices"] for v in s["gaps"].values())
    assert "intervals" not in alone


def _loop(case: Case, statistic: Callable[[FloatArray, FloatArray, NDArray[np.intp]], Any]) -> FloatArray:
    """The statistic on every resample, rows repeated by their Poisson weight: the plain-numpy bootstrap."""
    out = []
    for b in range(SETTINGS.resamples):
        w = resample_weights(case.y.size, SETTINGS.seed, b).astype(np.intp)
        out.append(statistic(np.repeat(case.y, w), np.repeat(case.predicted, w), np.repeat(np.arange(case.y.size), w)))
    return np.asarray(out, dtype=np.float64)


def _percentile(samples: FloatArray) -> FloatArray:
    alpha = (1 - SETTINGS.confidence) / 2 * 100
    return np.asarray(np.nanpercentile(samples, [alpha, 100 - alpha], axis=0), dtype=np.float64)


def test_headline_intervals_equal_a_numpy_loop_over_the_same_resamples(case: Case) -> None:
    for name, reference in SKLEARN.items():
        samples = _loop(case, lambda y, p, _, f=reference: f(y, p))  # type: ignore[misc]
        ours = case.evidence["intervals"]["metrics"][name]
        assert ours == pytest.approx(_percentile(samples[np.isfinite(samples)]).tolist(), **CLOSE), name


@pytest.mark.parametrize("window", [0, 7, 40, None])
def test_every_median_window_gives_each_resamples_median_of_the_rows_drawn(case: Case, window: int | None) -> None:
    """The median walks a window around the middle rank and starts again from the first row when a resample's
    middle lies outside it: from a window of one row (nearly every resample outside) to the whole table."""
    absolute = np.abs(case.y - case.predicted)
    expected = [np.median(np.repeat(absolute, resample_weights(case.y.size, SETTINGS.seed, b)))
                for b in range(SETTINGS.resamples)]
    samples = regression_bootstrap(case.y, case.predicted, finest=np.zeros(case.y.size, dtype=np.int32), n_cells=1,
                                   seed=SETTINGS.seed, resamples=SETTINGS.resamples, median_window=window)
    assert samples.metric("median_absolute_error").tolist() == expected
    whole = regression_bootstrap(case.y, case.predicted, finest=np.zeros(case.y.size, dtype=np.int32), n_cells=1,
                                 seed=SETTINGS.seed, resamples=SETTINGS.resamples, median_window=case.y.size)
    assert samples.sums == pytest.approx(whole.sums, **CLOSE)  # the window only moves rows between segments


def test_finest_cell_sums_equal_numpy_with_every_weight_even_the_rare_large_ones() -> None:
    """The kernel counts a weight's first eight thresholds in its vector pass and the rest (a weight of 9 or more:
    about one row in 900,000) in a second pass: enough resamples here to draw such weights."""
    case = _case("wage")
    cells = case.groupings[-1]
    resamples = 4000
    weights = np.stack([resample_weights(case.y.size, SETTINGS.seed, b) for b in range(resamples)]).astype(np.float64)
    assert int(np.count_nonzero(weights >= 9)) >= 2
    residual = case.y - case.predicted
    values = np.column_stack([np.ones_like(residual), residual, residual**2, np.abs(residual), case.y - case.y.mean()])
    by_cell = np.eye(cells.size)[cells.codes][:, :, None] * values[:, None, :]  # (rows, cells, sums)
    expected = (weights @ by_cell.reshape(case.y.size, -1)).reshape(resamples, cells.size, len(SUMS))
    samples = regression_bootstrap(case.y, case.predicted, finest=cells.codes.astype(np.int32), n_cells=cells.size,
                                   seed=SETTINGS.seed, resamples=resamples)
    assert samples.sums == pytest.approx(expected, **CLOSE)


def test_group_and_gap_intervals_equal_a_numpy_loop(case: Case) -> None:
    grouping, evidence = case.groupings[0], case.evidence["slices"][0]
    codes = grouping.codes

    def per_group(y: FloatArray, p: FloatArray, rows: NDArray[np.intp]) -> FloatArray:
        g = codes[rows]
        return np.array([skm.root_mean_squared_error(y[g == k], p[g == k]) if np.any(g == k) else np.nan
                         for k in range(grouping.size)])

    samples = _loop(case, per_group)
    expected = _percentile(samples)
    for k, group in enumerate(evidence["groups"]):
        assert group["intervals"]["rmse"] == pytest.approx(expected[:, k].tolist(), **CLOSE)
    eligible = np.array([not g["too_small"] for g in evidence["groups"]])
    spread = np.nanmax(samples[:, eligible], axis=1) - np.nanmin(samples[:, eligible], axis=1)
    assert evidence["gap_intervals"]["rmse_difference"] == pytest.approx(_percentile(spread).tolist(), **CLOSE)


def test_paired_lift_over_the_baseline_equals_a_numpy_loop(case: Case) -> None:
    lift = case.evidence["comparisons"]["baseline"]["rmse"]
    baseline_rmse = skm.root_mean_squared_error(case.y, case.baseline)
    assert lift["lift"] == pytest.approx(baseline_rmse - skm.root_mean_squared_error(case.y, case.predicted), **CLOSE)
    samples = []
    for b in range(SETTINGS.resamples):
        w = resample_weights(case.y.size, SETTINGS.seed, b)
        samples.append(skm.root_mean_squared_error(case.y, case.baseline, sample_weight=w)
                       - skm.root_mean_squared_error(case.y, case.predicted, sample_weight=w))
    paired = np.asarray(samples)
    assert lift["interval"] == pytest.approx(_percentile(paired).tolist(), **CLOSE)
    assert lift["p_value"] == pytest.approx((1 + np.sum(paired <= 0)) / (paired.size + 1))
    bias = case.evidence["comparisons"]["baseline"]["mean_error"]["lift"]
    assert bias == pytest.approx(abs(np.mean(case.y - case.baseline)) - abs(np.mean(case.y - case.predicted)),
                                 **CLOSE)


def test_each_prediction_bucket_holds_its_residual_quantiles_as_numpy_computes_them(case: Case) -> None:
    buckets = case.evidence["error_analysis"]["by_prediction"]
    edges = np.array([b["lower"] for b in buckets] + [buckets[-1]["upper"]])
    ids = np.searchsorted(edges[1:-1], case.predicted, side="right")
    residual = case.y - case.predicted
    for k, bucket in enumerate(buckets):
        mine = residual[ids == k]
        assert bucket["count"] == mine.size
        expected = np.quantile(mine, [0.1, 0.25, 0.5, 0.75, 0.9]).tolist()
        assert list(bucket["residual_quantiles"].values()) == pytest.approx(expected, **CLOSE)
        assert list(bucket["residual_quantiles"]) == ["p10", "p25", "p50", "p75", "p90"]
        assert bucket["mean_residual"] == pytest.approx(float(mine.mean()), **CLOSE)


def test_the_same_seed_gives_the_same_evidence(case: Case) -> None:
    again = evaluate_regression(case.y, case.predicted, groupings=case.groupings, settings=SETTINGS,
                                baseline=case.baseline)
    assert again == case.evidence


def test_bad_predictions_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN or infinite"):
        evaluate_regression(np.ones(3), np.array([1.0, np.nan, 2.0]), groupings=[], settings=SETTINGS)
    with pytest.raises(ValueError, match="shape"):
        evaluate_regression(np.ones(3), np.ones(4), groupings=[], settings=SETTINGS)


def test_the_evidence_follows_the_schema_and_binary_keys_are_refused(case: Case) -> None:
    document = jsonable(case.evidence)
    assert evidence_errors(document) == []
    assert evidence_errors({**document, "threshold": 0.5})
    assert evidence_errors({**document, "metrics": {**document["metrics"], "rmse": "1.0"}})
    del document["zero_targets"]
    assert evidence_errors(document)


def test_conformal_intervals_equal_mapie_on_the_fitted_model() -> None:
    """MAPIE conformalizes the real ridge model itself; mlgate conformalizes its predictions: the same intervals."""
    frame, x = design("wage", "regression")
    y = frame["wage"].to_numpy(dtype=np.float64)
    half, three_quarters = len(y) // 2, 3 * len(y) // 4
    model = Ridge(alpha=1.0).fit(x[:half], y[:half])
    calibrate, test = slice(half, three_quarters), slice(three_quarters, None)
    levels = [0.8, 0.9]
    mapie = SplitConformalRegressor(model, confidence_level=levels, prefit=True).conformalize(x[calibrate],
                                                                                              y[calibrate])
    _, intervals = mapie.predict_interval(x[test])
    race = column_grouping(frame["race"].iloc[three_quarters:].reset_index(drop=True), "race")
    ours = conformal_regression_evidence(y[calibrate], model.predict(x[calibrate]), y[test], model.predict(x[test]),
                                         levels=levels, groupings=[race], min_group_size=10)
    assert evidence_errors({**jsonable(_case("wage").evidence), "conformal": ours}) == []
    for k, level in enumerate(ours["levels"]):
        lower, upper = intervals[:, 0, k], intervals[:, 1, k]
        covered = (lower <= y[test]) & (y[test] <= upper)
        assert level["coverage"] == pytest.approx(covered.mean(), **CLOSE)
        assert level["mean_width"] == pytest.approx(np.mean(upper - lower), **CLOSE)
        assert level["coverage"] >= levels[k] - 0.05  # conformal: about the coverage it promises
        for group in level["by_group"][0]["groups"]:
            rows = race.codes == race.labels.index(group["group"])
            assert group["coverage"] == pytest.approx(covered[rows].mean(), **CLOSE)
            assert group["mean_width"] == pytest.approx(np.mean(upper[rows] - lower[rows]), **CLOSE)
