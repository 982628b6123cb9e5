"""engine.policy.rules (each rule kind on pass, fail, unknown) and engine.policy.checker (check, verdict)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from engine.evaluation.metrics import lift
from engine.jsonfiles import load_schema
from engine.policy.checker import Outcome, check, verdict
from engine.policy.loader import Policy, Rule
from engine.policy.rules import RULE_KINDS, Finding, beats_baseline, fmt, metric_threshold

# op, observed, bound, expected status
THRESHOLD_CASES = [
    (">=", 0.80, 0.75, "pass"),
    (">=", 0.75, 0.75, "pass"),
    (">=", 0.74, 0.75, "fail"),
    (">", 0.80, 0.75, "pass"),
    (">", 0.75, 0.75, "fail"),
    ("<=", 0.30, 0.35, "pass"),
    ("<=", 0.35, 0.35, "pass"),
    ("<=", 0.36, 0.35, "fail"),
    ("<", 0.30, 0.35, "pass"),
    ("<", 0.35, 0.35, "fail"),
]


@pytest.mark.parametrize(("op", "observed", "bound", "status"), THRESHOLD_CASES)
def test_metric_threshold(op: str, observed: float, bound: float, status: str) -> None:
    evidence = {"metrics": {"roc_auc": observed, "log_loss": 0.9}}
    finding = metric_threshold(evidence, {"metric": "roc_auc", "op": op, "value": bound})
    assert finding.status == status
    assert finding.observed == observed
    assert finding.threshold == bound
    assert fmt(observed) in finding.message
    assert fmt(bound) in finding.message
    assert op in finding.message
    assert "ROC AUC" in finding.message
    assert ("is not" in finding.message) == (status == "fail")


def test_metric_threshold_accepts_an_integer_bound() -> None:
    finding = metric_threshold({"metrics": {"accuracy": 0.5}}, {"metric": "accuracy", "op": "<=", "value": 1})
    assert finding.status == "pass"
    assert finding.threshold == 1.0


MISSING_METRIC_EVIDENCE = {
    "no metrics at all": {},
    "metric not computed": {"metrics": {"pr_auc": 0.7}},
    "metric undefined (None)": {"metrics": {"roc_auc": None}},
}


@pytest.mark.parametrize("case", list(MISSING_METRIC_EVIDENCE))
def test_metric_threshold_unknown_without_evidence(case: str) -> None:
    finding = metric_threshold(MISSING_METRIC_EVIDENCE[case], {"metric": "roc_auc", "op": ">=", "value": 0.7})
    assert finding.status == "unknown"
    assert finding.observed is None
    assert finding.threshold == 0.7
    assert "not computed" in finding.message


# metric, candidate value, baseline value, min_lift, expected status
BEATS_CASES = [
    ("roc_auc", 0.82, 0.50, 0.05, "pass"),  # higher is better, clearly better
    ("roc_auc", 0.53, 0.50, 0.05, "fail"),  # better, but not by enough
    ("roc_auc", 0.45, 0.50, 0.00, "fail"),  # worse
    ("log_loss", 0.35, 0.55, 0.05, "pass"),  # lower is better, clearly lower
    ("log_loss", 0.53, 0.55, 0.05, "fail"),  # lower, but not by enough
    ("log_loss", 0.60, 0.55, 0.00, "fail"),  # higher loss: worse
    ("brier", 0.18, 0.18, 0.00, "pass"),  # equal to the baseline meets a lift of 0
]


@pytest.mark.parametrize(("metric", "candidate", "baseline", "min_lift", "status"), BEATS_CASES)
def test_beats_baseline(metric: str, candidate: float, baseline: float, min_lift: float, status: str) -> None:
    observed = lift(metric, candidate, baseline)
    assert observed is not None
    finding = beats_baseline({"lift_over_baseline": {metric: observed}}, {"metric": metric, "min_lift": min_lift})
    assert finding.status == status
    assert finding.observed == observed
    assert finding.threshold == min_lift
    assert fmt(abs(observed)) in finding.message
    assert fmt(min_lift) in finding.message
    assert ("worse" in finding.message) == (observed < 0)
    assert "baseline" in finding.message


@pytest.mark.parametrize(
    "evidence",
    [{}, {"lift_over_baseline": {}}, {"lift_over_baseline": {"roc_auc": None}}, {"metrics": {"roc_auc": 0.9}}],
)
def test_beats_baseline_unknown_without_evidence(evidence: dict[str, Any]) -> None:
    finding = beats_baseline(evidence, {"metric": "roc_auc", "min_lift": 0.05})
    assert finding.status == "unknown"
    assert finding.observed is None
    assert finding.threshold == 0.05
    assert "not computed" in finding.message


def test_rule_kinds_equal_the_schema_kind_enum() -> None:
    schema = load_schema("engine.policy", "policy-v1.schema.json")
    assert set(schema["$defs"]["rule"]["properties"]["kind"]["enum"]) == set(RULE_KINDS)
    # every kind has its own parameter schema, selected by an if/then on the kind
    selected = {branch["if"]["properties"]["kind"]["const"] for branch in schema["$defs"]["rule"]["allOf"]}
    assert selected == set(RULE_KINDS)


def test_rule_kinds_return_findings() -> None:
    params = {
        "metric_threshold": {"metric": "f1", "op": ">", "value": 0.1},
        "beats_baseline": {"metric": "f1", "min_lift": 0},
    }
    evidence = {"metrics": {"f1": 0.5}, "lift_over_baseline": {"f1": 0.2}}
    for kind, function in RULE_KINDS.items():
        finding = function(evidence, params[kind])
        assert isinstance(finding, Finding)
        assert finding.status == "pass"


def _rule(rule_id: str, kind: str, severity: str = "block", **params: Any) -> Rule:
    return Rule(rule_id, kind, severity, "optimizing_metric", params, "test-policy")


def _policy(*rules: Rule) -> Policy:
    return Policy("test-policy", "1.0.0", Path("test-policy.json"), tuple(rules), ())


EVIDENCE = {"metrics": {"roc_auc": 0.81, "recall": 0.2}, "lift_over_baseline": {"roc_auc": 0.31}}


def test_check_runs_every_rule_of_every_policy_in_order() -> None:
    first = _policy(
        _rule("auc", "metric_threshold", metric="roc_auc", op=">=", value=0.8),
        _rule("recall", "metric_threshold", "warn", metric="recall", op=">=", value=0.3),
    )
    second = _policy(
        _rule("lift", "beats_baseline", metric="roc_auc", min_lift=0.05),
        _rule("pr-lift", "beats_baseline", metric="pr_auc", min_lift=0.05),
    )
    outcomes = check([first, second], EVIDENCE)
    assert [(o.id, o.status) for o in outcomes] == [
        ("auc", "pass"),
        ("recall", "fail"),
        ("lift", "pass"),
        ("pr-lift", "unknown"),
    ]
    recall = outcomes[1]
    assert (recall.kind, recall.severity, recall.checklist, recall.policy) == (
        "metric_threshold",
        "warn",
        "optimizing_metric",
        "test-policy",
    )
    assert (recall.observed, recall.threshold) == (0.2, 0.3)
    assert recall.to_json()["message"] == recall.message


RAISING_RULES = {
    "missing parameter": _rule("r", "metric_threshold", metric="roc_auc", op=">="),
    "unknown metric": _rule("r", "metric_threshold", metric="gini", op=">=", value=0.5),
    "unknown operator": _rule("r", "metric_threshold", metric="roc_auc", op="==", value=0.5),
    "non-numeric bound": _rule("r", "beats_baseline", metric="roc_auc", min_lift="a lot"),
}


@pytest.mark.parametrize("case", list(RAISING_RULES))
def test_check_turns_a_raising_rule_into_an_error_outcome(case: str) -> None:
    ok = _rule("ok", "metric_threshold", metric="roc_auc", op=">=", value=0.5)
    outcomes = check([_policy(RAISING_RULES[case], ok)], EVIDENCE)
    assert [o.status for o in outcomes] == ["error", "pass"]
    error = outcomes[0]
    assert error.observed is None and error.threshold is None
    assert error.message.startswith("rule could not be evaluated: ")


def test_check_error_when_evidence_has_the_wrong_shape() -> None:
    rule = _rule("r", "metric_threshold", metric="roc_auc", op=">=", value=0.5)
    (outcome,) = check([_policy(rule)], {"metrics": ["not", "a", "mapping"]})
    assert outcome.status == "error"
    assert "AttributeError" in outcome.message


def test_check_of_the_shipped_default_policy_on_good_evidence_passes() -> None:
    from engine.policy.loader import load_policy

    policy = load_policy(ROOT / "policies" / "default.json")
    evidence = {
        "metrics": {"roc_auc": 0.9, "recall": 0.6},
        "lift_over_baseline": {"roc_auc": 0.4, "pr_auc": 0.4, "log_loss": 0.2, "brier": 0.05},
    }
    outcomes = check([policy], evidence)
    assert {o.status for o in outcomes} == {"pass"}
    assert verdict(outcomes) == "pass"
    assert {o.status for o in check([policy], {})} == {"unknown"}
    assert verdict(check([policy], {})) == "fail"


def _outcome(severity: str, status: str) -> Outcome:
    return Outcome("r", "metric_threshold", severity, "optimizing_metric", "p", status, None, None, "m")  # type: ignore[arg-type]


VERDICTS = [
    ([], "pass"),
    ([("block", "pass")], "pass"),
    ([("block", "fail")], "fail"),
    ([("block", "unknown")], "fail"),
    ([("block", "error")], "fail"),
    ([("warn", "fail")], "pass"),
    ([("warn", "unknown")], "pass"),
    ([("warn", "error")], "pass"),
    ([("block", "pass"), ("warn", "fail"), ("block", "pass")], "pass"),
    ([("block", "pass"), ("warn", "pass"), ("block", "fail")], "fail"),
]


@pytest.mark.parametrize(("outcomes", "expected"), VERDICTS)
def test_verdict(outcomes: list[tuple[str, str]], expected: str) -> None:
    assert verdict(_outcome(severity, status) for severity, status in outcomes) == expected
