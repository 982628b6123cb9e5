"""Which rows train, tune and test each candidate: the split of the data, and the training set it leaves.

One module decides it for every audit. `split.strategy` says how: `stratified` by label (the default, and the
numbers every earlier audit got), `random`, `time` (train on the oldest rows, validate on the next, test on the
most recent; rows sharing a time value never straddle a boundary) or `group` (every group lands in exactly one
part, stratified by each group's majority label). An audit with no training rows to take (a `data.train_path`
training file is given, or nothing but the baseline and models trained elsewhere) splits the data into a validation
part (calibrators, and the baseline's class prior when no training file is given) and a test part. A test file the
team keeps apart (`split.test_path`) is appended to the data's rows and is the test part, alone. `Splits.record` is
what the trail and the card say about the split: strategy, sizes and the time or group boundaries.
`training_set()` then says what the trainable candidates are fitted on, with the record of it the trail keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from engine.candidates import BASELINE, EXTERNAL, TrainingData
from engine.data import Dataset
from engine.errors import DataError
from engine.spec import AuditSpec, SplitSpec
from engine.split_strategies import strategy_split


@dataclass(frozen=True)
class Splits:
    """Row positions of the train / validation / test split (train is empty for a holdout split)."""

    train: NDArray[np.intp]
    validation: NDArray[np.intp]
    test: NDArray[np.intp]
    record: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def train_and_validation(self) -> NDArray[np.intp]:
        """The development rows: everything but the test part, in order."""
        return np.sort(np.concatenate([self.train, self.validation]))

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def strata(y: NDArray[Any]) -> NDArray[Any] | None:
    """What a stratified split balances: the labels (binary or class codes); nothing for a regression target."""
    return None if np.issubdtype(y.dtype, np.floating) else y


def split_rows(y: NDArray[Any], spec: SplitSpec) -> Splits:
    """Stratified train/validation/test positions (random for a regression target), reproducible from the seed."""
    rows = np.arange(y.size)
    by = strata(y)
    try:
        rest, test = train_test_split(rows, test_size=spec.test, stratify=by, random_state=spec.seed)
        train, validation = train_test_split(
            rest, test_size=spec.validation / (1 - spec.test), stratify=None if by is None else by[rest],
            random_state=spec.seed,
        )
    except ValueError:
        raise DataError(
            f"{y.size} labelled rows cannot be split {spec.test:.0%} test / {spec.validation:.0%} validation "
            "with both labels in every part", hint="use larger split fractions or more rows",
        ) from None
    return Splits(train=np.sort(train), validation=np.sort(validation), test=np.sort(test))


def split_holdout(y: NDArray[Any], spec: SplitSpec) -> Splits:
    """Stratified validation/test positions and no training rows: for auditing a model trained elsewhere.

    The validation part (the spec's validation fraction) fits calibrators and, without training data, the
    baseline; every other row is a test row.
    """
    rows = np.arange(y.size)
    try:
        test, validation = train_test_split(rows, test_size=spec.validation, stratify=strata(y),
                                            random_state=spec.seed)
    except ValueError:
        raise DataError(
            f"{y.size} labelled rows cannot be split {spec.validation:.0%} validation / the rest test with both labels "
            "in each part", hint="use a larger validation fraction or more rows",
        ) from None
    return Splits(train=np.zeros(0, dtype=np.intp), validation=np.sort(validation), test=np.sort(test))


def is_holdout(spec: AuditSpec) -> bool:
    """No training split is taken from the data: training data is given, or nothing but the baseline trains."""
    return spec.data.train_path is not None or all(c.family in (BASELINE, EXTERNAL) for c in spec.candidates)


def split_for(spec: AuditSpec, dataset: Dataset, *, own_test: int = 0) -> Splits:
    """The split this audit uses (strategy, holdout or not, and the last `own_test` rows as a kept-apart test file).

    The default (stratified, no test file) is exactly `split_rows` / `split_holdout`, so earlier audits keep their
    numbers; every other choice goes through `engine.split_strategies`.
    """
    holdout = is_holdout(spec)
    if spec.split.strategy == "stratified" and not own_test:
        splits = split_holdout(dataset.y, spec.split) if holdout else split_rows(dataset.y, spec.split)
        return Splits(splits.train, splits.validation, splits.test,
                      {"strategy": "stratified", "sizes": splits.sizes()})
    train, validation, test, record = strategy_split(dataset.frame, dataset.y, spec.split, holdout=holdout,
                                                     own_test=own_test, where=str(spec.data.path))
    return Splits(train, validation, test, {**record, "sizes": {"train": len(train), "validation": len(validation),
                                                               "test": len(test)}})


def training_set(spec: AuditSpec, dataset: Dataset, splits: Splits,
                 train_file: Dataset | None) -> tuple[TrainingData, dict[str, Any]]:
    """What the baseline and trainable candidates are fitted on, and the record of it for the trail."""
    frame = dataset.frame
    x_valid, y_valid = frame.iloc[splits.validation], dataset.y[splits.validation]
    if train_file is not None:
        x_train, y_train = train_file.frame, train_file.y
        record: dict[str, Any] = {"source": "training data file", "fingerprint": train_file.fingerprint}
    elif len(splits.train):
        x_train, y_train = frame.iloc[splits.train], dataset.y[splits.train]
        record = {"source": "training split of the data"}
    else:
        x_train, y_train = x_valid, y_valid
        record = {"source": "validation part of the data (no training data was given): the baseline's class prior "
                            "is taken from it"}
    training = TrainingData(x_train=x_train, y_train=y_train, x_valid=x_valid, y_valid=y_valid,
                            features=dataset.features, seed=spec.split.seed, task=dataset.task,
                            n_classes=max(len(dataset.classes), 2))
    return training, {**record, "rows": len(y_train)}
