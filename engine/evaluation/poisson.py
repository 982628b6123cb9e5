"""The seeded Poisson(1) row weights every bootstrap kernel draws, one resample at a time or a block at a time.

Resample `b` gives row `i` the weight `w(seed, b, i)`: a 32-bit hash (lowbias32) of `i + key(seed, b)` counted
against the Poisson(1) CDF scaled to 2**32, capped at `MAX_WEIGHT` (P(w > 10) < 1e-8). The weights depend only on
the seed, the resample and the row, so two candidates scored with the same seed see the same resamples (a paired
bootstrap) and any order of computing them gives the same values.

The binary and multiclass kernels draw them in blocks: `BLOCK` resamples at once for `CHUNK` rows at a time,
into a (CHUNK, BLOCK) buffer that stays in the first-level cache (`fill_block`), then make one pass over those
rows for the whole block. Each row's address (its group cell, its label, its tie flag) is then read once per
block instead of once per resample, and every per-resample update is a `BLOCK`-wide vector operation; the hash
itself vectorises over the block's keys. The regression kernel, whose sums need no address per row, draws each
weight inside its sum over rows instead (`weight_value`, `count_signed`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray

MAX_WEIGHT = 10
COMMON = 5  # fill_block's vector pass counts this many thresholds: P(w >= 5) = 0.0037 are counted again in full
_ONES, _HIGH_BITS = np.uint64(0x0101010101010101), np.uint64(0x8080808080808080)
_COMMON_BYTES = np.uint64(0x0101010101010101 * COMMON)  # eight weights at a time: is any byte COMMON?
BLOCK = 64  # resamples drawn and accumulated together
CHUNK = 512  # rows per draw: the (CHUNK, BLOCK) bytes of weights stay in cache while they are used
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Row weight = number of these thresholds a uniform 32-bit draw reaches: the Poisson(1) CDF, scaled to 2**32.
POISSON_THRESHOLDS = np.array(
    [min(int(sum(math.exp(-1) / math.factorial(j) for j in range(k + 1)) * 2.0**32), 2**32 - 1)
     for k in range(MAX_WEIGHT)],
    dtype=np.uint32,
)
SIGNED_THRESHOLDS = (POISSON_THRESHOLDS.astype(np.int64) - 2**31).astype(np.int32)  # see `count_signed`


@njit(cache=True, inline="always")
def resample_key(seed: np.uint64, b: int) -> np.uint32:
    """A 32-bit key per (seed, resample), from splitmix64's finaliser."""
    x = seed * _GOLDEN + np.uint64(b)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.uint32((x ^ (x >> np.uint64(31))) & np.uint64(0xFFFFFFFF))


@njit(cache=True, inline="always")
def row_hash(row: np.uint32, key: np.uint32) -> np.uint32:
    """lowbias32 of `row + key`. Every product and sum is masked to 32 bits in place, so the compiler keeps the
    arithmetic 32 bits wide and vectorises the calling loop (numba widens integer scalars to 64 bits)."""
    low = np.uint32(0xFFFFFFFF)
    x = (row + key) & low
    x = np.uint32(x ^ (x >> np.uint32(16)))
    x = np.uint32((x * np.uint32(0x7FEB352D)) & low)
    x = np.uint32(x ^ (x >> np.uint32(15)))
    x = np.uint32((x * np.uint32(0x846CA68B)) & low)
    return np.uint32(x ^ (x >> np.uint32(16)))


@njit(cache=True, inline="always")
def _count(x: np.uint32, thresholds: NDArray[np.uint32], first: int, last: int) -> np.uint8:
    """How many of thresholds[first:last] the draw reaches, in a loop of constant length: unrolled and
    branch-free (a loop of unknown length inside stops the calling loop's vectorisation: six times slower)."""
    w = np.uint8(0)
    for t in range(first, last):
        w += np.uint8(x >= thresholds[t])
    return w


@njit(cache=True, inline="always")
def _weight(row: np.uint32, key: np.uint32, thresholds: NDArray[np.uint32]) -> np.uint8:
    """One row's weight: the number of thresholds its draw reaches."""
    return _count(row_hash(row, key), thresholds, 0, MAX_WEIGHT)


@njit(cache=True, inline="always")
def count_signed(x: np.uint32, signed_thresholds: NDArray[np.int32], first: int, last: int) -> np.int32:
    """`_count` of `SIGNED_THRESHOLDS`, for a loop over rows that sums weighted values. The draw and the thresholds
    are both moved down by 2**31 so that they compare as signed 32-bit integers in the same order: a signed
    comparison is one AVX2 instruction leaving its result in a vector, where an unsigned one goes through an
    AVX-512 mask register and back (a third slower in such a loop), and an 8-bit count is widened to 64 bits."""
    shifted = np.int32(np.int64(x) - np.int64(2**31))
    w = np.int32(0)
    for t in range(first, last):
        w = np.int32(w + np.int32(shifted >= signed_thresholds[t]))
    return w


@njit(cache=True, inline="always")
def weight_value(row: np.uint32, key: np.uint32, signed_thresholds: NDArray[np.int32]) -> float:
    """One row's weight as a float (see `count_signed`)."""
    return float(count_signed(row_hash(row, key), signed_thresholds, 0, MAX_WEIGHT))


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
    """`out[k, j]`: the weight of row `rows[start + k]` in the block's resample `j` (vectorised over the block).

    The vector pass counts the first `COMMON` thresholds only, so a weight below `COMMON` is already exact; a
    scan eight weights at a time finds the few that reached it (P = 0.0037) and counts the rest of their
    thresholds. Counting all ten in the vector pass took half as long again."""
    for k in range(stop - start):
        row = rows[start + k]
        for j in range(BLOCK):
            out[k, j] = _count(row_hash(row, keys[j]), thresholds, 0, COMMON)
    flat = out.reshape(out.size)
    words = flat.view(np.uint64)
    for q in range((stop - start) * BLOCK // 8):
        v = words[q] ^ _COMMON_BYTES
        if (v - _ONES) & ~v & _HIGH_BITS:  # one of these eight bytes equals COMMON
            for b in range(q * 8, q * 8 + 8):
                if flat[b] == COMMON:
                    flat[b] = COMMON + _count(row_hash(rows[start + b // BLOCK], keys[b % BLOCK]), thresholds,
                                              COMMON, MAX_WEIGHT)


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
