"""The split-integrity certificate: is the held-out part of the data really held out?

"Evaluated only on held-out rows" is a promise the split can silently break: the same example on both sides, a
column that is a copy of the label, an entity or a future row across the boundary, an ID column the model can
memorise. `split_integrity()` checks each on the rows the audit really used, tied to the data's SHA-256, and
records counts and a few example row numbers (1-based positions among the labelled rows: the data file's rows,
then a kept-apart test file's). The rule kind `split_integrity` (`engine.policy.rules_data`) judges it.

Everything is vectorised over the columns read once (`engine.evaluation.columns`): one 64-bit hash per row of
feature values, one sort of them for both the duplicates and the label conflicts, and every pair of rows the
hashes call equal compared value by value before it counts;
the leakage screen on a seeded sample of at most `SCREEN_ROWS` development rows, from per-bin label counts. So it
costs about a second on a million rows (`bench/integrity.py`). Which rows a candidate's preprocessing was fitted
on is added per candidate by `preprocessing_record()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates import Features
from engine.evaluation.columns import Columns, development_rows, read_columns, row_hashes, same_values

JSON = dict[str, Any]
Rows = NDArray[np.intp]
EXAMPLES = 5
SCREEN_ROWS = 100_000
SCREEN_BINS = 64
EDGE_ROWS = 10_000
RARE_CATEGORY_ROWS = 20
LEAK_AUC = 0.98
IDENTIFIER_SHARE = 0.99
MIN_IDENTIFIER_ROWS = 50
TOP_FEATURES = 5


@dataclass(frozen=True)
class SplitRows:
    """The rows of each part, as positions in the frame; development = train and validation."""

    train: Rows
    validation: Rows
    test: Rows

    @cached_property
    def development(self) -> Rows:
        return development_rows(self.train, self.validation)

    @property
    def screened(self) -> Rows:
        """The rows the leakage screen learns from: the training part, or the validation part of a holdout."""
        return self.train if self.train.size else self.validation


def examples(rows: Rows) -> list[int]:
    """A few 1-based row numbers."""
    return [int(r) + 1 for r in rows[:EXAMPLES]]


@dataclass(frozen=True)
class HashGroups:
    """Every row's hash sorted once: the rows in hash order and where each run of equal hashes starts."""

    order: Rows
    starts: Rows
    group: Rows  # each position of `order`'s group number

    @classmethod
    def of(cls, hashes: NDArray[np.uint64]) -> HashGroups:
        order = np.argsort(hashes).astype(np.intp)  # the order within a group of equal hashes does not matter
        ordered = hashes[order]
        new = np.empty(order.size, dtype=bool)
        new[:1] = True
        np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
        return cls(order, np.flatnonzero(new).astype(np.intp), np.cumsum(new).astype(np.intp) - 1)

    def per_group(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """The sum of `values` (one per row) over each group."""
        return np.add.reduceat(values[self.order], self.starts) if self.order.size else values[:0]


def duplicates_across(groups: HashGroups, parts: SplitRows, columns: Columns) -> JSON:
    """Test rows whose feature values also appear among the development rows (each checked value by value
    against a development row of its hash)."""
    test, rows = parts.test, groups.order.size
    development = np.zeros(rows, dtype=bool)
    development[parts.development] = True
    position = np.where(development[groups.order], np.arange(rows), -1)  # a development row's place in the order
    known = np.maximum.reduceat(position, groups.starts) if rows else position
    where = np.empty(rows, dtype=np.intp)
    where[groups.order] = np.arange(rows)
    partner = known[groups.group[where[test]]]
    candidates, partner = test[partner >= 0], partner[partner >= 0]
    found = candidates[same_values(columns, candidates, groups.order[partner])]
    return {"test_rows": int(test.size), "rows": int(found.size),
            "rate": float(found.size / test.size) if test.size else 0.0, "examples": examples(np.sort(found))}


def exact_groups(columns: Columns, rows: Rows) -> NDArray[np.intp]:
    """Group numbers of `rows` by their exact feature values (missing values alike): for the rare rows whose
    hashes collide."""
    table = pd.DataFrame({name: (columns.numbers[name] if name in columns.numbers else columns.codes[name])[rows]
                          for name in columns.names})
    return np.asarray(table.groupby(list(table.columns), dropna=False, sort=False).ngroup().to_numpy(),
                      dtype=np.intp)


def conflicting_labels(groups: HashGroups, y: NDArray[np.bool_], columns: Columns) -> JSON:
    """Rows whose exact feature values appear elsewhere with the other label. The rows of a group of equal hashes
    with both labels are checked value by value against the group's first row; should any differ (a hash
    collision), those groups' rows are grouped again by their exact values."""
    rows = groups.order.size
    labels = y.astype(np.float64)
    counts = np.diff(np.append(groups.starts, rows))
    positives = groups.per_group(labels)
    mixed = (positives > 0) & (positives < counts)
    in_order = np.flatnonzero(mixed[groups.group])
    suspects = groups.order[in_order]
    first = groups.order[groups.starts[groups.group[in_order]]]
    found, conflicts = suspects, int(mixed.sum())
    if not same_values(columns, suspects, first).all():
        exact = exact_groups(columns, suspects)
        size = np.bincount(exact)
        both = np.bincount(exact, weights=labels[suspects], minlength=size.size)
        really = (both > 0) & (both < size)
        found, conflicts = suspects[really[exact]], int(really.sum())
    found = np.sort(found)
    return {"rows": int(found.size), "rate": float(found.size / rows) if rows else 0.0,
            "groups": conflicts, "examples": examples(found)}


def entity_overlap(frame: pd.DataFrame, column: str, parts: SplitRows) -> JSON:
    """Groups (entities) that appear both among the development rows and the test rows."""
    codes, _ = pd.factorize(frame[column], use_na_sentinel=False)
    shared = np.intersect1d(codes[parts.development], codes[parts.test])
    found = parts.test[np.isin(codes[parts.test], shared)]
    return {"column": column, "groups": int(shared.size), "rows": int(found.size), "examples": examples(found)}


def time_overlap(times: NDArray[np.float64], parts: SplitRows, *, column: str) -> JSON:
    """Test rows that are not later than the latest development row (the future must not train the past)."""
    latest = float(times[parts.development].max()) if parts.development.size else float("-inf")
    found = parts.test[times[parts.test] <= latest]
    return {"column": column, "rows": int(found.size), "examples": examples(found)}


def binned(columns: Columns, name: str, rows: Rows) -> NDArray[np.intp]:
    """Integer bins of one column on `rows` for the leakage screen: quantile bins of a number (edges from at most
    about `EDGE_ROWS` of its values), categories (rare ones pooled), missing values a bin of their own."""
    if name in columns.numbers:
        numbers = columns.numbers[name][rows]
        present = numbers[~np.isnan(numbers)]
        if present.size == 0:
            return np.zeros(numbers.size, dtype=np.intp)
        step = max(present.size // EDGE_ROWS, 1)  # the edges from an evenly spread share of the values
        edges = np.unique(np.quantile(present[::step], np.linspace(0, 1, SCREEN_BINS + 1)[1:-1]))
        bins = np.searchsorted(edges, numbers, side="right").astype(np.intp)
        return np.where(np.isnan(numbers), edges.size + 1, bins)
    codes = columns.codes[name][rows]
    counts = np.bincount(codes)
    return np.where(counts[codes] < RARE_CATEGORY_ROWS, counts.size, codes).astype(np.intp)


def single_feature_auc(bins: NDArray[np.intp], y: NDArray[np.bool_]) -> float | None:
    """The ROC AUC of predicting the label from the feature alone, by each bin's positive rate (in-sample)."""
    positives = np.bincount(bins, weights=y.astype(np.float64))
    totals = np.bincount(bins).astype(np.float64)
    p_all, n_all = float(positives.sum()), float(totals.sum() - positives.sum())
    if p_all == 0 or n_all == 0:
        return None
    used = totals > 0
    rate = positives[used] / totals[used]
    levels, inverse = np.unique(rate, return_inverse=True)
    pos = np.bincount(inverse, weights=positives[used], minlength=levels.size)
    neg = np.bincount(inverse, weights=totals[used] - positives[used], minlength=levels.size)
    below = np.cumsum(neg) - neg
    return float(np.sum(pos * (below + 0.5 * neg)) / (p_all * n_all))


def leakage_screen(columns: Columns, y: NDArray[np.bool_], rows: Rows, names: list[str], *,
                   seed: int, threshold: float) -> JSON:
    """Each feature alone against the label on (a sample of) the training rows: those at or above `threshold`."""
    if rows.size > SCREEN_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, SCREEN_ROWS, replace=False))
    labels = y[rows]
    scores = {name: single_feature_auc(binned(columns, name, rows), labels) for name in names}
    ranked = sorted(((auc, name) for name, auc in scores.items() if auc is not None), reverse=True)
    return {"rows": int(rows.size), "threshold": threshold,
            "top": [{"feature": name, "auc": round(auc, 6)} for auc, name in ranked[:TOP_FEATURES]],
            "flagged": [{"feature": name, "auc": round(auc, 6)} for auc, name in ranked if auc >= threshold]}


def identifier_like(frame: pd.DataFrame, rows: Rows, columns: list[str], *, seed: int) -> list[JSON]:
    """Integer or text features that are (almost) unique per row: an ID, not a property of the example."""
    found = []
    probe = np.sort(np.random.default_rng(seed).choice(rows, min(rows.size, 10_000), replace=False))
    for name in columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        quick = column.iloc[probe].dropna()
        if quick.size < MIN_IDENTIFIER_ROWS or quick.nunique() < IDENTIFIER_SHARE * quick.size:
            continue
        values = column.iloc[rows].dropna()
        distinct = int(values.nunique())
        if distinct >= IDENTIFIER_SHARE * values.size:
            found.append({"feature": name, "distinct": distinct, "rows": int(values.size)})
    return found


def split_integrity(frame: pd.DataFrame, y: NDArray[np.bool_], parts: SplitRows, features: Features, *,
                    data_sha256: str | None, seed: int, time_values: NDArray[np.float64] | None = None,
                    time_column: str | None = None, group_column: str | None = None,
                    leak_auc: float = LEAK_AUC, columns: Columns | None = None) -> JSON:
    """The certificate's findings on the audit's rows (see the module's docstring); `columns` are the features
    already read (`read_columns`), else they are read here."""
    names = features.all
    columns = columns if columns is not None else read_columns(frame, features)
    groups = HashGroups.of(row_hashes(columns, len(frame)))
    identifiers = identifier_like(frame, parts.development, names, seed=seed)
    named_ids = {entry["feature"] for entry in identifiers}
    screened = [c for c in names if c not in named_ids]
    certificate: JSON = {
        "data_sha256": data_sha256, "features": len(names),
        "duplicates": duplicates_across(groups, parts, columns),
        "conflicting_labels": conflicting_labels(groups, y, columns),
        "leakage": leakage_screen(columns, y, parts.screened, screened, seed=seed, threshold=leak_auc),
        "identifiers": identifiers,
    }
    if group_column is not None:
        certificate["entity_overlap"] = entity_overlap(frame, group_column, parts)
    if time_values is not None and time_column is not None:
        certificate["time_overlap"] = time_overlap(time_values, parts, column=time_column)
    return certificate


def preprocessing_record(trained_on: Mapping[str, Any], x_train: pd.DataFrame, test: Rows, *,
                         external: bool) -> JSON:
    """Which rows a candidate's preprocessing (inside the candidate) was fitted on, and how many of them are test
    rows (0 unless the split is broken); a model trained elsewhere was fitted on rows mlgate never saw."""
    if external:
        return {"fitted_on": "elsewhere", "checked": False,
                "reason": "a model trained elsewhere: its preprocessing was fitted outside this audit"}
    from_split = "of the data" in str(trained_on.get("source", ""))
    overlap = int(np.isin(x_train.index.to_numpy(), test).sum()) if from_split else 0
    return {"fitted_on": str(trained_on.get("source")), "rows": len(x_train), "checked": True,
            "test_rows_in_fit": overlap}
