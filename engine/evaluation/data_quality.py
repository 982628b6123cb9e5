"""Data quality as evidence: what a reviewer must know about the rows before trusting any metric on them.

Missing rates per feature in each part of the split (and their change from training to test), constant and
near-constant features, categories seen in test but never in training, numbers outside the training range, the
label balance per part, and the schema drift between the data file and a kept-apart test file. Vectorised per
column; the rule kind `data_quality` (`engine.policy.rules_data`) judges it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates import Features

JSON = dict[str, Any]
Rows = NDArray[np.intp]
NEAR_CONSTANT_SHARE = 0.99
PROFILE_ROWS = 100_000
SHOWN = 5


def missing_rates(frame: pd.DataFrame, parts: dict[str, Rows], columns: list[str]) -> list[JSON]:
    """Each feature's missing rate in each part, and the change from training to test."""
    missing = frame[columns].isna().to_numpy()
    rates = {name: missing[rows].mean(axis=0) if rows.size else np.full(len(columns), np.nan)
             for name, rows in parts.items()}
    reference = "train" if parts["train"].size else "validation"
    return [{"feature": column, **{name: round(float(rates[name][i]), 6) for name in parts
                                   if not np.isnan(rates[name][i])},
             "change": round(float(rates["test"][i] - rates[reference][i]), 6)}
            for i, column in enumerate(columns)]


def constant_features(frame: pd.DataFrame, rows: Rows, columns: list[str], *, seed: int) -> list[JSON]:
    """Features with one value (or one value in at least 99% of a sample of the development rows)."""
    if rows.size > PROFILE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, PROFILE_ROWS, replace=False))
    found = []
    for column in columns:
        counts = frame[column].iloc[rows].value_counts(dropna=False)
        share = float(counts.iloc[0] / rows.size) if counts.size else 1.0
        if counts.size <= 1 or share >= NEAR_CONSTANT_SHARE:
            found.append({"feature": column, "distinct": int(counts.size), "top_share": round(share, 6),
                          "constant": bool(counts.size <= 1)})
    return found


def unseen_categories(frame: pd.DataFrame, reference: Rows, test: Rows, columns: tuple[str, ...]) -> list[JSON]:
    """Categories of the test rows never seen among the training rows, with the test rows that hold them."""
    found = []
    for column in columns:
        seen = pd.unique(frame[column].iloc[reference].dropna())
        values = frame[column].iloc[test]
        new = values.notna().to_numpy() & ~values.isin(seen).to_numpy()
        if new.any():
            found.append({"feature": column, "rows": int(new.sum()), "rate": round(float(new.mean()), 6),
                          "categories": [str(v) for v in pd.unique(values[new])[:SHOWN]]})
    return found


def out_of_range(frame: pd.DataFrame, reference: Rows, test: Rows, columns: tuple[str, ...]) -> list[JSON]:
    """Numeric test values below the training minimum or above the training maximum."""
    found = []
    for column in columns:
        values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
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
                 time_column: str | None = None) -> JSON:
    """The data-quality evidence of the audit's rows (see the module's docstring); a time split's column is out of
    the training range in test by design, so its range is not judged."""
    reference = parts["train"] if parts["train"].size else parts["validation"]
    development = np.sort(np.concatenate([parts["train"], parts["validation"]]))
    quality: JSON = {
        "missing": missing_rates(frame, parts, features.all),
        "constant": constant_features(frame, development, features.all, seed=seed),
        "unseen_categories": unseen_categories(frame, reference, parts["test"], features.categorical),
        "out_of_range": out_of_range(frame, reference, parts["test"],
                                     tuple(c for c in features.numeric if c != time_column)),
        "label_balance": {name: round(float(y[rows].mean()), 6) for name, rows in parts.items() if rows.size},
    }
    drift = schema_drift(data_schema, test_schema)
    if drift is not None:
        quality["schema_drift"] = drift
    return quality
