"""Task types: what kind of target an audit has, inferred from the data or given by the spec.

`binary` (two labels, one of them positive), `multiclass` (3 to `MAX_CLASSES` labels, text or integer) and
`regression` (a numeric target with more distinct values than a label set has, or non-integer numbers).
`read_target()` turns the target column into the labels every later stage uses: booleans (binary, True =
positive), class codes 0..k-1 in the order of `classes` (multiclass), or float64 values (regression). A target
that fits no task, or not the task the spec names, is a `DataError` naming the file: one line, exit 2.
The binary path (positive label, labels checked against a training or test file) stays in `engine.data`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.errors import DataError

TASKS = ("binary", "multiclass", "regression")
MAX_CLASSES = 50
MIN_ROWS_PER_CLASS = 10
MAX_LABELS_SHOWN = 5
# The metric a task's candidates are ranked by when the spec names none, and which way is better.
DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "rmse"}


@dataclass(frozen=True)
class Target:
    """The target as the audit uses it: the task, the labels per row and how the task was chosen."""

    task: str
    y: NDArray[Any]
    classes: tuple[str, ...]
    inferred: str | None  # why this task was inferred from the data; None when the spec named it


def shown(labels: list[str]) -> list[str]:
    return [*labels[:MAX_LABELS_SHOWN], *(["..."] if len(labels) > MAX_LABELS_SHOWN else [])]


def numeric_values(labels: pd.Series) -> NDArray[np.float64] | None:
    """The labels as numbers when every one is a finite number (text read from a CSV included), else None."""
    numbers = pd.to_numeric(labels, errors="coerce")
    if bool(numbers.isna().any()) or not np.all(np.isfinite(numbers.to_numpy(dtype=np.float64))):
        return None
    return np.asarray(numbers.to_numpy(dtype=np.float64), dtype=np.float64)


def infer_task(labels: list[str], numbers: NDArray[np.float64] | None, *, where: str, target: str) -> tuple[str, str]:
    """The task a target's distinct labels fit, with why; a `DataError` when they fit none."""
    count = len(labels)
    if count == 0:
        raise DataError(f"{where}: target {target!r} has no values (every row is missing)")
    if count == 1:
        raise DataError(f"{where}: target {target!r} has one label {labels}; an audit needs at least 2")
    if count == 2:
        return "binary", "two labels"
    integers = numbers is not None and bool(np.all(np.equal(np.mod(numbers, 1), 0)))
    if numbers is not None and (not integers or count > MAX_CLASSES):
        kind = "numbers" if not integers else f"integers, more than {MAX_CLASSES}"
        return "regression", f"numeric target with {count} distinct values ({kind})"
    if count <= MAX_CLASSES:
        return "multiclass", f"{count} {'integer' if integers else 'text'} labels"
    raise DataError(f"{where}: target {target!r} has {count} distinct text labels {shown(labels)}; a multiclass "
                    f"audit takes at most {MAX_CLASSES}", hint="give a numeric target to audit a regression")


def read_target(values: pd.Series, text: pd.Series, task: str | None, *, where: str, target: str) -> Target | None:
    """The target of a multiclass or regression audit; None when the task is (or is inferred to be) binary.

    `values` are the known target cells as read, `text` the same as label text (`engine.data.label_text`)."""
    labels: list[str] = sorted(text.unique().tolist())
    numbers = numeric_values(values)
    inferred, why = infer_task(labels, numbers, where=where, target=target) if task is None else (task, None)
    if inferred == "binary":
        return None
    if inferred == "regression":
        if numbers is None:
            bad = next(str(v) for v, n in zip(values, pd.to_numeric(values, errors="coerce"), strict=True)
                       if pd.isna(n))
            raise DataError(f"{where}: target {target!r} is not numeric ({bad!r}); a regression needs numbers",
                            hint="--task multiclass for labels")
        if len(labels) < 2:
            raise DataError(f"{where}: target {target!r} is constant; a regression needs varying values")
        return Target("regression", numbers, (), why)
    return Target("multiclass", class_codes(text, labels, where=where, target=target), tuple(labels), why)


def class_codes(text: pd.Series, labels: list[str], *, where: str, target: str) -> NDArray[np.int64]:
    """Each row's class as its position in the sorted labels; refuses label sets a multiclass audit cannot take."""
    if not 3 <= len(labels) <= MAX_CLASSES:
        more = "use --task binary for two labels" if len(labels) == 2 else f"at most {MAX_CLASSES}"
        raise DataError(f"{where}: target {target!r} has {len(labels)} distinct labels {shown(labels)}; a "
                        f"multiclass audit needs 3 to {MAX_CLASSES}", hint=more)
    codes = pd.Categorical(text, categories=labels).codes.astype(np.int64)
    counts = np.bincount(codes, minlength=len(labels))
    if counts.min() < MIN_ROWS_PER_CLASS:
        rare = labels[int(counts.argmin())]
        raise DataError(f"{where}: only {int(counts.min())} rows of label {rare!r}; at least {MIN_ROWS_PER_CLASS} of "
                        "each are needed to split", hint="merge rare labels, or leave their rows out")
    return codes


def same_classes(classes: tuple[str, ...], other: tuple[str, ...], *, where: str) -> None:
    """A training or test file's classes must be the data's (class codes mean the same in both)."""
    if classes != other:
        raise DataError(f"{where}: labels {shown(list(other))} differ from the data's {shown(list(classes))}")
