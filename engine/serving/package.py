"""The packaged artifact of one candidate: `model.onnx`, `input_schema.json`, `signature.json` and
`metadata.json` written together in one folder per run and candidate, each with its SHA-256 for the trail.

The metadata names the run, the candidate and the hashes of the other three files. The ONNX file itself carries
only what the fitted model determines (its family and exporter, no run id or time), so the same fitted model
always has the same `model.onnx` SHA-256 and a bit-identical retrain can be recognised by its hash. Files are
written to a temporary name and renamed, so a folder never holds a half-written file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.canonical import sha256_bytes
from engine.errors import WriteError

FILES = ("model.onnx", "input_schema.json", "signature.json", "metadata.json")


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _write(path: Path, data: bytes) -> dict[str, Any]:
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as exc:  # a full disk: no half-written artifact is left, one line names it
        partial.unlink(missing_ok=True)
        raise WriteError.of(path, exc, "artifact") from None
    return {"sha256": sha256_bytes(data), "bytes": len(data)}


def onnx_bytes(model: Any, properties: dict[str, str]) -> bytes:
    """The serialised graph with `properties` stored in its metadata (nothing run-specific, see above).

    The opset imports are sorted by domain: converters list them in set order, which differs between
    processes, and the same fitted model must have the same bytes (and SHA-256) in every run.
    """
    from onnx import helper

    helper.set_model_props(model, properties)
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(domain, version) for domain, version in opsets)
    data: bytes = model.SerializeToString()
    return data


def write_artifact(folder: Path, *, model_bytes: bytes, schema: dict[str, Any], signature: dict[str, Any],
                   metadata: dict[str, Any]) -> dict[str, Any]:
    """Write the four files into `folder` (created, must not exist yet) and return what the trail records."""
    folder.mkdir(parents=True, exist_ok=False)
    files = {
        "model.onnx": _write(folder / "model.onnx", model_bytes),
        "input_schema.json": _write(folder / "input_schema.json", _json_bytes(schema)),
        "signature.json": _write(folder / "signature.json", _json_bytes(signature)),
    }
    hashes = {name: entry["sha256"] for name, entry in files.items()}
    files["metadata.json"] = _write(folder / "metadata.json", _json_bytes({**metadata, "sha256": hashes}))
    return {"path": str(folder), "files": files, "complete": all((folder / name).is_file() for name in FILES)}
