"""engine.compute and its backends: the same audit run in process, in two local worker processes and as Ray tasks on a
real local Ray instance (2 CPUs) gives the same evidence, verdicts and hashes; the `[compute]` table is not part of
the recorded spec; an unreachable `--ray` address is refused with one line (exit 2) before a run is recorded."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import run_cli
from serving_helpers import QUICK_SERVING

from engine.audit.trail import read_events
from engine.canonical import digest
from engine.compute_backends import ComputeSettings, compute_settings, cores, local_workers
from engine.service import AuditResult, run_audit
from engine.spec import AuditSpec, build_spec

# What is measured rather than computed (time, memory) or names the run (paths, lineage, artifact metadata).
MEASURED = {"seconds", "train_seconds", "latency", "throughput", "memory", "path", "files", "lineage",
            "evidence_sha256"}
HAS_RAY = importlib.util.find_spec("ray") is not None


def spec_for(folder: Path, **extra: Any) -> AuditSpec:
    return build_spec({
        "name": "backends",
        "data": {"path": str(folder / "adult.parquet"), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "evaluation": {"bootstrap": 100, "shap_rows": 10, "shap_background": 10, "shap_samples": 50,
                       "robustness_rows": 200},
        "serving": QUICK_SERVING,
        "candidates": [
            {"name": "baseline", "family": "baseline"},
            {"name": "logistic", "family": "logistic", "calibration": ["isotonic"]},
            {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 40},
             "search": {"trials": 3, "space": {"num_leaves": {"low": 8, "high": 32}}}},
            {"name": "mlp", "family": "torch_mlp", "params": {"hidden_sizes": [8], "epochs": 2}},
        ],
        **extra,
    }, source="test_compute")


def stable(value: Any) -> Any:
    """The evidence without what is measured or names the run."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in MEASURED}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def recorded(result: AuditResult) -> dict[str, dict[str, Any]]:
    """Each candidate's stable evidence, its digest, its verdict and its ONNX model's SHA-256."""
    found = {}
    for event in read_events(result.audit_db, run_id=result.run_id, kinds=["candidate_evaluated"]):
        evidence = event.data["evidence"] or {}
        model = (((evidence.get("serving") or {}).get("artifact") or {}).get("files") or {}).get("model.onnx", {})
        found[event.data["candidate"]] = {"evidence": stable(evidence), "digest": digest(stable(evidence)),
                                          "onnx_sha256": model.get("sha256")}
    for candidate in result.candidates:
        found[candidate.name]["verdict"] = candidate.verdict
        found[candidate.name]["rules"] = [(o.id, o.status) for o in candidate.outcomes]
    return found


@pytest.fixture(scope="module")
def folder(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compute")
    adult_sample.to_parquet(path / "adult.parquet", index=False)
    return path


def audit(folder: Path, name: str, compute: ComputeSettings) -> AuditResult:
    return run_audit(spec_for(folder), audit_db=folder / name / "audit.duckdb", cards_dir=folder / name / "cards",
                     compute=compute)


@pytest.fixture(scope="module")
def sequential(folder: Path) -> AuditResult:
    return audit(folder, "sequential", ComputeSettings(workers=1))


@pytest.mark.slow
def test_two_local_workers_give_the_same_evidence_verdicts_and_hashes(folder: Path, sequential: AuditResult) -> None:
    parallel = audit(folder, "workers", ComputeSettings(workers=2))
    expected, found = recorded(sequential), recorded(parallel)
    assert list(found) == list(expected) == ["baseline", "logistic", "logistic.isotonic", "lightgbm", "mlp"]
    assert all(v["onnx_sha256"] for v in expected.values())
    assert found == expected
    completed = read_events(parallel.audit_db, run_id=parallel.run_id, kinds=["run_completed"])[0].data
    assert completed["timings"]["compute"] == {"backend": "local", "workers": min(2, cores())}
    stages = {(r["stage"], r["candidate"]) for r in completed["timings"]["stages"]}
    assert ("search", "lightgbm") in stages and ("explanations", "logistic.isotonic") in stages


@pytest.mark.slow
@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed here (the optional extra: pip install 'mlgate[ray]')")
def test_ray_tasks_on_a_local_instance_give_the_same_evidence_verdicts_and_hashes(folder: Path,
                                                                                   sequential: AuditResult) -> None:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"py_modules": [str(Path(__file__).resolve().parents[1] / "engine")]})
    try:
        on_ray = audit(folder, "ray", ComputeSettings(backend="ray"))
    finally:
        ray.shutdown()
    assert recorded(on_ray) == recorded(sequential)
    completed = read_events(on_ray.audit_db, run_id=on_ray.run_id, kinds=["run_completed"])[0].data
    assert completed["timings"]["compute"] == {"backend": "ray"}


def test_the_compute_table_is_not_part_of_the_recorded_spec(folder: Path) -> None:
    plain = spec_for(folder)
    placed = spec_for(folder, compute={"backend": "ray", "address": "10.0.0.1:6379", "workers": 4})
    assert placed.document == plain.document and digest(placed.document) == digest(plain.document)
    assert compute_settings(placed) == ComputeSettings("ray", 4, "10.0.0.1:6379")
    assert compute_settings(plain, workers=3) == ComputeSettings("local", 3, None)
    assert compute_settings(plain, ray="auto").backend == "ray"
    assert local_workers(ComputeSettings(workers=64), jobs=4) == min(4, cores())
    assert local_workers(ComputeSettings(workers=2), jobs=1) == 1


@pytest.mark.slow
@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed here (the optional extra: pip install 'mlgate[ray]')")
def test_an_unreachable_ray_address_is_one_line_and_exit_2_before_any_run(adult_csv: Path, tmp_path: Path) -> None:
    done = run_cli("audit", "--data", adult_csv, "--target", "income", "--positive", ">50K", "--ray", "127.0.0.1:1",
                   "--audit-db", tmp_path / "audit.duckdb", "--cards-dir", tmp_path / "cards")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "--ray 127.0.0.1:1: no Ray cluster answers there" in done.stderr
    assert not (tmp_path / "audit.duckdb").exists()


def test_a_bad_compute_table_is_refused_naming_the_place(folder: Path) -> None:
    from engine.errors import SpecError

    with pytest.raises(SpecError, match="compute"):
        spec_for(folder, compute={"backend": "dask"})
