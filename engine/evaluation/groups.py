"""Sensitive groups as integer codes: one column, every pair, and the intersection of all.

Every slice and fairness computation groups rows with `np.bincount` over these codes, so a grouping is built
once per audit and reused for every candidate and every bootstrap resample. Numeric sensitive columns are
bucketed by the spec's edges (or, without edges, at their quartiles); missing values form their own group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.evaluation.segments import first_rows

MISSING_GROUP = "(missing)"
MAX_CATEGORIES_AS_IS = 10  # a numeric column with at most this many values is grouped by value


@dataclass(frozen=True)
class Grouping:
    """Rows assigned to groups: `codes[i]` indexes `labels`."""

    name: str
    columns: tuple[str, ...]
    codes: NDArray[np.intp]
    labels: tuple[str, ...]
    edges: tuple[float, ...] | None = None

    @property
    def size(self) -> int:
        return len(self.labels)


def _number(value: float) -> str:
    return f"{value:g}"


def bucket_labels(edges: Sequence[float]) -> list[str]:
    """`[25, 45]` -> `<25`, `25–45`, `≥45`: half-open buckets, the lower edge included."""
    inner = [f"{_number(lo)}–{_number(hi)}" for lo, hi in pairwise(edges)]
    return [f"<{_number(edges[0])}", *inner, f"≥{_number(edges[-1])}"]


def _default_edges(values: NDArray[np.float64]) -> list[float]:
    quartiles = np.quantile(values, [0.25, 0.5, 0.75])
    return sorted({float(f"{q:.6g}") for q in quartiles})


def column_grouping(values: pd.Series, name: str, edges: Sequence[float] | None = None) -> Grouping:
    """Group rows by one sensitive column."""
    missing = values.isna().to_numpy()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and (edges is not None or values.nunique() > MAX_CATEGORIES_AS_IS):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        cut = list(edges) if edges is not None else _default_edges(numbers[~missing])
        codes = np.digitize(numbers, cut, right=False)
        labels = bucket_labels(cut)
        used_edges: tuple[float, ...] | None = tuple(cut)
    elif numeric:  # few distinct numbers: one group each, in numeric order
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
        labels = [_number(float(u)) for u in uniques]
        used_edges = None
    else:
        text = values.astype(str).where(~missing, None)
        codes, uniques = pd.factorize(text, sort=True, use_na_sentinel=True)
        labels = [str(u) for u in uniques]
        used_edges = None
    codes = np.asarray(codes, dtype=np.intp)
    if used_edges is not None:  # buckets no row falls into are not groups
        present, codes = np.unique(np.where(missing, -1, codes), return_inverse=True)
        kept = present[present >= 0]
        codes = np.asarray(codes - int((present < 0).any()), dtype=np.intp)
        labels = [labels[k] for k in kept]
    if missing.any():
        codes = np.where(missing, len(labels), codes)
        labels = [*labels, MISSING_GROUP]
    return Grouping(name, (name,), codes, tuple(labels), used_edges)


def dense_codes(keys: NDArray[np.int64], bound: int) -> tuple[NDArray[np.int64], int]:
    """Keys in 0..bound-1 renumbered 0..k-1 in ascending order of key (`np.unique(keys, return_inverse=True)`),
    and k: by counting where the range is small, by sorting otherwise."""
    if bound <= 4 * keys.size + 1024:
        present = np.bincount(keys, minlength=bound) > 0
        number = np.cumsum(present) - 1
        return number[keys].astype(np.int64), int(present.sum())
    uniques, inverse = np.unique(keys, return_inverse=True)
    return inverse.astype(np.int64), int(uniques.size)


def cross(groupings: Sequence[Grouping]) -> Grouping:
    """The intersection of several groupings; only combinations that occur become groups."""
    # Combine one grouping at a time and renumber densely, so the codes never overflow however many columns.
    rows = groupings[0].codes.size
    combined, size = np.zeros(rows, dtype=np.int64), 1
    for g in groupings:
        combined, size = dense_codes(combined * g.size + g.codes, size * g.size)
    first_row = first_rows(combined, size)
    codes = combined
    labels = [" × ".join(g.labels[g.codes[row]] for g in groupings) for row in first_row.tolist()]
    columns = tuple(c for g in groupings for c in g.columns)
    return Grouping(" × ".join(columns), columns, codes.astype(np.intp), tuple(labels))


def sensitive_groupings(
    frame: pd.DataFrame, sensitive: Sequence[str], bins: Mapping[str, Sequence[float]]
) -> list[Grouping]:
    """Each sensitive column, every pair of them, and (for three or more) their full intersection."""
    singles = [column_grouping(frame[c], c, bins.get(c)) for c in sensitive]
    pairs = [cross(list(pair)) for pair in combinations(singles, 2)]
    full = [cross(singles)] if len(singles) > 2 else []
    return [*singles, *pairs, *full]
