"""`mlgate audit --data wage.csv --target wage|education --sensitive race` in a subprocess: a regression and a
multiclass audit end to end with every family, exit codes their verdicts support, the baseline's numbers equal
scikit-learn's on the same test rows, and every view (JSON, JUnit, Markdown summary, cards, recheck) working."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, mean_squared_error

from engine.candidates import FAMILIES
from engine.data import load_dataset
from engine.policy.loader import POLICIES_DIR
from engine.spec import DEFAULT_MISSING_VALUES, DataSpec, SplitSpec
from engine.split import split_rows

ROOT = Path(__file__).resolve().parents[1]
WAGE = ROOT / "examples" / "wage" / "wage.csv"
TARGETS = {"regression": "wage", "multiclass": "education"}


def _mlgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, cwd=cwd,
                          check=False, timeout=1200)


@pytest.fixture(scope="module", params=list(TARGETS))
def audited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    task = request.param
    base = tmp_path_factory.mktemp(task)
    done = _mlgate("audit", "--data", str(WAGE), "--target", TARGETS[task], "--sensitive", "race",
                   "--audit-db", str(base / "audit.duckdb"), "--cards-dir", str(base / "cards"), "--format", "json",
                   "--junit", str(base / "junit.xml"), "--summary", str(base / "summary.md"), cwd=base)
    return {"task": task, "base": base, "done": done, "result": json.loads(done.stdout)}


def test_the_audit_infers_the_task_and_says_so(audited: dict[str, Any]) -> None:
    done, task = audited["done"], audited["task"]
    assert f"task: {task} (inferred from {TARGETS[task]!r}" in done.stderr
    assert f"policies: {task}" in done.stderr
    assert "Traceback" not in done.stderr


def test_every_family_is_audited_and_the_exit_code_follows_the_verdict(audited: dict[str, Any]) -> None:
    result, done = audited["result"], audited["done"]
    assert [c["family"] for c in result["candidates"]] == list(FAMILIES)
    assert all(c["error"] is None for c in result["candidates"])
    assert done.returncode == (0 if result["verdict"] == "pass" else 1)
    assert (result["verdict"] == "pass") == (result["recommended"] is not None)
    for candidate in result["candidates"]:
        blocking = [r for r in candidate["rules"] if r["severity"] == "block" and r["status"] != "pass"]
        assert (candidate["verdict"] == "pass") == (not blocking), candidate["name"]
        parity = next(r for r in candidate["rules"] if r["id"] == "onnx-parity")
        assert parity["status"] == "pass", parity  # the artifact predicts what the model predicts, in its units
        faithful = next(r for r in candidate["rules"] if r["id"] == "explanations-faithful")
        assert faithful["status"] == "pass", faithful  # every family's contributions add up to its output
        robust = next(r for r in candidate["rules"] if r["id"] == "perturbation-robust")
        assert robust["status"] in ("pass", "fail"), robust  # the task's metric under perturbation, judged
        computed = {"regression": "conformal_coverage", "multiclass": "calibration"}[audited["task"]]
        assert all(r["status"] in ("pass", "fail") for r in candidate["rules"] if r["kind"] == computed)
    if result["recommended"] is not None:  # the recommendation is the best passing candidate by the metric
        metric = result["optimizing_metric"]
        passing = [c for c in result["candidates"] if c["verdict"] == "pass" and c["family"] != "baseline"]
        values = [c["metrics"][metric] for c in passing]
        best = min(values) if metric == "rmse" else max(values)
        assert next(c for c in passing if c["name"] == result["recommended"])["metrics"][metric] == best


def test_the_baseline_numbers_equal_scikit_learn_on_the_same_rows(audited: dict[str, Any]) -> None:
    task, result = audited["task"], audited["result"]
    data = load_dataset(DataSpec(WAGE, TARGETS[task], None, ("race",), None, False, DEFAULT_MISSING_VALUES))
    splits = split_rows(data.y, SplitSpec(test=0.2, validation=0.2, seed=42))
    y_train, y_test = data.y[splits.train], data.y[splits.test]
    baseline = next(c for c in result["candidates"] if c["family"] == "baseline")["metrics"]
    if task == "regression":
        expected = np.sqrt(mean_squared_error(y_test, np.full(y_test.size, y_train.mean())))
        assert baseline["rmse"] == pytest.approx(expected, rel=1e-12)
    else:
        majority = np.bincount(y_train).argmax()
        assert baseline["accuracy"] == pytest.approx(accuracy_score(y_test, np.full(y_test.size, majority)))


def test_reports_and_cards_show_the_task_metrics(audited: dict[str, Any]) -> None:
    base, task = audited["base"], audited["task"]
    label = {"regression": "RMSE", "multiclass": "macro F1"}[task]
    assert label in (base / "summary.md").read_text(encoding="utf-8")
    suites = ET.parse(base / "junit.xml").getroot()
    assert len(suites.findall("testsuite")) == len(FAMILIES)
    run = audited["result"]["run_id"]
    card = (base / "cards" / run / "lightgbm.md").read_text(encoding="utf-8")
    assert label in card and f"task: {task}" in card
    assert (base / "cards" / run / "lightgbm.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_recheck_works_and_refuses_a_pack_of_another_task(audited: dict[str, Any]) -> None:
    base, task, result = audited["base"], audited["task"], audited["result"]
    db = ["--audit-db", str(base / "audit.duckdb")]
    same = _mlgate("recheck", result["run_id"], "--policy", str(POLICIES_DIR / f"{task}.json"), *db, "--format",
                   "json", cwd=base)
    assert same.returncode == audited["done"].returncode, same.stderr
    assert json.loads(same.stdout)["changes"] == []
    other = _mlgate("recheck", result["run_id"], "--policy", str(POLICIES_DIR / "default.json"), *db, cwd=base)
    assert other.returncode == 2 and "auc-floor" in other.stderr and "Traceback" not in other.stderr


def test_the_recorded_evidence_follows_the_schema_and_reads_back(audited: dict[str, Any]) -> None:
    from engine.audit.runs import load_run
    from engine.evaluation.evidence import Evidence, TaskPerformance, evidence_errors

    record = load_run(audited["base"] / "audit.duckdb", audited["result"]["run_id"])
    assert record.started.data["data"]["task"] == audited["task"]
    for name in record.candidates:
        stored = record.evidence(name)
        assert stored["task"] == audited["task"] and evidence_errors(stored) == [], name
        typed = Evidence.from_json(stored)
        assert isinstance(typed.performance, TaskPerformance) and typed.to_json() == stored
        assert "error" not in stored["explanations"] and "error" not in stored["robustness"], name
        assert stored["robustness"]["metric"] == {"regression": "rmse", "multiclass": "accuracy"}[audited["task"]]
        assert "error" not in stored["conformal"]
        if audited["task"] == "regression":  # split-conformal intervals and the run's CQR; nothing to calibrate
            assert "error" in stored["calibration"] and stored["conformal"]["kind"] == "split"
            assert "error" not in stored["conformal"]["cqr"] and stored["conformal"]["cqr"]["kind"] == "cqr"
        else:  # calibration and prediction sets
            assert "error" not in stored["calibration"] and stored["conformal"]["kind"] == "sets"
