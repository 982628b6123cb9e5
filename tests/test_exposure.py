"""The test-set exposure ledger on a real trail written by the real CLI: `mlgate exposure` counts each test set's
runs, candidates and comparisons; `test_reuse` fails once a test set has informed more runs than the policy allows
(exit 1, the message says to draw a fresh holdout); a new seed is a new test set; without a ledger it is unknown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import run_cli

from engine.audit.exposure import exposure_evidence, identify_test_set
from engine.audit.runs import RUN_STARTED
from engine.audit.trail import read_events
from engine.canonical import digest
from engine.policy.rules_data import holdout_reuse

MAX_USES = 1


@dataclass
class Ledger:
    db: Path
    audits: list[Any]  # the CLI's JSON results, in order
    codes: list[int]
    exposure_text: str
    exposure_json: list[dict[str, Any]]


def spec_file(folder: Path, data: Path, seed: int) -> Path:
    path = folder / f"spec-{seed}.json"
    path.write_text(json.dumps({
        "name": "adult-exposure",
        "data": {"path": str(data), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "split": {"seed": seed},
        "evaluation": {"bootstrap": 50, "reproducibility": False, "shap_rows": 10, "robustness_rows": 200},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"}],
        "policies": [str(folder / "reuse.json")],
    }), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trail(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    """Two audits on one test set, a third with another seed (another test set), all through `mlgate audit`."""
    folder = tmp_path_factory.mktemp("exposure")
    data = folder / "a[red]b.csv"  # markup in a name must come out as text
    adult_sample.to_csv(data, index=False)
    (folder / "reuse.json").write_text(json.dumps({"name": "reuse", "version": "1.0.0", "rules": [
        {"id": "fresh-holdout", "kind": "test_reuse", "max_uses": MAX_USES, "severity": "block",
         "checklist": "data_and_split"}]}), encoding="utf-8")
    db = folder / "audit.duckdb"
    audits, codes = [], []
    for seed in (5, 5, 6):
        done = run_cli("audit", "--spec", spec_file(folder, data, seed), "--audit-db", db, "--cards-dir",
                       folder / "cards", "--format", "json")
        assert done.returncode in (0, 1), done.stderr
        audits.append(json.loads(done.stdout))
        codes.append(done.returncode)
    text = run_cli("exposure", "--audit-db", db)
    as_json = run_cli("exposure", "--audit-db", db, "--format", "json")
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    return Ledger(db, audits, codes, text.stdout, json.loads(as_json.stdout))


def reuse_outcome(audit: dict[str, Any]) -> dict[str, Any]:
    candidate = next(c for c in audit["candidates"] if c["name"] == "logistic")
    return next(r for r in candidate["rules"] if r["kind"] == "test_reuse")


def test_the_rule_passes_until_the_allowed_uses_then_fails_saying_to_draw_a_fresh_holdout(trail: Ledger) -> None:
    statuses = [reuse_outcome(a)["status"] for a in trail.audits]
    assert statuses == ["pass", "fail", "pass"]  # the third run has another seed: a fresh test set
    assert trail.codes == [0, 1, 0]
    failed = reuse_outcome(trail.audits[1])
    assert failed["observed"] == 2 and failed["threshold"] == MAX_USES
    assert "draw a fresh holdout" in failed["message"] and "1 earlier run(s)" in failed["message"]


def test_exposure_counts_runs_candidates_and_comparisons_per_test_set(trail: Ledger) -> None:
    assert [(u["runs"], u["candidates"], u["comparisons"]) for u in trail.exposure_json] == [(2, 4, 2), (1, 2, 1)]
    reused, fresh = trail.exposure_json
    assert reused["run_ids"] == [a["run_id"] for a in trail.audits[:2]]
    assert reused["basis"]["seed"] == 5 and fresh["basis"]["seed"] == 6
    assert reused["test_set"] == digest(reused["basis"])


def test_the_text_table_shows_the_counts_and_names_as_text(trail: Ledger) -> None:
    assert "a[red]b.csv" in trail.exposure_text  # markup in the data file's name is printed, not applied
    reused = trail.exposure_json[0]["test_set"][:12]
    row = next(line for line in trail.exposure_text.splitlines() if reused in line)
    assert [cell.strip() for cell in row.split("│")[4:7]] == ["2", "4", "2"]


def test_a_run_recorded_before_the_ledger_gets_the_same_test_set(trail: Ledger) -> None:
    for event in read_events(trail.db, kinds=[RUN_STARTED]):
        recorded = event.data["test_set"]
        older = {key: value for key, value in event.data.items() if key != "test_set"}
        assert identify_test_set(older) == recorded


def test_without_a_ledger_the_rule_is_unknown(tmp_path: Path) -> None:
    evidence = exposure_evidence(tmp_path / "missing.duckdb", {"id": "abc", "basis": {}})
    assert "could not be read" in evidence["error"]
    finding = holdout_reuse({"exposure": evidence}, {"max_uses": 3})
    assert finding.status == "unknown" and "could not be read" in finding.message
    assert holdout_reuse({}, {"max_uses": 3}).status == "unknown"
