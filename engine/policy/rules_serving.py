"""Rule kinds over the serving evidence (`evidence["serving"]`): the packaged ONNX artifact, its skew against the
native model, latency, throughput, size, and the features it needs at serving time.

Each is a small pure function (evidence, params) -> Finding, registered in `engine.policy.registry`. Missing
serving evidence (not measured, or an export that failed) is `unknown`, never a silent pass.
"""

from __future__ import annotations

from typing import Any

from engine.policy.finding import Evidence, Finding, Params, fmt

ARTIFACT_FILES = ("model.onnx", "input_schema.json", "signature.json", "metadata.json")


def _serving_part(evidence: Evidence, key: str, what: str) -> dict[str, Any] | Finding:
    """The measured part `key`, or the `unknown` finding that explains why it is absent."""
    serving = evidence.get("serving")
    if serving is None:
        return Finding("unknown", None, None, f"{what} was not measured (no serving evidence)")
    part: dict[str, Any] | None = serving.get(key)
    if part is None:
        why = f"the ONNX export failed: {serving['error']}" if serving.get("error") else "it was not measured"
        return Finding("unknown", None, None, f"{what} is unknown: {why}")
    return part


def _at_most(value: float | None, bound: float, label: str, unit: str = "") -> Finding:
    if value is None:
        return Finding("unknown", None, bound, f"{label} is undefined")
    ok = value <= bound
    return Finding("pass" if ok else "fail", value, bound,
                   f"{label} {fmt(value, bound)}{unit} {'<=' if ok else 'is not <='} {fmt(bound)}{unit}")


def onnx_parity(evidence: Evidence, params: Params) -> Finding:
    """The served ONNX artifact's probabilities within `max_abs_diff` of the native model's (the maximum or the
    99th percentile, `use`), and its labels disagreeing on at most `max_disagreement` of the test rows."""
    skew = _serving_part(evidence, "skew", "ONNX parity")
    if isinstance(skew, Finding):
        return skew
    use = params.get("use", "max")
    diff = skew.get("max_abs_diff" if use == "max" else "p99_abs_diff")
    bound = float(params["max_abs_diff"])
    output = "prediction" if str(skew.get("units", "")).startswith("the target") else "probability"
    label = f"{'max' if use == 'max' else '99th-percentile'} |ONNX - native| {output} difference"
    finding = _at_most(diff, bound, label)
    disagreement, limit = skew.get("label_disagreement"), params.get("max_disagreement")
    rows = f"{skew.get('rows')} test rows"
    if disagreement is None:
        return Finding(finding.status, finding.observed, finding.threshold, f"{finding.message} over {rows}")
    labels = f"labels disagree on {disagreement:.3%} of {rows}"
    if finding.status == "pass" and limit is not None and disagreement > float(limit):
        return Finding("fail", disagreement, float(limit),
                       f"{labels} (at most {float(limit):.3%} allowed); {finding.message}")
    return Finding(finding.status, finding.observed, finding.threshold, f"{finding.message}; {labels}")


def latency(evidence: Evidence, params: Params) -> Finding:
    """Single-row onnxruntime latency at a percentile (p50, p95, p99) at most `max_ms`."""
    timing = _serving_part(evidence, "latency", "Latency")
    if isinstance(timing, Finding):
        return timing
    percentile = params.get("percentile", "p99")
    finding = _at_most(timing.get(f"{percentile}_ms"), float(params["max_ms"]),
                       f"{percentile} single-row latency", " ms")
    return Finding(finding.status, finding.observed, finding.threshold,
                   f"{finding.message} ({timing.get('calls')} calls, {timing.get('threads')} thread(s))")


def throughput(evidence: Evidence, params: Params) -> Finding:
    """Batch scoring at least `min_rows_per_second`."""
    measured = _serving_part(evidence, "throughput", "Throughput")
    if isinstance(measured, Finding):
        return measured
    bound = float(params["min_rows_per_second"])
    value = measured.get("rows_per_second")
    if value is None:
        return Finding("unknown", None, bound, "throughput is undefined (the batch took no measurable time)")
    ok = value >= bound
    return Finding("pass" if ok else "fail", value, bound,
                   f"{fmt(value)} rows/s on a batch of {measured.get('batch_rows')} {'>=' if ok else 'is not >='} "
                   f"{fmt(bound)} rows/s")


def model_size(evidence: Evidence, params: Params) -> Finding:
    """The ONNX artifact at most `max_mb` megabytes (10^6 bytes)."""
    size = _serving_part(evidence, "size", "Model size")
    if isinstance(size, Finding):
        return size
    return _at_most(size.get("model_mb"), float(params["max_mb"]), "ONNX model size", " MB")


def feature_availability(evidence: Evidence, params: Params) -> Finding:
    """Every feature the candidate uses is in the spec's `data.serving_features`."""
    features = evidence.get("serving", {}).get("features")
    if features is None:
        return Finding("unknown", None, 0.0, "which features the candidate uses was not recorded")
    if features.get("available") is None:
        return Finding("unknown", None, 0.0,
                       "the spec does not list the features available at serving time (data.serving_features)")
    unavailable = features["unavailable"]
    if unavailable:
        shown = ", ".join(repr(f) for f in unavailable[:5]) + (" ..." if len(unavailable) > 5 else "")
        return Finding("fail", float(len(unavailable)), 0.0,
                       f"{len(unavailable)} feature(s) used but not available at serving time: {shown}")
    return Finding("pass", 0.0, 0.0, f"all {len(features['used'])} features used are available at serving time")


def artifacts_packaged(evidence: Evidence, params: Params) -> Finding:
    """model.onnx, input schema, signature and metadata written together, each with its SHA-256."""
    artifact = _serving_part(evidence, "artifact", "The packaged artifact")
    if isinstance(artifact, Finding):  # an export that failed packaged nothing: a failure, not an unknown
        failed = bool((evidence.get("serving") or {}).get("error"))
        return Finding("fail", None, None, artifact.message) if failed else artifact
    files = artifact.get("files", {})
    absent = [name for name in ARTIFACT_FILES if not files.get(name, {}).get("sha256")]
    if absent or not artifact.get("complete"):
        return Finding("fail", float(len(ARTIFACT_FILES) - len(absent)), float(len(ARTIFACT_FILES)),
                       f"artifact incomplete: missing {', '.join(absent) or 'files on disk'}")
    digest = files["model.onnx"]["sha256"][:12]
    return Finding("pass", float(len(ARTIFACT_FILES)), float(len(ARTIFACT_FILES)),
                   f"model.onnx (sha256 {digest}…), input schema, signature and metadata in {artifact.get('path')}")


# ---------------------------------------------------------------------------------------------------------------
# Parameters (JSON-schema fragments); `policy explain` words these kinds from their description and parameters

ONNX_PARITY_PARAMS: dict[str, Any] = {
    "description": "The served ONNX artifact predicts what the trained model predicts: |ONNX - native| probability "
                   "difference on the test rows at most max_abs_diff (the maximum, or the 99th percentile with use = "
                   "p99), and labels disagreeing on at most max_disagreement of them.",
    "required": ["max_abs_diff"],
    "properties": {
        "max_abs_diff": {"type": "number", "minimum": 0,
                         "description": "Largest accepted |ONNX - native| difference of P(positive) on a test row."},
        "use": {"enum": ["max", "p99"],
                "description": "Judge the maximum difference (max, default) or its 99th percentile (p99)."},
        "max_disagreement": {"type": "number", "minimum": 0, "maximum": 1,
                             "description": "Largest accepted share of test rows whose label (at the spec's "
                                            "threshold) differs."},
    },
}

LATENCY_PARAMS: dict[str, Any] = {
    "description": "onnxruntime single-row latency at a percentile (default p99) at most max_ms milliseconds.",
    "required": ["max_ms"],
    "properties": {
        "max_ms": {"type": "number", "exclusiveMinimum": 0, "description": "Bound in milliseconds for one row."},
        "percentile": {"enum": ["p50", "p95", "p99"],
                       "description": "Which single-row latency percentile is judged (default p99)."},
    },
}

THROUGHPUT_PARAMS: dict[str, Any] = {
    "description": "Batch scoring with onnxruntime at least min_rows_per_second.",
    "required": ["min_rows_per_second"],
    "properties": {
        "min_rows_per_second": {"type": "number", "exclusiveMinimum": 0,
                                "description": "Rows per second that batch scoring must reach."},
    },
}

MODEL_SIZE_PARAMS: dict[str, Any] = {
    "description": "The ONNX artifact at most max_mb megabytes (10^6 bytes).",
    "required": ["max_mb"],
    "properties": {
        "max_mb": {"type": "number", "exclusiveMinimum": 0,
                   "description": "Bound on model.onnx in megabytes (10^6 bytes)."},
    },
}

FEATURE_AVAILABILITY_PARAMS: dict[str, Any] = {
    "description": "Every feature the candidate uses is listed in the spec's data.serving_features (unknown when the "
                   "spec lists none).",
    "properties": {},
}

ARTIFACTS_PACKAGED_PARAMS: dict[str, Any] = {
    "description": "model.onnx, input schema, signature and metadata written together, each recorded with its "
                   "SHA-256.",
    "properties": {},
}
