"""examples/ci: the CI gate script run for real, and the workflow's artifact paths checked against what it writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from junitparser import Failure, JUnitXml

pytestmark = pytest.mark.slow
SCRIPT = ROOT / "examples" / "ci" / "audit.sh"
WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"


def gate(tmp_path: Path, adult_parquet: Path, auc_floor: float) -> tuple[subprocess.CompletedProcess[str], Path]:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"name": "ci", "version": "1", "rules": [
        {"id": "auc-floor", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": auc_floor,
         "severity": "block", "checklist": "optimizing_metric"}]}), encoding="utf-8")
    spec = tmp_path / "audit.json"
    spec.write_text(json.dumps({
        "name": "ci", "policies": [str(policy)], "evaluation": {"bootstrap": 50},
        "data": {"path": str(adult_parquet), "target": "income", "positive": ">50K"},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"}],
    }), encoding="utf-8")
    out = tmp_path / "mlgate-out"
    env = {**os.environ, "MLGATE_SPEC": str(spec), "MLGATE_OUT": str(out), "MLGATE": f"{sys.executable} -m cli",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md")}
    done = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    return done, out


def test_a_failing_gate_exits_1_and_still_leaves_every_report(tmp_path: Path, adult_parquet: Path) -> None:
    done, out = gate(tmp_path, adult_parquet, auc_floor=0.999)
    assert done.returncode == 1, done.stderr
    [logistic] = [suite for suite in JUnitXml.fromfile(str(out / "junit.xml")) if suite.name == "logistic"]
    assert [case.name for case in logistic if any(isinstance(r, Failure) for r in case.result)] == ["auc-floor"]
    assert json.loads((out / "audit.json").read_text(encoding="utf-8"))["verdict"] == "fail"
    assert "FAIL" in (tmp_path / "step-summary.md").read_text(encoding="utf-8")
    assert len(list(out.glob("cards/*/logistic.*"))) == 3
    assert json.loads((out / "head.json").read_text(encoding="utf-8"))["seq"] > 0
    for path in re.findall(r"^\s+(mlgate-out/\S+)$", WORKFLOW.read_text(encoding="utf-8"), flags=re.MULTILINE):
        assert (tmp_path / path).exists(), f"the workflow uploads {path}, which the script does not write"


def test_a_passing_gate_exits_0(tmp_path: Path, adult_parquet: Path) -> None:
    done, _ = gate(tmp_path, adult_parquet, auc_floor=0.6)
    assert done.returncode == 0, done.stderr
