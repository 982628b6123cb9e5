"""A batch to monitor: read from CSV or Parquet as an audit reads its data (text trimmed, the spec's missing-value
markers as missing), fingerprinted, its time window taken from a column or given, and scored with the champion's
ONNX artifact after its SHA-256 is checked against the one the trail recorded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.canonical import sha256_bytes, sha256_file
from engine.data import label_text
from engine.errors import DataError, MlgateError

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class MonitorError(MlgateError):
    """A monitoring run that cannot be made as asked (no champion, a changed artifact, an unreadable batch)."""


@dataclass(frozen=True)
class Batch:
    """The rows of one batch and how the trail names it."""

    path: Path
    frame: pd.DataFrame
    sha256: str
    window: dict[str, Any]

    def record(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "rows": len(self.frame), "window": self.window}


def read_batch(path: Path, *, missing: Sequence[str] = (), window_column: str | None = None,
               window: str | None = None) -> Batch:
    """The batch at `path`, or a `DataError` (exit 2) naming the file."""
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use CSV or Parquet")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = (pd.read_parquet(path) if kind == "parquet"
                 else pd.read_csv(path, na_values=list(missing), keep_default_na=True, skipinitialspace=True))
    except Exception as exc:  # a file that is not what its name says: one line, exit 2
        raise DataError(f"{path}: cannot be read as {kind}: {str(exc).splitlines()[0] if str(exc) else exc}") \
            from None
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype):
            text = frame[column].astype("string").str.strip()
            frame[column] = text.mask(text.isin(list(missing))).astype(object).where(text.notna(), None)
    if len(frame) == 0:
        raise DataError(f"{path}: the batch has no rows")
    return Batch(path, frame, sha256_file(path), _window(frame, path, window_column, window))


def _window(frame: pd.DataFrame, path: Path, column: str | None, given: str | None) -> dict[str, Any]:
    if column is None:
        return {"label": given} if given is not None else {}
    if column not in frame.columns:
        raise DataError(f"{path}: no column {column!r} for --window-column; columns are: {', '.join(frame.columns)}")
    values = frame[column].dropna()
    if len(values) == 0:
        raise DataError(f"{path}: column {column!r} has no values to take the time window from")
    start, end = values.min(), values.max()
    return {"column": column, "start": _plain(start), "end": _plain(end),
            **({"label": given} if given is not None else {})}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, int | float | str) else str(value)


def labels(frame: pd.DataFrame, *, target: str, positive: str | None) -> NDArray[np.bool_] | None:
    """The batch's labels as booleans (True = positive), or None when it has none (no column, or all missing)."""
    if target not in frame.columns or positive is None or frame[target].notna().sum() == 0:
        return None
    if frame[target].isna().any():
        raise DataError(f"column {target!r}: {int(frame[target].isna().sum())} rows have no label; give a batch "
                        "with every label or none")
    return np.asarray(label_text(frame[target]) == str(positive), dtype=bool)


def checked_artifact(artifact: Mapping[str, Any] | None, *, whose: str = "the champion"
                     ) -> tuple[bytes, dict[str, Any]]:
    """The `model.onnx` bytes and input schema of `whose` artifact (the champion's, or a challenger's), each
    checked against the SHA-256 the trail recorded."""
    if not artifact or not artifact.get("path"):
        raise MonitorError(f"{whose} has no packaged ONNX artifact to score the batch with",
                           hint="name a candidate whose serving evidence holds an artifact")
    folder, files = Path(artifact["path"]), artifact.get("files") or {}
    loaded: dict[str, bytes] = {}
    for name in ("model.onnx", "input_schema.json"):
        path = folder / name
        if not path.is_file():
            raise MonitorError(f"{path}: the artifact file of {whose} is missing",
                               hint="restore the artifacts folder the audit wrote")
        data = path.read_bytes()
        if sha256_bytes(data) != (files.get(name) or {}).get("sha256"):
            raise MonitorError(f"{path}: SHA-256 differs from the one recorded at audit time; the artifact was "
                               "changed after approval", hint="restore the approved artifact; never score with "
                                                              "a changed one")
        loaded[name] = data
    return loaded["model.onnx"], json.loads(loaded["input_schema.json"])


def score_batch(model: bytes, schema: Mapping[str, Any], frame: pd.DataFrame) -> NDArray[np.float64]:
    """The artifact's probabilities for every row (onnxruntime, CPU)."""
    from engine.serving.measure import score, session
    from engine.serving.schema import feeds

    return score(session(model, threads=1), feeds(schema, frame))
