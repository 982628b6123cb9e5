"""The split-integrity certificate: is the held-out part of the data really held out?

"Evaluated only on held-out rows" is a promise the split can silently break: the same example on both sides, a
column that is a copy of the label, an entity or a future row across the boundary, an ID column the model can
memorise. `split_integrity()` checks each on the rows the audit really used, tied to the data's SHA-256, and
records counts and a few example row numbers (1-based positions among the labelled rows: the data file's rows,
then a kept-apart test file's). The rule kind `split_integrity` (`engine.policy.rules_data`) judges it.

Everything is vectorised (one 64-bit hash per row of feature values, one sort; the leakage screen on a seeded
sample of at most `SCREEN_ROWS` development rows, from per-bin label counts), so it costs seconds on a million
rows (`bench/integrity.py`). Which rows a candidate's preprocessing was fitted on is added per candidate by
`preprocessing_record()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates import Features

JSON = dict[str, Any]
Rows = NDArray[np.intp]
EXAMPLES = 5
SCREEN_ROWS = 100_000
SCREEN_BINS = 64
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

    @property
    def development(self) -> Rows:
        return np.sort(np.concatenate([self.train, self.validation]))

    @property
    def screened(self) -> Rows:
        """The rows the leakage screen learns from: the training part, or the validation part of a holdout."""
        return self.train if self.train.size else self.validation


def examples(rows: Rows) -> list[int]:
    """A few 1-based row numbers."""
    return [int(r) + 1 for r in rows[:EXAMPLES]]


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> NDArray[np.uint64]:
    """One 64-bit hash of each row's feature values (missing values hash alike)."""
    if not columns:
        return np.zeros(len(frame), dtype=np.uint64)
    return np.asarray(pd.util.hash_pandas_object(frame[columns], index=False).to_numpy(), dtype=np.uint64)


def duplicates_across(hashes: NDArray[np.uint64], parts: SplitRows) -> JSON:
    """Test rows whose feature values also appear among the development rows."""
    test = parts.test
    known = np.sort(hashes[parts.development])
    wanted = hashes[test]
    at = np.minimum(np.searchsorted(known, wanted), max(known.size - 1, 0))
    found = test[known[at] == wanted] if known.size else test[:0]
    return {"test_rows": int(test.size), "rows": int(found.size),
            "rate": float(found.size / test.size) if test.size else 0.0, "examples": examples(found)}


def conflicting_labels(hashes: NDArray[np.uint64], y: NDArray[np.bool_], rows: Rows) -> JSON:
    """Rows whose exact feature values appear elsewhere with the other label."""
    _, inverse, counts = np.unique(hashes[rows], return_inverse=True, return_counts=True)
    positives = np.bincount(inverse, weights=y[rows].astype(np.float64), minlength=counts.size)
    mixed = (positives > 0) & (positives < counts)
    found = rows[mixed[inverse]]
    return {"rows": int(found.size), "rate": float(found.size / rows.size) if rows.size else 0.0,
            "groups": int(mixed.sum()), "examples": examples(found)}


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


def binned(values: pd.Series) -> NDArray[np.intp]:
    """Integer bins of one column for the leakage screen: quantile bins of a number, categories (rare ones pooled),
    missing values a bin of their own."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        present = numbers[~np.isnan(numbers)]
        if present.size == 0:
            return np.zeros(numbers.size, dtype=np.intp)
        edges = np.unique(np.quantile(present, np.linspace(0, 1, SCREEN_BINS + 1)[1:-1]))
        bins = np.searchsorted(edges, numbers, side="right").astype(np.intp)
        return np.where(np.isnan(numbers), edges.size + 1, bins)
    codes, _ = pd.factorize(values, use_na_sentinel=False)
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


def leakage_screen(frame: pd.DataFrame, y: NDArray[np.bool_], rows: Rows, columns: list[str], *,
                   seed: int, threshold: float) -> JSON:
    """Each feature alone against the label on (a sample of) the training rows: those at or above `threshold`."""
    if rows.size > SCREEN_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, SCREEN_ROWS, replace=False))
    labels = y[rows]
    sample = frame.iloc[rows]
    scores = {name: single_feature_auc(binned(sample[name]), labels) for name in columns}
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
                    leak_auc: float = LEAK_AUC) -> JSON:
    """The certificate's findings on the audit's rows (see the module's docstring)."""
    columns = features.all
    hashes = row_hashes(frame, columns)
    every = np.arange(len(frame), dtype=np.intp)
    identifiers = identifier_like(frame, parts.development, columns, seed=seed)
    named_ids = {entry["feature"] for entry in identifiers}
    screened = [c for c in columns if c not in named_ids]
    certificate: JSON = {
        "data_sha256": data_sha256, "features": len(columns),
        "duplicates": duplicates_across(hashes, parts),
        "conflicting_labels": conflicting_labels(hashes, y, every),
        "leakage": leakage_screen(frame, y, parts.screened, screened, seed=seed, threshold=leak_auc),
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
