"""What the regression and multiclass evidence share: finest group cells, per-grouping sums, intervals, lifts.

Both task types resample exactly as binary does (engine.evaluation.bootstrap's Poisson(1) row weights, from the
same seed, so a candidate and its baseline or champion see the same resamples): their kernels accumulate sums
per cell of the *finest* grouping (the intersection of every sensitive grouping), and every grouping's sums are
sums of those. Point estimates are the same computation with every weight 1, so a point and its interval can
never disagree on a definition. Undefined values are NaN in arrays and None in JSON, never 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.evaluation.groups import Grouping, cross
from engine.evaluation.segments import first_rows

FloatArray = NDArray[np.float64]
Pair = list[float | None]
INTERVAL_METHOD = "percentile bootstrap with Poisson(1) row weights (the binary evidence's resamples)"


@dataclass(frozen=True)
class Finest:
    """Each row's cell of the intersection of all groupings, and each grouping's group of every cell."""

    codes: NDArray[np.int32]
    size: int
    groups_of: tuple[NDArray[np.intp], ...]

    @classmethod
    def of(cls, groupings: Sequence[Grouping], rows: int) -> Finest:
        if not groupings:
            return cls(np.zeros(rows, dtype=np.int32), 1, ())
        columns = {c for g in groupings for c in g.columns}
        # The intersection of every column is one of the groupings when there are several (sensitive_groupings)
        whole = [g for g in groupings if set(g.columns) == columns]
        finest = whole[0] if whole else cross(list(groupings))
        first_row = first_rows(finest.codes, finest.size)
        return cls(np.ascontiguousarray(finest.codes, dtype=np.int32), finest.size,
                   tuple(np.asarray(g.codes[first_row], dtype=np.intp) for g in groupings))

    def by_grouping(self, sums: FloatArray, groupings: Sequence[Grouping]) -> list[FloatArray]:
        """(resamples, finest cells, ...) sums -> one (resamples, groups, ...) array per grouping: each group's
        cells are contiguous once sorted, so one `reduceat` adds them up."""
        out = []
        for groups in self.groups_of:
            if groups.size == sums.shape[1] and np.array_equal(groups, np.arange(groups.size)):
                out.append(sums)  # the finest grouping itself
                continue
            order = np.argsort(groups, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(groups[order]) != 0])
            out.append(np.add.reduceat(sums[:, order], starts, axis=1))
        return out


def value(x: float | np.floating[Any]) -> float | None:
    """A JSON number, or None where it is undefined (NaN or infinite)."""
    return float(x) if np.isfinite(x) else None


def values(array: NDArray[Any]) -> Any:
    """Nested JSON lists of an array, undefined entries as None."""
    return [values(a) if np.ndim(a) else value(float(a)) for a in array] if np.ndim(array) else value(float(array))


def nan_percentiles(samples: FloatArray, percents: Sequence[float]) -> FloatArray:
    """`np.nanpercentile(samples, percents, axis=0)` (linear method, the same arithmetic), without its slow path
    for arrays holding NaN: one sort along the resample axis, NaN sorted last, each column read at its own
    count of defined values."""
    ordered = np.sort(samples, axis=0)
    defined = np.sum(~np.isnan(samples), axis=0)
    out = np.full((len(percents), *samples.shape[1:]), np.nan)
    for k, percent in enumerate(percents):
        position = percent / 100 * np.maximum(defined - 1, 0)
        below = np.floor(position).astype(np.intp)
        above = np.minimum(below + 1, np.maximum(defined - 1, 0))
        t = position - below
        a = np.take_along_axis(ordered, below[None], axis=0)[0]
        b = np.take_along_axis(ordered, above[None], axis=0)[0]
        step = b - a
        lerp = np.where(t >= 0.5, b - step * (1 - t), a + step * t)  # numpy's _lerp
        out[k] = np.where(defined > 0, lerp, np.nan)
    return out


def interval_bounds(samples: FloatArray, confidence: float) -> FloatArray:
    """(2, ...) percentile bounds along the resample axis (0); NaN where nothing is defined."""
    alpha = (1 - confidence) / 2
    return nan_percentiles(samples, [100 * alpha, 100 * (1 - alpha)])


def bounds(samples: FloatArray, confidence: float) -> Any:
    """Percentile bounds along the resample axis (0) as JSON: [low, high] per remaining entry, None if undefined
    (`bootstrap.percentile_interval`'s numbers)."""
    return values(np.moveaxis(interval_bounds(samples, confidence), 0, -1))


def spread(group_values: FloatArray, eligible: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Max and min over the eligible groups (last axis), ignoring undefined (NaN) values."""
    masked = np.where(eligible, group_values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # undefined everywhere: the gap is undefined
        return np.nanmax(masked, axis=-1), np.nanmin(masked, axis=-1)


def divide(numerator: NDArray[Any] | float, denominator: NDArray[Any] | float) -> FloatArray:
    """Elementwise ratio, NaN where the denominator is zero."""
    num, den = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


DIRECTIONS = ("higher", "lower", "zero")  # better is higher, lower, or closer to zero (a bias)


def score(x: FloatArray | float, direction: str) -> FloatArray:
    """A metric turned so that higher is better, whichever its direction."""
    v = np.asarray(x, dtype=np.float64)
    return v if direction == "higher" else -v if direction == "lower" else -np.abs(v)


def paired_lift(points: Mapping[str, float | None], samples: Mapping[str, FloatArray],
                reference_points: Mapping[str, float | None], reference_samples: Mapping[str, FloatArray], *,
                directions: Mapping[str, str], confidence: float) -> dict[str, dict[str, Any]]:
    """Lift over a reference on every metric (positive = better, losses and biases too), with its paired interval
    and a one-sided p-value for "not better", from the same resamples (the binary comparisons' shape)."""
    out: dict[str, dict[str, Any]] = {}
    for name, direction in directions.items():
        ours, theirs = points.get(name), reference_points.get(name)
        point = None if ours is None or theirs is None else float(score(ours, direction) - score(theirs, direction))
        entry: dict[str, Any] = {"lift": point, "interval": [None, None], "p_value": None}
        if point is not None and name in samples and name in reference_samples:
            paired = score(samples[name], direction) - score(reference_samples[name], direction)
            paired = paired[np.isfinite(paired)]
            if paired.size:
                entry["interval"] = bounds(paired, confidence)
                entry["p_value"] = float((1 + np.count_nonzero(paired <= 0)) / (paired.size + 1))
        out[name] = entry
    return out


Reference = tuple[Mapping[str, float | None], Mapping[str, FloatArray] | None]


def comparisons(points: Mapping[str, float | None], samples: Mapping[str, FloatArray] | None,
                references: Mapping[str, Reference], *, directions: Mapping[str, str],
                confidence: float) -> dict[str, Any]:
    """The `comparisons` section: the paired lift over each reference that was given (baseline, champion)."""
    return {
        name: paired_lift(points, samples or {}, reference_points, reference_samples or {},
                          directions=directions, confidence=confidence)
        for name, (reference_points, reference_samples) in references.items()
    }
