"""Seeded bootstrap of every headline metric and every group's metrics, in one compiled pass per resample.

Resample `b` gives row `i` a Poisson(1) weight computed from a hash of (seed, b, i), so the weights depend
only on the seed, the resample and the row: two candidates scored with the same seed see the same resamples
(a paired bootstrap), and the same seed always gives the same intervals. The rows are never copied per
resample: each resample draws its weights into one small buffer, then makes one pass over the rows in
descending score order, over arrays gathered into that order once, so every read is sequential. The pass
accumulates the confusion counts, log loss and Brier sums of every cell of the finest grouping (every other
grouping's are sums of those) and the ROC and PR curves of all rows (ties handled per block of equal scores,
as scikit-learn does). numba runs the resamples in parallel. Poisson weights are capped at 10
(P(w > 10) < 1e-8). Per-group ROC AUC intervals come from DeLong's variance instead
(`engine.evaluation.slices`): a per-group curve in every resample would double the cost of the pass.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit, prange
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
HEADLINE = ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier")
GROUP_LOSSES = ("log_loss", "brier")
MAX_WEIGHT = 10
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Row weight = number of these thresholds a uniform 32-bit draw reaches: the Poisson(1) CDF, scaled to 2**32.
POISSON_THRESHOLDS = np.array(
    [min(int(sum(math.exp(-1) / math.factorial(j) for j in range(k + 1)) * 2.0**32), 2**32 - 1)
     for k in range(MAX_WEIGHT)],
    dtype=np.uint32,
)


@njit(cache=True, inline="always")
def _resample_key(seed: np.uint64, b: int) -> np.uint32:
    """A 32-bit key per (seed, resample), from splitmix64's finaliser."""
    x = seed * _GOLDEN + np.uint64(b)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.uint32((x ^ (x >> np.uint64(31))) & np.uint64(0xFFFFFFFF))


@njit(cache=True, inline="always")
def _weight(key: np.uint32, row: np.uint32, thresholds: NDArray[np.uint32]) -> np.uint8:
    """Poisson(1) weight of `row` in the resample of `key`: a 32-bit hash (lowbias32) against the CDF."""
    x = np.uint32(row + key)
    x = np.uint32(x ^ (x >> np.uint32(16)))
    x = np.uint32(x * np.uint32(0x7FEB352D))
    x = np.uint32(x ^ (x >> np.uint32(15)))
    x = np.uint32(x * np.uint32(0x846CA68B))
    x = np.uint32(x ^ (x >> np.uint32(16)))
    w = 0
    for t in range(thresholds.size):  # branch-free, vectorisable
        w += x >= thresholds[t]
    return np.uint8(w)


@njit(cache=True)
def _fill_weights(out: NDArray[np.uint8], rows: NDArray[np.uint32], key: np.uint32,
                  thresholds: NDArray[np.uint32]) -> None:
    for k in range(rows.size):
        out[k] = _weight(key, rows[k], thresholds)


def resample_weights(n: int, seed: int, b: int) -> NDArray[np.uint8]:
    """The Poisson weights of resample `b`: how many times each row is drawn (for tests and audits)."""
    out = np.empty(n, dtype=np.uint8)
    _fill_weights(out, np.arange(n, dtype=np.uint32), _resample_key(np.uint64(seed), b), POISSON_THRESHOLDS)
    return out


AP_CHUNK = 1024  # precision divisions are batched per chunk so they run vectorised, off the main loop


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def _kernel(rows: NDArray[np.uint32], loss: FloatArray, sq_error: FloatArray, cell: NDArray[np.int32], n_cells: int,
            seed: np.uint64, resamples: int, thresholds: NDArray[np.uint32],
            ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    n = rows.size
    n_finest = n_cells // 4
    metrics = np.full((resamples, 8), np.nan)
    counts = np.zeros((resamples, n_cells))
    finest_loss = np.zeros((resamples, n_finest))
    finest_sq = np.zeros((resamples, n_finest))
    for b in prange(resamples):
        weights = np.empty(n, dtype=np.uint8)
        _fill_weights(weights, rows, _resample_key(seed, b), thresholds)  # its own loop: it vectorises
        # Four copies of each histogram, used in turn: consecutive rows hitting the same cell would otherwise
        # wait on each other's store (a latency chain); the copies are summed at the end.
        local = np.zeros((4, n_cells))
        local_loss = np.zeros((4, n_finest))
        local_sq = np.zeros((4, n_finest))
        total = 0.0
        tp = 0.0
        fp = 0.0
        loss_sum = 0.0
        sq_sum = 0.0
        ctp = 0.0
        cfp = 0.0
        prev_tp = 0.0
        prev_fp = 0.0
        area = 0.0
        ap = 0.0
        ap_gain = np.zeros(AP_CHUNK)  # recall gain (in positives) at each row that ends a tie block, else 0
        ap_tp = np.zeros(AP_CHUNK)
        ap_seen = np.ones(AP_CHUNK)
        for k in range(n):  # branch-free where the weights decide: branches on random weights mispredict
            w = float(weights[k])
            packed = cell[k]  # finest group * 4 + label * 2 + flagged; the sign bit marks a tie block's end
            c = packed & 0x7FFFFFFF
            wy = w * ((c >> 1) & 1)
            flagged = c & 1
            wl = w * loss[k]
            ws = w * sq_error[k]
            total += w
            tp += wy * flagged
            fp += (w - wy) * flagged
            loss_sum += wl
            sq_sum += ws
            lane = k & 3
            local[lane, c] += w
            local_loss[lane, c >> 2] += wl
            local_sq[lane, c >> 2] += ws
            ctp += wy
            cfp += w - wy
            # The end of a block of equal scores adds a trapezoid to the ROC area and a recall step to AP.
            # Branch-free (the weights make "did anything change" random): an unchanged point adds zero, and
            # the counts are whole numbers, so the arithmetic below is exact.
            slot = k & (AP_CHUNK - 1)
            end = 1.0 if packed < 0 else 0.0
            area += end * (cfp - prev_fp) * (ctp + prev_tp)
            gain = end * (ctp - prev_tp)
            prev_tp += end * (ctp - prev_tp)
            prev_fp += end * (cfp - prev_fp)
            ap_gain[slot] = gain
            ap_tp[slot] = ctp
            ap_seen[slot] = ctp + cfp if ctp + cfp > 0 else 1.0
            if slot == AP_CHUNK - 1 or k == n - 1:
                for t in range(slot + 1):
                    ap += ap_gain[t] * ap_tp[t] / ap_seen[t]
        counts[b, :] = local.sum(axis=0)
        finest_loss[b, :] = local_loss.sum(axis=0)
        finest_sq[b, :] = local_sq.sum(axis=0)
        if total == 0:
            continue
        pos = ctp
        neg = cfp
        fn = pos - tp
        metrics[b, 2] = (total - fp - fn) / total
        if tp + fp > 0:  # undefined rates stay NaN: ignored by the interval, never counted as 0
            metrics[b, 3] = tp / (tp + fp)
        if pos > 0:
            metrics[b, 4] = tp / pos
        if tp + fp + fn > 0:
            metrics[b, 5] = 2 * tp / (2 * tp + fp + fn)
        metrics[b, 6] = loss_sum / total
        metrics[b, 7] = sq_sum / total
        if pos > 0 and neg > 0:
            metrics[b, 0] = area / (2.0 * pos * neg)
        if pos > 0:
            metrics[b, 1] = ap / pos
    return metrics, counts, finest_loss, finest_sq


@dataclass(frozen=True)
class BootstrapSamples:
    """Per resample: headline metrics (resamples, 8), confusion counts per group cell (resamples, cells), and
    log loss and Brier per group (resamples, groups, 2)."""

    metrics: FloatArray
    counts: FloatArray
    seed: int
    group_losses: FloatArray

    def metric(self, name: str) -> FloatArray:
        return self.metrics[:, HEADLINE.index(name)]


def _finest(groups: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The intersection of all groupings' codes: each row's finest group, and each finest group's codes."""
    if groups.shape[1] == 0:
        return np.zeros(groups.shape[0], dtype=np.int64), np.zeros((1, 0), dtype=np.int64)
    finest = np.zeros(groups.shape[0], dtype=np.int64)
    for j in range(groups.shape[1]):
        codes, _ = pd.factorize(finest * (int(groups[:, j].max()) + 1) + groups[:, j])
        finest = codes.astype(np.int64)
    first_row = np.unique(finest, return_index=True)[1]
    return finest, groups[first_row]


def bootstrap(y: NDArray[np.bool_], proba: FloatArray, *, threshold: float, cells: NDArray[np.intp],
              n_cells: int, seed: int, resamples: int) -> BootstrapSamples:
    """Run `resamples` Poisson resamples.

    `cells` is (rows, groupings) of flat cell indices `group * 4 + label * 2 + prediction`, the groups of all
    groupings numbered side by side (`n_cells` in all).
    """
    if y.size >= 2**32:
        raise ValueError("the bootstrap handles at most 2**32 - 1 rows")
    groups = np.asarray(cells, dtype=np.int64) >> 2
    n_groups = n_cells // 4
    finest, finest_groups = _finest(groups)
    n_finest = finest_groups.shape[0]
    order = np.argsort(-proba, kind="mergesort")
    sorted_scores = proba[order]
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True] if proba.size else np.zeros(0, bool)
    eps = np.finfo(np.float64).eps
    clipped = np.clip(proba, eps, 1 - eps)
    loss = np.where(y, -np.log(clipped), -np.log1p(-clipped))
    packed = (finest * 4 + y.astype(np.int64) * 2 + (proba >= threshold))[order].astype(np.int32)
    packed[last_of_tie] |= np.int32(-(2**31))  # the sign bit: the last row of a block of equal scores
    metrics, counts, finest_loss, finest_sq = _kernel(
        order.astype(np.uint32), loss[order], ((proba - y) ** 2)[order], packed, n_finest * 4, np.uint64(seed),
        resamples, POISSON_THRESHOLDS,
    )
    # Every grouping's counts and sums are sums over the finest groups it contains.
    membership = np.zeros((n_finest, n_groups))
    for j in range(groups.shape[1]):
        membership[np.arange(n_finest), finest_groups[:, j]] = 1.0
    grouped_counts = np.einsum("bfo,fg->bgo", counts.reshape(resamples, n_finest, 4), membership)
    weight = grouped_counts.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        group_losses = np.stack([np.where(weight > 0, (finest_loss @ membership) / weight, np.nan),
                                 np.where(weight > 0, (finest_sq @ membership) / weight, np.nan)], axis=2)
    return BootstrapSamples(metrics=metrics, counts=grouped_counts.reshape(resamples, n_groups * 4), seed=seed,
                            group_losses=group_losses)


def percentile_interval(samples: FloatArray, confidence: float) -> FloatArray:
    """Percentile interval along the first axis; NaN samples (undefined in a resample) are ignored."""
    alpha = (1 - confidence) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a statistic undefined in every resample: NaN bounds
        return np.asarray(np.nanpercentile(samples, [100 * alpha, 100 * (1 - alpha)], axis=0), dtype=np.float64)


# The weights of every task type's kernel come from the same two functions (engine.evaluation.resampling).
resample_key = _resample_key
fill_weights = _fill_weights
