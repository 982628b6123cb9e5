"""Policies against task types: a rule that cannot apply to the audit's task is refused naming the rule; the
shipped packs fit their task; the rule kinds judge multiclass and regression evidence (pass, fail, unknown) as
the evaluation core records it, on real predictions of the wage data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import f1_score, mean_squared_error

from engine.errors import PolicyError
from engine.evaluation.groups import column_grouping
from engine.evaluation.multiclass import evaluate_multiclass
from engine.evaluation.performance import EvidenceSettings
from engine.evaluation.regression import evaluate_regression
from engine.evaluation.task_candidate import not_computed
from engine.policy.checker import check
from engine.policy.loader import POLICIES_DIR, load_policy
from engine.policy.registry import RULE_KINDS
from engine.policy.rules import FAIRNESS_TASKS
from engine.policy.tasks import check_for_task, task_problems
from engine.spec import build_spec, task_policy

ROOT = Path(__file__).resolve().parents[1]
WAGE = ROOT / "tests" / "fixtures" / "wage" / "wage.csv"
PACKS = {"binary": "default.json", "multiclass": "multiclass.json", "regression": "regression.json"}


def _policy(tmp_path: Path, *rules: dict[str, Any]) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"name": "p", "version": "1", "rules": [
        {"severity": "block", "checklist": "optimizing_metric", **rule} for rule in rules]}))
    return path


@pytest.mark.parametrize("task", list(PACKS))
def test_each_shipped_pack_fits_its_task_and_is_the_default(task: str) -> None:
    pack = load_policy(POLICIES_DIR / PACKS[task])
    assert task_problems(pack, task) == []
    assert task_policy(task) == POLICIES_DIR / PACKS[task]
    spec = build_spec({"task": task, "data": {"path": str(WAGE), "target": "wage"}}, source="flags")
    assert spec.policies == (POLICIES_DIR / PACKS[task],)
    assert spec.optimizing_metric == {"binary": "roc_auc", "multiclass": "f1_macro", "regression": "rmse"}[task]
    assert spec.document.get("task") == (None if task == "binary" else task)


def test_a_policy_given_is_kept_whatever_the_task(tmp_path: Path) -> None:
    path = _policy(tmp_path, {"id": "r2", "kind": "metric_threshold", "metric": "r2", "op": ">", "value": 0})
    spec = build_spec({"task": "regression", "policies": [str(path)], "data": {"path": str(WAGE), "target": "wage"}},
                      source="flags")
    assert spec.policies == (path,)


def test_the_binary_pack_in_a_regression_audit_names_each_rule_that_cannot_apply() -> None:
    problems = task_problems(load_policy(POLICIES_DIR / "default.json"), "regression")
    assert any("rule 'auc-floor' (metric_threshold): metric 'roc_auc' is not computed for regression audits" in p
               for p in problems)
    assert any("rule 'ece-ceiling' (calibration): kind 'calibration' applies to binary and multiclass" in p
               for p in problems)
    assert all(p.startswith(str(POLICIES_DIR / "default.json")) for p in problems)
    with pytest.raises(PolicyError) as caught:
        check_for_task([load_policy(POLICIES_DIR / "default.json")], "regression")
    assert caught.value.exit_code == 2 and "auc-floor" in caught.value.one_line()


@pytest.mark.parametrize(("task", "rule", "expected"), [
    ("regression", {"kind": "fairness", "measure": "equalized_odds_difference", "by": "race", "max": 0.1},
     "measure 'equalized_odds_difference' is not a regression fairness measure"),
    ("multiclass", {"kind": "beats_baseline", "metric": "rmse", "min_lift": 0}, "metric 'rmse' is not computed for"),
    ("binary", {"kind": "metric_threshold", "metric": "r2", "op": ">", "value": 0}, "metric 'r2' is not computed"),
    ("multiclass", {"kind": "reason_codes"}, "kind 'reason_codes' applies to binary audits, not to multiclass"),
])
def test_a_rule_the_task_cannot_have_is_a_validation_error(tmp_path: Path, task: str, rule: dict[str, Any],
                                                          expected: str) -> None:
    policy = load_policy(_policy(tmp_path, {"id": "the-rule", **rule}))
    (problem,) = task_problems(policy, task)
    assert "rule 'the-rule'" in problem and expected in problem


def test_policy_validate_with_a_task_exits_2_naming_the_rule() -> None:
    command = [sys.executable, "-m", "cli", "policy", "validate", "--task", "regression",
               str(POLICIES_DIR / "default.json")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 2 and "auc-floor" in done.stderr and "Traceback" not in done.stderr
    ok = subprocess.run([*command[:-1], str(POLICIES_DIR / "regression.json")], capture_output=True, text=True,
                        cwd=ROOT, check=False)
    assert ok.returncode == 0, ok.stderr


def test_an_audit_with_the_binary_pack_on_a_regression_target_stops_before_training(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "cli", "audit", "--data", str(WAGE), "--target", "wage", "--policy",
               str(POLICIES_DIR / "default.json"), "--audit-db", str(tmp_path / "a.duckdb"),
               "--cards-dir", str(tmp_path / "cards")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 2
    (line,) = [text for text in done.stderr.splitlines() if text.startswith("mlgate: error")]
    assert "auc-floor" in line and "roc_auc" in line and "regression" in line
    assert not (tmp_path / "a.duckdb").exists()


def test_every_kind_says_its_task_types() -> None:
    assert all(kind.task_types and set(kind.task_types) <= {"binary", "multiclass", "regression"}
               for kind in RULE_KINDS.values())
    assert RULE_KINDS["metric_threshold"].task_types == ("binary", "multiclass", "regression")
    assert set(FAIRNESS_TASKS) == {"binary", "multiclass", "regression"}


# --- the rule kinds on the evaluation core's evidence --------------------------------------------------------------

@pytest.fixture(scope="module")
def wage_evidence() -> dict[str, dict[str, Any]]:
    """Regression and multiclass evidence of simple real predictions (a ridge-like fit on half the rows)."""
    import pandas as pd

    frame = pd.read_csv(WAGE)
    rng = np.random.default_rng(15)
    order = rng.permutation(len(frame))
    train, test = frame.iloc[order[:1500]], frame.iloc[order[1500:]]
    x_train = np.column_stack([np.ones(len(train)), train["age"], train["year"] - 2003])
    x_test = np.column_stack([np.ones(len(test)), test["age"], test["year"] - 2003])
    coef = np.linalg.lstsq(x_train, train["wage"].to_numpy(), rcond=None)[0]
    settings = EvidenceSettings(resamples=200, seed=3, min_group_size=30)
    groupings = [column_grouping(test["race"].reset_index(drop=True), "race")]
    y = test["wage"].to_numpy(dtype=np.float64)
    regression = evaluate_regression(y, x_test @ coef, groupings=groupings, settings=settings,
                                     baseline=np.full(len(test), train["wage"].mean()))
    classes = sorted(frame["education"].unique())
    codes = test["education"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    prior = np.bincount(train["education"].map({c: i for i, c in enumerate(classes)}), minlength=5) / len(train)
    by_jobclass = np.where(test["jobclass"].str.startswith("2").to_numpy()[:, None], [.1, .2, .2, .3, .2],
                           [.15, .4, .2, .15, .1])
    multiclass = evaluate_multiclass(codes, by_jobclass, classes, groupings=groupings, settings=settings,
                                     baseline=np.tile(prior, (len(test), 1)))
    def stored(evidence: dict[str, Any]) -> dict[str, Any]:  # as the trail stores it: lifts beside comparisons
        lifts = {k: v["lift"] for k, v in evidence["comparisons"]["baseline"].items()}
        return {**evidence, "lift_over_baseline": lifts}

    return {"regression": {**stored(regression), "y": y, "predicted": x_test @ coef},
            "multiclass": {**stored(multiclass), "y": codes, "predicted": by_jobclass.argmax(1)}}


def _one(evidence: dict[str, Any], rule: dict[str, Any], tmp_path: Path) -> str:
    policy = load_policy(_policy(tmp_path, {"id": "r", **rule}))
    (outcome,) = check([policy], evidence)
    return outcome.status


def test_rule_kinds_judge_regression_evidence(wage_evidence: dict[str, Any], tmp_path: Path) -> None:
    evidence = wage_evidence["regression"]
    rmse = float(np.sqrt(mean_squared_error(evidence["y"], evidence["predicted"])))
    assert evidence["metrics"]["rmse"] == pytest.approx(rmse)
    threshold = {"kind": "metric_threshold", "metric": "rmse", "op": "<="}
    assert _one(evidence, {**threshold, "value": rmse + 0.01}, tmp_path) == "pass"
    assert _one(evidence, {**threshold, "value": rmse - 0.01}, tmp_path) == "fail"
    assert _one({k: v for k, v in evidence.items() if k != "metrics"}, {**threshold, "value": 1}, tmp_path) == "unknown"
    lift = evidence["lift_over_baseline"]["rmse"]
    assert lift > 0  # age and year say something about wage
    beats = {"kind": "beats_baseline", "metric": "rmse"}
    assert _one(evidence, {**beats, "min_lift": 0}, tmp_path) == "pass"
    assert _one(evidence, {**beats, "min_lift": lift + 1}, tmp_path) == "fail"
    ratio = evidence["slices"][0]["gaps"]["rmse_ratio"]
    fair = {"kind": "fairness", "measure": "rmse_ratio", "by": "race"}
    assert _one(evidence, {**fair, "min": ratio - 0.01}, tmp_path) == "pass"
    assert _one(evidence, {**fair, "min": min(ratio + 0.01, 1.0)}, tmp_path) == "fail"
    assert _one(evidence, {**fair, "by": "sex", "min": 0.5}, tmp_path) == "unknown"
    slice_rule = {"kind": "slice_metric", "metric": "rmse", "max_gap_from_overall": 1000.0}
    assert _one(evidence, slice_rule, tmp_path) == "pass"
    pending = {**evidence, "conformal": not_computed("conformal", "regression")}
    assert _one(pending, {"kind": "conformal_coverage", "tolerance": 0.1}, tmp_path) == "unknown"


def test_rule_kinds_judge_multiclass_evidence(wage_evidence: dict[str, Any], tmp_path: Path) -> None:
    evidence = wage_evidence["multiclass"]
    f1 = f1_score(evidence["y"], evidence["predicted"], average="macro", labels=range(5), zero_division=np.nan)
    assert evidence["metrics"]["f1_macro"] == pytest.approx(f1)
    threshold = {"kind": "metric_threshold", "metric": "f1_macro", "op": ">="}
    assert _one(evidence, {**threshold, "value": f1 - 0.01}, tmp_path) == "pass"
    assert _one(evidence, {**threshold, "value": f1 + 0.01}, tmp_path) == "fail"
    lift = evidence["lift_over_baseline"]["f1_macro"]
    assert _one(evidence, {"kind": "beats_baseline", "metric": "f1_macro", "min_lift": lift - 0.01},
                tmp_path) == "pass"
    assert _one(evidence, {"kind": "beats_baseline", "metric": "f1_macro", "min_lift": lift + 0.01},
                tmp_path) == "fail"
    gap = evidence["slices"][0]["gaps"]["accuracy_difference"]
    fair = {"kind": "fairness", "measure": "accuracy_difference", "by": "race"}
    assert _one(evidence, {**fair, "max": gap + 0.01}, tmp_path) == "pass"
    assert _one(evidence, {**fair, "max": max(gap - 0.01, 0.0)}, tmp_path) == "fail"
    no_calibration = {**evidence, "calibration": not_computed("calibration", "multiclass")}
    assert _one(no_calibration, {"kind": "calibration", "measure": "ece", "max": 0.05}, tmp_path) == "unknown"


@pytest.mark.parametrize("name", ["regression", "multiclass"])
def test_the_example_specs_name_their_task_and_pack(name: str) -> None:
    from engine.spec import read_spec_file

    path = ROOT / "examples" / "wage" / f"{name}.toml"
    document, text = read_spec_file(path)
    spec = build_spec(document, source=str(path), source_text=text)
    assert spec.task == name and [p.resolve() for p in spec.policies] == [(POLICIES_DIR / f"{name}.json").resolve()]
    assert "logwage" not in (spec.data.features or ())
    assert task_problems(load_policy(spec.policies[0]), name) == []


def test_the_task_flag_overrides_the_inference() -> None:
    from engine.spec import flags_document

    document = flags_document(data=WAGE, target="age", task="regression")
    spec = build_spec(document, source="command-line flags")
    assert spec.task == "regression" and spec.policies == (POLICIES_DIR / "regression.json",)
    assert build_spec(flags_document(data=WAGE, target="age"), source="flags").task is None  # inferred when read
