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


def test_the_summary_and_the_trail_read_back_show_one_leaderboard(audited: AuditResult) -> None:
    from engine.audit.runs import load_run, view
    from engine.leaderboard import from_result, from_view

    board = from_result(audited)
    record = load_run(audited.audit_db, audited.run_id)
    evidence = {name: event.data.get("evidence") or {} for name, event in record.candidates.items()}
    errors = {name: event.data.get("error") for name, event in record.candidates.items()}
    again = from_view(view(record), evidence=evidence, errors=errors)
    assert [r.name for r in board.rows] == [r.name for r in again.rows] == [c.name for c in audited.candidates]
    assert (board.metric, board.metric_label, board.recommended) == ("roc_auc", "ROC AUC", audited.recommended)
    for row, read_back in zip(board.rows, again.rows, strict=True):
        assert (row.value_text(), row.lift_text(), row.counts, row.verdict, row.marker) == (
            read_back.value_text(), read_back.lift_text(), read_back.counts, read_back.verdict, read_back.marker)
        assert row.interval is None, "a finished audit's result holds no intervals"
        assert row.signoff is None and read_back.signoff is None, "nobody has signed off yet"
        assert read_back.interval is not None or row.is_baseline, "the trail holds the bootstrap interval"
    logistic = board.row("logistic")
    assert logistic is not None and logistic.lift is not None and board.row("baseline").lift_text() == "—"
    summary = markdown_summary(audited, name="x")
    assert f"| `logistic` | logistic | {logistic.value_text()} | {logistic.lift_text()} | FAIL |" in summary
