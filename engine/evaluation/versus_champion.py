"""The current champion, re-scored on this run's test rows from its ONNX artifact, for a paired comparison.

`beats_champion` must compare like with like: the champion is not judged by the numbers of the run that
promoted it (other rows, perhaps other data), but scored again, here, on exactly the held-out rows every
candidate of this run is scored on, from the artifact that would actually serve (`model.onnx`, checked against
the SHA-256 recorded when it was promoted). Its evidence then comes from `evaluate()` with this run's settings and
bootstrap seed, so `compare()` pairs every resample. When the champion cannot be re-scored (no artifact was
recorded, the file is gone or changed, this data lacks a column it needs) the reason is kept and the rule is
`unknown`.

A regression or multiclass run re-scores its champion the same way (`task_champion_reference`): the artifact's
output in the task's units (predictions, or class probabilities in the order of the champion's recorded classes,
which must be this run's), handed to the task's evaluation as the champion's outputs on the same rows, so the
paired lift comes from the same resamples as the lift over the baseline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.canonical import jsonable, sha256_bytes
from engine.evaluation.bootstrap import BootstrapSamples
from engine.evaluation.groups import Grouping
from engine.evaluation.performance import EvidenceSettings, evaluate

MODEL_FILE = "model.onnx"
SCHEMA_FILE = "input_schema.json"


class NotRescored(Exception):
    """Why the champion could not be re-scored, as a reviewer reads it."""


@dataclass(frozen=True)
class Rescored:
    """The champion's evidence and bootstrap samples on this run's test rows, and what the trail records of it."""

    evidence: dict[str, Any]
    samples: BootstrapSamples | None
    record: dict[str, Any]


def _verified(folder: Path, name: str, files: Mapping[str, Any]) -> bytes:
    path = folder / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotRescored(f"its {name} cannot be read at {path}: {exc.strerror}") from None
    expected = (files.get(name) or {}).get("sha256")
    if expected is None:
        raise NotRescored(f"no SHA-256 of its {name} was recorded")
    if sha256_bytes(data) != expected:
        raise NotRescored(f"its {name} at {path} no longer matches the SHA-256 recorded at promotion")
    return data


def champion_scores(artifact: Mapping[str, Any] | None, x_test: pd.DataFrame, classes: int = 0
                    ) -> NDArray[np.float64]:
    """The champion's ONNX artifact's output on raw feature columns: P(positive) or a prediction per row, or
    (`classes` > 0) one probability per class; `NotRescored` says why not."""
    from engine.serving.measure import score, session
    from engine.serving.schema import feeds

    if not artifact or "path" not in artifact:
        raise NotRescored("no packaged ONNX artifact was recorded with it")
    folder = Path(str(artifact["path"]))
    files = artifact.get("files") or {}
    model = _verified(folder, MODEL_FILE, files)
    schema = json.loads(_verified(folder, SCHEMA_FILE, files))
    missing = [c["name"] for c in schema["columns"] if c["name"] not in x_test.columns]
    if missing:
        raise NotRescored(f"this run's data lacks column(s) it needs: {', '.join(missing)}")
    try:
        proba = score(session(model, threads=1), feeds(schema, x_test))
    except Exception as exc:  # onnxruntime's errors are many; each is a reason, not a crash
        raise NotRescored(f"onnxruntime could not score it: {type(exc).__name__}: {exc}") from None
    shape, what = ((len(x_test), classes), f"{classes} class probabilities") if classes else ((len(x_test),), "one")
    if proba.shape != shape or not np.all(np.isfinite(proba)):
        raise NotRescored(f"its artifact did not return {what} finite output{'s' if classes else ''} per row")
    return proba


def rescore(current: Mapping[str, Any], x_test: pd.DataFrame, y_test: NDArray[np.bool_], *,
            groupings: list[Grouping], settings: EvidenceSettings) -> Rescored:
    """The champion's evidence on this run's test rows (raises `NotRescored`)."""
    started = time.perf_counter()
    proba = champion_scores(current.get("artifact"), x_test)
    evidence, samples = evaluate(y_test, proba, groupings=groupings, settings=settings)
    files = current["artifact"].get("files") or {}
    record = {"rows": int(y_test.size), "metrics": evidence["metrics"], "model_sha256": files[MODEL_FILE]["sha256"],
              "seconds": round(time.perf_counter() - started, 3)}
    return Rescored(evidence, samples, record)


@dataclass(frozen=True)
class ChampionReference:
    """What a run compares its candidates with: the champion registry's state (with the champion's re-scored
    metrics, or why it could not be re-scored) and, when it was re-scored, its evidence and samples."""

    record: dict[str, Any]
    rescored: Rescored | None = None


def champion_reference(champion: Mapping[str, Any], x_test: pd.DataFrame, y_test: NDArray[np.bool_], *,
                       groupings: list[Grouping], settings: EvidenceSettings) -> ChampionReference:
    """The model's current champion (from `engine.champion.champion_evidence`), re-scored on this run's rows."""
    current = champion.get("current")
    if current is None:
        return ChampionReference(dict(champion))
    try:
        rescored = rescore(current, x_test, y_test, groupings=groupings, settings=settings)
    except NotRescored as exc:
        return ChampionReference({**champion, "rescored_error": str(exc)})
    return ChampionReference({**champion, "rescored": jsonable(rescored.record)}, rescored)


@dataclass(frozen=True)
class TaskChampion:
    """A regression or multiclass run's champion: the registry's state (with the champion's re-scored metrics, or
    why it could not be re-scored) and, when re-scored, its outputs on this run's test rows."""

    record: dict[str, Any]
    output: NDArray[np.float64] | None = None


def _recorded_task(audit_db: Path, run_id: str) -> tuple[str, list[str]]:
    """The task and classes the champion's run recorded (a run from before task types: binary)."""
    from engine.audit.runs import load_run  # only the champion's run is read

    data = load_run(audit_db, run_id).started.data["data"]
    return str(data.get("task", "binary")), [str(c) for c in data.get("classes", [])]


def task_champion_reference(champion: Mapping[str, Any], x_test: pd.DataFrame, y_test: NDArray[Any], *,
                            audit_db: Path, task: str, classes: list[str]) -> TaskChampion:
    """The model's current champion re-scored on this run's test rows (a regression or multiclass task)."""
    from engine.evaluation.multiclass import Scored
    from engine.evaluation.regression import regression_metrics

    current = champion.get("current")
    if current is None:
        return TaskChampion(dict(champion))
    started = time.perf_counter()
    try:
        their_task, their_classes = _recorded_task(audit_db, str(current["run_id"]))
        if their_task != task:
            raise NotRescored(f"it is a {their_task} model and this audit's task is {task}")
        if task == "multiclass" and their_classes != classes:
            raise NotRescored(f"it predicts the classes {', '.join(their_classes)}, not this run's "
                              f"{', '.join(classes)}")
        output = champion_scores(current.get("artifact"), x_test, len(classes) if task == "multiclass" else 0)
    except NotRescored as exc:
        return TaskChampion({**champion, "rescored_error": str(exc)})
    metrics = (regression_metrics(np.asarray(y_test, dtype=np.float64), output) if task == "regression" else
               Scored(np.asarray(y_test, dtype=np.intp), output).metrics()[0])
    record = {"rows": len(y_test), "metrics": metrics,
              "model_sha256": current["artifact"]["files"][MODEL_FILE]["sha256"],
              "seconds": round(time.perf_counter() - started, 3)}
    return TaskChampion({**champion, "rescored": jsonable(record)}, output)
