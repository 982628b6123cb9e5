"""engine.policy.rules_uncertainty: `conformal_coverage` (prediction sets, split-conformal and CQR intervals) and
`calibration` (top-label and class-wise ECE) on pass, fail and unknown for every task, on evidence computed from
real wage (ISLR) predictions; `engine.policy.tasks.PARAM_TASKS` refuses a parameter its task cannot judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from task_data import design

from engine.candidates.base import Features
from engine.evaluation.calibration_multiclass import multiclass_calibration
from engine.evaluation.conformal import conformal_evidence
from engine.evaluation.conformal_multiclass import conformal_multiclass_evidence
from engine.evaluation.conformal_quantile import cqr_evidence
from engine.evaluation.conformal_regression import conformal_regression_evidence
from engine.evaluation.groups import column_grouping
from engine.policy.loader import PolicyProblems, load_policy
from engine.policy.registry import RULE_KINDS
from engine.policy.tasks import check_for_task, task_problems

LEVELS = [0.8, 0.9]
MIN_GROUP = 30


def _split(n: int) -> tuple[slice, slice, slice]:
    return slice(0, n // 2), slice(n // 2, 3 * n // 4), slice(3 * n // 4, n)


@pytest.fixture(scope="module")
def evidence() -> dict[str, dict[str, Any]]:
    """Each task's uncertainty evidence on the wage rows: regression on wage, multiclass on education, binary on
    jobclass."""
    found: dict[str, dict[str, Any]] = {}
    frame, x = design("wage", "regression")
    train, valid, test = _split(len(frame))
    groupings = [column_grouping(frame.iloc[test].reset_index(drop=True)["race"], "race")]
    y = frame["wage"].to_numpy(dtype=np.float64)
    predicted = Ridge(alpha=1.0).fit(x[train], y[train]).predict(x)
    conformal = conformal_regression_evidence(y[valid], predicted[valid], y[test], predicted[test], levels=LEVELS,
                                              groupings=groupings, min_group_size=MIN_GROUP)
    features = Features(("year", "age"), ("maritl", "race", "education", "region", "jobclass", "health",
                                          "health_ins"))
    conformal["cqr"] = cqr_evidence(frame.iloc[train], y[train], frame.iloc[valid], y[valid], frame.iloc[test],
                                    y[test], features=features, seed=3, levels=LEVELS, groupings=groupings,
                                    min_group_size=MIN_GROUP)
    found["regression"] = {"conformal": conformal}
    frame, x = design("wage", "multiclass")
    codes, classes = pd.factorize(frame["education"], sort=True)
    proba = LogisticRegression(max_iter=2000).fit(x[train], codes[train]).predict_proba(x)
    found["multiclass"] = {
        "conformal": conformal_multiclass_evidence(codes[valid], proba[valid], codes[test], proba[test],
                                                   levels=LEVELS, groupings=groupings, min_group_size=MIN_GROUP),
        "calibration": multiclass_calibration(codes[test], proba[test], [str(c) for c in classes], groupings,
                                              bins=10)}
    jobs = (frame["jobclass"] == frame["jobclass"].iloc[0]).to_numpy()
    p = LogisticRegression(max_iter=2000).fit(x[train], jobs[train]).predict_proba(x)[:, 1]
    found["binary"] = {"conformal": conformal_evidence(jobs[valid], p[valid], jobs[test], p[test], levels=LEVELS,
                                                       groupings=groupings, min_group_size=MIN_GROUP)}
    return found


def _judge(kind: str, params: dict[str, Any], evidence: dict[str, Any]) -> Any:
    return RULE_KINDS[kind](evidence, params)


def _level(part: dict[str, Any], measure: str) -> float:
    return max(level[measure] for level in part["levels"])


@pytest.mark.parametrize("task,method,measure,bound", [
    ("regression", None, "mean_width", "max_mean_width"), ("regression", "split", "mean_width", "max_mean_width"),
    ("regression", "cqr", "mean_width", "max_mean_width"), ("multiclass", None, "mean_set_size", "max_mean_set_size"),
    ("multiclass", "sets", "mean_set_size", "max_mean_set_size"),
    ("binary", "sets", "mean_set_size", "max_mean_set_size"),
])
def test_conformal_coverage_pass_fail_unknown(evidence: dict[str, dict[str, Any]], task: str, method: str | None,
                                              measure: str, bound: str) -> None:
    found = evidence[task]
    part = found["conformal"]["cqr"] if method == "cqr" else found["conformal"]
    lowest = min(level["coverage"] for level in part["levels"])
    chosen = {"method": method} if method else {}
    loose = {**chosen, "tolerance": 0.5}
    assert _judge("conformal_coverage", loose, found).status == "pass"
    assert _judge("conformal_coverage", {**loose, bound: _level(part, measure) + 1e-9}, found).status == "pass"
    too_wide = _judge("conformal_coverage", {**loose, bound: _level(part, measure) * 0.5}, found)
    assert too_wide.status == "fail" and too_wide.observed == pytest.approx(_level(part, measure))
    short = _judge("conformal_coverage", {**chosen, "tolerance": 0.0, "confidence": 0.9, "small_groups": "report"},
                   {"conformal": {**part, "levels": [{**part["levels"][1], "coverage": 0.5}]}}
                   if method != "cqr" else {"conformal": {"cqr": {**part, "levels": [
                       {**part["levels"][1], "coverage": 0.5}]}}})
    assert short.status == "fail" and "overall at 0.9 0.5" in short.message
    assert lowest > 0.5
    assert _judge("conformal_coverage", {**chosen, "confidence": 0.95}, found).status == "unknown"
    assert _judge("conformal_coverage", chosen, {}).status == "unknown"
    failed = {"conformal": {"error": "ValueError: boom"}}
    assert "boom" in _judge("conformal_coverage", chosen, failed).message


def test_cqr_is_unknown_where_only_split_intervals_or_sets_exist(evidence: dict[str, dict[str, Any]]) -> None:
    split_only = {"conformal": {k: v for k, v in evidence["regression"]["conformal"].items() if k != "cqr"}}
    assert _judge("conformal_coverage", {"method": "cqr"}, split_only).status == "unknown"
    assert _judge("conformal_coverage", {"method": "split"}, evidence["multiclass"]).status == "unknown"
    assert _judge("conformal_coverage", {"method": "sets"}, evidence["regression"]).status == "unknown"
    failed = {"conformal": {**evidence["regression"]["conformal"], "cqr": {"error": "ValueError: no quantiles"}}}
    assert "no quantiles" in _judge("conformal_coverage", {"method": "cqr"}, failed).message
    assert _judge("conformal_coverage", {"method": "split", "tolerance": 0.5}, failed).status == "pass"


def test_calibration_classwise_and_top_label_on_multiclass(evidence: dict[str, dict[str, Any]]) -> None:
    found = evidence["multiclass"]
    classwise = found["calibration"]["classwise_ece"]
    top = found["calibration"]["top_label"]["ece"]
    assert classwise == pytest.approx(np.mean([c["ece"] for c in found["calibration"]["per_class"]]))
    passed = _judge("calibration", {"measure": "classwise_ece", "max": classwise + 1e-9}, found)
    assert passed.status == "pass" and passed.observed == pytest.approx(classwise) and "class-wise" in passed.message
    assert _judge("calibration", {"measure": "classwise_ece", "max": classwise * 0.5}, found).status == "fail"
    assert _judge("calibration", {"measure": "ece", "max": top + 1e-9}, found).observed == pytest.approx(top)
    unknown = _judge("calibration", {"measure": "classwise_ece", "max": 1}, {"calibration": {"error": "not yet"}})
    assert unknown.status == "unknown" and "not yet" in unknown.message


RULES = {
    "sets-on-regression": ({"kind": "conformal_coverage", "method": "sets"}, "regression", "method 'sets'"),
    "cqr-on-multiclass": ({"kind": "conformal_coverage", "method": "cqr"}, "multiclass", "method 'cqr'"),
    "width-on-binary": ({"kind": "conformal_coverage", "max_mean_width": 5}, "binary", "max_mean_width"),
    "size-on-regression": ({"kind": "conformal_coverage", "max_mean_set_size": 1.5}, "regression",
                           "max_mean_set_size"),
    "classwise-on-binary": ({"kind": "calibration", "measure": "classwise_ece", "max": 0.1}, "binary",
                            "classwise_ece"),
}


@pytest.mark.parametrize("rule_id", list(RULES))
def test_a_parameter_its_task_cannot_judge_is_refused_naming_the_rule(tmp_path: Path, rule_id: str) -> None:
    rule, task, named = RULES[rule_id]
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"name": "p", "version": "1", "rules": [
        {"id": rule_id, "severity": "warn", "checklist": "calibration", **rule}]}))
    policy = load_policy(path)
    problems = task_problems(policy, task)
    assert len(problems) == 1 and f"rule {rule_id!r}" in problems[0] and named in problems[0]
    assert str(path) in problems[0] and task in problems[0]
    with pytest.raises(PolicyProblems):
        check_for_task([policy], task)
    fitting = {"sets-on-regression": "binary", "cqr-on-multiclass": "regression", "width-on-binary": "regression",
               "size-on-regression": "multiclass", "classwise-on-binary": "multiclass"}[rule_id]
    assert task_problems(policy, fitting) == []
