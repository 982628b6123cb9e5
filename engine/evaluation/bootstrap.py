"""Seeded bootstrap of every headline metric and every group's metrics, one compiled pass per block of resamples.

Resample `b` gives row `i` a Poisson(1) weight computed from a hash of (seed, b, i) (engine.evaluation.poisson),
so the weights depend only on the seed, the resample and the row: two candidates scored with the same seed see
the same resamples (a paired bootstrap), and the same seed always gives the same intervals. The rows are never
copied per resample. The resamples go in blocks of `BLOCK`, in two passes per `CHUNK` of rows: draw the block's
weights of those rows into a buffer that stays in cache, then visit the rows once, in descending score order
(arrays gathered into that order once, so every read is sequential), each row's cell, label and tie flag read
once and applied to the whole block as vector operations. The pass accumulates the confusion counts, log loss
and Brier sums of every cell of the finest grouping (every other grouping's are sums of those) and the ROC and
PR curves of all rows (ties handled per block of equal scores, as scikit-learn does; the counts are whole
numbers, so the ROC area is exact and the same whatever the order of the sums). numba runs the blocks in
parallel. Poisson weights are capped at 10 (P(w > 10) < 1e-8). Per-group ROC AUC intervals come from DeLong's
variance instead (`engine.evaluation.slices`): a per-group curve in every resample would double the cost.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit, prange
from numpy.typing import NDArray

from engine.evaluation.poisson import (
    BLOCK,
    CHUNK,
    MAX_WEIGHT,
    POISSON_THRESHOLDS,
    add_weights,
    block_keys,
    close_tie_block,
    fill_block,
    fill_weights,
    resample_key,
    resample_weights,
)
from engine.evaluation.segments import descending_order

FloatArray = NDArray[np.float64]
HEADLINE = ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier")
GROUP_LOSSES = ("log_loss", "brier")
AP_FLOOR = 1.0  # a precision read before any row is drawn has a gain of 0: divide by 1, not 0


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
    for block in prange((resamples + BLOCK - 1) // BLOCK):
        first = block * BLOCK
        keys = block_keys(seed, first)
        weights = np.empty((CHUNK, BLOCK), dtype=np.uint8)
        local = np.zeros((n_cells, BLOCK))
        local_loss = np.zeros((n_finest, BLOCK))
        local_sq = np.zeros((n_finest, BLOCK))
        ctp = np.zeros(BLOCK)
        cfp = np.zeros(BLOCK)
        prev_tp = np.zeros(BLOCK)
        prev_fp = np.zeros(BLOCK)
        area = np.zeros(BLOCK)
        ap = np.zeros(BLOCK)
        for start in range(0, n, CHUNK):
            stop = min(start + CHUNK, n)
            fill_block(weights, rows, start, stop, keys, thresholds)
            for k in range(stop - start):
                i = start + k
                packed = cell[i]  # finest group * 4 + label * 2 + flagged; the sign bit marks a tie block's end
                c = packed & 0x7FFFFFFF
                f = c >> 2
                row_loss = loss[i]
                row_sq = sq_error[i]
                for j in range(BLOCK):  # the row's cell, label and tie flag are shared by the block's resamples
                    w = float(weights[k, j])
                    local[c, j] += w
                    local_loss[f, j] += w * row_loss
                    local_sq[f, j] += w * row_sq
                add_weights(ctp if (c >> 1) & 1 else cfp, weights, k)
                if packed < 0:  # the end of a block of equal scores: a step of recall, a trapezoid of ROC area
                    for j in range(BLOCK):
                        seen = ctp[j] + cfp[j]
                        ap[j] += (ctp[j] - prev_tp[j]) * ctp[j] / (seen if seen > 0 else AP_FLOOR)
                    close_tie_block(ctp, cfp, prev_tp, prev_fp, area)
        for j in range(min(BLOCK, resamples - first)):
            b = first + j
            counts[b, :] = local[:, j]
            finest_loss[b, :] = local_loss[:, j]
            finest_sq[b, :] = local_sq[:, j]
            # Whole-number totals, so summing them from the cells is exact: no per-row work for them.
            total = counts[b, :].sum()
            fp = counts[b, 1::4].sum()
            tp = counts[b, 3::4].sum()
            if total == 0:
                continue
            pos = ctp[j]
            neg = cfp[j]
            fn = pos - tp
            metrics[b, 2] = (total - fp - fn) / total
            if tp + fp > 0:  # undefined rates stay NaN: ignored by the interval, never counted as 0
                metrics[b, 3] = tp / (tp + fp)
            if pos > 0:
                metrics[b, 4] = tp / pos
            if tp + fp + fn > 0:
                metrics[b, 5] = 2 * tp / (2 * tp + fp + fn)
            metrics[b, 6] = finest_loss[b, :].sum() / total
            metrics[b, 7] = finest_sq[b, :].sum() / total
            if pos > 0 and neg > 0:
                metrics[b, 0] = area[j] / (2.0 * pos * neg)
            if pos > 0:
                metrics[b, 1] = ap[j] / pos
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
    # factorize numbers groups in order of first appearance, so a group's first row is where the running maximum
    # of the codes rises: one pass, where np.unique(return_index=True) would sort every row.
    highest = np.maximum.accumulate(finest)
    first_row = np.flatnonzero(np.r_[finest.size > 0, highest[1:] != highest[:-1]])
    return finest, groups[first_row]


def bootstrap(y: NDArray[np.bool_], proba: FloatArray, *, threshold: float, cells: NDArray[np.intp],
              n_cells: int, seed: int, resamples: int, order: NDArray[np.intp] | None = None) -> BootstrapSamples:
    """Run `resamples` Poisson resamples.

    `cells` is (rows, groupings) of flat cell indices `group * 4 + label * 2 + prediction`, the groups of all
    groupings numbered side by side (`n_cells` in all). `order` is the stable descending sort of `proba` where
    the caller already has it (`evaluate` does), else it is sorted here.
    """
    if y.size >= 2**32:
        raise ValueError("the bootstrap handles at most 2**32 - 1 rows")
    groups = np.asarray(cells, dtype=np.int64) >> 2
    n_groups = n_cells // 4
    finest, finest_groups = _finest(groups)
    n_finest = finest_groups.shape[0]
    if order is None:
        order = descending_order(proba)
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


__all__ = ["GROUP_LOSSES", "HEADLINE", "MAX_WEIGHT", "POISSON_THRESHOLDS", "BootstrapSamples", "bootstrap",
           "fill_weights", "percentile_interval", "resample_key", "resample_weights"]
