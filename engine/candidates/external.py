"""Auditing a model trained elsewhere: a candidate read from a model file instead of trained by mlgate.

Most teams train in their own pipeline and need the gate, not our trainer. An `ExternalCandidate` loads an
ONNX file, a LightGBM text model or a scikit-learn estimator saved with skops (see `external_formats`), maps
its inputs from the raw data columns by name, and scores rows like any other candidate; `fit()` does nothing.
A pickle is never loaded (loading one runs whatever code the file holds). The file's SHA-256 is pinned in
the spec when the spec is built, and checked again when the file is loaded, so the trail names the exact
bytes that were audited. Every problem with the file is a `ModelError` naming it: exit 2 before any record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates.base import TrainingData
from engine.candidates.external_formats import FORMATS, LoadedModel, Resolved, detect_format
from engine.canonical import sha256_file
from engine.errors import ModelError

EXTERNAL = "external"
PROBE_ROWS = 20
NOT_APPLICABLE = {
    "reproducibility": "the model was trained outside mlgate: its training code, data and seeds are not known "
                       "here and it cannot be retrained to check that it reproduces",
}


def sha256_of(path: Path) -> str:
    """The file's SHA-256 (or a `ModelError` when it cannot be read)."""
    try:
        return sha256_file(path)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file: {exc.strerror}") from None


def pinned_params(params: dict[str, Any], where: str) -> dict[str, Any]:
    """`params` with the file's SHA-256 filled in (or checked, when the spec pins one)."""
    path = Path(params["path"])
    if not path.is_file():
        raise ModelError(f"{path}: model file not found ({where})")
    sha256 = sha256_of(path)
    pinned = params.get("sha256")
    if pinned is not None and pinned != sha256:
        raise ModelError(f"{path}: the file's SHA-256 is {sha256}, not the {pinned} that {where} pins")
    return {**params, "sha256": sha256}


class ExternalCandidate:
    """A model read from a file; `bind()` maps it to the audited data before any record is written."""

    family = EXTERNAL

    def __init__(self, params: dict[str, Any]) -> None:
        self.path = Path(params["path"])
        self.params = pinned_params(params, "the spec")
        self.format = detect_format(self.path)
        self.bytes = self.path.stat().st_size
        self.loaded: LoadedModel = FORMATS[self.format](self.path)
        self.resolved: Resolved | None = None

    def bind(self, frame: pd.DataFrame, *, target: str, positive: str, negative: str) -> None:
        """Map the model's inputs to columns of `frame` and its output to P(positive); try it on a few rows."""
        self.resolved = self.loaded.resolve(frame, target=target, positive=positive, negative=negative)
        probe = self.predict_proba(frame.head(PROBE_ROWS))
        if probe.shape != (min(PROBE_ROWS, len(frame)),) or not np.all((probe >= 0) & (probe <= 1)):
            raise ModelError(f"{self.path}: the model's output is not one probability in [0, 1] per row "
                             f"(got shape {probe.shape}, values {probe[:3].tolist()})")

    def fit(self, data: TrainingData) -> None:
        """Nothing to fit: the model was trained elsewhere."""

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        if self.resolved is None:
            raise RuntimeError("external candidate used before bind")
        try:
            return np.asarray(self.resolved.predict(x), dtype=np.float64).reshape(-1)
        except ModelError:
            raise
        except Exception as exc:  # the runtime's own error, with the file named
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path}: the {self.format} model failed to score the data: {first}") from None

    def describe(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "external_model": {
                "path": str(self.path), "sha256": self.params["sha256"], "format": self.format, "bytes": self.bytes,
                **self.loaded.facts, **(self.resolved.facts if self.resolved else {}),
            },
            "not_applicable": dict(NOT_APPLICABLE),
        }


def bind_all(models: dict[str, Any], frame: pd.DataFrame, *, target: str, positive: str, negative: str) -> None:
    """Bind every external candidate among `models` to the audited data (raises `ModelError`)."""
    for model in models.values():
        if isinstance(model, ExternalCandidate):
            model.bind(frame, target=target, positive=positive, negative=negative)


def external_record(models: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the run records about each external model: file, SHA-256, format, size."""
    return {
        name: {"path": str(m.path), "sha256": m.params["sha256"], "format": m.format, "bytes": m.bytes}
        for name, m in models.items() if isinstance(m, ExternalCandidate)
    }
