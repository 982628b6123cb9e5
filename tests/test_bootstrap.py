"""engine.evaluation.bootstrap: each Poisson resample equals scikit-learn on the plainly resampled rows."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from adult_scores import score_half
from numpy.typing import NDArray
from sklearn import metrics as skm

from engine.evaluation.bootstrap import (
    GROUP_LOSSES,
    HEADLINE,
    MAX_WEIGHT,
    BootstrapSamples,
    bootstrap,
    percentile_interval,
    resample_weights,
)
from engine.evaluation.poisson import BLOCK, CHUNK, COMMON, POISSON_THRESHOLDS, block_keys, fill_block

EXACT = {"rel": 1e-12, "abs": 1e-12}
THRESHOLD = 0.5
SEED = 20240601
RESAMPLES = 60
CHECKED = (0, 1, 17, 59)
BOTH = [False, True]

Reference = Callable[[NDArray[np.bool_], NDArray[np.float64]], float]
SKLEARN: dict[str, Reference] = {
    "roc_auc": skm.roc_auc_score,
    "pr_auc": skm.average_precision_score,
    "accuracy": lambda y, p: skm.accuracy_score(y, p >= THRESHOLD),
    "precision": lambda y, p: skm.precision_score(y, p >= THRESHOLD, zero_division=np.nan),
    "recall": lambda y, p: skm.recall_score(y, p >= THRESHOLD, zero_division=np.nan),
    "f1": lambda y, p: skm.f1_score(y, p >= THRESHOLD, zero_division=np.nan),
    "log_loss": lambda y, p: skm.log_loss(y, p, labels=BOTH),
    "brier": lambda y, p: skm.brier_score_loss(y, p, labels=BOTH),
}

Case = tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.intp], int]


def _cells(y: NDArray[np.bool_], proba: NDArray[np.float64],
           groups: list[NDArray[np.intp]]) -> tuple[NDArray[np.intp], int]:
    """(rows, groupings) flat cells (offset + group) * 4 + label * 2 + prediction, as evaluate() builds them."""
    outcome = y.astype(np.intp) * 2 + (proba >= THRESHOLD)
    offsets = np.cumsum([0, *(int(g.max()) + 1 for g in groups)])
    cells = np.stack([(offsets[j] + g) * 4 + outcome for j, g in enumerate(groups)], axis=1).astype(np.intp)
    return cells, int(offsets[-1]) * 4


def _case(name: str, adult: pd.DataFrame) -> Case:
    rng = np.random.default_rng(3)
    if name == "real":
        scored = score_half(adult)
        sex = (scored.frame["sex"] == "Male").to_numpy().astype(np.intp)
        race = pd.factorize(scored.frame["race"])[0].astype(np.intp)
        return scored.y, scored.proba, *_cells(scored.y, scored.proba, [sex, race])
    n = 1200
    y = rng.random(n) < 0.35
    if name == "tied":  # scores on a 0.1 grid, some exactly at the threshold
        p = np.clip(np.round(rng.random(n) * 0.8 + 0.2 * y, 1), 0.0, 1.0)
    else:  # heavily tied: three distinct scores, one of them the threshold
        levels = np.array([0.2, 0.5, 0.8])
        p = np.where(y, rng.choice(levels, n, p=[0.2, 0.3, 0.5]), rng.choice(levels, n, p=[0.5, 0.3, 0.2]))
    groups = [rng.integers(0, 3, n).astype(np.intp), rng.integers(0, 2, n).astype(np.intp)]
    return y, p, *_cells(y, p, groups)


@pytest.fixture(scope="module", params=["real", "tied", "three scores"])
def case(request: pytest.FixtureRequest, adult_sample: pd.DataFrame) -> tuple[Case, BootstrapSamples]:
    y, p, cells, n_cells = _case(request.param, adult_sample)
    samples = bootstrap(y, p, threshold=THRESHOLD, cells=cells, n_cells=n_cells, seed=SEED, resamples=RESAMPLES)
    return (y, p, cells, n_cells), samples


def _resampled(n: int, seed: int, b: int) -> NDArray[np.intp]:
    return np.repeat(np.arange(n), resample_weights(n, seed, b))


@pytest.mark.parametrize("b", CHECKED)
def test_resample_metrics_equal_sklearn_on_resampled_rows(case: tuple[Case, BootstrapSamples], b: int) -> None:
    (y, p, _, _), samples = case
    rows = _resampled(y.size, SEED, b)
    assert rows.size != y.size or not np.array_equal(rows, np.arange(y.size))  # a real resample
    assert samples.metrics.shape == (RESAMPLES, len(HEADLINE))
    for k, name in enumerate(HEADLINE):
        expected = SKLEARN[name](y[rows], p[rows])
        assert samples.metrics[b, k] == pytest.approx(float(expected), **EXACT), name
        assert samples.metric(name)[b] == samples.metrics[b, k]


def _group_reference(name: str, y: NDArray[np.bool_], p: NDArray[np.float64]) -> float:
    """scikit-learn's value on one group's resampled rows, NaN where it is undefined."""
    if y.size == 0 or (name == "roc_auc" and (y.all() or not y.any())) or (name == "pr_auc" and not y.any()):
        return np.nan
    return float(SKLEARN[name](y, p))


@pytest.mark.parametrize("b", CHECKED)
def test_group_losses_equal_sklearn_on_each_groups_resampled_rows(case: tuple[Case, BootstrapSamples],
                                                                          b: int) -> None:
    (y, p, cells, n_cells), samples = case
    assert samples.group_losses.shape == (RESAMPLES, n_cells // 4, len(GROUP_LOSSES))
    rows = _resampled(y.size, SEED, b)
    group_of = cells[rows] >> 2  # (resampled rows, groupings): global group index
    for g in range(n_cells // 4):
        in_group = rows[(group_of == g).any(axis=1)]
        for k, name in enumerate(GROUP_LOSSES):
            expected = _group_reference(name, y[in_group], p[in_group])
            ours = samples.group_losses[b, g, k]
            if np.isnan(expected):
                assert np.isnan(ours), (g, name)
            else:
                assert ours == pytest.approx(expected, **EXACT), (g, name)


def test_the_tied_cases_really_are_tied(adult_sample: pd.DataFrame) -> None:
    for name, most in (("tied", 11), ("three scores", 3)):
        _, p, _, _ = _case(name, adult_sample)
        assert np.unique(p).size <= most
        assert np.any(p == THRESHOLD)


@pytest.mark.parametrize("b", CHECKED)
def test_counts_equal_bincount_of_the_resampled_cells(case: tuple[Case, BootstrapSamples], b: int) -> None:
    (y, _, cells, n_cells), samples = case
    rows = _resampled(y.size, SEED, b)
    assert samples.counts.shape == (RESAMPLES, n_cells)
    expected = sum(np.bincount(cells[rows, j], minlength=n_cells) for j in range(cells.shape[1]))
    assert np.array_equal(samples.counts[b], expected)
    # each grouping's cells add up to the resample size
    assert samples.counts[b].sum() == rows.size * cells.shape[1]


def test_same_seed_same_samples_other_seed_other_samples(adult_sample: pd.DataFrame) -> None:
    y, p, cells, n_cells = _case("tied", adult_sample)

    def run(seed: int) -> BootstrapSamples:
        return bootstrap(y, p, threshold=THRESHOLD, cells=cells, n_cells=n_cells, seed=seed, resamples=40)

    first, again, other = run(7), run(7), run(8)
    assert np.array_equal(first.metrics, again.metrics)
    assert np.array_equal(first.counts, again.counts)
    assert first.seed == 7
    assert not np.array_equal(first.metrics, other.metrics)
    assert not np.array_equal(first.counts, other.counts)
    # resamples of one run differ from each other
    assert np.unique(first.metrics[:, HEADLINE.index("roc_auc")]).size > 30


def test_weights_depend_only_on_seed_resample_and_row() -> None:
    assert np.array_equal(resample_weights(1000, 5, 3), resample_weights(1000, 5, 3))
    assert np.array_equal(resample_weights(1000, 5, 3)[:400], resample_weights(400, 5, 3))
    assert not np.array_equal(resample_weights(1000, 5, 3), resample_weights(1000, 5, 4))
    assert not np.array_equal(resample_weights(1000, 5, 3), resample_weights(1000, 6, 3))


@pytest.mark.parametrize(("seed", "first"), [(0, 0), (2**40 + 3, 960)])
def test_the_block_draw_equals_the_row_by_row_draw_for_every_weight(seed: int, first: int) -> None:
    """fill_block counts the first thresholds in its vector pass and the rest only for the rare rows that reached
    them: every weight, up to MAX_WEIGHT, must still be the one resample_weights draws."""
    n = 200_003
    rows = np.arange(n, dtype=np.uint32)
    keys = block_keys(np.uint64(seed), first)
    drawn = np.empty((n, BLOCK), dtype=np.uint8)
    out = np.empty((CHUNK, BLOCK), dtype=np.uint8)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        fill_block(out, rows, start, stop, keys, POISSON_THRESHOLDS)
        drawn[start:stop] = out[:stop - start]
    expected = np.column_stack([resample_weights(n, seed, first + j) for j in range(BLOCK)])
    assert np.array_equal(drawn, expected)
    assert set(np.unique(expected)) >= set(range(COMMON + 3))  # the rare path was taken, and more than once


@pytest.mark.parametrize(("seed", "b"), [(0, 0), (42, 0), (42, 1), (2**40 + 3, 999)])
def test_weights_are_poisson_1(seed: int, b: int) -> None:
    w = resample_weights(100_000, seed, b)
    assert w.dtype == np.uint8
    assert w.max() <= MAX_WEIGHT
    assert w.mean() == pytest.approx(1.0, abs=0.015)  # sd of the mean: 1 / sqrt(1e5) ≈ 0.003
    assert w.var() == pytest.approx(1.0, abs=0.03)
    frequencies = np.bincount(w, minlength=6)[:6] / w.size
    poisson = [math.exp(-1) / math.factorial(k) for k in range(6)]
    assert frequencies == pytest.approx(poisson, abs=0.005)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_percentile_interval_equals_numpy_percentile(confidence: float) -> None:
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(1000, 3))
    alpha = 100 * (1 - confidence) / 2
    bounds = percentile_interval(samples, confidence)
    assert np.array_equal(bounds, np.percentile(samples, [alpha, 100 - alpha], axis=0))
    one = percentile_interval(samples[:, 0], confidence)
    assert np.array_equal(one, np.percentile(samples[:, 0], [alpha, 100 - alpha]))


def test_percentile_interval_ignores_undefined_resamples() -> None:
    samples = np.r_[np.linspace(0.6, 0.9, 400), [np.nan] * 50]
    assert np.array_equal(percentile_interval(samples, 0.95), np.percentile(samples[:400], [2.5, 97.5]))
    assert np.isnan(percentile_interval(np.full(10, np.nan), 0.95)).all()


def _find(n: int, seed: int, wanted: Callable[[NDArray[np.uint8]], bool]) -> int:
    return next(b for b in range(500) if wanted(resample_weights(n, seed, b)))


def test_a_resample_without_positives_has_no_roc_auc() -> None:
    y = np.array([True, False, False, False])
    p = np.array([0.9, 0.3, 0.6, 0.1])
    b = _find(4, 1, lambda w: w[0] == 0 and w.sum() > 0)
    samples = bootstrap(y, p, threshold=THRESHOLD, cells=np.zeros((4, 0), dtype=np.intp), n_cells=0, seed=1,
                        resamples=b + 1)
    row = samples.metrics[b]
    assert np.isnan(row[HEADLINE.index("roc_auc")])
    assert np.isnan(row[HEADLINE.index("pr_auc")])
    rows = _resampled(4, 1, b)
    for name in ("accuracy", "precision", "recall", "f1", "log_loss", "brier"):
        expected = SKLEARN[name](y[rows], p[rows])
        if np.isnan(expected):  # recall without positives: undefined, not 0
            assert np.isnan(row[HEADLINE.index(name)]), name
        else:
            assert row[HEADLINE.index(name)] == pytest.approx(expected, **EXACT), name


def test_a_resample_without_negatives_has_no_roc_auc_but_sklearn_average_precision() -> None:
    """As `metrics.pr_auc` (and scikit-learn): average precision is defined, 1.0, when every row is positive."""
    y = np.array([True, True, False])
    p = np.array([0.9, 0.8, 0.1])
    b = _find(3, 1, lambda w: w[2] == 0 and w.sum() > 0)
    samples = bootstrap(y, p, threshold=THRESHOLD, cells=np.zeros((3, 0), dtype=np.intp), n_cells=0, seed=1,
                        resamples=b + 1)
    rows = _resampled(3, 1, b)
    assert np.isnan(samples.metrics[b, HEADLINE.index("roc_auc")])
    assert samples.metrics[b, HEADLINE.index("pr_auc")] == skm.average_precision_score(y[rows], p[rows]) == 1.0


def test_an_empty_resample_is_undefined_not_a_crash() -> None:
    y = np.array([True, False])
    p = np.array([0.7, 0.2])
    b = _find(2, 3, lambda w: w.sum() == 0)
    samples = bootstrap(y, p, threshold=THRESHOLD, cells=np.zeros((2, 1), dtype=np.intp), n_cells=4, seed=3,
                        resamples=b + 1)
    assert np.isnan(samples.metrics[b]).all()
    assert samples.counts[b].sum() == 0
