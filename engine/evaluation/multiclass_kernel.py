"""The seeded Poisson bootstrap of a multiclass candidate: confusion counts per finest cell, the true class's
rank, the log loss and each class's one-vs-rest ROC AUC, in compiled passes over the rows per block of resamples.

The row weights are engine.evaluation.poisson's (same seed, same resamples as binary evidence and as the
baseline's and the champion's, so lifts are paired), drawn a block of resamples at a time. Per block, one pass
over the rows in order of their (finest cell, true class, predicted class) cell (a counting sort,
engine.evaluation.segments, so consecutive rows add to the same cell) adds each row's weight to its cell's
count, to the count of its true class's rank and to its finest cell's log-loss sum; then one pass per class over
the rows in descending order of that class's score (sorted once, shared with the point estimate) adds up the
ROC area, ties handled per block of equal scores as scikit-learn does (whole numbers: exact). Every headline and
per-group metric follows from those arrays (engine.evaluation.multiclass_metrics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from engine.evaluation.poisson import (
    BLOCK,
    CHUNK,
    POISSON_THRESHOLDS,
    add_weights,
    block_keys,
    close_tie_block,
    fill_block,
)
from engine.evaluation.segments import counting_order, descending_order

FloatArray = NDArray[np.float64]


@njit(cache=True, parallel=True, fastmath={"reassoc"})
def _kernel(rows: NDArray[np.uint32], cell: NDArray[np.int32], rank: NDArray[np.uint8], nll: FloatArray,
            orders: NDArray[np.uint32], flags: NDArray[np.uint8], n_cells: int, n_finest: int, classes: int,
            seed: np.uint64, resamples: int, thresholds: NDArray[np.uint32],
            ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    n = rows.size
    cells_per_finest = classes * classes
    counts = np.zeros((resamples, n_cells))
    ranks = np.zeros((resamples, classes))
    losses = np.zeros((resamples, n_finest))
    auc = np.full((resamples, classes), np.nan)
    for block in prange((resamples + BLOCK - 1) // BLOCK):
        first = block * BLOCK
        keys = block_keys(seed, first)
        weights = np.empty((CHUNK, BLOCK), dtype=np.uint8)
        # The rows in order of their cell: consecutive rows add to the same cell, which stays in cache.
        local = np.zeros((n_cells, BLOCK))
        local_rank = np.zeros((classes, BLOCK))
        local_loss = np.zeros((n_finest, BLOCK))
        for start in range(0, n, CHUNK):
            stop = min(start + CHUNK, n)
            fill_block(weights, rows, start, stop, keys, thresholds)
            for k in range(stop - start):
                i = start + k
                c = cell[i]
                row_loss = nll[i]
                add_weights(local[c], weights, k)
                add_weights(local_rank[rank[i]], weights, k)
                loss = local_loss[c // cells_per_finest]
                for j in range(BLOCK):
                    loss[j] += float(weights[k, j]) * row_loss
        # One pass per class over the rows in descending order of its score: the one-vs-rest ROC area.
        block_auc = np.full((classes, BLOCK), np.nan)
        for cls in range(classes):
            ctp = np.zeros(BLOCK)
            cfp = np.zeros(BLOCK)
            prev_tp = np.zeros(BLOCK)
            prev_fp = np.zeros(BLOCK)
            area = np.zeros(BLOCK)
            order = orders[cls]
            flag = flags[cls]
            for start in range(0, n, CHUNK):
                stop = min(start + CHUNK, n)
                fill_block(weights, order, start, stop, keys, thresholds)
                for k in range(stop - start):
                    f = flag[start + k]  # bit 0: positive; bit 1: last row of a block of equal scores
                    add_weights(ctp if f & 1 else cfp, weights, k)
                    if f & 2:
                        close_tie_block(ctp, cfp, prev_tp, prev_fp, area)
            for j in range(BLOCK):
                if ctp[j] > 0 and cfp[j] > 0:
                    block_auc[cls, j] = area[j] / (2.0 * ctp[j] * cfp[j])
        for j in range(min(BLOCK, resamples - first)):
            b = first + j
            counts[b] = local[:, j]
            ranks[b] = local_rank[:, j]
            losses[b] = local_loss[:, j]
            auc[b] = block_auc[:, j]
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


def score_orders(proba: FloatArray) -> NDArray[np.intp]:
    """Per class (K, rows): the rows in descending order of its score, ties in row order (a stable sort)."""
    return np.stack([descending_order(proba[:, c]) for c in range(proba.shape[1])])


def _flags(y: NDArray[np.intp], proba: FloatArray, orders: NDArray[np.intp]) -> NDArray[np.uint8]:
    """Per class, in its score order: bit 0 = the row is of that class, bit 1 = the last row of a tie block."""
    flags = np.empty(orders.shape, dtype=np.uint8)
    for c in range(orders.shape[0]):
        scores = proba[orders[c], c]
        last = np.r_[scores[1:] != scores[:-1], True] if y.size else np.zeros(0, dtype=bool)
        flags[c] = (y[orders[c]] == c).astype(np.uint8) | (last.astype(np.uint8) << 1)
    return flags


def multiclass_bootstrap(y: NDArray[np.intp], predicted: NDArray[np.intp], rank: NDArray[np.intp], nll: FloatArray,
                         proba: FloatArray, *, orders: NDArray[np.intp], finest: NDArray[np.int32], n_finest: int,
                         seed: int, resamples: int) -> MulticlassSamples:
    """Run `resamples` Poisson resamples; `orders` is `score_orders(proba)`, `finest` each row's finest cell (of
    `n_finest`)."""
    if y.size >= 2**32:
        raise ValueError("the bootstrap handles at most 2**32 - 1 rows")
    classes = proba.shape[1]
    cell = (finest.astype(np.int64) * classes + y) * classes + predicted
    n_cells = n_finest * classes * classes
    by_cell, _ = counting_order(cell, n_cells)
    counts, ranks, losses, auc = _kernel(by_cell.astype(np.uint32), cell[by_cell].astype(np.int32),
                                         rank[by_cell].astype(np.uint8), nll[by_cell], orders.astype(np.uint32),
                                         _flags(y, proba, orders), n_cells,
                                         n_finest, classes, np.uint64(seed), resamples, POISSON_THRESHOLDS)
    return MulticlassSamples(confusion=counts.reshape(resamples, n_finest, classes, classes), ranks=ranks,
                             losses=losses, auc=auc, seed=seed)
