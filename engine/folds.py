"""The cross-validation folds of an audit (`split.folds = K`): K train / held-out pairs of the development rows.

Cross-validation is stability evidence, never the final estimate: the folds cut only the development rows (the
training and validation parts); the test part stays untouched. The folds follow the split's strategy, through
scikit-learn's own splitters on the same seed, so a fold here is exactly the splitter's fold:

- `stratified`: `StratifiedKFold(K, shuffle=True, random_state=seed)` on the labels;
- `random`: `KFold(K, shuffle=True, random_state=seed)`;
- `group`: `StratifiedGroupKFold(K, shuffle=True, random_state=seed)` on the groups as integer codes in order of
  appearance: no group on both sides of a fold;
- `time`: forward chaining, `TimeSeriesSplit(K)` over the rows in time order; a fold trains only on rows strictly
  older than its first held-out row (rows sharing a time value never straddle it; without ties this is exactly
  the splitter's fold).

Folds that cannot be cut (fewer groups than folds, a fold without both labels) are refused with a `DataError`
naming the file and `split.folds`, before anything is trained or written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold, TimeSeriesSplit

from engine.errors import DataError
from engine.spec import SplitSpec
from engine.split_strategies import group_codes, time_values

Rows = NDArray[np.intp]


@dataclass(frozen=True)
class Fold:
    """One fold: the development rows it trains on and the ones it holds out (positions in the frame)."""

    train: Rows
    held_out: Rows

    def record(self) -> dict[str, int]:
        return {"train_rows": int(self.train.size), "rows": int(self.held_out.size)}


def splitter_folds(frame: pd.DataFrame, y: NDArray[np.bool_], development: Rows, spec: SplitSpec, *,
                   where: str) -> list[tuple[Rows, Rows]]:
    """The splitter's (train, held-out) positions into `development`, for `spec.strategy` (see the docstring)."""
    k, seed, labels = int(spec.folds or 0), spec.seed, y[development]
    if spec.strategy == "time":
        times = time_values(frame, str(spec.time_column), where=where)[0][development]
        order = np.argsort(times, kind="stable")
        chained = []
        for train, held in TimeSeriesSplit(n_splits=k).split(order):
            start = times[order[held]].min()
            chained.append((order[train][times[order[train]] < start], order[held]))
        return chained
    if spec.strategy == "group":
        codes = group_codes(frame, str(spec.group_column), where=where)[development]
        splitter: Any = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        return list(splitter.split(development, labels, codes))
    if spec.strategy == "random":
        return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(development))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(development, labels))


def cv_folds(frame: pd.DataFrame, y: NDArray[np.bool_], development: Rows, spec: SplitSpec, *,
             where: str) -> tuple[Fold, ...]:
    """The audit's folds of the development rows, or () when the spec asks for none; raises `DataError` when they
    cannot be cut with both labels on both sides of every fold."""
    if not spec.folds:
        return ()
    try:
        pairs = splitter_folds(frame, y, development, spec, where=where)
    except ValueError as exc:
        raise DataError(f"{where}: split.folds = {spec.folds}: the {development.size} development rows cannot be cut "
                        f"into {spec.folds} {spec.strategy} folds ({exc})", hint="use fewer folds") from None
    folds = tuple(Fold(np.sort(development[train]), np.sort(development[held])) for train, held in pairs)
    for number, fold in enumerate(folds, start=1):
        for rows in (fold.train, fold.held_out):
            if rows.size == 0 or bool(y[rows].all()) or not bool(y[rows].any()):
                raise DataError(f"{where}: split.folds = {spec.folds}: fold {number} of the {spec.strategy} "
                                f"folds has {rows.size} rows on one side and not both labels",
                                hint="use fewer folds or more rows")
    return folds
