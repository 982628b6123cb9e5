"""The current champion, re-scored on this run's test rows from its ONNX artifact, for a paired comparison.

`beats_champion` must compare like with like: the champion is not judged by the numbers of the run that
promoted it (other rows, perhaps other data), but scored again, here, on exactly the held-out rows every
candidate of this run is scored on, from the artifact that would actually serve (`model.onnx`, checked against
the SHA-256 recorded when it was promoted). Its evidence then comes from `evaluate()` with this run's settings and
bootstrap seed, so `compare()` pairs every resample. When the champion cannot be re-scored (no artifact was
recorded, the file is gone or changed, this data lacks a column it needs) the reason is kept and the rule is
`unknown`.
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


def champion_scores(artifact: Mapping[str, Any] | None, x_test: pd.DataFrame) -> NDArray[np.float64]:
    """P(positive) of the champion's ONNX artifact on raw feature columns; `NotRescored` says why not."""
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
    if proba.shape != (len(x_test),) or not np.all(np.isfinite(proba)):
        raise NotRescored("its artifact did not return one finite probability per row")
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
