"""The seeded Poisson bootstrap of a regression candidate: every headline metric and every finest cell's sums.

One compiled pass per resample, the resamples in parallel (numba), with the row weights of
engine.evaluation.bootstrap (same seed, same resamples as binary evidence and as the baseline's and the
champion's, so lifts are paired). The rows are visited in ascending order of absolute error, gathered into that
order once, so the weighted median absolute error is read off the same pass: the value at the middle rank(s) of
the resample (the mean of the two middle values when the resample's size is even, as `np.median` of the rows
drawn). Each finest cell (the intersection of all sensitive groupings) accumulates its weight and its sums of
residual, squared residual, absolute residual and (shifted) target (a mean prediction is the mean target less the
mean residual); every group's measures follow from those (engine.evaluation.regression_slices). Each row streams
four numbers and two indices per resample: the kernel is bound by memory and by the weights' hash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from engine.evaluation.poisson import POISSON_THRESHOLDS, fill_weights, resample_key

FloatArray = NDArray[np.float64]
HEADLINE = ("rmse", "mae", "median_absolute_error", "mape", "r2", "mean_error")
SUMS = ("weight", "residual", "squared", "absolute", "target")  # per cell; the target is shifted by its mean
R2_FLOOR = 1e-12  # a resample whose target variance is below this (relative) has no R²


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def _kernel(rows: NDArray[np.uint32], residual: FloatArray, target: FloatArray, ape: FloatArray,
            cell: NDArray[np.int32], n_cells: int, seed: np.uint64,
            resamples: int, thresholds: NDArray[np.uint32]) -> tuple[FloatArray, FloatArray]:
    n = rows.size
    metrics = np.full((resamples, 6), np.nan)
    sums = np.zeros((resamples, n_cells, 5))
    for b in prange(resamples):
        weights = np.empty(n, dtype=np.uint8)
        fill_weights(weights, rows, resample_key(seed, b), thresholds)
        total = 0
        for k in range(n):
            total += weights[k]
        low_rank = (total - 1) // 2  # the median's ranks (0-based) in the resample, ascending absolute error
        high_rank = total // 2
        low = 0.0
        high = 0.0
        seen = 0
        local = np.zeros((4, n_cells * 5))  # four copies used in turn: no store-to-load chain on one cell
        s_e = 0.0
        s_e2 = 0.0
        s_ae = 0.0
        s_t = 0.0
        s_t2 = 0.0
        s_ape = 0.0
        s_nz = 0.0
        for k in range(n):
            wi = weights[k]
            w = float(wi)
            e = residual[k]
            ae = abs(e)
            t = target[k]
            s_e += w * e
            s_e2 += w * e * e
            s_ae += w * ae
            s_t += w * t
            s_t2 += w * t * t
            a = ape[k]  # negative: a zero target, left out of MAPE
            s_ape += w * max(a, 0.0)
            s_nz += w if a >= 0.0 else 0.0
            if seen <= high_rank and seen + wi > low_rank:  # rare: the rows holding the middle rank(s)
                if seen <= low_rank < seen + wi:
                    low = ae
                if seen <= high_rank < seen + wi:
                    high = ae
            seen += wi
            base = cell[k] * 5
            lane = k & 3
            local[lane, base] += w
            local[lane, base + 1] += w * e
            local[lane, base + 2] += w * e * e
            local[lane, base + 3] += w * ae
            local[lane, base + 4] += w * t
        sums[b] = local.sum(axis=0).reshape(n_cells, 5)
        if total == 0:
            continue
        weight = float(total)
        metrics[b, 0] = np.sqrt(s_e2 / weight)
        metrics[b, 1] = s_ae / weight
        metrics[b, 2] = (low + high) / 2.0
        if s_nz > 0:
            metrics[b, 3] = s_ape / s_nz
        total_ss = s_t2 - s_t * s_t / weight
        if total_ss > R2_FLOOR * max(s_t2, 1e-300):
            metrics[b, 4] = 1.0 - s_e2 / total_ss
        metrics[b, 5] = s_e / weight
    return metrics, sums


@dataclass(frozen=True)
class RegressionSamples:
    """Per resample: the headline metrics (resamples, 6) and each finest cell's sums (resamples, cells, 5)."""

    metrics: FloatArray
    sums: FloatArray
    seed: int

    def metric(self, name: str) -> FloatArray:
        return self.metrics[:, HEADLINE.index(name)]

    def by_name(self) -> dict[str, FloatArray]:
        return {name: self.metric(name) for name in HEADLINE}


def percentage_errors(y: FloatArray, predicted: FloatArray) -> tuple[FloatArray, FloatArray]:
    """|y - ŷ| / |y| per row (0 where the target is 0) and whether the row counts (its target is not 0)."""
    nonzero = y != 0
    ape = np.abs(y - predicted) / np.where(nonzero, np.abs(y), 1.0)
    return np.where(nonzero, ape, 0.0), nonzero.astype(np.float64)


def regression_bootstrap(y: FloatArray, predicted: FloatArray, *, finest: NDArray[np.int32], n_cells: int,
                         seed: int, resamples: int) -> RegressionSamples:
    """Run `resamples` Poisson resamples of (y, predicted); `finest` is each row's finest cell."""
    if y.size >= 2**32:
        raise ValueError("the bootstrap handles at most 2**32 - 1 rows")
    residual = y - predicted
    order = np.argsort(np.abs(residual), kind="stable")
    target = y - (float(np.mean(y)) if y.size else 0.0)  # shifted: the variance sums do not cancel
    ape, nonzero = percentage_errors(y, predicted)
    signed_ape = np.where(nonzero > 0, ape, -1.0)
    metrics, sums = _kernel(order.astype(np.uint32), residual[order], target[order], signed_ape[order],
                            finest[order].astype(np.int32), n_cells, np.uint64(seed), resamples, POISSON_THRESHOLDS)
    return RegressionSamples(metrics=metrics, sums=sums, seed=seed)
