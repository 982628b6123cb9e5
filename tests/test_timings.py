"""engine.timings and `mlgate show RUN --timings`: every stage of a real audit is timed and recorded with the run;
a run recorded before timings existed reads as having none."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, run_cli

from engine.audit.runs import load_run
from engine.service import AuditResult, run_audit
from engine.spec import build_spec
from engine.timings import for_candidate, recording, timed, totals


@pytest.fixture(scope="module")
def audited(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    folder = tmp_path_factory.mktemp("timings")
    adult_sample.to_parquet(folder / "adult.parquet", index=False)
    spec = build_spec({
        "name": "timed", "data": {"path": str(folder / "adult.parquet"), "target": "income", "positive": ">50K",
                                  "sensitive": ["sex"]},
        "evaluation": {"bootstrap": 50, "shap_rows": 10, "shap_background": 10, "robustness_rows": 100},
        "candidates": [{"name": "baseline", "family": "baseline"},
                       {"name": "logistic", "family": "logistic", "calibration": ["isotonic"]}],
    }, source="test_timings")
    return run_audit(spec, audit_db=folder / "audit.duckdb", cards_dir=folder / "cards")


def test_every_stage_of_an_audit_is_recorded_with_the_run(audited: AuditResult) -> None:
    completed = load_run(audited.audit_db, audited.run_id).completed
    assert completed is not None
    timings = completed.data["timings"]
    seen = {(row["stage"], row["candidate"]) for row in timings["stages"]}
    for stage in ("load", "split", "check", "record", "cards"):
        assert (stage, None) in seen
    for candidate in ("baseline", "logistic", "logistic.isotonic"):
        for stage in ("train", "performance", "conformal", "explanations", "robustness", "package", "measure",
                      "retrain", "reproducibility"):
            assert (stage, candidate) in seen, (stage, candidate)
    assert all(row["seconds"] >= 0 for row in timings["stages"])
    assert timings["wall_seconds"] >= sum(row["seconds"] for row in timings["stages"]) - 0.01


def test_show_timings_prints_the_summed_table_and_json(audited: AuditResult) -> None:
    done = run_cli("show", audited.run_id, "--timings", "--format", "json", "--audit-db", audited.audit_db)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    stages = document["timings"]["stages"]
    assert [r["stage"] for r in stages[:2]] == ["load", "split"]
    assert [r["stage"] for r in stages[-3:]] == ["check", "record", "cards"]
    assert stages[2]["candidate"] == "baseline"
    text = run_cli("show", audited.run_id, "--timings", "--audit-db", audited.audit_db)
    assert text.returncode == 0 and "where the time went" in text.stdout and "logistic.isotonic" in text.stdout


def test_a_run_recorded_before_timings_has_none(tmp_path: Path) -> None:
    trail = tmp_path / "audit.duckdb"
    shutil.copyfile(ROOT / "tests" / "fixtures" / "trail_v0" / "audit.duckdb", trail)
    run_id = json.loads(run_cli("runs", "--format", "json", "--audit-db", trail).stdout)[0]["run_id"]
    done = run_cli("show", run_id, "--timings", "--format", "json", "--audit-db", trail)
    assert done.returncode == 0 and json.loads(done.stdout)["timings"] is None


def test_stages_are_kept_only_while_recording_and_summed_in_order() -> None:
    with timed("train"):
        pass  # nothing records: not kept, no error
    with recording() as recorder:
        with timed("cards"):
            pass
        with for_candidate("b"), timed("train"):
            pass
        with for_candidate("a"), timed("explanations"):
            pass
        with for_candidate("b"), timed("train"):
            pass
        with timed("load"):
            pass
    rows = totals(recorder.to_json()["stages"])
    assert [(r["stage"], r["candidate"]) for r in rows] == [
        ("load", None), ("train", "b"), ("explanations", "a"), ("cards", None)]
