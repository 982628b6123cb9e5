"""Serving evidence for one trained candidate: package its ONNX artifact, then measure it with onnxruntime.

`serving_evidence()` is what the audit calls per candidate. It records which features the candidate uses and
which the spec says exist at serving time, exports and writes the artifact, and measures skew against the native
model on the held-out test rows, single-row latency, batch throughput, size and the peak memory of scoring.
A failed export is recorded as an error (the serving rules then report `unknown`), never as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates import BASELINE, Candidate, Features
from engine.candidates.base import task_of
from engine.errors import WriteError
from engine.serving import measure
from engine.serving.onnx_export import OPSET, export_onnx, exporter_name
from engine.serving.package import onnx_bytes, write_artifact
from engine.serving.schema import feeds, input_schema, signature
from engine.timings import timed

DEFAULT_ARTIFACTS_DIR = Path("artifacts")
DEFAULT_SERVING: dict[str, int] = {
    "latency_calls": 200,
    "warmup_calls": 20,
    "threads": 1,
    "batch_rows": 2000,
    "throughput_repeats": 5,
}


@dataclass(frozen=True)
class ServingSettings:
    """Where artifacts go, what the run is, and how the artifact is measured."""

    run_id: str
    artifacts_dir: Path
    threshold: float
    serving_features: tuple[str, ...] | None
    measure: dict[str, int]
    provenance: dict[str, Any]


def feature_use(candidate: Candidate, features: Features, available: tuple[str, ...] | None) -> dict[str, Any]:
    """The features a candidate uses, the ones available at serving time (None: not declared), what is missing."""
    used = [] if candidate.family == BASELINE else list(features.all)
    missing = None if available is None else [f for f in used if f not in set(available)]
    return {"used": used, "available": None if available is None else list(available), "unavailable": missing}


def serving_evidence(candidate: Candidate, name: str, features: Features, x_train: pd.DataFrame,
                     x_test: pd.DataFrame, settings: ServingSettings,
                     native: NDArray[np.float64] | None = None) -> dict[str, Any]:
    """The `serving` part of a candidate's evidence (`native`: its test scores, when already computed)."""
    evidence: dict[str, Any] = {"features": feature_use(candidate, features, settings.serving_features)}
    try:
        evidence.update(_package_and_measure(candidate, name, features, x_train, x_test, settings, native))
    except WriteError:  # a full disk is not a finding about the candidate: the audit stops, naming the file
        raise
    except Exception as exc:  # a converter gap must not abort the audit: the rules report it as unknown
        evidence["error"] = f"{type(exc).__name__}: {exc}"
    return evidence


def _package_and_measure(candidate: Candidate, name: str, features: Features, x_train: pd.DataFrame,
                         x_test: pd.DataFrame, settings: ServingSettings,
                         native: NDArray[np.float64] | None) -> dict[str, Any]:
    with timed("package"):
        artifact, data, schema = _package(candidate, name, features, x_train, settings)
    with timed("measure"):
        return _measure(candidate, artifact, data, schema, x_test, settings, native)


def _package(candidate: Candidate, name: str, features: Features, x_train: pd.DataFrame,
             settings: ServingSettings) -> tuple[dict[str, Any], bytes, dict[str, Any]]:
    """Export, sign and write the artifact: its record, its bytes and its input schema."""
    model = export_onnx(candidate, features)
    schema = input_schema(features, x_train, [i.name for i in model.graph.input])
    data = onnx_bytes(model, {"mlgate.family": candidate.family, "mlgate.exporter": exporter_name(candidate)})
    metadata = {"run_id": settings.run_id, "candidate": name, "family": candidate.family,
                "exporter": exporter_name(candidate), "onnx_opset": OPSET, "threshold": settings.threshold,
                **settings.provenance}
    artifact = write_artifact(settings.artifacts_dir / settings.run_id / name, model_bytes=data, schema=schema,
                              signature=signature(model), metadata=metadata)
    artifact.update(exporter=exporter_name(candidate), onnx_opset=OPSET)
    return artifact, data, schema


def _measure(candidate: Candidate, artifact: dict[str, Any], data: bytes, schema: dict[str, Any],
             x_test: pd.DataFrame, settings: ServingSettings, native: NDArray[np.float64] | None) -> dict[str, Any]:
    """Score the artifact with onnxruntime: skew against the native scores, latency, throughput, size, memory."""
    m = settings.measure
    sess = measure.session(data, threads=m["threads"])
    inputs = feeds(schema, x_test)
    served = measure.score(sess, inputs)
    batch = {k: v[: m["batch_rows"]] for k, v in inputs.items()}
    return {
        "artifact": artifact,
        "skew": measure.task_skew(served, candidate.predict_proba(x_test) if native is None else native,
                                  settings.threshold, task_of(candidate)),
        "latency": measure.latency(sess, inputs, calls=m["latency_calls"], warmup=m["warmup_calls"],
                                   threads=m["threads"]),
        "throughput": measure.throughput(sess, batch, repeats=m["throughput_repeats"]),
        "size": {"model_bytes": len(data), "model_mb": len(data) / 1e6},
        "memory": measure.peak_memory(sess, batch),
    }

