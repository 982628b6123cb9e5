"""The split strategies beyond the default stratified one: random, time, group, and a test file kept apart.

A split is a decision the trail records, so each strategy returns its parts with a record of how it cut them:
the time boundaries of a time split (rows that share a time value always land on the same side, so no test row
is older than a training row), the number of groups per part of a group split (each group lands in exactly one
part, stratified by its majority label where the groups allow). A column that cannot serve (a time column that
does not parse, a group column with one group) is refused with a `DataError` naming the file and the column,
before anything is trained or written. `time_values` is also what the forward-chaining cross-validation folds
(`engine.evaluation.cv`) and the time-overlap check (`engine.evaluation.integrity`) order rows by.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from engine.errors import DataError
from engine.spec import SplitSpec

Rows = NDArray[np.intp]
Parts = tuple[Rows, Rows, Rows, dict[str, Any]]
MAX_SHOWN = 3


def column_of(frame: pd.DataFrame, column: str, *, where: str, what: str) -> pd.Series:
    """The split's column, or a `DataError` naming the file and the column."""
    if column not in frame.columns:
        raise DataError(f"{where}: no {what} column {column!r}; columns are: {', '.join(map(str, frame.columns))}")
    return frame[column]


def time_values(frame: pd.DataFrame, column: str, *, where: str) -> tuple[NDArray[np.float64], str]:
    """Each row's time as a number (dates as nanoseconds), and its kind ("number" or "datetime"); refuses a column
    with missing times, booleans or text that does not parse as a date."""
    series = column_of(frame, column, where=where, what="time")
    if series.isna().any():
        raise DataError(f"{where}: time column {column!r} has {int(series.isna().sum())} rows without a time; "
                        "a time split needs every row's time")
    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"{where}: time column {column!r} holds true/false values, not times")
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=np.float64), "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return np.asarray(series.astype("int64").to_numpy(), dtype=np.float64), "datetime"
    parsed = pd.to_datetime(series.astype(str), errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        shown = ", ".join(repr(v) for v in series[bad].unique()[:MAX_SHOWN])
        raise DataError(f"{where}: time column {column!r} does not parse as times ({int(bad.sum())} rows, such as "
                        f"{shown}); give numbers or ISO dates")
    return np.asarray(parsed.astype("int64").to_numpy(), dtype=np.float64), "datetime"


def shown_time(value: float, kind: str) -> str | float:
    """A boundary as the trail and the card show it: a number, or an ISO date-time."""
    if kind == "datetime":
        return pd.Timestamp(int(value)).isoformat()
    return int(value) if float(value).is_integer() else float(value)


def by_time(times: NDArray[np.float64], rows: Rows, cuts: list[float]) -> list[Rows]:
    """`rows` cut in time order into len(cuts) + 1 parts at the cumulative row fractions `cuts`; all rows of one
    time value fall in the part where that value starts."""
    if rows.size == 0:
        return [rows for _ in range(len(cuts) + 1)]
    _, inverse, counts = np.unique(times[rows], return_inverse=True, return_counts=True)
    before = (np.cumsum(counts) - counts) / rows.size
    part = np.searchsorted(np.asarray(cuts), before, side="right")[inverse]
    return [np.sort(rows[part == index]) for index in range(len(cuts) + 1)]


def by_group(codes: NDArray[np.intp], y: NDArray[np.bool_], rows: Rows, cuts: list[float], seed: int) -> list[Rows]:
    """`rows` cut into len(cuts) + 1 parts by whole groups, in a seeded random order within each majority label,
    at the cumulative row fractions `cuts` of each label's rows."""
    local = codes[rows]
    n_groups = int(local.max()) + 1 if local.size else 0
    sizes = np.bincount(local, minlength=n_groups)
    positive = np.bincount(local, weights=y[rows].astype(np.float64), minlength=n_groups) * 2 >= sizes
    order = np.lexsort((np.random.default_rng(seed).permutation(n_groups), positive))
    part_of_group = np.zeros(n_groups, dtype=np.intp)
    for label in (False, True):
        members = order[(positive[order] == label) & (sizes[order] > 0)]
        total = max(int(sizes[members].sum()), 1)
        before = (np.cumsum(sizes[members]) - sizes[members]) / total
        part_of_group[members] = np.searchsorted(np.asarray(cuts), before, side="right")
    part = part_of_group[local]
    return [np.sort(rows[part == index]) for index in range(len(cuts) + 1)]


def group_codes(frame: pd.DataFrame, column: str, *, where: str) -> NDArray[np.intp]:
    """Each row's group as an integer code (a missing value is one group of its own); refuses one group."""
    codes, uniques = pd.factorize(column_of(frame, column, where=where, what="group"), use_na_sentinel=False)
    if len(uniques) < 2:
        raise DataError(f"{where}: group column {column!r} has {len(uniques)} group only; a group split needs "
                        "several groups (one per entity)")
    return np.asarray(codes, dtype=np.intp)


def shares(spec: SplitSpec, *, holdout: bool, own_test: bool) -> list[float]:
    """The cumulative fractions where the parts of the pool end, gaps included (train, gap, validation, gap,
    test; or validation, gap, test for a holdout; a test file kept apart leaves train, gap, validation)."""
    gap = spec.gap
    if own_test:
        validation = 1.0 if holdout else spec.validation / (1 - spec.test)
        return [] if holdout else [1 - validation - gap, 1 - validation]
    if holdout:
        return [spec.validation, spec.validation + gap]
    train = 1 - spec.test - spec.validation - 2 * gap
    return [train, train + gap, train + gap + spec.validation, train + 2 * gap + spec.validation]


def named_parts(cut: list[Rows], *, holdout: bool, own_test: Rows | None) -> tuple[Rows, Rows, Rows]:
    """The pieces of a cut pool (gaps dropped) as train, validation and test."""
    empty = np.zeros(0, dtype=np.intp)
    pieces = cut[::2]  # the gaps sit between the parts
    if own_test is not None:
        return (empty, pieces[0], own_test) if holdout else (pieces[0], pieces[1], own_test)
    return (empty, pieces[0], pieces[1]) if holdout else (pieces[0], pieces[1], pieces[2])


def random_parts(y: NDArray[np.bool_], pool: Rows, spec: SplitSpec, *, holdout: bool, own_test: Rows | None,
                 stratify: bool) -> tuple[Rows, Rows, Rows]:
    """A seeded random split of the pool (stratified by label or not), the same recipe as the default split."""
    empty = np.zeros(0, dtype=np.intp)
    labels = y[pool] if stratify else None
    if own_test is not None:
        if holdout:
            return empty, pool, own_test
        train, validation = train_test_split(pool, test_size=spec.validation / (1 - spec.test), stratify=labels,
                                             random_state=spec.seed)
        return np.sort(train), np.sort(validation), own_test
    if holdout:
        test, validation = train_test_split(pool, test_size=spec.validation, stratify=labels, random_state=spec.seed)
        return empty, np.sort(validation), np.sort(test)
    rest, test = train_test_split(pool, test_size=spec.test, stratify=labels, random_state=spec.seed)
    train, validation = train_test_split(rest, test_size=spec.validation / (1 - spec.test),
                                         stratify=y[rest] if stratify else None, random_state=spec.seed)
    return np.sort(train), np.sort(validation), np.sort(test)


def check_parts(y: NDArray[np.bool_], parts: dict[str, Rows], *, where: str, strategy: str) -> None:
    """Every part that exists holds both labels, or the split is refused."""
    for name, rows in parts.items():
        if rows.size == 0 or bool(y[rows].all()) or not bool(y[rows].any()):
            raise DataError(f"{where}: the {strategy} split leaves the {name} part with {rows.size} rows and "
                            f"{'not both labels' if rows.size else 'no rows'}",
                            hint="use other split fractions, more rows, or another strategy")


def time_record(times: NDArray[np.float64], kind: str, parts: dict[str, Rows], spec: SplitSpec) -> dict[str, Any]:
    """The boundaries of a time split: the first and last time of each part."""
    bounds = {name: {"from": shown_time(float(times[rows].min()), kind), "to": shown_time(float(times[rows].max()),
                                                                                          kind)}
              for name, rows in parts.items() if rows.size}
    return {"time_column": spec.time_column, "time_kind": kind, "gap": spec.gap, "boundaries": bounds}


def group_record(codes: NDArray[np.intp], parts: dict[str, Rows], spec: SplitSpec) -> dict[str, Any]:
    """How many groups each part holds, and how many groups appear in more than one part (0 by construction,
    unless a test file kept apart shares entities with the data)."""
    seen = [np.unique(codes[rows]) for rows in parts.values()]
    counts = np.bincount(np.concatenate(seen), minlength=int(codes.max()) + 1) if seen else np.zeros(0)
    return {"group_column": spec.group_column, "groups": {name: int(s.size) for name, s in zip(parts, seen,
                                                                                             strict=True)},
            "groups_in_several_parts": int((counts > 1).sum())}


def strategy_split(frame: pd.DataFrame, y: NDArray[np.bool_], spec: SplitSpec, *, holdout: bool, own_test: int,
                   where: str) -> Parts:
    """Train, validation and test rows of `frame` under `spec.strategy` (the last `own_test` rows are a test file
    kept apart), with the split's record; raises `DataError` when the data cannot be split that way."""
    rows = np.arange(len(frame), dtype=np.intp)
    pool, kept = (rows[: rows.size - own_test], rows[rows.size - own_test:]) if own_test else (rows, None)
    cuts = shares(spec, holdout=holdout, own_test=kept is not None)
    record: dict[str, Any] = {"strategy": spec.strategy}
    if spec.strategy == "time":
        times, kind = time_values(frame, str(spec.time_column), where=where)
        train, validation, test = named_parts(by_time(times, pool, cuts), holdout=holdout, own_test=kept)
        parts = {"train": train, "validation": validation, "test": test}
        record |= time_record(times, kind, parts, spec)
    elif spec.strategy == "group":
        codes = group_codes(frame, str(spec.group_column), where=where)
        train, validation, test = named_parts(by_group(codes, y, pool, cuts, spec.seed), holdout=holdout,
                                              own_test=kept)
        record |= group_record(codes, {"train": train, "validation": validation, "test": test}, spec)
    else:
        try:
            train, validation, test = random_parts(y, pool, spec, holdout=holdout, own_test=kept,
                                                   stratify=spec.strategy == "stratified")
        except ValueError:
            raise DataError(f"{where}: {pool.size} labelled rows cannot be split {spec.strategy}ly into the parts "
                            "asked for with both labels in each", hint="use larger split fractions or more rows"
                            ) from None
    checked = {"validation": validation, "test": test, **({} if holdout else {"train": train})}
    check_parts(y, checked, where=where, strategy=spec.strategy)
    if kept is not None:
        record["test_file"] = True
    return train, validation, test, record
