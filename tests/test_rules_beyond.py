"""engine.policy.rules_beyond: conformal_coverage, explainability and robustness on pass, fail and unknown, and
their parameter schemas."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from beyond_data import GOOD_BEYOND

from engine.jsonfiles import load_schema, schema_errors
from engine.policy.registry import RULE_KINDS


def _with(path: str, value: Any) -> dict[str, Any]:
    """GOOD_BEYOND with one value replaced: `path` is keys and list indexes joined by '/'."""
    evidence = copy.deepcopy(GOOD_BEYOND)
    *parents, last = path.split("/")
    node: Any = evidence
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return evidence


GROUP_FEMALE = "conformal/levels/0/by_group/0/groups/0/coverage"
# kind, params, evidence, expected status, a phrase the message must hold
CASES = [
    ("conformal_coverage", {"tolerance": 0.0}, GOOD_BEYOND, "pass", "lowest"),
    ("conformal_coverage", {"tolerance": 0.0}, _with(GROUP_FEMALE, 0.85), "fail", "sex=Female at 0.9 0.85"),
    ("conformal_coverage", {"tolerance": 0.05}, _with(GROUP_FEMALE, 0.85), "pass", "race=Other (n=12)"),
    ("conformal_coverage", {"tolerance": 0.0, "by": "race"}, _with(GROUP_FEMALE, 0.85), "pass", "race=White"),
    ("conformal_coverage", {"tolerance": 0.0, "small_groups": "fail"}, GOOD_BEYOND, "fail", "too small"),
    ("conformal_coverage", {"tolerance": 0.0, "small_groups": "unknown"}, GOOD_BEYOND, "unknown", "too small"),
    ("conformal_coverage", {"max_mean_set_size": 1.1}, GOOD_BEYOND, "fail", "mean prediction-set size 1.2"),
    ("conformal_coverage", {"confidence": 0.95}, GOOD_BEYOND, "unknown", "no conformal level 0.95"),
    ("conformal_coverage", {"by": "age"}, GOOD_BEYOND, "unknown", "no grouping 'age'"),
    ("conformal_coverage", {}, {}, "unknown", "not computed"),
    ("conformal_coverage", {}, {"conformal": {"error": "ValueError: boom"}}, "unknown", "ValueError: boom"),
    ("explainability", {}, GOOD_BEYOND, "pass", "faithful"),
    ("explainability", {"top_k": 3}, GOOD_BEYOND, "pass", "capital-gain, education-num, relationship"),
    ("explainability", {"top_k": 3, "proxy_threshold": 0.1}, GOOD_BEYOND, "fail", "relationship (proxy: NMI with sex"),
    ("explainability", {"top_k": 3, "proxy_threshold": 0.1, "allow": ["relationship"]}, GOOD_BEYOND, "pass", "top 3"),
    ("explainability", {"top_k": 4}, _with("explanations/ranking/3/mean_abs", 0.1), "fail", "sex (a sensitive column)"),
    ("explainability", {}, _with("explanations/faithfulness/max_abs_error", 1e-3), "fail", "not faithful"),
    ("explainability", {"max_faithfulness_error": 1e-2}, _with("explanations/faithfulness/max_abs_error", 1e-3),
     "pass", "faithful"),
    ("explainability", {"top_k": 3}, {}, "unknown", "not computed"),
    ("robustness", {"max_drop": 0.02}, GOOD_BEYOND, "pass", "3 tests within bounds"),
    ("robustness", {"max_drop": 0.02, "metric": "accuracy"}, GOOD_BEYOND, "pass", "ccuracy drop"),
    ("robustness", {"max_drop": 0.02}, _with("robustness/perturbations/missing_values/drop/roc_auc", 0.2), "fail",
     "ROC AUC drop under missing values 0.2 > 0.02"),
    ("robustness", {"max_drop": 0.02}, _with("robustness/perturbations/missing_values/drop/roc_auc", None), "unknown",
     "ROC AUC drop under missing values"),
    ("robustness", {"max_invariance_violation_rate": 0.0}, GOOD_BEYOND, "pass", "age"),
    ("robustness", {"max_invariance_violation_rate": 0.0}, _with("robustness/invariance/0/violation_rate", 0.3),
     "fail", "shuffling sex 0.3 > 0"),
    ("robustness", {"max_directional_violation_rate": 0.0}, GOOD_BEYOND, "pass", "capital-gain +5000"),
    ("robustness", {"max_directional_violation_rate": 0.1}, _with("robustness/directional/0/violation_rate", 0.4),
     "fail", "non-decreasing when capital-gain +5000 0.4 > 0.1"),
    ("robustness", {"max_directional_violation_rate": 0.1}, _with("robustness/directional", []), "unknown",
     "none declared"),
    ("robustness", {"max_drop": 0.1}, {"robustness": {"error": "KeyError: 'x'"}}, "unknown", "could not be computed"),
]


@pytest.mark.parametrize(("kind", "params", "evidence", "status", "phrase"), CASES)
def test_beyond_rule_kinds(kind: str, params: dict[str, Any], evidence: dict[str, Any], status: str,
                           phrase: str) -> None:
    finding = RULE_KINDS[kind](evidence, params)
    assert finding.status == status, finding.message
    assert phrase in finding.message
    if status == "unknown" and "small" not in phrase:
        assert finding.observed is None


def test_failing_findings_report_the_worst_value_and_its_bound() -> None:
    finding = RULE_KINDS["conformal_coverage"](_with(GROUP_FEMALE, 0.8), {"tolerance": 0.02})
    assert (finding.observed, finding.threshold) == (0.8, pytest.approx(0.88))
    finding = RULE_KINDS["robustness"](_with("robustness/directional/0/violation_rate", 0.4),
                                       {"max_directional_violation_rate": 0.1, "max_drop": 0.05})
    assert (finding.observed, finding.threshold) == (0.4, 0.1)


def _errors(kind: str, params: dict[str, Any]) -> list[str]:
    rule = {"id": "r", "kind": kind, "severity": "block", "checklist": "robustness", **params}
    return schema_errors({"name": "p", "version": "1", "rules": [rule]},
                         load_schema("engine.policy", "policy-v1.schema.json"))


@pytest.mark.parametrize(("kind", "params"), [(k, p) for k, p, *_ in CASES])
def test_schema_accepts_the_rules_of_these_tests(kind: str, params: dict[str, Any]) -> None:
    if kind == "robustness" or params:
        assert _errors(kind, params) == []


@pytest.mark.parametrize(("kind", "params"), [
    ("robustness", {}),
    ("robustness", {"metric": "roc_auc"}),
    ("robustness", {"max_drop": 0.1, "perturbations": ["rotation"]}),
    ("conformal_coverage", {"tolerance": 1.5}),
    ("conformal_coverage", {"confidence": 1.0}),
    ("explainability", {"top_k": 0}),
    ("explainability", {"allow": "sex"}),
    ("explainability", {"unknown_option": 1}),
])
def test_schema_refuses_ill_formed_rules(kind: str, params: dict[str, Any]) -> None:
    assert _errors(kind, params)
