"""The seeded Poisson(1) row weights every bootstrap kernel draws, one resample at a time or a block at a time.

Resample `b` gives row `i` the weight `w(seed, b, i)`: a 32-bit hash (lowbias32) of `i + key(seed, b)` counted
against the Poisson(1) CDF scaled to 2**32, capped at `MAX_WEIGHT` (P(w > 10) < 1e-8). The weights depend only on
the seed, the resample and the row, so two candidates scored with the same seed see the same resamples (a paired
bootstrap) and any order of computing them gives the same values.

The kernels draw them in blocks: `BLOCK` resamples at once for `CHUNK` rows at a time, into a (CHUNK, BLOCK)
buffer that stays in the first-level cache (`fill_block`), then make one pass over those rows for the whole
block. Each row's address (its group cell, its label, its tie flag) is then read once per block instead of once
per resample, and every per-resample update is a `BLOCK`-wide vector operation; the hash itself vectorises over
the block's keys.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

MAX_WEIGHT = 10
BLOCK = 64  # resamples drawn and accumulated together
CHUNK = 512  # rows per draw: the (CHUNK, BLOCK) bytes of weights stay in cache while they are used
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Row weight = number of these thresholds a uniform 32-bit draw reaches: the Poisson(1) CDF, scaled to 2**32.
POISSON_THRESHOLDS = np.array(
    [min(int(sum(math.exp(-1) / math.factorial(j) for j in range(k + 1)) * 2.0**32), 2**32 - 1)
     for k in range(MAX_WEIGHT)],
    dtype=np.uint32,
)


@njit(cache=True, inline="always")
def resample_key(seed: np.uint64, b: int) -> np.uint32:
    """A 32-bit key per (seed, resample), from splitmix64's finaliser."""
    x = seed * _GOLDEN + np.uint64(b)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.uint32((x ^ (x >> np.uint64(31))) & np.uint64(0xFFFFFFFF))


@njit(cache=True, inline="always")
def _weight(row: np.uint32, key: np.uint32, thresholds: NDArray[np.uint32]) -> np.uint8:
    """One row's weight. Every product and sum is masked to 32 bits in place and the thresholds are counted in a
    loop of constant length, so the compiler keeps the arithmetic 32 bits wide and vectorises the calling loop
    (numba widens integer scalars to 64 bits, and a loop of unknown length inside stops it: six times slower)."""
    low = np.uint32(0xFFFFFFFF)
    x = (row + key) & low
    x = np.uint32(x ^ (x >> np.uint32(16)))
    x = np.uint32((x * np.uint32(0x7FEB352D)) & low)
    x = np.uint32(x ^ (x >> np.uint32(15)))
    x = np.uint32((x * np.uint32(0x846CA68B)) & low)
    x = np.uint32(x ^ (x >> np.uint32(16)))
    w = np.uint8(0)
    for t in range(MAX_WEIGHT):  # a constant count, unrolled; branch-free: the number of thresholds reached
        w += np.uint8(x >= thresholds[t])
    return w


@njit(cache=True)
def fill_weights(out: NDArray[np.uint8], rows: NDArray[np.uint32], key: np.uint32,
                 thresholds: NDArray[np.uint32]) -> None:
    """The weight of each row of `rows` in the resample of `key` (vectorised over the rows)."""
    key32 = np.uint32(key)
    for k in range(rows.size):
        out[k] = _weight(rows[k], key32, thresholds)


@njit(cache=True, inline="always")
def block_keys(seed: np.uint64, first: int) -> NDArray[np.uint32]:
    """The keys of resamples `first .. first + BLOCK - 1` (those past the last resample are computed and unused)."""
    keys = np.empty(BLOCK, dtype=np.uint32)
    for j in range(BLOCK):
        keys[j] = resample_key(seed, first + j)
    return keys


@njit(cache=True)
def fill_block(out: NDArray[np.uint8], rows: NDArray[np.uint32], start: int, stop: int, keys: NDArray[np.uint32],
               thresholds: NDArray[np.uint32]) -> None:
    """`out[k, j]`: the weight of row `rows[start + k]` in the block's resample `j` (vectorised over the block)."""
    for k in range(stop - start):
        row = rows[start + k]
        for j in range(BLOCK):
            out[k, j] = _weight(row, keys[j], thresholds)


@njit(cache=True, inline="always")
def add_weights(into: NDArray[np.float64], weights: NDArray[np.uint8], k: int) -> None:
    """`into[j] += weight of row k in resample j`, for the whole block."""
    for j in range(BLOCK):
        into[j] += float(weights[k, j])


@njit(cache=True, inline="always")
def close_tie_block(ctp: NDArray[np.float64], cfp: NDArray[np.float64], prev_tp: NDArray[np.float64],
                    prev_fp: NDArray[np.float64], area: NDArray[np.float64]) -> None:
    """At the last row of a block of equal scores, add each resample's trapezoid to its ROC area (twice the area,
    in counts of positives times negatives) and move its previous point there. The counts are whole numbers, so
    the area is exact whatever the order of the sums (scikit-learn's curve, ties as one step)."""
    for j in range(BLOCK):
        area[j] += (cfp[j] - prev_fp[j]) * (ctp[j] + prev_tp[j])
        prev_tp[j] = ctp[j]
        prev_fp[j] = cfp[j]


def resample_weights(n: int, seed: int, b: int) -> NDArray[np.uint8]:
    """The Poisson weights of resample `b`: how many times each row is drawn (for tests and audits)."""
    out = np.empty(n, dtype=np.uint8)
    fill_weights(out, np.arange(n, dtype=np.uint32), resample_key(np.uint64(seed), b), POISSON_THRESHOLDS)
    return out
