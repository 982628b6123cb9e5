"""Seeded bootstrap of every headline metric and every group's confusion counts, in one compiled pass.

Resample `b` gives row `i` a Poisson(1) weight drawn from a xorshift64* stream seeded by (seed, b), so the
weights depend only on the seed, the resample and the row: two candidates scored with the same seed see the
same resamples (a paired bootstrap), and the same seed always gives the same intervals. Each resample is one
pass over the rows in their original order (confusion counts per group, log loss, Brier) and one over the
rows sorted by score (ROC AUC and average precision with ties handled as scikit-learn does), run in parallel
over resamples by numba. Nothing is copied per resample. Poisson weights are capped at 10 (P(w > 10) < 1e-8).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
HEADLINE = ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier")
GROUP_RANKING = ("roc_auc", "pr_auc", "log_loss", "brier")
MAX_WEIGHT = 10
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# Row weight = number of these thresholds a uniform 64-bit draw reaches: the Poisson(1) CDF, scaled to 2**64.
POISSON_THRESHOLDS = np.array(
    [min(int(sum(math.exp(-1) / math.factorial(j) for j in range(k + 1)) * 2.0**64), 2**64 - 1)
     for k in range(MAX_WEIGHT)],
    dtype=np.uint64,
)


@njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:  # splitmix64 finaliser: a well-spread start state per resample
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True)
def _fill_weights(out: NDArray[np.uint8], seed: np.uint64, b: int, thresholds: NDArray[np.uint64]) -> None:
    state = _mix(seed * _GOLDEN + np.uint64(b)) | np.uint64(1)
    for i in range(out.size):
        state ^= state >> np.uint64(12)
        state ^= state << np.uint64(25)
        state ^= state >> np.uint64(27)
        draw = state * np.uint64(0x2545F4914F6CDD1D)
        w = (draw >= thresholds[0]) + (draw >= thresholds[1]) + (draw >= thresholds[2])
        if w == 3:  # rare (8%): weights of 3 and more
            for k in range(3, thresholds.size):
                w += draw >= thresholds[k]
        out[i] = w


def resample_weights(n: int, seed: int, b: int) -> NDArray[np.uint8]:
    """The Poisson weights of resample `b`: how many times each row is drawn (for tests and audits)."""
    out = np.empty(n, dtype=np.uint8)
    _fill_weights(out, np.uint64(seed), b, POISSON_THRESHOLDS)
    return out


@njit(cache=True, parallel=True)
def _kernel(label: FloatArray, flagged: FloatArray, loss: FloatArray, sq_error: FloatArray,
            order: NDArray[np.intp], last_of_tie: NDArray[np.bool_], cells: NDArray[np.intp], n_cells: int,
            seed: np.uint64, resamples: int, thresholds: NDArray[np.uint64],
            ) -> tuple[FloatArray, FloatArray, FloatArray]:
    n = label.size
    n_groups = n_cells // 4
    metrics = np.full((resamples, 8), np.nan)
    counts = np.zeros((resamples, n_cells))
    group_ranking = np.full((resamples, n_groups, 4), np.nan)
    for b in prange(resamples):
        w = np.empty(n, dtype=np.uint8)
        _fill_weights(w, seed, b, thresholds)
        local = np.zeros(n_cells)
        group_loss = np.zeros(n_groups)
        group_sq = np.zeros(n_groups)
        total = 0.0
        tp = 0.0
        fp = 0.0
        pos = 0.0
        loss_sum = 0.0
        sq_sum = 0.0
        for i in range(n):  # branch-free: the weights are random, so branches on them mispredict
            wi = float(w[i])
            wy = wi * label[i]
            wp = wi * flagged[i]
            wl = wi * loss[i]
            ws = wi * sq_error[i]
            total += wi
            pos += wy
            tp += wy * flagged[i]
            fp += wp - wy * flagged[i]
            loss_sum += wl
            sq_sum += ws
            for j in range(cells.shape[1]):
                cell = cells[i, j]
                local[cell] += wi
                group_loss[cell >> 2] += wl
                group_sq[cell >> 2] += ws
        counts[b, :] = local
        neg = total - pos
        fn = pos - tp
        if total == 0:
            continue
        metrics[b, 2] = (total - fp - fn) / total
        metrics[b, 3] = tp / (tp + fp) if tp + fp > 0 else 0.0
        metrics[b, 4] = tp / pos if pos > 0 else 0.0
        metrics[b, 5] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0
        metrics[b, 6] = loss_sum / total
        metrics[b, 7] = sq_sum / total
        # One pass in descending score order: the ROC and PR curves of all rows and of every group. A group's
        # curve only gets a point where the overall curve has one; groups touched in a tie block are flushed
        # at its end (the `touched` stack), so ties are averaged exactly as scikit-learn does.
        g_tp = np.zeros(n_groups)
        g_fp = np.zeros(n_groups)
        g_prev_tp = np.zeros(n_groups)
        g_prev_fp = np.zeros(n_groups)
        g_area = np.zeros(n_groups)
        g_ap = np.zeros(n_groups)
        dirty = np.zeros(n_groups, dtype=np.bool_)
        touched = np.empty(n_groups, dtype=np.intp)
        n_touched = 0
        ctp = 0.0
        cfp = 0.0
        prev_tp = 0.0
        prev_fp = 0.0
        area = 0.0
        ap = 0.0
        for k in range(n):
            i = order[k]
            wi = float(w[i])
            wy = wi * label[i]
            ctp += wy
            cfp += wi - wy
            for j in range(cells.shape[1]):
                g = cells[i, j] >> 2
                g_tp[g] += wy
                g_fp[g] += wi - wy
                if not dirty[g]:
                    dirty[g] = True
                    touched[n_touched] = g
                    n_touched += 1
            if last_of_tie[k]:
                if ctp != prev_tp or cfp != prev_fp:
                    area += (cfp - prev_fp) * (ctp + prev_tp)
                    if ctp + cfp > 0:
                        ap += (ctp - prev_tp) * ctp / (ctp + cfp)
                    prev_tp = ctp
                    prev_fp = cfp
                for t in range(n_touched):
                    g = touched[t]
                    dirty[g] = False
                    if g_tp[g] != g_prev_tp[g] or g_fp[g] != g_prev_fp[g]:
                        g_area[g] += (g_fp[g] - g_prev_fp[g]) * (g_tp[g] + g_prev_tp[g])
                        if g_tp[g] + g_fp[g] > 0:
                            g_ap[g] += (g_tp[g] - g_prev_tp[g]) * g_tp[g] / (g_tp[g] + g_fp[g])
                        g_prev_tp[g] = g_tp[g]
                        g_prev_fp[g] = g_fp[g]
                n_touched = 0
        if pos > 0 and neg > 0:
            metrics[b, 0] = area / (2.0 * pos * neg)
        if pos > 0:
            metrics[b, 1] = ap / pos
        for g in range(n_groups):
            g_pos = g_tp[g]
            g_neg = g_fp[g]
            if g_pos > 0 and g_neg > 0:
                group_ranking[b, g, 0] = g_area[g] / (2.0 * g_pos * g_neg)
            if g_pos > 0:
                group_ranking[b, g, 1] = g_ap[g] / g_pos
            if g_pos + g_neg > 0:
                group_ranking[b, g, 2] = group_loss[g] / (g_pos + g_neg)
                group_ranking[b, g, 3] = group_sq[g] / (g_pos + g_neg)
    return metrics, counts, group_ranking


@dataclass(frozen=True)
class BootstrapSamples:
    """Per resample: headline metrics (resamples, 8), confusion counts per group cell (resamples, cells) and
    ROC AUC, PR AUC, log loss and Brier per group (resamples, groups, 4)."""

    metrics: FloatArray
    counts: FloatArray
    seed: int
    group_ranking: FloatArray

    def metric(self, name: str) -> FloatArray:
        return self.metrics[:, HEADLINE.index(name)]


def bootstrap(y: NDArray[np.bool_], proba: FloatArray, *, threshold: float, cells: NDArray[np.intp],
              n_cells: int, seed: int, resamples: int) -> BootstrapSamples:
    """Run `resamples` Poisson resamples; `cells` is (rows, groupings) of flat group-cell indices."""
    order = np.argsort(-proba, kind="mergesort")
    sorted_scores = proba[order]
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True] if proba.size else np.zeros(0, bool)
    eps = np.finfo(np.float64).eps
    clipped = np.clip(proba, eps, 1 - eps)
    loss = np.where(y, -np.log(clipped), -np.log1p(-clipped))
    metrics, counts, group_ranking = _kernel(
        y.astype(np.float64), (proba >= threshold).astype(np.float64), loss, (proba - y) ** 2, order, last_of_tie,
        np.ascontiguousarray(cells, dtype=np.intp), n_cells, np.uint64(seed), resamples, POISSON_THRESHOLDS,
    )
    return BootstrapSamples(metrics=metrics, counts=counts, seed=seed, group_ranking=group_ranking)


def percentile_interval(samples: FloatArray, confidence: float) -> FloatArray:
    """Percentile interval along the first axis; NaN samples (undefined in a resample) are ignored."""
    alpha = (1 - confidence) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a statistic undefined in every resample: NaN bounds
        return np.asarray(np.nanpercentile(samples, [100 * alpha, 100 * (1 - alpha)], axis=0), dtype=np.float64)
