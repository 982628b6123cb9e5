"""Conformalized quantile regression (CQR): prediction intervals whose width follows the rows, per group.

Split-conformal intervals (`conformal_regression`) are the candidate's prediction ± one width for every row. CQR
(Romano et al., 2019) learns the spread instead: MAPIE's `ConformalizedQuantileRegressor` fits
HistGradientBoosting quantile models (lower, upper and median quantile of the target) on the training split,
conformalizes them on the validation split and predicts an interval per test row at each confidence level of the
spec (one fit per level: the quantiles depend on it). The intervals are a property of the data and the feature
columns, not of one candidate, so they are computed once per run (`cqr_once`) and shown beside every
candidate's split-conformal intervals: a group whose CQR intervals miss or widen is one whose target is harder to
bound whatever model predicts it. Coverage and mean width are read overall and per sensitive group, as for the
split intervals. HistGradientBoosting's OpenMP threads are capped (threadpoolctl) so that the fits do not
oversubscribe the cores the other stages share.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates.base import Features, categorical_frame
from engine.evaluation.conformal import conformal_section
from engine.evaluation.conformal_regression import interval_level
from engine.evaluation.groups import Grouping

FloatArray = NDArray[np.float64]
KIND = "cqr"
METHOD = ("conformalized quantile regression (MAPIE ConformalizedQuantileRegressor, HistGradientBoosting quantile "
          "models fitted on the training split, conformalized on the validation split; the same intervals for every "
          "candidate of the run)")
MAX_THREADS = 4
MAX_CATEGORIES = 255  # HistGradientBoosting's limit for a categorical column; more: its codes are read as numbers


def threads() -> int:
    """How many OpenMP threads the quantile models may use: half the cores this process may run on, at most
    `MAX_THREADS` (OpenMP threads that outnumber free cores spin and wait: ten times slower on a busy machine)."""
    return max(1, min(MAX_THREADS, len(os.sched_getaffinity(0)) // 2))


@dataclass(frozen=True)
class QuantileDesign:
    """The feature columns as HistGradientBoosting reads them: numbers, and categoricals as codes of the training
    split's categories (unseen or missing: NaN), with the mask of the columns read as categories."""

    features: Features
    categories: dict[str, list[str]]

    @classmethod
    def fit(cls, x_train: pd.DataFrame, features: Features) -> QuantileDesign:
        frame = categorical_frame(x_train, features)
        return cls(features, {c: sorted(frame[c].dropna().unique().tolist()) for c in features.categorical})

    def transform(self, x: pd.DataFrame) -> FloatArray:
        frame = categorical_frame(x, self.features)
        columns = [frame[c].to_numpy(dtype=np.float64) for c in self.features.numeric]
        for c in self.features.categorical:
            codes = pd.Index(self.categories[c]).get_indexer(pd.Index(frame[c])).astype(np.float64)
            columns.append(np.where(codes < 0, np.nan, codes))
        return np.column_stack(columns) if columns else np.empty((len(x), 0))

    @property
    def categorical_mask(self) -> NDArray[np.bool_]:
        return np.array([False] * len(self.features.numeric)
                        + [len(self.categories[c]) <= MAX_CATEGORIES for c in self.features.categorical], dtype=bool)


def quantile_model(design: QuantileDesign, seed: int) -> Any:
    """The HistGradientBoosting regressor MAPIE turns into the three quantile models."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    mask = design.categorical_mask
    return HistGradientBoostingRegressor(loss="quantile", categorical_features=mask if mask.any() else None,
                                         random_state=seed)


def cqr_intervals(x_train: FloatArray, y_train: FloatArray, x_valid: FloatArray, y_valid: FloatArray,
                  x_test: FloatArray, *, level: float, model: Any) -> FloatArray:
    """(test rows, 2) lower and upper ends of each test row's CQR interval at `level`."""
    from mapie.regression import ConformalizedQuantileRegressor
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads(), user_api="openmp"):
        mapie = ConformalizedQuantileRegressor(model, confidence_level=level)
        mapie.fit(x_train, y_train).conformalize(x_valid, y_valid)
        _, intervals = mapie.predict_interval(x_test)
    return np.asarray(intervals, dtype=np.float64).reshape(-1, 2)


def cqr_evidence(x_train: pd.DataFrame, y_train: FloatArray, x_valid: pd.DataFrame, y_valid: FloatArray,
                 x_test: pd.DataFrame, test_y: FloatArray, *, features: Features, seed: int, levels: Sequence[float],
                 groupings: Sequence[Grouping], min_group_size: int) -> dict[str, Any]:
    """Coverage and mean width of the CQR intervals on the test split at each level, overall and per group."""
    started = time.perf_counter()
    design = QuantileDesign.fit(x_train, features)
    train, valid, test = (design.transform(x) for x in (x_train, x_valid, x_test))
    results = []
    for level in levels:
        bounds = cqr_intervals(train, np.asarray(y_train, dtype=np.float64), valid,
                               np.asarray(y_valid, dtype=np.float64), test, level=level,
                               model=quantile_model(design, seed))
        results.append(interval_level(level, bounds[:, 0], bounds[:, 1], test_y, groupings, min_group_size))
    section = conformal_section(METHOD, calibration_rows=len(y_valid), rows=test_y.size,
                                min_group_size=min_group_size, levels=results, started=started)
    return {"kind": KIND, "training_rows": len(y_train), **section}


@dataclass
class Once:
    """One value per key, computed at its first request: the run's CQR evidence, shared by its candidates."""

    key: Hashable = None
    found: Any = field(default=None)

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if self.key != key or self.found is None:
            self.key, self.found = key, compute()
        return self.found


cqr_once = Once()
