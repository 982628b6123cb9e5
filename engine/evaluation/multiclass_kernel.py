"""The seeded Poisson bootstrap of a multiclass candidate: confusion counts per finest cell, the true class's
rank, the log loss and each class's one-vs-rest ROC AUC, in compiled passes over the rows per resample.

The row weights are engine.evaluation.bootstrap's (same seed, same resamples as binary evidence and as the
baseline's and the champion's, so lifts are paired). Per resample, one pass adds each row's weight to its
(finest cell, true class, predicted class) count, to the count of its true class's rank and to its cell's
log-loss sum; then one pass per class over the rows in descending order of that class's score (orders sorted
once) adds up the ROC area, ties handled per block of equal scores as scikit-learn does. Every headline and
per-group metric follows from those arrays (engine.evaluation.multiclass_metrics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from engine.evaluation.poisson import POISSON_THRESHOLDS, fill_weights, resample_key

FloatArray = NDArray[np.float64]


@njit(cache=True, inline="always")
def _auc_pass(weights: NDArray[np.uint8], order: NDArray[np.uint32], flags: NDArray[np.uint8]) -> float:
    """ROC AUC of the rows `order` lists in descending score order (their weights gathered from the resample's,
    cheaper than hashing them again): flags bit 0 = positive, bit 1 = last row of a tie block.

    Whole-number arithmetic (the weights are counts): exact, and short dependency chains; the end of a block of
    equal scores adds a trapezoid (selects, not branches: the weights make "did anything change" random)."""
    ctp = np.int64(0)
    cfp = np.int64(0)
    prev_tp = np.int64(0)
    prev_fp = np.int64(0)
    area = np.int64(0)
    for j in range(flags.size):
        w = np.int64(weights[order[j]])
        f = flags[j]
        wy = w * np.int64(f & 1)
        ctp += wy
        cfp += w - wy
        end = (f >> 1) & 1
        area += (cfp - prev_fp) * (ctp + prev_tp) if end else np.int64(0)
        prev_tp = ctp if end else prev_tp
        prev_fp = cfp if end else prev_fp
    if ctp > 0 and cfp > 0:
        return float(area) / (2.0 * float(ctp) * float(cfp))
    return np.nan


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def _kernel(cell: NDArray[np.int32], rank: NDArray[np.uint8], nll: FloatArray, finest: NDArray[np.int32],
            orders: NDArray[np.uint32], flags: NDArray[np.uint8], n_cells: int, n_finest: int, classes: int,
            seed: np.uint64, resamples: int, thresholds: NDArray[np.uint32],
            ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    n = cell.size
    rows = np.arange(n).astype(np.uint32)
    counts = np.zeros((resamples, n_cells))
    ranks = np.zeros((resamples, classes))
    losses = np.zeros((resamples, n_finest))
    auc = np.full((resamples, classes), np.nan)
    for b in prange(resamples):
        key = resample_key(seed, b)
        weights = np.empty(n, dtype=np.uint8)
        fill_weights(weights, rows, key, thresholds)
        # Whole-number counts: the many confusion cells in one small copy (consecutive rows rarely share a cell);
        # the few rank and loss cells in four copies used in turn (no store-to-load chain on one cell).
        local = np.zeros(n_cells, dtype=np.int32)
        local_rank = np.zeros((4, classes), dtype=np.int64)
        local_loss = np.zeros((4, n_finest))
        for k in range(n):
            wi = weights[k]
            lane = k & 3
            local[cell[k]] += wi
            local_rank[lane, rank[k]] += wi
            local_loss[lane, finest[k]] += float(wi) * nll[k]
        counts[b] = local
        ranks[b] = local_rank.sum(axis=0)
        losses[b] = local_loss.sum(axis=0)
        for c in range(classes):
            auc[b, c] = _auc_pass(weights, orders[c], flags[c])
    return counts, ranks, losses, auc


@dataclass(frozen=True)
class MulticlassSamples:
    """Per resample: confusion counts per finest cell (resamples, cells, K, K), the true class's rank counts
    (resamples, K), log-loss sums per finest cell (resamples, cells) and each class's ROC AUC (resamples, K)."""

    confusion: FloatArray
    ranks: FloatArray
    losses: FloatArray
    auc: FloatArray
    seed: int


def score_orders(y: NDArray[np.intp], proba: FloatArray) -> tuple[NDArray[np.uint32], NDArray[np.uint8]]:
    """Per class: rows in descending order of its score, and flags (positive, last of a tie block) in that order."""
    classes = proba.shape[1]
    orders = np.empty((classes, y.size), dtype=np.uint32)
    flags = np.empty((classes, y.size), dtype=np.uint8)
    for c in range(classes):
        order = np.argsort(-proba[:, c], kind="stable")
        scores = proba[order, c]
        last = np.r_[scores[1:] != scores[:-1], True] if y.size else np.zeros(0, dtype=bool)
        orders[c] = order
        flags[c] = (y[order] == c).astype(np.uint8) | (last.astype(np.uint8) << 1)
    return orders, flags


def multiclass_bootstrap(y: NDArray[np.intp], predicted: NDArray[np.intp], rank: NDArray[np.intp], nll: FloatArray,
                         proba: FloatArray, *, finest: NDArray[np.int32], n_finest: int, seed: int,
                         resamples: int) -> MulticlassSamples:
    """Run `resamples` Poisson resamples; `finest` is each row's finest cell (of `n_finest`)."""
    if y.size >= 2**32:
        raise ValueError("the bootstrap handles at most 2**32 - 1 rows")
    classes = proba.shape[1]
    cell = ((finest.astype(np.int64) * classes + y) * classes + predicted).astype(np.int32)
    orders, flags = score_orders(y, proba)
    counts, ranks, losses, auc = _kernel(cell, rank.astype(np.uint8), nll, finest.astype(np.int32), orders, flags,
                                         n_finest * classes * classes, n_finest, classes, np.uint64(seed), resamples,
                                         POISSON_THRESHOLDS)
    return MulticlassSamples(confusion=counts.reshape(resamples, n_finest, classes, classes), ranks=ranks,
                             losses=losses, auc=auc, seed=seed)
