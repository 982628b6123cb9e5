"""Loading the audited data through DuckDB, and fingerprinting it.

CSV and Parquet are read by DuckDB (fast, typed, streaming). Text cells are trimmed and the spec's missing
markers become NULL. Every problem that makes the file unusable for the audit's task (missing or empty
file, unknown column, one label, an ambiguous positive label, a target that fits no task: `engine.tasks`) is
a `DataError` naming the file, raised before anything is trained or recorded. The file's SHA-256 and schema
go into the trail.
Which rows train and which test is decided in `engine.split`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates import Features
from engine.canonical import sha256_file
from engine.errors import DataError
from engine.spec import DataSpec
from engine.tasks import Target, read_target, same_classes

READERS = {
    ".csv": "read_csv", ".tsv": "read_csv", ".txt": "read_csv", ".parquet": "read_parquet", ".pq": "read_parquet",
}
BOOLEAN_LABELS = ({"0", "1"}, {"false", "true"})
MIN_ROWS_PER_CLASS = 10
MAX_LABELS_SHOWN = 5


@dataclass(frozen=True)
class Dataset:
    """The rows with a known label: raw columns, labels and how they were read.

    `y` holds booleans (True = positive) for a binary task, class codes into `classes` for a multiclass one and
    float64 values for a regression; the positive and negative labels are empty unless the task is binary."""

    frame: pd.DataFrame
    y: NDArray[Any]
    positive_label: str
    negative_label: str
    features: Features
    sensitive: tuple[str, ...]
    fingerprint: dict[str, Any]
    schema: list[dict[str, Any]]
    notes: list[str]
    task: str = "binary"
    classes: tuple[str, ...] = ()
    task_inferred: str | None = None  # why the task was inferred from the target; None when the spec named it


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read(path: Path, spec: DataSpec) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Read through DuckDB; text cells trimmed and missing markers NULL; a CSV's target kept as text."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use CSV or Parquet")
    params: dict[str, Any] = {"path": str(path)}
    source = "read_parquet($path)" if reader == "read_parquet" else "read_csv($path, header=true)"
    con = duckdb.connect()
    try:
        if reader == "read_csv":
            names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}", params).fetchall()]
            if spec.target not in names:  # checked here, before DuckDB is asked to type the target column
                raise DataError(f"{path}: no column {spec.target!r}; columns are: {', '.join(names)}")
            # nullstr lets type detection see numbers through the markers; the target stays text so that
            # yes/no or T/F labels keep their names instead of becoming booleans.
            params["types"] = {spec.target: "VARCHAR"}
            if spec.missing_values:
                params["missing"] = list(spec.missing_values)
                source = "read_csv($path, header=true, nullstr=$missing, types=$types)"
            else:
                source = "read_csv($path, header=true, types=$types)"
        columns = con.execute(f"DESCRIBE SELECT * FROM {source}", params).fetchall()
        refuse_unusable_columns(path, header_names(con, path, reader), columns)
        select = []
        for name, sql_type, *_ in columns:
            if sql_type == "VARCHAR":
                trimmed = f"trim({_quote(name)})"
                select.append(f"CASE WHEN list_contains($missing, {trimmed}) THEN NULL ELSE {trimmed} END")
            else:
                select.append(_quote(name))
        renamed = ", ".join(f"{expr} AS {_quote(col[0])}" for expr, col in zip(select, columns, strict=True))
        needs_markers = "missing" in params or any(col[1] == "VARCHAR" for col in columns)
        query_params = {**params, "missing": list(spec.missing_values)} if needs_markers else params
        frame = con.execute(f"SELECT {renamed} FROM {source}", query_params).df()
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot be read as {reader.removeprefix('read_')}: {first_line}") from None
    finally:
        con.close()
    schema = [{"name": name, "type": sql_type} for name, sql_type, *_ in columns]
    return frame, schema


def header_names(con: duckdb.DuckDBPyConnection, path: Path, reader: str) -> list[str]:
    """The column names as the file writes them (DuckDB renames a repeated name `sex` to `sex_1`)."""
    if reader == "read_parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    row = con.execute("SELECT * FROM read_csv($path, header=false, all_varchar=true) LIMIT 1",
                      {"path": str(path)}).fetchone()
    return [str(name).strip() for name in row or ()]


NESTED_TYPES = ("STRUCT", "MAP", "UNION")


def refuse_unusable_columns(path: Path, names: list[str], columns: list[Any]) -> None:
    """Refuse a repeated column name and a nested or list column (neither can be a feature that means one thing)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(f"{path}: column {name!r} appears more than once; give each column one name")
        seen.add(name)
    for name, sql_type, *_ in columns:
        if str(sql_type).endswith("]") or str(sql_type).startswith(NESTED_TYPES):
            raise DataError(f"{path}: column {name!r} holds nested values ({sql_type}); mlgate reads flat columns "
                            "only: flatten it or leave it out")


def label_text(values: pd.Series) -> pd.Series:
    """Labels as text, so 1, 1.0, "1" and True/true compare the way a user means them."""
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "true", False: "false"})
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype(np.float64)
        if bool(np.all(np.equal(np.mod(numbers, 1), 0))):
            return numbers.astype(np.int64).astype(str)
        return numbers.astype(str)
    return values.astype(str).str.strip()


def _positive(labels: list[str], wanted: str | int | bool | None, where: str) -> str:
    if wanted is not None:
        text = label_text(pd.Series([wanted])).iloc[0]
        matches = [label for label in labels if label == text] or [
            label for label in labels if label.casefold() == text.casefold()
        ]
        if len(matches) != 1:
            raise DataError(f"{where}: positive label {wanted!r} is not one of the labels found: {labels}")
        return matches[0]
    folded = {label.casefold() for label in labels}
    for pair in BOOLEAN_LABELS:
        if folded == pair:
            return next(label for label in labels if label.casefold() in ("1", "true"))
    raise DataError(
        f"{where}: labels are {labels}; say which one is positive",
        hint="--positive VALUE, or data.positive in the spec",
    )


def _features(frame: pd.DataFrame, spec: DataSpec, where: str) -> tuple[Features, list[str]]:
    notes: list[str] = []
    if spec.features is not None:
        if spec.target in spec.features:
            raise DataError(f"{where}: the target {spec.target!r} cannot also be a feature")
        names = list(spec.features)
    else:
        excluded = {spec.target} | (set() if spec.include_sensitive else set(spec.sensitive))
        names = [c for c in frame.columns if c not in excluded]
    empty = [c for c in names if frame[c].isna().all()]
    if empty:
        notes.append(f"features with no values dropped: {', '.join(empty)}")
        names = [c for c in names if c not in empty]
    if not names:
        raise DataError(f"{where}: no usable feature columns (after excluding the target and sensitive columns)")
    numeric = tuple(
        c for c in names if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    )
    categorical = tuple(c for c in names if c not in numeric)
    return Features(numeric=numeric, categorical=categorical), notes


def load_dataset(spec: DataSpec) -> Dataset:
    """Read, check and label the data file named by the spec, or raise `DataError`."""
    path = spec.path
    if path.is_dir():
        raise DataError(f"{path}: a folder, not a data file; give a CSV or Parquet file")
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: data file is empty")
    frame, schema = _read(path, spec)
    where = str(path)
    if frame.empty:
        raise DataError(f"{where}: data file has a header but no rows")
    wanted = [spec.target, *spec.sensitive, *(spec.features or ())]
    unknown = [c for c in dict.fromkeys(wanted) if c not in frame.columns]
    if unknown:
        shown = ", ".join(repr(c) for c in unknown)
        raise DataError(f"{where}: no column {shown}; columns are: {', '.join(map(str, frame.columns))}")

    if spec.target in spec.sensitive:
        raise DataError(f"{where}: the target {spec.target!r} cannot also be a sensitive column")
    notes: list[str] = []
    known = frame[spec.target].notna()
    if not known.all():
        notes.append(f"{int((~known).sum())} rows without a {spec.target!r} label left out")
        frame = frame.loc[known].reset_index(drop=True)
    labels_text = label_text(frame[spec.target])
    task = "binary" if spec.task is None and spec.positive is not None else spec.task  # a positive label: binary
    target = None if task == "binary" else read_target(frame[spec.target], labels_text, task,
                                                        where=where, target=spec.target)
    if target is not None:
        return _dataset(frame, spec, schema, notes, target)
    labels: list[str] = sorted(labels_text.unique().tolist())
    if len(labels) != 2:
        listed = [*labels[:MAX_LABELS_SHOWN], *(["..."] if len(labels) > MAX_LABELS_SHOWN else [])]
        raise DataError(
            f"{where}: target {spec.target!r} has {len(labels)} distinct labels {listed}; "
            "a binary audit needs exactly 2", hint="--task multiclass or --task regression for other targets",
        )
    positive = _positive(labels, spec.positive, where)
    negative = next(label for label in labels if label != positive)
    y = (labels_text == positive).to_numpy()
    smallest = int(min(y.sum(), (~y).sum()))
    if smallest < MIN_ROWS_PER_CLASS:
        raise DataError(
            f"{where}: only {smallest} rows of one label; at least {MIN_ROWS_PER_CLASS} of each are needed to split"
        )
    inferred = "two labels" if spec.task is None else None
    return replace(_dataset(frame, spec, schema, notes, Target("binary", y, (negative, positive), inferred)),
                   positive_label=positive, negative_label=negative)


def _dataset(frame: pd.DataFrame, spec: DataSpec, schema: list[dict[str, Any]], notes: list[str],
             target: Target) -> Dataset:
    """The checked rows with their target; the sensitive bins and features checked too."""
    path, where = spec.path, str(spec.path)
    for column in spec.sensitive_bins:
        if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
            raise DataError(f"{where}: sensitive_bins names {column!r}, which is not a numeric column")
    features, feature_notes = _features(frame, spec, where)
    fingerprint = {"path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size, "rows": len(frame)}
    return Dataset(
        frame=frame,
        y=target.y,
        positive_label="",
        negative_label="",
        features=features,
        sensitive=spec.sensitive,
        fingerprint=fingerprint,
        schema=schema,
        notes=notes + feature_notes,
        task=target.task,
        classes=target.classes if target.task == "multiclass" else (),
        task_inferred=target.inferred,
    )


def matching(other: Dataset, dataset: Dataset, path: Path, what: str) -> Dataset:
    """`other` (a training or test file read like the data) if it has the data's features and labels, else a
    `DataError` naming its file."""
    missing = [c for c in dataset.features.all if c not in other.frame.columns]
    if missing:
        raise DataError(f"{path}: the {what} data lacks feature column(s) {', '.join(map(repr, missing))}")
    same_classes(dataset.classes, other.classes, where=str(path))
    if other.positive_label != dataset.positive_label or other.negative_label != dataset.negative_label:
        raise DataError(f"{path}: labels {[other.negative_label, other.positive_label]} differ from the data's "
                        f"{[dataset.negative_label, dataset.positive_label]}")
    return other


def load_training_file(spec: DataSpec, dataset: Dataset) -> Dataset | None:
    """The training data file (`data.train_path`), read like the data and checked against it; or None."""
    path = spec.train_path
    if path is None:
        return None
    train = load_dataset(replace(spec, path=path, train_path=None, sensitive=(), sensitive_bins={}, task=dataset.task))
    return matching(train, dataset, path, "training")


def load_test_file(spec: DataSpec, test_path: Path | None, dataset: Dataset) -> Dataset | None:
    """The test file the team keeps apart (`split.test_path`), read like the data and checked against it; or None.

    It carries the features, the target and the sensitive columns (its groups are judged too)."""
    if test_path is None:
        return None
    return matching(load_dataset(replace(spec, path=test_path, train_path=None, task=dataset.task)), dataset,
                    test_path, "test")


def with_test_rows(dataset: Dataset, test: Dataset | None) -> Dataset:
    """The data with the kept-apart test file's rows appended (the split makes them the test part, alone)."""
    if test is None:
        return dataset
    columns = list(dataset.frame.columns)
    appended = test.frame.reindex(columns=columns)
    frame = pd.concat([dataset.frame, appended], ignore_index=True)
    notes = [*dataset.notes, f"test rows from the kept-apart file {test.fingerprint['path']} ({len(test.y)} rows)"]
    return replace(dataset, frame=frame, y=np.concatenate([dataset.y, test.y]), notes=notes)
