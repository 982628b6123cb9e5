"""Data quality as evidence: what a reviewer must know about the rows before trusting any metric on them.

Missing rates per feature in each part of the split (and their change from training to test), constant and
near-constant features, categories seen in test but never in training, numbers outside the training range, the
label balance per part, and the schema drift between the data file and a kept-apart test file. Vectorised per
column over the columns read once (`engine.evaluation.columns`); the rule kind `data_quality`
(`engine.policy.rules_data`) judges it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates import Features
from engine.evaluation.columns import Columns, development_rows, read_columns

JSON = dict[str, Any]
Rows = NDArray[np.intp]
NEAR_CONSTANT_SHARE = 0.99
PROFILE_ROWS = 100_000
SHOWN = 5


def missing_rates(columns: Columns, parts: dict[str, Rows], rows: int) -> list[JSON]:
    """Each feature's missing rate in each part, and the change from training to test (one pass per column)."""
    part_of = np.full(rows, len(parts), dtype=np.intp)  # rows in no part (a time split's gaps) count nowhere
    for index, part in enumerate(parts.values()):
        part_of[part] = index
    sizes = np.bincount(part_of, minlength=len(parts) + 1)[:len(parts)]
    reference = "train" if parts["train"].size else "validation"
    found = []
    for column in columns.names:
        absent = columns.missing(column)
        missing = (np.bincount(part_of, weights=absent, minlength=len(parts) + 1)[:len(parts)] if absent.any()
                   else np.zeros(len(parts)))
        rates = {name: float(missing[i] / sizes[i]) for i, name in enumerate(parts) if sizes[i]}
        change = rates["test"] - rates[reference] if "test" in rates and reference in rates else float("nan")
        found.append({"feature": column, **{name: round(rate, 6) for name, rate in rates.items()},
                      "change": round(change, 6)})
    return found


def value_counts(columns: Columns, column: str, rows: Rows) -> NDArray[np.int64]:
    """How often each distinct value of a column occurs among `rows` (missing values are one value)."""
    if column in columns.codes:
        counts = np.bincount(columns.codes[column][rows])
        return np.asarray(counts[counts > 0], dtype=np.int64)
    return np.asarray(np.unique(columns.numbers[column][rows], return_counts=True, equal_nan=True)[1], dtype=np.int64)


def may_be_constant(values: NDArray[np.float64]) -> bool:
    """Whether one value (or the missing value) can fill `NEAR_CONSTANT_SHARE` of `values`: such a value fills more
    than half of them, so it is their median, or NaN; a linear-time test before counting every value."""
    missing = np.isnan(values)
    if missing.mean() >= NEAR_CONSTANT_SHARE or values.size == 0:
        return True
    present = values[~missing]
    middle = np.partition(present, present.size // 2)[present.size // 2]
    return bool(np.count_nonzero(values == middle) >= NEAR_CONSTANT_SHARE * values.size)


def constant_features(columns: Columns, rows: Rows, *, seed: int) -> list[JSON]:
    """Features with one value (or one value in at least 99% of a sample of the development rows)."""
    if rows.size > PROFILE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, PROFILE_ROWS, replace=False))
    found = []
    for column in columns.names:
        if column in columns.numbers and not may_be_constant(columns.numbers[column][rows]):
            continue
        counts = value_counts(columns, column, rows)
        share = float(counts.max() / rows.size) if counts.size else 1.0
        if counts.size <= 1 or share >= NEAR_CONSTANT_SHARE:
            found.append({"feature": column, "distinct": int(counts.size), "top_share": round(share, 6),
                          "constant": bool(counts.size <= 1)})
    return found


def unseen_categories(columns: Columns, reference: Rows, test: Rows) -> list[JSON]:
    """Categories of the test rows never seen among the training rows, with the test rows that hold them."""
    found = []
    for column, codes in columns.codes.items():
        seen = np.bincount(codes[reference], minlength=columns.levels[column].size + 1) > 0
        tested = codes[test]
        new = (tested != 0) & ~seen[tested]
        if new.any():
            shown = pd.unique(tested[new])[:SHOWN]
            found.append({"feature": column, "rows": int(new.sum()), "rate": round(float(new.mean()), 6),
                          "categories": [str(v) for v in columns.levels[column][shown - 1]]})
    return found


def out_of_range(columns: Columns, reference: Rows, test: Rows, names: tuple[str, ...]) -> list[JSON]:
    """Numeric test values below the training minimum or above the training maximum."""
    found = []
    for column in names:
        values = columns.numbers[column]
        known = values[reference]
        if np.isnan(known).all() or test.size == 0:
            continue
        low, high = np.nanmin(known), np.nanmax(known)
        tested = values[test]
        outside = (tested < low) | (tested > high)
        if outside.any():
            found.append({"feature": column, "rows": int(outside.sum()), "rate": round(float(outside.mean()), 6),
                          "train_min": float(low), "train_max": float(high)})
    return found


def schema_drift(data_schema: list[JSON], test_schema: list[JSON] | None) -> JSON | None:
    """Columns the test file lacks, adds, or types differently from the data file; None without a test file."""
    if test_schema is None:
        return None
    data = {c["name"]: c["type"] for c in data_schema}
    test = {c["name"]: c["type"] for c in test_schema}
    return {"missing": [c for c in data if c not in test], "added": [c for c in test if c not in data],
            "retyped": [{"column": c, "data": data[c], "test": test[c]} for c in data if c in test and
                        data[c] != test[c]]}


def data_quality(frame: pd.DataFrame, y: NDArray[np.bool_], parts: dict[str, Rows], features: Features, *,
                 seed: int, data_schema: list[JSON], test_schema: list[JSON] | None = None,
                 time_column: str | None = None, columns: Columns | None = None) -> JSON:
    """The data-quality evidence of the audit's rows (see the module's docstring); a time split's column is out of
    the training range in test by design, so its range is not judged. `columns` are the features already read
    (`read_columns`), else they are read here."""
    columns = columns if columns is not None else read_columns(frame, features)
    reference = parts["train"] if parts["train"].size else parts["validation"]
    development = development_rows(parts["train"], parts["validation"])
    quality: JSON = {
        "missing": missing_rates(columns, parts, len(frame)),
        "constant": constant_features(columns, development, seed=seed),
        "unseen_categories": unseen_categories(columns, reference, parts["test"]),
        "out_of_range": out_of_range(columns, reference, parts["test"],
                                     tuple(c for c in features.numeric if c != time_column)),
        "label_balance": {name: round(float(y[rows].mean()), 6) for name, rows in parts.items() if rows.size},
    }
    drift = schema_drift(data_schema, test_schema)
    if drift is not None:
        quality["schema_drift"] = drift
    return quality
