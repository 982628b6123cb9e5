"""The served artifact as the reasons see it: the ONNX file a run packaged, checked against the SHA-256 the trail
recorded, scored with onnxruntime, and opened up where an exact explanation needs the graph's own inside (the
encoded input of a tree ensemble).

Every explanation and every recourse is computed here, on what serves, never on the trained Python model: a
reviewer's question is whether the reasons are faithful to the artifact that decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.canonical import sha256_bytes
from engine.errors import MlgateError
from engine.serving.schema import feeds

FloatArray = NDArray[np.float64]
TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
NO_ARTIFACT = "candidate {name!r} of run {run} has no packaged ONNX artifact ({why})"
CHANGED = "{path}: SHA-256 {found} differs from the {recorded} the trail recorded: the artifact was changed"
EPS = 1e-7


@dataclass(frozen=True)
class Served:
    """One packaged artifact: its bytes (hash checked), input schema, the session that scores it, its family."""

    model_bytes: bytes
    schema: dict[str, Any]
    family: str
    sha256: str
    session: Any

    @property
    def features(self) -> list[str]:
        return [str(c["name"]) for c in self.schema["columns"]]

    def proba(self, frame: pd.DataFrame) -> FloatArray:
        """P(positive) for each row of `frame`, from the served graph."""
        if len(frame) == 0:
            return np.zeros(0)
        output = self.session.run(["probability"], feeds(self.schema, frame))[0]
        return np.asarray(output, dtype=np.float64).reshape(-1)

    def logit(self, frame: pd.DataFrame) -> FloatArray:
        """The served output in log-odds: the space every contribution is stated in."""
        return to_logit(self.proba(frame))


def to_logit(p: FloatArray) -> FloatArray:
    clipped = np.clip(p, EPS, 1 - EPS)
    return np.asarray(np.log(clipped) - np.log1p(-clipped), dtype=np.float64)


def session(model_bytes: bytes) -> Any:
    """A one-thread onnxruntime session (concurrent audits share the cores)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def open_bytes(model_bytes: bytes, schema: dict[str, Any], family: str) -> Served:
    return Served(model_bytes, schema, family, sha256_bytes(model_bytes), session(model_bytes))


def open_recorded(serving: Mapping[str, Any], *, name: str, run_id: str, family: str) -> Served:
    """The artifact the run's `serving` evidence names, refused if missing or if its bytes changed since."""
    artifact = serving.get("artifact") if isinstance(serving, Mapping) else None
    if not artifact:
        why = serving.get("error", "no artifact recorded") if isinstance(serving, Mapping) else "no serving evidence"
        raise MlgateError(NO_ARTIFACT.format(name=name, run=run_id, why=why),
                          hint="audit the candidate again so its artifact is packaged")
    folder = Path(artifact["path"])
    files = artifact["files"]
    try:
        model_bytes = (folder / "model.onnx").read_bytes()
        schema_bytes = (folder / "input_schema.json").read_bytes()
    except OSError as exc:
        raise MlgateError(f"{folder}: cannot read the artifact ({exc.strerror or exc})",
                          hint="run the command where the audit wrote its artifacts/ folder") from None
    for file, data in (("model.onnx", model_bytes), ("input_schema.json", schema_bytes)):
        found, recorded = sha256_bytes(data), files[file]["sha256"]
        if found != recorded:
            raise MlgateError(CHANGED.format(path=folder / file, found=found[:12], recorded=recorded[:12]),
                              hint="restore the artifact as packaged, or audit again")
    import json

    return open_bytes(model_bytes, json.loads(schema_bytes), family)


def tree_node(model_bytes: bytes) -> tuple[Any, str] | None:
    """The graph's tree-ensemble node and the name of the tensor it reads, if the graph has exactly one."""
    import onnx

    model = onnx.load_from_string(model_bytes)
    nodes = [n for n in model.graph.node if n.op_type in TREE_OPS]
    if len(nodes) != 1:
        return None
    return nodes[0], str(nodes[0].input[0])


def intermediate(model_bytes: bytes, tensor: str) -> Any:
    """A session over the same graph that also returns `tensor` (the tree ensemble's encoded input)."""
    import onnx
    from onnx import helper

    model = onnx.load_from_string(model_bytes)
    model.graph.output.append(helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    return session(model.SerializeToString())


def encoded(sess: Any, schema: dict[str, Any], frame: pd.DataFrame, tensor: str) -> NDArray[np.float32]:
    """The encoded matrix the tree ensemble reads, as the served graph computes it."""
    out = sess.run([tensor], feeds(schema, frame))[0]
    return np.asarray(out, dtype=np.float32).reshape(len(frame), -1)
