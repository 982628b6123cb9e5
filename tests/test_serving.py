"""engine.serving: every family's ONNX artifact, checked with onnxruntime against the native model; the input
schema; skew, latency and feature evidence; a broken export caught by onnx_parity; bit-identical torch retrains."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from conftest import ROOT, run_cli
from serving_helpers import adult_data, fit, serve

from engine.candidates import Candidate
from engine.data import Dataset
from engine.policy.rules_serving import artifacts_packaged, feature_availability, onnx_parity
from engine.serving.measure import skew
from engine.serving.onnx_export import export_onnx
from engine.serving.schema import feeds, row_problems
from engine.split import Splits

DEFAULT_PARITY = {"max_abs_diff": 0.001, "max_disagreement": 0.001}  # policies/default.json
# (family, calibration) -> the largest |ONNX - native| accepted: float32 inputs and outputs in the graph; the
# isotonic calibrator's steep segments magnify the float32 rounding of the base probability.
EXPORTS: dict[tuple[str, str | None], float] = {
    ("baseline", None): 1e-7,
    ("logistic", None): 1e-6,
    ("logistic", "platt"): 1e-6,
    ("logistic", "isotonic"): 1e-4,
    ("lightgbm", None): 1e-6,
    ("lightgbm", "platt"): 1e-6,
    ("lightgbm", "isotonic"): 1e-4,
    ("torch_mlp", None): 1e-6,
    ("torch_mlp", "platt"): 1e-6,
    ("torch_mlp", "isotonic"): 1e-4,
}


@pytest.fixture(scope="module")
def adult(adult_parquet: Path) -> tuple[Dataset, Splits]:
    return adult_data(adult_parquet)


def _onnxruntime_proba(path: Path, schema: dict[str, Any], frame: Any) -> np.ndarray:
    """Scored by onnxruntime itself, one thread as measured (tree sums differ in the last bits across threads)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(["probability"], feeds(schema, frame))[0], dtype=np.float64)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "calibration"), list(EXPORTS))
def test_every_family_exports_one_graph_that_matches_the_native_model(
    adult: tuple[Dataset, Splits], tmp_path: Path, family: str, calibration: str | None
) -> None:
    data, splits = adult
    candidate = fit(family, data, splits, calibration)
    evidence = serve(candidate, "c", data, splits, tmp_path)
    assert "error" not in evidence
    folder = Path(evidence["artifact"]["path"])
    schema = json.loads((folder / "input_schema.json").read_text())
    x_test = data.frame.iloc[splits.test]
    served = _onnxruntime_proba(folder / "model.onnx", schema, x_test)
    native = candidate.predict_proba(x_test)
    assert served.shape == native.shape == (len(splits.test),)
    diff = np.abs(served - native)
    assert diff.max() <= EXPORTS[(family, calibration)]
    assert np.array_equal(served >= 0.5, native >= 0.5)
    assert evidence["skew"]["max_abs_diff"] == pytest.approx(diff.max(), abs=1e-12)
    assert evidence["skew"]["rows"] == len(splits.test)
    assert onnx_parity({"serving": evidence}, DEFAULT_PARITY).status == "pass"
    again = export_onnx(candidate, data.features)  # the same model always exports to the same bytes
    assert again.SerializeToString() == export_onnx(candidate, data.features).SerializeToString()


def _without_scaler(model: Any) -> Any:
    """The graph with its StandardScaler node dropped: the raw numerics go straight to the model."""
    broken = onnx.ModelProto()
    broken.CopyFrom(model)
    scaler = next(n for n in broken.graph.node if n.op_type == "Scaler")
    for node in broken.graph.node:
        node.input[:] = [scaler.input[0] if name == scaler.output[0] else name for name in node.input]
    broken.graph.node.remove(scaler)
    return broken


@pytest.mark.slow
@pytest.mark.parametrize("family", ["logistic", "torch_mlp"])
def test_an_export_missing_a_preprocessing_step_fails_onnx_parity(
    adult: tuple[Dataset, Splits], family: str
) -> None:
    data, splits = adult
    candidate = fit(family, data, splits)
    model = export_onnx(candidate, data.features)
    schema_inputs = {i.name for i in model.graph.input}
    x_test = data.frame.iloc[splits.test]
    native = candidate.predict_proba(x_test)

    def served(graph: Any) -> np.ndarray:
        session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
        inputs = {i.name: v for i, v in zip(session.get_inputs(), _feeds_in_order(data, x_test), strict=True)}
        assert set(inputs) == schema_inputs
        return np.asarray(session.run(["probability"], inputs)[0], dtype=np.float64)

    intact = onnx_parity({"serving": {"skew": skew(served(model), native, 0.5)}}, DEFAULT_PARITY)
    broken = onnx_parity({"serving": {"skew": skew(served(_without_scaler(model)), native, 0.5)}}, DEFAULT_PARITY)
    assert intact.status == "pass"
    assert broken.status == "fail"
    assert broken.observed is not None and broken.observed > DEFAULT_PARITY["max_abs_diff"]


def _feeds_in_order(data: Dataset, frame: Any) -> list[np.ndarray]:
    numeric = [frame[c].astype(float).to_numpy(np.float32).reshape(-1, 1) for c in data.features.numeric]
    text = [frame[c].astype(str).where(frame[c].notna(), "").to_numpy(object).reshape(-1, 1)
            for c in data.features.categorical]
    return numeric + text


@pytest.mark.slow
def test_the_artifact_is_written_with_its_hashes_schema_signature_and_metadata(
    adult: tuple[Dataset, Splits], tmp_path: Path
) -> None:
    data, splits = adult
    candidate = fit("logistic", data, splits)
    evidence = serve(candidate, "logistic", data, splits, tmp_path)
    artifact = evidence["artifact"]
    folder = Path(artifact["path"])
    later = serve(candidate, "logistic", data, splits, tmp_path, run_id="run-2")["artifact"]["files"]
    assert later["model.onnx"] == artifact["files"]["model.onnx"], "the same model, the same model.onnx hash"
    assert later["metadata.json"] != artifact["files"]["metadata.json"], "the metadata names its run"
    assert folder == tmp_path / "run-1" / "logistic"
    for name in ("model.onnx", "input_schema.json", "signature.json", "metadata.json"):
        content = (folder / name).read_bytes()
        assert artifact["files"][name] == {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
    metadata = json.loads((folder / "metadata.json").read_text())
    assert (metadata["run_id"], metadata["candidate"], metadata["family"]) == ("run-1", "logistic", "logistic")
    assert metadata["sha256"]["model.onnx"] == artifact["files"]["model.onnx"]["sha256"]
    model = onnx.load(str(folder / "model.onnx"))
    properties = {p.key: p.value for p in model.metadata_props}
    assert properties == {"mlgate.family": "logistic", "mlgate.exporter": "skl2onnx"}
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    signature = json.loads((folder / "signature.json").read_text())
    assert [i["name"] for i in signature["inputs"]] == [i.name for i in session.get_inputs()]
    assert [o["name"] for o in signature["outputs"]] == ["probability"]
    schema = json.loads((folder / "input_schema.json").read_text())
    assert [c["name"] for c in schema["columns"]] == data.features.all
    workclass = next(c for c in schema["columns"] if c["name"] == "workclass")
    assert set(workclass["categories"]) == set(data.frame.iloc[splits.train]["workclass"].dropna())
    age = next(c for c in schema["columns"] if c["name"] == "age")
    train_age = data.frame.iloc[splits.train]["age"]
    assert age["training_range"] == [float(train_age.min()), float(train_age.max())]
    assert evidence["size"]["model_bytes"] == artifact["files"]["model.onnx"]["bytes"]
    assert artifacts_packaged({"serving": evidence}, {}).status == "pass"
    incomplete = {**evidence, "artifact": {**artifact, "complete": False}}
    assert artifacts_packaged({"serving": incomplete}, {}).status == "fail"


@pytest.mark.slow
def test_latency_and_throughput_are_measured_as_configured(adult: tuple[Dataset, Splits], tmp_path: Path) -> None:
    data, splits = adult
    evidence = serve(fit("lightgbm", data, splits), "lightgbm", data, splits, tmp_path)
    latency = evidence["latency"]
    assert (latency["calls"], latency["warmup_calls"], latency["threads"], latency["batch_size"]) == (30, 5, 1, 1)
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    throughput = evidence["throughput"]
    assert throughput["batch_rows"] == min(300, len(splits.test))
    assert throughput["rows_per_second"] == pytest.approx(throughput["batch_rows"] / throughput["seconds_median"])
    assert evidence["memory"]["peak_scoring_mb"] is None or evidence["memory"]["peak_scoring_mb"] >= 0


@pytest.mark.slow
def test_a_feature_missing_from_the_serving_list_fails_feature_availability(
    adult: tuple[Dataset, Splits], tmp_path: Path
) -> None:
    data, splits = adult
    without_age = tuple(f for f in data.features.all if f != "age")
    evidence = serve(fit("logistic", data, splits), "logistic", data, splits, tmp_path, without_age)
    finding = feature_availability({"serving": evidence}, {})
    assert finding.status == "fail"
    assert "'age'" in finding.message
    assert evidence["features"]["unavailable"] == ["age"]
    assert evidence["features"]["used"] == data.features.all
    baseline = serve(fit("baseline", data, splits), "baseline", data, splits, tmp_path, without_age)
    assert feature_availability({"serving": baseline}, {}).status == "pass"  # the prior uses no feature
    undeclared = serve(fit("baseline", data, splits), "prior", data, splits, tmp_path)
    assert feature_availability({"serving": undeclared}, {}).status == "unknown"


def test_a_failed_export_is_recorded_and_never_passes(adult: tuple[Dataset, Splits], tmp_path: Path) -> None:
    data, splits = adult
    unfitted: Candidate = fit("logistic", data, splits)
    unfitted.pipeline = None  # type: ignore[attr-defined]
    evidence = serve(unfitted, "broken", data, splits, tmp_path)
    assert "error" in evidence
    assert onnx_parity({"serving": evidence}, DEFAULT_PARITY).status == "unknown"
    assert artifacts_packaged({"serving": evidence}, {}).status == "fail"


def test_the_input_schema_refuses_rows_the_model_was_not_trained_for(
    adult: tuple[Dataset, Splits], tmp_path: Path
) -> None:
    data, splits = adult
    evidence = serve(fit("baseline", data, splits), "baseline", data, splits, tmp_path)
    schema = json.loads((Path(evidence["artifact"]["path"]) / "input_schema.json").read_text())
    row = {k: (None if isinstance(v, float) and np.isnan(v) else v)
           for k, v in data.frame.iloc[splits.train[0]][data.features.all].to_dict().items()}
    assert row_problems(schema, row) == []
    assert row_problems(schema, {**row, "workclass": None, "age": float("nan"), "extra": 1}) == []
    assert row_problems(schema, {**row, "workclass": "Astronaut"}) == [
        "column 'workclass': unknown category 'Astronaut' (not seen in training)"]
    assert row_problems(schema, {k: v for k, v in row.items() if k != "occupation"}) == [
        "missing required column 'occupation'"]
    assert row_problems(schema, {**row, "age": "forty"}) == ["column 'age': expected a number, got 'forty'"]


@pytest.mark.slow
def test_a_torch_retrain_on_the_cpu_is_bit_identical(adult: tuple[Dataset, Splits]) -> None:
    data, splits = adult
    first, again = (fit("torch_mlp", data, splits, device="cpu") for _ in range(2))
    x_test = data.frame.iloc[splits.test]
    assert np.array_equal(first.predict_proba(x_test), again.predict_proba(x_test))
    for (name, a), (_, b) in zip(first.net.state_dict().items(), again.net.state_dict().items(), strict=True):  # type: ignore[attr-defined]
        assert torch.equal(a, b), name
    exported = [export_onnx(c, data.features).SerializeToString() for c in (first, again)]
    assert exported[0] == exported[1]
    described = first.describe()
    assert (described["device"], described["precision"]) == ("cpu", "float32")
    other = fit("torch_mlp", data, splits, device="cpu", dropout=0.3)
    assert not np.array_equal(first.predict_proba(x_test), other.predict_proba(x_test))


def test_torch_uses_cuda_exactly_when_it_is_available(adult: tuple[Dataset, Splits]) -> None:
    data, splits = adult
    described = fit("torch_mlp", data, splits, epochs=1).describe()
    assert described["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert described["precision"].startswith("mixed") == torch.cuda.is_available()
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            fit("torch_mlp", data, splits, epochs=1, device="cuda")


SERVING_POLICY = {"name": "serving", "version": "1", "rules": [
    {"id": "features", "kind": "feature_availability", "severity": "block", "checklist": "feature_availability"},
    {"id": "packaged", "kind": "artifacts_packaged", "severity": "block", "checklist": "artifacts"},
]}


@pytest.mark.slow
@pytest.mark.parametrize(("serving_features", "status", "exit_code"), [
    (["age", "education", "hours-per-week"], "fail", 1),  # occupation is used but not served
    (None, "unknown", 1),  # not declared: never a silent pass
    ("all", "pass", 0),
])
def test_the_cli_writes_artifacts_where_asked_and_gates_on_serving_features(
    adult_parquet: Path, tmp_path: Path, serving_features: list[str] | str | None, status: str, exit_code: int
) -> None:
    features = ["age", "education", "hours-per-week", "occupation"]
    data: dict[str, Any] = {"path": str(adult_parquet), "target": "income", "positive": ">50K", "features": features}
    if serving_features is not None:
        data["serving_features"] = features if serving_features == "all" else serving_features
    spec = tmp_path / "spec.json"
    policy = tmp_path / "serving.json"
    policy.write_text(json.dumps(SERVING_POLICY))
    spec.write_text(json.dumps({
        "data": data, "policies": [str(policy)], "serving": {"latency_calls": 20, "warmup_calls": 2},
        "candidates": [{"name": "mlp", "family": "torch_mlp", "params": {"hidden_sizes": [8], "epochs": 2}}],
    }))
    done = run_cli("audit", "--spec", spec, "--audit-db", tmp_path / "a.duckdb", "--cards-dir", tmp_path / "cards",
                   "--artifacts-dir", tmp_path / "served", "--format", "json")
    assert done.returncode == exit_code, done.stderr
    result = json.loads(done.stdout)
    mlp = next(c for c in result["candidates"] if c["name"] == "mlp")
    rules = {r["id"]: r["status"] for r in mlp["rules"]}
    assert rules == {"features": status, "packaged": "pass"}
    folder = tmp_path / "served" / result["run_id"] / "mlp"
    assert sorted(p.name for p in folder.iterdir()) == ["input_schema.json", "metadata.json", "model.onnx",
                                                        "signature.json"]
    assert not (tmp_path / "cards" / ".." / "artifacts").exists(), "--artifacts-dir replaces the default place"


EXPORT_IN_A_NEW_PROCESS = """
import sys
from pathlib import Path
from serving_helpers import adult_data, fit
from engine.canonical import sha256_bytes
from engine.serving.onnx_export import export_onnx
from engine.serving.package import onnx_bytes
dataset, splits = adult_data(Path(sys.argv[1]))
candidate = fit("logistic", dataset, splits)
print(sha256_bytes(onnx_bytes(export_onnx(candidate, dataset.features), {"mlgate.family": "logistic"})))
"""


def test_the_same_model_has_the_same_artifact_bytes_in_every_process(adult_parquet: Path) -> None:
    """Converters list opset imports in set order, which hash randomisation changes from process to process."""
    digests = set()
    for seed in ("1", "2", "3"):
        done = subprocess.run([sys.executable, "-c", EXPORT_IN_A_NEW_PROCESS, str(adult_parquet)],
                              capture_output=True, text=True, cwd=Path(__file__).parent, timeout=300, check=False,
                              env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.split()[-1])
    assert len(digests) == 1
