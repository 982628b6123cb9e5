"""The data's evidence of one audit, computed once in `prepare`: the split-integrity certificate and the
data-quality profile (`integrity.py`, `data_quality.py`, over the feature columns read once by `columns.py`),
stored in every candidate's evidence under `split_integrity` and `data_quality`. A multiclass or regression
target's conflicts, leakage screen and shift between the parts come from `target_checks.py`. A part that fails is
stored as its error, so its rules are `unknown`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from engine.data import Dataset
from engine.evaluation.columns import read_columns
from engine.evaluation.data_quality import data_quality
from engine.evaluation.integrity import SplitRows, split_integrity
from engine.evaluation.target_checks import label_shift, task_integrity
from engine.spec import AuditSpec
from engine.split import Splits
from engine.split_strategies import time_values


def data_checks(spec: AuditSpec, dataset: Dataset, splits: Splits, test_file: Dataset | None) -> dict[str, Any]:
    """{"split_integrity": ..., "data_quality": ...} for the audit's rows (each may be {"error": ...})."""
    task = dataset.task
    frame, y, where = dataset.frame, dataset.y, str(spec.data.path)
    parts = SplitRows(splits.train, splits.validation, splits.test)
    column = spec.split.time_column
    times = time_values(frame, column, where=where)[0] if column is not None else None
    evidence: dict[str, Any] = {}
    columns = read_columns(frame, dataset.features)  # read once, for both
    try:
        certify = split_integrity if task == "binary" else partial(task_integrity, task=task)
        evidence["split_integrity"] = {
            "strategy": spec.split.strategy, "sizes": splits.sizes(),
            **certify(frame, y, parts, dataset.features, data_sha256=dataset.fingerprint.get("sha256"),
                      seed=spec.split.seed, time_values=times, time_column=column,
                      group_column=spec.split.group_column, columns=columns)}
    except Exception as exc:  # evidence that cannot be computed leaves its rules unknown, never a pass
        evidence["split_integrity"] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        rows = {"train": splits.train, "validation": splits.validation, "test": splits.test}
        quality = data_quality(frame, y, rows, dataset.features, seed=spec.split.seed, data_schema=dataset.schema,
                               test_schema=test_file.schema if test_file is not None else None, time_column=column,
                               columns=columns)
        if task != "binary":  # the positive rate has no meaning here: the target's own shift instead
            quality.pop("label_balance", None)
            quality["label_shift"] = label_shift(y, rows, task=task)
        evidence["data_quality"] = quality
    except Exception as exc:  # as above
        evidence["data_quality"] = {"error": f"{type(exc).__name__}: {exc}"}
    return evidence
