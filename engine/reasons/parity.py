"""Recourse by sensitive group: the share of denied rows with a feasible recourse and the median cost of it, per
group, with percentile-bootstrap intervals, and the gap between the best and worst judged group.

Resamples are drawn within each group (seeded), so a group's interval reflects its own size; groups smaller than
`min_group_size` are reported and left out of the gap, as the fairness evidence does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
DEFAULT_RESAMPLES = 500


def _interval(samples: FloatArray, confidence: float) -> list[float] | None:
    finite = samples[np.isfinite(samples)]
    if not finite.size:
        return None
    tail = (1 - confidence) / 2
    return [float(np.quantile(finite, tail)), float(np.quantile(finite, 1 - tail))]


def _resampled(feasible: NDArray[np.bool_], cost: FloatArray, rng: np.random.Generator, resamples: int
               ) -> tuple[FloatArray, FloatArray]:
    """Per resample: the feasible share and the median cost among the feasible."""
    n = feasible.size
    picks = rng.integers(0, n, size=(resamples, n))
    ok = feasible[picks]
    shares = ok.mean(axis=1)
    costs = np.where(ok, cost[picks], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a resample with no feasible row has no median: NaN
        medians = np.nanmedian(costs, axis=1)
    return shares, np.asarray(medians, dtype=np.float64)


def by_group(feasible: NDArray[np.bool_], cost: FloatArray, codes: NDArray[np.intp], labels: Sequence[str], *,
             min_group_size: int, confidence: float, seed: int, resamples: int = DEFAULT_RESAMPLES
             ) -> dict[str, Any]:
    """Per group of one grouping (codes of the denied rows): share, median cost, intervals; the gaps."""
    rng = np.random.default_rng(seed)
    groups: list[dict[str, Any]] = []
    share_draws: list[FloatArray] = []
    cost_draws: list[FloatArray] = []
    for code, label in enumerate(labels):
        member = codes == code
        n = int(member.sum())
        entry: dict[str, Any] = {"group": str(label), "denied": n}
        if n == 0:
            groups.append({**entry, "too_small": True})
            continue
        f, c = feasible[member], cost[member]
        shares, medians = _resampled(f, c, rng, resamples)
        entry.update(feasible_share=float(f.mean()), share_interval=_interval(shares, confidence),
                     median_cost=float(np.median(c[f])) if f.any() else None,
                     cost_interval=_interval(medians, confidence), too_small=n < min_group_size)
        groups.append(entry)
        if n >= min_group_size:
            share_draws.append(shares)
            cost_draws.append(medians)
    judged = [g for g in groups if not g["too_small"]]
    result: dict[str, Any] = {"groups": groups, "judged_groups": len(judged)}
    if len(judged) >= 2:
        share = [g["feasible_share"] for g in judged]
        result["share_gap"] = float(max(share) - min(share))
        result["share_gap_interval"] = _interval(np.ptp(np.vstack(share_draws), axis=0), confidence)
        costs = [g["median_cost"] for g in judged if g["median_cost"] is not None]
        if len(costs) == len(judged):
            result["cost_gap"] = float(max(costs) - min(costs))
            stacked = np.vstack(cost_draws)
            result["cost_gap_interval"] = _interval(np.ptp(stacked, axis=0), confidence)
    return result
