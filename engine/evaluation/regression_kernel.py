"""The seeded Poisson bootstrap of a regression candidate: every headline metric and every finest cell's sums.

The row weights are engine.evaluation.poisson's (same seed, same resamples as binary evidence and as the
baseline's and the champion's, so lifts are paired). Every sum a metric needs is a sum over rows of a weight times
a value, so the rows are laid out once, grouped by finest cell (the intersection of all sensitive groupings) and
by the sign of their residual, and cut into segments of at most `SEGMENT` rows; for each resample a segment is
one reduction over its rows that draws each weight where it is used and keeps its six sums in registers (numba
vectorises it with the hash); a segment's sum of absolute residuals is its sum of residuals or that negated. A
task of the parallel loop takes `TOGETHER` resamples through the segments side by side, so a segment's values
are read from memory once for all of them. Each finest cell accumulates its weight and its sums of residual, squared
residual, absolute residual and (shifted) target (a mean prediction is the mean target less the mean residual);
every headline sum is a sum of those cells', plus the squared target and the percentage error, and every group's
measures follow from them (engine.evaluation.regression_slices).

The weighted median absolute error is the value at the middle rank(s) of a resample (the mean of the two middle
values when its size is even, as `np.median` of the rows drawn). The middle of a resample lies near the middle of
the rows in order of absolute error (within a few √n rows), so the rows below a window around that middle form
their own segments (the weight drawn below the window is a by-product of the sums) and only the window, sorted
once, is walked per resample. A resample whose middle falls outside its window (vanishingly rare at the default
width) is walked from the start over every row in order, so every width gives the same medians (tested with a
window of a single row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from engine.evaluation.poisson import (
    MAX_WEIGHT,
    SIGNED_THRESHOLDS,
    block_keys,
    count_signed,
    resample_key,
    row_hash,
    weight_value,
)
from engine.evaluation.segments import counting_order

FloatArray = NDArray[np.float64]
HEADLINE = ("rmse", "mae", "median_absolute_error", "mape", "r2", "mean_error")
SUMS = ("weight", "residual", "squared", "absolute", "target")  # per cell; the target is shifted by its mean
R2_FLOOR = 1e-12  # a resample whose target variance is below this (relative) has no R²
SEGMENT = 2048  # rows reduced at a time for one resample: their values stay in the second-level cache
TOGETHER = 32  # resamples a task takes through the segments side by side (at most poisson.BLOCK)
# a segment's kind: its rows lie below the median window / have a zero target (out of MAPE) / a negative residual
BELOW, ZERO, NEGATIVE = 1, 2, 4
KINDS = 8
CAPPED = 8  # thresholds counted in the vector pass: P(weight >= 8) = 1.0e-5
FAST = {"reassoc", "contract"}  # reductions in any order: what lets a sum over rows vectorise


@njit(cache=True, fastmath=FAST, inline="always")
def _weighted_sums(rows: NDArray[np.uint32], residual: FloatArray, target: FloatArray, ape: FloatArray,
                   key: np.uint32, thresholds: NDArray[np.int32], first: int, last: int) -> tuple[float, ...]:
    """The six sums over rows of a weight counting only thresholds `first..last-1`, and the largest such count.
    The arrays are the segment's own slices (a loop from 0 lets numba drop its negative-index check, which
    otherwise stops the vectorisation)."""
    w_sum = e_sum = e2_sum = t_sum = t2_sum = a_sum = 0.0
    top = np.int32(0)
    for i in range(rows.size):
        count = count_signed(row_hash(rows[i], key), thresholds, first, last)
        top = max(top, count)
        w = float(count)
        e = residual[i]
        t = target[i]
        w_sum += w
        e_sum += w * e
        e2_sum += w * e * e
        t_sum += w * t
        t2_sum += w * t * t
        a_sum += w * ape[i]
    return w_sum, e_sum, e2_sum, t_sum, t2_sum, a_sum, float(top)


@njit(cache=True, fastmath=FAST)
def _segment_sums(rows: NDArray[np.uint32], residual: FloatArray, target: FloatArray, ape: FloatArray,
                  key: np.uint32, thresholds: NDArray[np.int32]) -> tuple[float, ...]:
    """One resample's six sums over one segment: weight, and weight times residual, squared residual, target,
    squared target, percentage error.

    The vector pass counts the first `CAPPED` thresholds only; when a weight reached that cap (P = 1e-5 a row,
    one segment of `SEGMENT` rows in fifty) a second pass adds what the rest of the thresholds count (a weight is
    the sum of its thresholds' counts). Counting all ten in the vector pass took a tenth longer."""
    w, e, e2, t, t2, a, top = _weighted_sums(rows, residual, target, ape, key, thresholds, 0, CAPPED)
    if top == CAPPED:
        w2, f, f2, u, u2, b, _ = _weighted_sums(rows, residual, target, ape, key, thresholds, CAPPED, MAX_WEIGHT)
        return w + w2, e + f, e2 + f2, t + u, t2 + u2, a + b
    return w, e, e2, t, t2, a


@njit(cache=True)
def _at_ranks(rows: NDArray[np.uint32], values: FloatArray, seen: float, low: int, high: int, key: np.uint32,
              thresholds: NDArray[np.int32]) -> tuple[float, float]:
    """The values at 0-based ranks `low` <= `high` of a resample, walking `rows` (in ascending value) from a
    weight `seen` drawn before them; NaN when the walk ends first."""
    at_low = np.nan
    for p in range(rows.size):
        seen += weight_value(rows[p], key, thresholds)
        if seen > low and np.isnan(at_low):
            at_low = values[p]
        if seen > high:
            return at_low, values[p]
    return np.nan, np.nan


@njit(cache=True, inline="always")
def _finish(metrics: FloatArray, cells: FloatArray, extra: FloatArray, median: float) -> None:
    """One resample's headline metrics from its cells' sums and its extra sums (squared target, percentage error,
    weight of zero targets, weight below the window)."""
    weight = cells[:, 0].sum()
    if weight == 0:
        return
    s_e = cells[:, 1].sum()
    s_e2 = cells[:, 2].sum()
    s_t = cells[:, 4].sum()
    metrics[0] = np.sqrt(s_e2 / weight)
    metrics[1] = cells[:, 3].sum() / weight
    metrics[2] = median
    if weight > extra[2]:
        metrics[3] = extra[1] / (weight - extra[2])
    total_ss = extra[0] - s_t * s_t / weight
    if total_ss > R2_FLOOR * max(extra[0], 1e-300):
        metrics[4] = 1.0 - s_e2 / total_ss
    metrics[5] = s_e / weight


@njit(cache=True, parallel=True)
def _kernel(rows: NDArray[np.uint32], residual: FloatArray, target: FloatArray, ape: FloatArray,
            bounds: NDArray[np.int64], cell: NDArray[np.int64], kind: NDArray[np.int64], n_cells: int,
            window_rows: NDArray[np.uint32], window_values: FloatArray, seed: np.uint64, resamples: int,
            thresholds: NDArray[np.int32]) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    metrics = np.full((resamples, len(HEADLINE)), np.nan)
    sums = np.zeros((resamples, n_cells, 5))
    outside = np.zeros(resamples, dtype=np.bool_)  # the middle lies outside the window: walked again from the start
    for task in prange((resamples + TOGETHER - 1) // TOGETHER):
        first = task * TOGETHER
        last = min(first + TOGETHER, resamples)
        keys = block_keys(seed, first)
        extra = np.zeros((TOGETHER, 4))
        for s in range(cell.size):
            start, stop, c = bounds[s], bounds[s + 1], cell[s]
            for b in range(first, last):
                w, e, e2, t, t2, a = _segment_sums(rows[start:stop], residual[start:stop], target[start:stop],
                                                   ape[start:stop], keys[b - first], thresholds)
                sums[b, c, 0] += w
                sums[b, c, 1] += e
                sums[b, c, 2] += e2
                sums[b, c, 3] += -e if kind[s] & NEGATIVE else e
                sums[b, c, 4] += t
                j = b - first
                extra[j, 0] += t2
                extra[j, 1] += a
                if kind[s] & ZERO:
                    extra[j, 2] += w
                if kind[s] & BELOW:
                    extra[j, 3] += w
        for b in range(first, last):
            j = b - first
            total = int(sums[b, :, 0].sum())
            median = np.nan
            if total > 0:
                low, high = np.nan, np.nan
                if extra[j, 3] <= (total - 1) // 2:  # the lower middle rank is not below the window
                    low, high = _at_ranks(window_rows, window_values, extra[j, 3], (total - 1) // 2, total // 2,
                                          keys[j], thresholds)
                outside[b] = np.isnan(high)
                median = (low + high) / 2.0
            _finish(metrics[b], sums[b], extra[j], median)
    return metrics, sums, outside


def _segments(key: NDArray[np.int64], n_keys: int) -> tuple[NDArray[np.uint32], NDArray[np.int64], NDArray[np.int64]]:
    """Rows grouped by key (engine.evaluation.segments' counting sort) and the segments: runs of one key of at most
    `SEGMENT` rows, as their bounds in that order and their key."""
    order, bounds = counting_order(key, n_keys)
    pieces = -(-np.diff(bounds) // SEGMENT)  # segments per key
    keys = np.repeat(np.arange(n_keys, dtype=np.int64), pieces)
    within = np.arange(keys.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)  # a segment's place in its key
    starts = bounds[keys] + within * SEGMENT
    return order.astype(np.uint32), np.append(starts, key.size), keys


@njit(cache=True, parallel=True)
def _laid_out(order: NDArray[np.uint32], y: FloatArray, predicted: FloatArray,
              mean: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """In the segments' order: each row's residual, target less the mean (so that the variance sums do not cancel)
    and percentage error (`percentage_errors`), in one parallel pass."""
    residual, target, ape = np.empty(order.size), np.empty(order.size), np.empty(order.size)
    for k in prange(order.size):
        i = order[k]
        residual[k] = y[i] - predicted[i]
        target[k] = y[i] - mean
        ape[k] = abs(y[i] - predicted[i]) / abs(y[i]) if y[i] != 0 else 0.0
    return residual, target, ape


@njit(cache=True, parallel=True)
def _walk_from_start(order: NDArray[np.uint32], absolute: FloatArray, which: NDArray[np.int64],
                     totals: NDArray[np.int64], seed: np.uint64, thresholds: NDArray[np.int32]) -> FloatArray:
    """The median of each resample in `which` (of size `totals`), walking every row in ascending absolute error."""
    out = np.empty(which.size)
    values = absolute[order]
    for k in prange(which.size):
        key = resample_key(seed, which[k])
        low, high = _at_ranks(order, values, 0.0, (totals[k] - 1) // 2, totals[k] // 2, key, thresholds)
        out[k] = (low + high) / 2.0
    return out


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


def default_window(rows: int) -> int:
    """Rows either side of the middle in the median's window: a resample's middle lies within about √n / 2 rows of
    it (the weights drawn below and above it differ by a sum of n Poisson terms), so 4√n is eight of those."""
    return 4 * math.isqrt(rows) + 256


def _median_window(absolute: FloatArray, half_width: int) -> tuple[NDArray[np.bool_], NDArray[np.uint32]]:
    """Which rows lie below the window around the middle rank, and the window's rows in ascending absolute error
    (ties by row). The window holds every row whose value lies between those at its edge ranks, so ties never
    straddle it."""
    n = absolute.size
    low, high = max(0, n // 2 - half_width), min(n, n // 2 + half_width + 1)
    edges = np.partition(absolute, (low, high - 1))
    below = absolute < edges[low]
    inside = np.flatnonzero(~below & (absolute <= edges[high - 1]))
    return below, inside[np.argsort(absolute[inside], kind="stable")].astype(np.uint32)


def regression_bootstrap(y: FloatArray, predicted: FloatArray, *, finest: NDArray[np.int32], n_cells: int,
                         seed: int, resamples: int, median_window: int | None = None) -> RegressionSamples:
    """Run `resamples` Poisson resamples of (y, predicted); `finest` is each row's finest cell. `median_window`:
    rows either side of the middle walked for the median (`default_window`); any width (0 or more) gives the same
    values."""
    if y.size >= 2**32:
        raise ValueError("the bootstrap handles at most 2**32 - 1 rows")
    if median_window is not None and median_window < 0:
        raise ValueError(f"median_window must be 0 or more rows, not {median_window}")
    if y.size == 0:
        return RegressionSamples(np.full((resamples, len(HEADLINE)), np.nan), np.zeros((resamples, n_cells, 5)), seed)
    residual = y - predicted
    absolute = np.abs(residual)
    below, window = _median_window(absolute, default_window(y.size) if median_window is None else median_window)
    kind = below * BELOW + (y == 0) * ZERO + (residual < 0) * NEGATIVE
    order, bounds, keys = _segments(finest.astype(np.int64) * KINDS + kind, n_cells * KINDS)
    residual, target, ape = _laid_out(order, y, predicted, float(np.mean(y)))
    metrics, sums, outside = _kernel(order, residual, target, ape, bounds, keys // KINDS, keys % KINDS, n_cells,
                                     window, absolute[window], np.uint64(seed), resamples, SIGNED_THRESHOLDS)
    if outside.any():
        which = np.flatnonzero(outside)
        totals = sums[which, :, 0].sum(axis=1).astype(np.int64)
        metrics[which, 2] = _walk_from_start(np.argsort(absolute, kind="stable").astype(np.uint32), absolute, which,
                                             totals, np.uint64(seed), SIGNED_THRESHOLDS)
    return RegressionSamples(metrics=metrics, sums=sums, seed=seed)
