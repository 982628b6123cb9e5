"""The `prepare` stage: everything an audit needs, read and checked before anything is trained or written.

`prepare()` turns a spec into a `Plan`: the policies, the data (and a training file if the spec gives one), the
split, the training set, the evaluation settings, the sensitive groupings of the test rows, every candidate
built (models trained elsewhere read from their files and tried on the data) and the output places checked.
Any bad input raises an `MlgateError` here, so a mistake leaves nothing half-written. A model trained
elsewhere is one more candidate of the plan, not a second path through the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.candidates import EXTERNAL, FAMILIES, Candidate, TrainingData
from engine.candidates.calibrated import METHODS_BY_TASK
from engine.candidates.external import ExternalCandidate, bind_all, external_record
from engine.data import Dataset, load_dataset, load_test_file, load_training_file, with_test_rows
from engine.errors import SpecError
from engine.evaluation.data_checks import data_checks
from engine.evaluation.groups import Grouping, sensitive_groupings
from engine.evaluation.settings import EvaluationSettings
from engine.folds import Fold, cv_folds
from engine.policy.loader import Policy, load_policies
from engine.policy.tasks import check_for_task
from engine.spec import AuditSpec, for_task
from engine.split import Splits, split_for, training_set
from engine.timings import timed


@dataclass(frozen=True)
class Outputs:
    """Where an audit writes: the trail, the model cards and the serving artifacts."""

    audit_db: Path
    cards_dir: Path
    artifacts_dir: Path


@dataclass(frozen=True)
class Plan:
    """A checked audit, ready to train: the typed hand-off from `prepare` to the stages after it."""

    spec: AuditSpec
    policies: list[Policy]
    dataset: Dataset
    splits: Splits
    training: TrainingData
    trained_on: dict[str, Any]
    settings: EvaluationSettings
    groupings: list[Grouping]
    models: dict[str, Candidate]
    outputs: Outputs
    data_evidence: dict[str, Any] | None = None  # split_integrity and data_quality, shared by every candidate
    folds: tuple[Fold, ...] = ()  # split.folds: the cross-validation folds of the development rows
    test_file: dict[str, Any] | None = None  # the kept-apart test file's fingerprint (split.test_path), if any

    @property
    def external_models(self) -> dict[str, dict[str, Any]]:
        """What the run records about each model trained elsewhere: file, SHA-256, format, size."""
        return external_record(self.models)


def build_candidates(spec: AuditSpec, dataset: Dataset) -> dict[str, Candidate]:
    """Every candidate of the spec, built; external models read and bound to the data (raises `ModelError`)."""
    models: dict[str, Candidate] = {
        c.name: ExternalCandidate(c.params) if c.family == EXTERNAL else FAMILIES[c.family].build(c.params)
        for c in spec.candidates
    }
    bind_all(models, dataset.frame, target=spec.data.target, positive=dataset.positive_label,
             negative=dataset.negative_label)
    return models


def refuse_unsupported(spec: AuditSpec) -> None:
    """What the audit's task cannot take: a calibration method made for another task (Platt and isotonic
    calibrate P(positive), temperature scaling a softmax, and a regression has no probabilities to calibrate), or
    a model trained elsewhere outside a binary audit. Candidates are named, not numbered: the spec's list may have
    had the baseline put in front of it."""
    task = spec.task or "binary"
    fitting = METHODS_BY_TASK[task]
    for candidate in spec.candidates:
        where = f"{spec.source}: candidate {candidate.name!r}"
        for method in candidate.calibration:
            if method not in fitting:
                takes = (f"takes {' or '.join(repr(m) for m in fitting)}" if fitting
                         else "has no probabilities to calibrate (its uncertainty is the conformal interval)")
                raise SpecError(f"{where}: calibration {method!r} does not calibrate a {task} model; this audit's "
                                f"task is {task}, which {takes}")
        if task != "binary" and candidate.family == EXTERNAL:
            raise SpecError(f"{where}: a model trained elsewhere is audited for binary tasks only so far (this "
                            f"audit's task is {task})")


def check_writable(outputs: Outputs) -> None:
    """Refuse unusable output places before the run is recorded, so a mistake leaves nothing half-written."""
    for folder, what in ((outputs.audit_db.parent, "--audit-db"), (outputs.cards_dir, "--cards-dir"),
                         (outputs.artifacts_dir, "--artifacts-dir")):
        if folder.exists() and not folder.is_dir():
            raise SpecError(f"{folder}: {what} needs a folder here, and this is a file")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpecError(f"{folder}: cannot create the folder for {what}: {exc.strerror}") from None
    if outputs.audit_db.is_dir():
        raise SpecError(f"{outputs.audit_db}: --audit-db names a folder; give a file such as "
                        f"{outputs.audit_db / 'audit.duckdb'}")


def prepare(spec: AuditSpec, outputs: Outputs) -> Plan:
    """Read and check every input of `spec` and build its candidates; raises `MlgateError` on bad input.

    A spec without a task gets the one its target fits (`engine.tasks`), with that task's default policy pack and
    optimizing metric where the spec gave none; the plan's spec says which task it is."""
    with timed("load"):
        dataset = load_dataset(spec.data)
    if spec.task != dataset.task:
        spec = for_task(spec, dataset.task)
    refuse_unsupported(spec)
    policies = load_policies(spec.policies)
    check_for_task(policies, dataset.task)
    train_file = load_training_file(spec.data, dataset)
    test_file = load_test_file(spec.data, spec.split.test_path, dataset)
    dataset = with_test_rows(dataset, test_file)
    with timed("split"):
        splits = split_for(spec, dataset, own_test=len(test_file.y) if test_file is not None else 0)
    checks = data_checks(spec, dataset, splits, test_file)
    folds = cv_folds(dataset.frame, dataset.y, splits.train_and_validation, spec.split,
                     where=str(spec.data.path)) if len(splits.train) else ()
    settings = EvaluationSettings.from_spec(spec, dataset.features)
    models = build_candidates(spec, dataset)
    check_writable(outputs)
    training, trained_on = training_set(spec, dataset, splits, train_file)
    groupings = sensitive_groupings(dataset.frame.iloc[splits.test], dataset.sensitive, spec.data.sensitive_bins)
    return Plan(spec=spec, policies=policies, dataset=dataset, splits=splits, training=training,
                trained_on=trained_on, settings=settings, groupings=groupings, models=models, outputs=outputs,
                data_evidence=checks, folds=folds,
                test_file=test_file.fingerprint if test_file is not None else None)
