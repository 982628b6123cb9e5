"""Which rows train what, when an audit includes a model trained elsewhere; and the candidates, built up front.

An audit of external models only (or one given `data.train_path`) needs no training rows from the evaluated
file: it is split into a validation part (calibrators, and the baseline's class prior when no training data
is given) and a test part. With training data, the baseline and any trainable candidate are fitted on that
file instead. Every candidate is built, and every external model read and tried on the data, before the run
is recorded, so a bad model file fails with exit 2 and leaves nothing half-written.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.candidates import BASELINE, EXTERNAL, FAMILIES, Candidate, TrainingData
from engine.candidates.external import ExternalCandidate, bind_all
from engine.data import Dataset, Splits, load_dataset, split_holdout, split_rows
from engine.errors import DataError
from engine.spec import AuditSpec


def is_holdout(spec: AuditSpec) -> bool:
    """No training split is taken from the data: training data is given, or nothing but the baseline trains."""
    return spec.data.train_path is not None or all(c.family in (BASELINE, EXTERNAL) for c in spec.candidates)


def split(spec: AuditSpec, dataset: Dataset) -> Splits:
    return split_holdout(dataset.y, spec.split) if is_holdout(spec) else split_rows(dataset.y, spec.split)


def load_training_set(spec: AuditSpec, dataset: Dataset) -> Dataset | None:
    """The training data file (`data.train_path`), read like the data and checked against it; or None."""
    path = spec.data.train_path
    if path is None:
        return None
    train = load_dataset(replace(spec.data, path=path, train_path=None, sensitive=(), sensitive_bins={}))
    missing = [c for c in dataset.features.all if c not in train.frame.columns]
    if missing:
        raise DataError(f"{path}: the training data lacks feature column(s) {', '.join(map(repr, missing))}")
    if train.positive_label != dataset.positive_label or train.negative_label != dataset.negative_label:
        raise DataError(f"{path}: labels {[train.negative_label, train.positive_label]} differ from the data's "
                        f"{[dataset.negative_label, dataset.positive_label]}")
    return train


def training_data(spec: AuditSpec, dataset: Dataset, splits: Splits,
                  train: Dataset | None) -> tuple[TrainingData, dict[str, Any]]:
    """What the baseline and trainable candidates are fitted on, and the record of it for the trail."""
    frame = dataset.frame
    x_valid, y_valid = frame.iloc[splits.validation], dataset.y[splits.validation]
    if train is not None:
        x_train, y_train = train.frame, train.y
        record: dict[str, Any] = {"source": "training data file", "fingerprint": train.fingerprint}
    elif len(splits.train):
        x_train, y_train = frame.iloc[splits.train], dataset.y[splits.train]
        record = {"source": "training split of the data"}
    else:
        x_train, y_train = x_valid, y_valid
        record = {"source": "validation part of the data (no training data was given): the baseline's class prior "
                            "is taken from it"}
    training = TrainingData(x_train=x_train, y_train=y_train, x_valid=x_valid, y_valid=y_valid,
                            features=dataset.features, seed=spec.split.seed)
    return training, {**record, "rows": len(y_train)}


def build_candidates(spec: AuditSpec, dataset: Dataset) -> dict[str, Candidate]:
    """Every candidate of the spec, built; external models read and bound to the data (raises `ModelError`)."""
    models = {
        c.name: ExternalCandidate(c.params) if c.family == EXTERNAL else FAMILIES[c.family].build(c.params)
        for c in spec.candidates
    }
    bind_all(models, dataset.frame, target=spec.data.target, positive=dataset.positive_label,
             negative=dataset.negative_label)
    return models
