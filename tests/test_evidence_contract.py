"""The evidence contract: every candidate's recorded evidence is one typed `Evidence` that follows the shipped
evidence-v1.schema.json, for every family, calibrated variants and (in test_external.py) models trained
elsewhere; the schema refuses what is not evidence; the versioned reader refuses a version it does not know."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.audit import runs
from engine.candidates import FAMILIES
from engine.errors import TrailError
from engine.evaluation.evidence import (
    EVIDENCE_VERSION,
    SECTIONS,
    Evidence,
    evidence_errors,
    section_of,
    stored_evidence,
)
from engine.service import AuditResult, run_audit
from engine.spec import build_spec

CANDIDATES: list[dict[str, Any]] = [
    {"name": "baseline", "family": "baseline"},
    {"name": "logistic", "family": "logistic", "calibration": ["platt", "isotonic"]},
    {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 40}},
    {"name": "mlp", "family": "torch_mlp", "params": {"hidden_sizes": [8], "epochs": 2, "batch_size": 256}},
]
NAMES = ["baseline", "logistic", "logistic.platt", "logistic.isotonic", "lightgbm", "mlp"]


@pytest.fixture(scope="module")
def audited(adult_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditResult, runs.RunRecord]:
    """One audit of every family (and both calibrations) on the Adult sample."""
    base = tmp_path_factory.mktemp("contract")
    spec = build_spec({
        "name": "contract", "data": {"path": str(adult_parquet), "target": "income", "positive": ">50K",
                                     "sensitive": ["sex"]},
        "evaluation": {"bootstrap": 100, "shap_rows": 20, "shap_background": 10, "robustness_rows": 300},
        "candidates": CANDIDATES,
    }, source="test_evidence_contract")
    result = run_audit(spec, audit_db=base / "audit.duckdb", cards_dir=base / "cards")
    return result, runs.load_run(base / "audit.duckdb", result.run_id)


@pytest.mark.slow
def test_every_family_and_calibrated_variant_records_evidence_that_follows_the_schema(
        audited: tuple[AuditResult, runs.RunRecord]) -> None:
    result, record = audited
    assert [c.name for c in result.candidates] == NAMES
    assert {c.family for c in result.candidates} == set(FAMILIES)
    for name, event in record.candidates.items():
        assert event.data["error"] is None, name
        assert event.data["evidence_version"] == EVIDENCE_VERSION
        evidence = stored_evidence(event.data)
        assert evidence_errors(evidence) == [], name
        assert Evidence.from_json(evidence).to_json() == evidence, name
        for key in evidence:
            assert "binary" in section_of(key).task_types, (name, key)
        for section in ("conformal", "explanations", "robustness", "serving", "reproducibility", "lineage",
                        "champion", "comparisons"):
            assert section in evidence, (name, section)


@pytest.mark.slow
def test_the_baseline_comparison_is_the_one_the_rules_judge(audited: tuple[AuditResult, runs.RunRecord]) -> None:
    result, record = audited
    for candidate in result.candidates:
        evidence = stored_evidence(record.candidates[candidate.name].data)
        typed = Evidence.from_json(evidence)
        assert typed.comparisons.baseline == "baseline"
        assert typed.comparisons.versus_baseline is not None
        assert candidate.lift == {m: e["lift"] for m, e in typed.comparisons.versus_baseline.items()}
        assert typed.comparisons.champion == {"model": "contract", "current": None, "available": []}


def test_every_key_of_the_schema_belongs_to_one_section() -> None:
    from engine.evaluation.evidence import evidence_schema

    keys = set(evidence_schema()["properties"])
    owned = [key for section in SECTIONS for key in section.keys]
    assert sorted(owned) == sorted(set(owned)), "no key is owned by two sections"
    assert keys == set(owned)


MINIMAL: dict[str, Any] = {
    "split": "test", "rows": 10, "positives": 3, "threshold": 0.5, "metrics": {"roc_auc": 0.7},
    "rates": {"tpr": 0.5}, "curves": {"roc": {"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]},
                                      "pr": {"precision": [1.0], "recall": [0.0]}},
    "slices": [], "calibration": {"uniform": {"ece": 0.1, "mce": 0.2, "brier": 0.2}},
    "error_analysis": {"by_probability": [], "worst_slices": []},
}


@pytest.mark.parametrize(("change", "where"), [
    pytest.param({"metrics": None}, "/metrics", id="metrics-not-an-object"),
    pytest.param({"metrics": {"roc_auc": "0.7"}}, "/metrics/roc_auc", id="metric-as-text"),
    pytest.param({"split": "train"}, "/split", id="training-rows"),
    pytest.param({"verdict": "pass"}, "/", id="a-verdict-is-not-evidence"),
    pytest.param({"serving": {"latency": {}}}, "/serving", id="serving-without-features"),
])
def test_the_schema_refuses_what_is_not_evidence(change: dict[str, Any], where: str) -> None:
    assert evidence_errors(MINIMAL) == []
    errors = evidence_errors({**MINIMAL, **change})
    assert errors and errors[0].startswith(where), errors


def test_a_failed_part_is_stored_as_its_error_and_still_follows_the_schema() -> None:
    assert evidence_errors({**MINIMAL, "explanations": {"error": "ValueError: no rows"}}) == []


def test_the_reader_refuses_an_evidence_version_it_does_not_know() -> None:
    assert stored_evidence({"candidate": "a", "evidence": MINIMAL}) == MINIMAL  # version 0: read as it is
    assert stored_evidence({"candidate": "a", "evidence": MINIMAL, "evidence_version": 1}) == MINIMAL
    with pytest.raises(TrailError, match="evidence version 2"):
        stored_evidence({"candidate": "a", "evidence": MINIMAL, "evidence_version": 2})
