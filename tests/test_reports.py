"""engine.reports: the JUnit XML read back by a JUnit parser, and the Markdown summary, from a real audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from engine.reports import junit_xml, markdown_summary, write_reports
from engine.service import AuditResult, run_audit
from engine.spec import build_spec

pytestmark = pytest.mark.slow

RULES = [
    {"id": "auc-floor", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.6,
     "severity": "block", "checklist": "optimizing_metric"},
    {"id": "auc-perfect", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.999,
     "severity": "block", "checklist": "optimizing_metric"},
    {"id": "recall-high", "kind": "metric_threshold", "metric": "recall", "op": ">=", "value": 0.99,
     "severity": "warn", "checklist": "satisficing_metrics"},
    {"id": "dp-by-region", "kind": "fairness", "measure": "demographic_parity_difference", "by": "region",
     "max": 0.1, "severity": "block", "checklist": "fairness"},
]


@pytest.fixture(scope="module")
def audited(adult_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    folder = tmp_path_factory.mktemp("reports")
    policy = folder / "policy.json"
    policy.write_text(json.dumps({"name": "ci-pack", "version": "1", "rules": RULES}), encoding="utf-8")
    spec = build_spec({
        "name": "adult <ci> & \"reports\"",
        "data": {"path": str(adult_parquet), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "evaluation": {"bootstrap": 100},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"}],
        "policies": [str(policy)],
    }, source="test_reports")
    return run_audit(spec, audit_db=folder / "audit.duckdb", cards_dir=folder / "cards")


def test_the_junit_file_lists_exactly_the_failed_rules_as_failures(audited: AuditResult, tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(junit_xml(audited, name="adult <ci>"), encoding="utf-8")
    suites = {suite.name: suite for suite in JUnitXml.fromfile(str(path))}
    assert set(suites) == {c.name for c in audited.candidates}
    for candidate in audited.candidates:
        cases = {case.name: case for case in suites[candidate.name]}
        assert set(cases) == {o.id for o in candidate.outcomes}  # one case per rule
        failures = {name for name, case in cases.items() if any(isinstance(r, Failure) for r in case.result)}
        errors = {name for name, case in cases.items() if any(isinstance(r, Error) for r in case.result)}
        expected_failures = {o.id for o in candidate.outcomes if o.status == "fail" and o.severity == "block"}
        expected_errors = {o.id for o in candidate.outcomes if o.status in ("unknown", "error")}
        assert failures == expected_failures
        assert errors == expected_errors
        assert not any(isinstance(r, Skipped) for case in cases.values() for r in case.result)
        assert suites[candidate.name].failures == len(expected_failures)
    logistic = {case.name: case for case in suites["logistic"]}
    assert "auc-perfect" in {name for name, case in logistic.items() if case.result}  # the impossible floor
    assert "dp-by-region" in {name for name, case in logistic.items() if any(isinstance(r, Error) for r in case.result)}
    assert not logistic["auc-floor"].result  # passed
    assert "warning:" in (logistic["recall-high"].system_out or "")  # a failed warning passes with a note
    assert not logistic["recall-high"].result


def test_the_summary_names_the_verdict_and_every_rule_that_did_not_pass(audited: AuditResult) -> None:
    text = markdown_summary(audited, name="adult <ci>")
    assert "**FAIL**" in text and "no candidate passed" in text
    assert r"adult \<ci\>" in text  # escaped for Markdown
    for outcome in next(c for c in audited.candidates if c.name == "logistic").outcomes:
        assert (f"`{outcome.id}`" in text) == (outcome.status != "pass")


def test_reports_are_written_and_appended_to_the_ci_step_summary(audited: AuditResult, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    step = tmp_path / "step.md"
    step.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    written = write_reports(audited, name="x", junit=tmp_path / "out" / "j.xml", summary=tmp_path / "s.md")
    assert written == [tmp_path / "out" / "j.xml", tmp_path / "s.md", step]
    assert step.read_text(encoding="utf-8").startswith("earlier step\n## mlgate audit")
    assert (tmp_path / "s.md").read_text(encoding="utf-8") in step.read_text(encoding="utf-8")


def test_fail_on_warn_makes_a_failed_warning_fail_the_candidate(adult_parquet: Path, tmp_path: Path) -> None:
    from engine.audit.runs import load_run, view

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"name": "warned", "version": "1", "rules": [RULES[0], RULES[2]]}), encoding="utf-8")
    verdicts = {}
    for fail_on in ("block", "warn"):
        spec = build_spec({
            "data": {"path": str(adult_parquet), "target": "income", "positive": ">50K"},
            "evaluation": {"bootstrap": 0, "fail_on": fail_on},
            "candidates": [{"name": "logistic", "family": "logistic"}], "policies": [str(policy)],
        }, source="test_reports")
        result = run_audit(spec, audit_db=tmp_path / "audit.duckdb", cards_dir=tmp_path / "cards")
        current = view(load_run(tmp_path / "audit.duckdb", result.run_id))
        assert current.verdict == result.verdict  # the view recomputed from the trail agrees
        verdicts[fail_on] = result.verdict
    assert verdicts == {"block": "pass", "warn": "fail"}  # the recall warning (>= 0.99) fails only with warn
