"""Schema violations of a batch against the champion artifact's input schema (`input_schema.json`): columns the
artifact needs that the batch lacks, categories never seen in training, numbers outside the training range and
values that are not numbers where a number is expected. Rows with at least one violation are counted once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.monitor.reference import numbers

EXAMPLES = 5  # unknown categories listed per column (the count covers them all)

JSON = dict[str, Any]


def _column_violations(column: Mapping[str, Any], values: pd.Series) -> tuple[JSON, np.ndarray]:
    """One column's violations and the mask of its violating rows."""
    present = values.notna().to_numpy()
    if column["kind"] == "numeric":
        parsed = numbers(values)
        not_number = present & np.isnan(parsed)
        low, high = column.get("training_range") or (None, None)
        outside = np.zeros(len(values), bool)
        if low is not None and high is not None:
            outside = ~np.isnan(parsed) & ((parsed < low) | (parsed > high))
        return ({"name": column["name"], "not_a_number": int(not_number.sum()), "out_of_range": int(outside.sum()),
                 "below": int((parsed < low).sum()) if low is not None else 0,
                 "above": int((parsed > high).sum()) if high is not None else 0,
                 "training_range": [low, high]}, not_number | outside)
    text = values.astype(str)
    unknown = present & ~text.isin(set(column["categories"])).to_numpy()
    examples = sorted(set(text[unknown]))[:EXAMPLES]
    return {"name": column["name"], "unknown_categories": int(unknown.sum()), "examples": examples}, unknown


def schema_violations(schema: Mapping[str, Any], frame: pd.DataFrame) -> JSON:
    """The `schema` part of a monitoring run: missing columns and per-column violations, with the row rate."""
    missing = [c["name"] for c in schema["columns"] if c["name"] not in frame.columns]
    rows = len(frame)
    violating = np.zeros(rows, bool)
    columns: list[JSON] = []
    for column in schema["columns"]:
        if column["name"] in missing:
            continue
        entry, mask = _column_violations(column, frame[column["name"]])
        violating |= mask
        if int(mask.sum()):
            columns.append({**entry, "rows": int(mask.sum())})
    return {"rows": rows, "missing_columns": missing, "columns": columns,
            "violating_rows": rows if missing else int(violating.sum()),
            "violation_rate": (1.0 if missing else float(violating.mean())) if rows else None}
