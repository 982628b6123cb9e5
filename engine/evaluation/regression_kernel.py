"""The seeded Poisson bootstrap of a regression candidate: every headline metric and every finest cell's sums.

One compiled pass per block of resamples (numba runs the blocks in parallel), with the row weights of
engine.evaluation.poisson drawn a block at a time (same seed, same resamples as binary evidence and as the
baseline's and the champion's, so lifts are paired). The rows are visited in ascending order of absolute error,
gathered into that order once; each row's cell and values are read once per block and applied to the whole
block as vector operations. Each finest cell (the intersection of all sensitive groupings) accumulates its
weight and its sums of residual, squared residual, absolute residual and (shifted) target (a mean prediction is
the mean target less the mean residual); every headline sum is a sum of those cells' and every group's measures
follow from them (engine.evaluation.regression_slices). The weighted median absolute error is the value at the
middle rank(s) of the resample (the mean of the two middle values when its size is even, as `np.median` of the
rows drawn): the pass keeps the weight drawn before each chunk of rows, so only the chunk holding a middle rank
is drawn again once the resample's size is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from engine.evaluation.poisson import BLOCK, CHUNK, POISSON_THRESHOLDS, block_keys, fill_block, fill_weights

FloatArray = NDArray[np.float64]
HEADLINE = ("rmse", "mae", "median_absolute_error", "mape", "r2", "mean_error")
SUMS = ("weight", "residual", "squared", "absolute", "target")  # per cell; the target is shifted by its mean
R2_FLOOR = 1e-12  # a resample whose target variance is below this (relative) has no R²


@njit(cache=True)
def _at_rank(rows: NDArray[np.uint32], absolute: FloatArray, before: FloatArray, rank: int, key: np.uint32,
             thresholds: NDArray[np.uint32]) -> float:
    """The absolute error at 0-based `rank` of one resample (rows in ascending absolute error), from the weight
    drawn before each chunk (`before`): only the chunk holding that rank is drawn again."""
    chunk = int(np.searchsorted(before, rank, side="right")) - 1
    start = chunk * CHUNK
    stop = min(start + CHUNK, rows.size)
    weights = np.empty(stop - start, dtype=np.uint8)
    fill_weights(weights, rows[start:stop], key, thresholds)
    seen = before[chunk]
    for k in range(stop - start):
        seen += weights[k]
        if seen > rank:
            return float(absolute[start + k])
    return np.nan


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def _kernel(rows: NDArray[np.uint32], residual: FloatArray, target: FloatArray, ape: FloatArray,
            cell: NDArray[np.int32], n_cells: int, seed: np.uint64,
            resamples: int, thresholds: NDArray[np.uint32]) -> tuple[FloatArray, FloatArray]:
    n = rows.size
    chunks = (n + CHUNK - 1) // CHUNK
    absolute = np.abs(residual)
    metrics = np.full((resamples, 6), np.nan)
    sums = np.zeros((resamples, n_cells, 5))
    for block in prange((resamples + BLOCK - 1) // BLOCK):
        first = block * BLOCK
        keys = block_keys(seed, first)
        weights = np.empty((CHUNK, BLOCK), dtype=np.uint8)
        local = np.zeros((n_cells * 5, BLOCK))  # each cell's five sums, for every resample of the block
        extra = np.zeros((3, BLOCK))  # squared target, percentage error, weight of rows with a zero target
        before = np.zeros((chunks + 1, BLOCK))  # the weight drawn before each chunk: where the median lies
        for chunk in range(chunks):
            start = chunk * CHUNK
            stop = min(start + CHUNK, n)
            fill_block(weights, rows, start, stop, keys, thresholds)
            drawn = before[chunk + 1]
            drawn[:] = before[chunk]
            for k in range(stop - start):
                i = start + k
                e = residual[i]
                ae = absolute[i]
                t = target[i]
                a = ape[i]  # negative: a zero target, left out of MAPE
                zero = a < 0.0
                a = max(a, 0.0)
                base = cell[i] * 5
                for j in range(BLOCK):  # the row's cell and values are shared by the block's resamples
                    w = float(weights[k, j])
                    local[base, j] += w
                    local[base + 1, j] += w * e
                    local[base + 2, j] += w * e * e
                    local[base + 3, j] += w * ae
                    local[base + 4, j] += w * t
                    extra[0, j] += w * t * t
                    extra[1, j] += w * a
                    drawn[j] += w
                if zero:  # rare: its weight is taken off MAPE's count of rows
                    for j in range(BLOCK):
                        extra[2, j] += float(weights[k, j])
        for j in range(min(BLOCK, resamples - first)):
            b = first + j
            cells = local[:, j].copy().reshape(n_cells, 5)
            sums[b] = cells
            weight = before[chunks, j]
            if weight == 0:
                continue
            total = int(weight)
            low = _at_rank(rows, absolute, before[:, j], (total - 1) // 2, keys[j], thresholds)
            high = _at_rank(rows, absolute, before[:, j], total // 2, keys[j], thresholds)
            s_e = cells[:, 1].sum()
            s_e2 = cells[:, 2].sum()
            s_t = cells[:, 4].sum()
            s_t2 = extra[0, j]
            metrics[b, 0] = np.sqrt(s_e2 / weight)
            metrics[b, 1] = cells[:, 3].sum() / weight
            metrics[b, 2] = (low + high) / 2.0
            if weight > extra[2, j]:
                metrics[b, 3] = extra[1, j] / (weight - extra[2, j])
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
    # stable: numpy's default sort may order ties differently on another CPU, and the sums follow this order
    order = np.argsort(np.abs(residual), kind="stable")
    target = y - (float(np.mean(y)) if y.size else 0.0)  # shifted: the variance sums do not cancel
    ape, nonzero = percentage_errors(y, predicted)
    signed_ape = np.where(nonzero > 0, ape, -1.0)
    metrics, sums = _kernel(order.astype(np.uint32), residual[order], target[order], signed_ape[order],
                            finest[order].astype(np.int32), n_cells, np.uint64(seed), resamples, POISSON_THRESHOLDS)
    return RegressionSamples(metrics=metrics, sums=sums, seed=seed)
