"""engine.policy.rules (each rule kind on pass, fail, unknown, small groups), their policy schema, and
engine.policy.checker (check, verdict)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import serving_helpers
from adult_scores import NUMERIC, score_half
from beyond_data import GOOD_BEYOND, fit
from conftest import ROOT
from release_evidence import champion_entry, real_lineage, release_evidence

from engine.candidates.base import Features
from engine.decision import candidate_verdict
from engine.evaluation.beyond import beyond_evidence
from engine.evaluation.comparisons import compare
from engine.evaluation.data_quality import data_quality
from engine.evaluation.groups import sensitive_groupings
from engine.evaluation.integrity import SplitRows, split_integrity
from engine.evaluation.metrics import lift
from engine.evaluation.performance import EvidenceSettings, evaluate
from engine.jsonfiles import load_schema, schema_errors
from engine.policy.checker import Outcome, check
from engine.policy.groups import grouping_name
from engine.policy.loader import Policy, Rule
from engine.policy.registry import RULE_KINDS
from engine.policy.rules import (
    FAIRNESS_TASKS,
    Finding,
    beats_baseline,
    fairness,
    fmt,
    metric_threshold,
    slice_metric,
)
from engine.policy.rules_monitor import MONITOR_KINDS
from engine.policy.rules_uncertainty import calibration
from engine.reasons.evidence import decisions_evidence

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
    assert "not computed" in finding.message or "undefined" in finding.message


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
    assert "not computed" in finding.message or "undefined" in finding.message


def test_rule_kinds_equal_the_schema_kind_enum() -> None:
    schema = load_schema("engine.policy", "policy-v1.schema.json")
    assert set(schema["$defs"]["rule"]["properties"]["kind"]["enum"]) == set(RULE_KINDS)
    # every kind has its own parameter schema, selected by an if/then on the kind
    selected = {branch["if"]["properties"]["kind"]["const"] for branch in schema["$defs"]["rule"]["allOf"]}
    assert selected == set(RULE_KINDS)


# One passing rule of every kind on the real evidence (thresholds loose enough for a numeric-only logistic model).
AUDIT_KINDS = {name: kind for name, kind in RULE_KINDS.items() if name not in MONITOR_KINDS}
REAL_RULES: dict[str, dict[str, Any]] = {
    "metric_threshold": {"metric": "roc_auc", "op": ">=", "value": 0.75, "use": "ci_lower"},
    "beats_baseline": {"metric": "roc_auc", "min_lift": 0.05, "significance": 0.05},
    "slice_metric": {"metric": "roc_auc", "by": ["sex", "race"], "max_gap_from_overall": 0.10},
    "fairness": {"measure": "demographic_parity_difference", "by": "sex", "max": 0.15, "use": "ci_upper"},
    "calibration": {"measure": "ece", "max": 0.05},
    "conformal_coverage": {"confidence": 0.9, "tolerance": 0.1, "by": "sex"},
    "explainability": {"top_k": 3, "max_faithfulness_error": 1e-6},
    "robustness": {"max_drop": 0.1, "max_invariance_violation_rate": 0.0, "max_directional_violation_rate": 0.05},
    "onnx_parity": {"max_abs_diff": 0.001, "max_disagreement": 0.001},
    "latency": {"percentile": "p99", "max_ms": 100},
    "throughput": {"min_rows_per_second": 100},
    "model_size": {"max_mb": 50},
    "feature_availability": {},
    "artifacts_packaged": {},
    "reproducible": {"max_abs_diff": 0},
    "lineage_complete": {},
    "rollback": {},
    "beats_champion": {"metric": "roc_auc", "min_lift": 0.0, "significance": 0.05},
    "split_integrity": {"max_duplicate_rate": 0.01},
    "data_quality": {"allow_constant": True, "max_unseen_rate": 0.05},

    "reason_codes": {"max_error": 0.01, "max_withheld_share": 1.0},
    "recourse_parity": {"by": "sex", "max_gap": 1.0},
    "cv_stability": {"max_std": 0.1, "max_spread": 0.3},
    "generalization_gap": {"max_gap": 0.1},
    "test_reuse": {"max_uses": 5},
}


def fit_evidence(data: Any, splits: Any) -> dict[str, Any]:
    """The cross_validation and generalization sections of a real logistic candidate (3 stratified folds)."""
    from engine.candidates import FAMILIES, TrainingData
    from engine.evaluation.cv import cross_validation
    from engine.evaluation.generalization import generalization
    from engine.folds import cv_folds
    from engine.progress import ignore
    from engine.spec import CandidateSpec, SplitSpec

    frame, y = data.frame, data.y
    development = np.sort(np.concatenate([splits.train, splits.validation]))
    folds = cv_folds(frame, y, development, SplitSpec(0.2, 0.2, 11, folds=3), where="adult")
    candidate = CandidateSpec("logistic", "logistic", dict(FAMILIES["logistic"].default_params))
    model = FAMILIES["logistic"].build(candidate.params)
    training = TrainingData(frame.iloc[splits.train], y[splits.train], frame.iloc[splits.validation],
                            y[splits.validation], data.features, 11)
    model.fit(training)
    folded = cross_validation(model, candidate, folds, frame=frame, y=y, features=data.features, metric="roc_auc",
                              threshold=0.5, seed=11, strategy="stratified", early_stopping_share=0.25,
                              progress=ignore, asked=3)
    x_test, y_test = frame.iloc[splits.test], y[splits.test]
    fit = generalization(model, candidate, training, trained_on="training split of the data", y_test=y_test,
                         proba_test=model.predict_proba(x_test), metric="roc_auc", threshold=0.5, fractions=(),
                         progress=ignore)
    return {"cross_validation": folded, "generalization": fit}


def test_rule_kinds_return_findings(real_evidence: dict[str, Any]) -> None:
    assert set(REAL_RULES) == set(RULE_KINDS) - set(MONITOR_KINDS)  # monitoring kinds: tests/test_monitor.py
    for kind, function in AUDIT_KINDS.items():
        finding = function(real_evidence, REAL_RULES[kind])
        assert isinstance(finding, Finding)
        assert finding.status == "pass", (kind, finding.message)
        assert isinstance(finding.observed, float)
        assert isinstance(finding.threshold, float)
        assert finding.message


def test_each_kind_reads_only_the_evidence_sections_its_record_names(real_evidence: dict[str, Any]) -> None:
    for kind, record in AUDIT_KINDS.items():
        alone = {key: value for key, value in real_evidence.items() if key in record.reads}
        assert record.check(alone, REAL_RULES[kind]) == record.check(real_evidence, REAL_RULES[kind]), kind
        assert record.check({}, REAL_RULES[kind]).status in ("unknown", "fail"), kind


# kind, params, expected status on the real evidence: every kind also fails and is unknown on real data
REAL_CASES = [
    ("metric_threshold", {"metric": "roc_auc", "op": ">=", "value": 0.84, "use": "ci_lower"}, "fail"),
    ("metric_threshold", {"metric": "log_loss", "op": "<=", "value": 0.42, "use": "ci_upper"}, "fail"),
    ("beats_baseline", {"metric": "log_loss", "min_lift": 0.0, "significance": 0.01}, "pass"),
    ("beats_baseline", {"metric": "pr_auc", "min_lift": 0.6}, "fail"),
    ("slice_metric", {"metric": "tpr", "by": "race", "max_gap_from_overall": 0.1}, "fail"),
    ("slice_metric", {"metric": "roc_auc", "by": "age", "min": 0.7}, "unknown"),
    ("fairness", {"measure": "equal_opportunity_difference", "by": "race", "max": 0.1}, "fail"),
    ("fairness", {"measure": "demographic_parity_ratio", "by": "sex", "min": 0.8}, "fail"),
    ("fairness", {"measure": "demographic_parity_ratio", "by": ["sex", "race"], "min": 0.2}, "pass"),
    ("calibration", {"measure": "mce", "max": 0.05, "strategy": "quantile"}, "fail"),
    ("calibration", {"measure": "ece", "max": 0.1, "by": "sex"}, "pass"),
    ("calibration", {"measure": "ece", "max": 0.1, "by": "race", "small_groups": "fail"}, "fail"),
    ("conformal_coverage", {"confidence": 0.9, "tolerance": 0.0, "max_mean_set_size": 1.01}, "fail"),
    ("conformal_coverage", {"confidence": 0.5, "tolerance": 0.1}, "unknown"),
    ("conformal_coverage", {"tolerance": 0.1, "by": "age"}, "unknown"),
    ("explainability", {"top_k": 3, "proxy_threshold": 0.0}, "fail"),
    ("explainability", {"max_faithfulness_error": 0.0}, "fail"),
    ("robustness", {"max_drop": 0.0, "perturbations": ["gaussian_noise"]}, "fail"),
    ("robustness", {"max_directional_violation_rate": 0.0}, "pass"),
]


@pytest.mark.parametrize(("kind", "params", "status"), REAL_CASES)
def test_rule_kinds_on_real_evidence(real_evidence: dict[str, Any], kind: str, params: dict[str, Any],
                                     status: str) -> None:
    assert RULE_KINDS[kind](real_evidence, params).status == status


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


ARTIFACT_FILES = ("model.onnx", "input_schema.json", "signature.json", "metadata.json")
GOOD_SERVING: dict[str, Any] = {
    "features": {"used": ["age", "workclass"], "available": ["age", "workclass", "sex"], "unavailable": []},
    "artifact": {"path": "artifacts/r/c", "complete": True,
                 "files": {name: {"sha256": "ab" * 32, "bytes": 10} for name in ARTIFACT_FILES}},
    "skew": {"rows": 1000, "max_abs_diff": 2e-7, "p99_abs_diff": 1e-7, "label_disagreement": 0.0},
    "latency": {"calls": 200, "threads": 1, "p50_ms": 0.05, "p95_ms": 0.08, "p99_ms": 0.2},
    "throughput": {"batch_rows": 2000, "rows_per_second": 250000.0},
    "size": {"model_bytes": 7500, "model_mb": 0.0075},
}


def test_check_of_the_shipped_default_policy_on_good_evidence_passes() -> None:
    from engine.policy.loader import load_policy

    policy = load_policy(ROOT / "policies" / "default.json")
    evidence = {
        "metrics": {"roc_auc": 0.9, "recall": 0.6},
        "intervals": {"confidence": 0.95, "metrics": {"roc_auc": [0.88, 0.92]}},
        "lift_over_baseline": {"roc_auc": 0.4, "pr_auc": 0.4, "log_loss": 0.2, "brier": 0.05},
        "comparisons": {"baseline": {"roc_auc": {"lift": 0.4, "interval": [0.37, 0.43], "p_value": 0.001}},
                        "champion": {"roc_auc": {"lift": 0.01, "interval": [0.0, 0.02], "p_value": 0.04}}},
        "calibration": {"uniform": {"ece": 0.02, "mce": 0.08, "brier": 0.1}},
        "slices": [{"name": "sex", "groups": [
            {"group": "Female", "support": 400, "too_small": False, "metrics": {"roc_auc": 0.88}},
            {"group": "Male", "support": 900, "too_small": False, "metrics": {"roc_auc": 0.91}},
        ]}],
        **GOOD_BEYOND,
        "serving": GOOD_SERVING,
        "reproducibility": {"retrained": True, "device": "cpu", "identical": True, "max_abs_diff": 0.0},
        "lineage": real_lineage(42),
        "champion": {"model": "adult", "current": champion_entry("20260102T030405Z-aaaaaa", "logistic", 9),
                     "available": [champion_entry("20260102T030405Z-aaaaaa", "logistic", 9)]},
        "split_integrity": {"duplicates": {"rows": 0, "test_rows": 400, "rate": 0.0},
                            "conflicting_labels": {"rows": 0, "rate": 0.0}, "leakage": {"flagged": []},
                            "identifiers": [], "sizes": {"test": 400}},
        "data_quality": {"missing": [], "constant": [], "unseen_categories": [], "out_of_range": [],
                         "label_balance": {"train": 0.24, "test": 0.25}},
    }
    outcomes = check([policy], evidence)
    assert {o.status for o in outcomes} == {"pass"}
    assert candidate_verdict(outcomes) == "pass"
    assert {o.status for o in check([policy], {})} == {"unknown"}
    assert candidate_verdict(check([policy], {})) == "fail"


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
    assert candidate_verdict([_outcome(severity, status) for severity, status in outcomes]) == expected


# ---------------------------------------------------------------------------------------------------------------
# Evidence for the rule kinds over slices, fairness and calibration: real (evaluate() on Adult scores) and by hand


@pytest.fixture(scope="module")
def real_evidence(adult_sample: pd.DataFrame, adult_parquet: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A candidate's evidence as the service stores it: evaluate(), then compare() with the class-prior baseline;
    its serving part from a real logistic candidate's ONNX artifact."""
    scored = score_half(adult_sample)
    groupings = sensitive_groupings(scored.frame, ["sex", "race"], {})
    settings = EvidenceSettings(resamples=300, seed=11, min_group_size=30)
    evidence, samples = evaluate(scored.y, scored.proba, groupings=groupings, settings=settings)
    prior = np.full(scored.y.size, scored.prior)
    baseline, baseline_samples = evaluate(scored.y, prior, groupings=groupings, settings=settings)
    comparison = compare(evidence, samples, baseline, baseline_samples, confidence=settings.confidence)
    evidence["comparisons"] = {"baseline": comparison}
    evidence["lift_over_baseline"] = {name: entry["lift"] for name, entry in comparison.items()}
    # Conformal sets, explanations and robustness of the same kind of model (numeric features, logistic).
    fitted = fit(adult_sample, "logistic", features=Features(tuple(NUMERIC), ()),
                 directional=[{"feature": "capital-gain", "shift": 5000, "expect": "non_decreasing"}])
    evidence.update(beyond_evidence(fitted.model, fitted.test_proba, fitted.context))
    data, splits = serving_helpers.adult_data(adult_parquet)
    served = serving_helpers.fit("logistic", data, splits)
    evidence["serving"] = serving_helpers.serve(served, "logistic", data, splits, tmp_path_factory.mktemp("artifacts"),
                                                tuple(data.features.all))
    evidence.update(data_evidence(data, splits))
    evidence.update(fit_evidence(data, splits))

    test_frame = data.frame.iloc[splits.test]
    evidence["decisions"] = decisions_evidence(
        evidence["serving"], name="logistic", family="logistic", x_test=test_frame,
        x_train=data.frame.iloc[splits.train], explanations=evidence.get("explanations"),
        spec={"data": {"sensitive": ["sex", "race"]},
              "decisions": {"rows": 60, "actionable": {"hours-per-week": {"direction": "increase", "max": 60}}}},
        groupings=sensitive_groupings(test_frame, ["sex"], {}), threshold=0.5, min_group_size=5, confidence=0.95,
        seed=11)
    evidence["exposure"] = exposure_on_a_new_trail(tmp_path_factory.mktemp("trail") / "audit.duckdb")
    return {**evidence, **release_evidence(adult_sample, scored, evidence, samples, groupings, settings)}


def exposure_on_a_new_trail(path: Path) -> dict[str, Any]:
    """The `exposure` section read from a real trail on which this test set was never used."""
    from engine.audit.exposure import exposure_evidence
    from engine.audit.trail import NewEvent, append

    append(path, [NewEvent("step", "run-0", {"value": 1})])
    return exposure_evidence(path, {"id": "ab" * 32, "basis": {"data_sha256": "0" * 64}})


def data_evidence(data: Any, splits: Any) -> dict[str, Any]:
    """The split-integrity certificate and data-quality profile of the real Adult split."""
    parts = SplitRows(splits.train, splits.validation, splits.test)
    certificate = split_integrity(data.frame, data.y, parts, data.features, data_sha256="0" * 64, seed=11)
    quality = data_quality(data.frame, data.y, {"train": splits.train, "validation": splits.validation,
                                                "test": splits.test}, data.features, seed=11, data_schema=data.schema)
    return {"split_integrity": certificate, "data_quality": quality}


def _group(name: str, support: int, too_small: bool = False, **metrics: float | None) -> dict[str, Any]:
    return {"group": name, "support": support, "positives": support // 4, "too_small": too_small, "metrics": metrics}


def _slice(name: str, groups: list[dict[str, Any]], gaps: dict[str, float | None],
           gap_intervals: dict[str, list[float | None]]) -> dict[str, Any]:
    return {"name": name, "columns": name.split(" × "), "groups": groups, "gaps": gaps, "gap_intervals": gap_intervals,
            "groups_judged": sum(not g["too_small"] for g in groups)}


NO_GAPS = dict.fromkeys(
    ["demographic_parity_difference", "demographic_parity_ratio", "equalized_odds_difference",
     "equal_opportunity_difference", "predictive_parity_difference"]
)

# Evidence in the stored shape, with round numbers so each bound below is clearly met or missed.
HAND: dict[str, Any] = {
    "metrics": {"roc_auc": 0.84, "log_loss": 0.40, "recall": 0.55, "precision": 0.70},
    "rates": {"selection_rate": 0.20, "tpr": 0.55, "fpr": 0.08, "fnr": 0.45, "ppv": 0.70},
    "intervals": {
        "confidence": 0.95,
        "metrics": {"roc_auc": [0.80, 0.88], "log_loss": [0.37, 0.44], "recall": [None, None]},
    },
    "lift_over_baseline": {"roc_auc": 0.34, "log_loss": 0.15, "brier": -0.01},
    "comparisons": {"baseline": {
        "roc_auc": {"lift": 0.34, "interval": [0.30, 0.38], "p_value": 0.001},
        "log_loss": {"lift": 0.15, "interval": [-0.01, 0.20], "p_value": 0.08},
    }},
    "slices": [
        _slice(
            "sex",
            [_group("Female", 470, roc_auc=0.80, tpr=0.45, fpr=0.03, log_loss=0.30),
             _group("Male", 1030, roc_auc=0.86, tpr=0.58, fpr=0.09, log_loss=0.45)],
            {"demographic_parity_difference": 0.08, "demographic_parity_ratio": 0.47,
             "equalized_odds_difference": 0.13, "equal_opportunity_difference": 0.13,
             "predictive_parity_difference": 0.16},
            {"demographic_parity_difference": [0.05, 0.11], "demographic_parity_ratio": [0.32, 0.64],
             "equalized_odds_difference": [0.05, 0.20], "equal_opportunity_difference": [0.03, 0.20],
             "predictive_parity_difference": [0.01, 0.36]},
        ),
        _slice(
            "race",
            [_group("Black", 135, roc_auc=0.78, tpr=0.40, fpr=0.02, log_loss=0.33),
             _group("Other", 11, True, roc_auc=None, tpr=None, fpr=0.09, log_loss=0.2),
             _group("White", 1292, roc_auc=0.85, tpr=0.56, fpr=0.08, log_loss=0.41)],
            {"demographic_parity_difference": 0.10, "demographic_parity_ratio": 0.40,
             "equalized_odds_difference": 0.16, "equal_opportunity_difference": 0.16,
             "predictive_parity_difference": 0.03},
            {"demographic_parity_difference": [0.06, 0.14], "demographic_parity_ratio": [0.25, 0.60],
             "equalized_odds_difference": [0.05, 0.30], "equal_opportunity_difference": [0.05, 0.30],
             "predictive_parity_difference": [0.00, 0.20]},
        ),
        _slice(
            "sex × race",
            [_group("Female × Black", 69, roc_auc=0.90, tpr=0.43),
             _group("Female × Other", 4, True, roc_auc=None, tpr=None),
             _group("Female × White", 369, roc_auc=0.82, tpr=0.37),
             _group("Male × Black", 66, roc_auc=0.74, tpr=0.13),
             _group("Male × Other", 7, True, roc_auc=None, tpr=None),
             _group("Male × White", 923, roc_auc=0.85, tpr=0.38)],
            {"demographic_parity_difference": 0.11, "demographic_parity_ratio": 0.29,
             "equalized_odds_difference": 0.30, "equal_opportunity_difference": 0.30,
             "predictive_parity_difference": 0.14},
            {"demographic_parity_difference": [0.07, 0.16], "demographic_parity_ratio": [0.18, 0.45],
             "equalized_odds_difference": [0.15, 0.45], "equal_opportunity_difference": [0.15, 0.45],
             "predictive_parity_difference": [0.02, 0.40]},
        ),
        _slice("workclass", [_group("Private", 1200, roc_auc=0.83), _group("Never-worked", 2, True)],
               NO_GAPS, {name: [None, None] for name in NO_GAPS}),
    ],
    "calibration": {
        "uniform": {"ece": 0.03, "mce": 0.12, "brier": 0.127},
        "quantile": {"ece": 0.045, "mce": 0.09, "brier": 0.127},
        "ece_by_group": {
            "sex": {"Female": 0.02, "Male": 0.04},
            "race": {"Black": 0.07, "Other": 0.30, "White": 0.03},
            "sex × race": {"Female × Black": 0.06, "Female × Other": 0.5, "Female × White": 0.02,
                           "Male × Black": 0.09, "Male × Other": 0.4, "Male × White": 0.04},
        },
    },
}


def _without(*path: str) -> dict[str, Any]:
    """HAND with one entry (given by its keys) removed."""
    evidence = copy.deepcopy(HAND)
    node = evidence
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return evidence


# ---- metric_threshold on an interval bound

# metric, op, value, use, expected status, expected observed (the bound used)
CI_CASES = [
    ("roc_auc", ">=", 0.80, "ci_lower", "pass", 0.80),
    ("roc_auc", ">=", 0.82, "ci_lower", "fail", 0.80),  # the point 0.84 would pass
    ("roc_auc", "<=", 0.87, "ci_upper", "fail", 0.88),
    ("log_loss", "<=", 0.45, "ci_upper", "pass", 0.44),
    ("log_loss", "<=", 0.42, "ci_upper", "fail", 0.44),  # the point 0.40 would pass
    ("log_loss", ">", 0.36, "ci_lower", "pass", 0.37),
    ("roc_auc", ">=", 0.84, "point", "pass", 0.84),
]


@pytest.mark.parametrize(("metric", "op", "value", "use", "status", "observed"), CI_CASES)
def test_metric_threshold_on_an_interval_bound(metric: str, op: str, value: float, use: str, status: str,
                                               observed: float) -> None:
    finding = metric_threshold(HAND, {"metric": metric, "op": op, "value": value, "use": use})
    assert finding.status == status
    assert finding.observed == observed
    assert finding.threshold == value
    side = {"ci_lower": "(95% CI lower bound)", "ci_upper": "(95% CI upper bound)", "point": "CI"}[use]
    assert (side in finding.message) == (use != "point")


@pytest.mark.parametrize(
    ("evidence", "metric"),
    [(_without("intervals"), "roc_auc"), (HAND, "recall"), (HAND, "f1"),
     (_without("intervals", "metrics", "roc_auc"), "roc_auc")],
    ids=["no intervals", "interval undefined", "metric not computed", "metric without interval"],
)
@pytest.mark.parametrize("use", ["ci_lower", "ci_upper"])
def test_metric_threshold_on_a_bound_unknown_without_interval(evidence: dict[str, Any], metric: str,
                                                              use: str) -> None:
    finding = metric_threshold(evidence, {"metric": metric, "op": ">=", "value": 0.5, "use": use})
    assert finding.status == "unknown"
    assert finding.observed is None
    assert "not computed" in finding.message or "undefined" in finding.message


# ---- beats_baseline with significance

# metric, min_lift, significance, expected status
SIGNIFICANCE_CASES = [
    ("roc_auc", 0.05, 0.05, "pass"),  # p = 0.001
    ("roc_auc", 0.05, 0.001, "pass"),  # p equal to the bound
    ("roc_auc", 0.05, 0.0005, "fail"),  # p above the bound
    ("log_loss", 0.0, 0.05, "fail"),  # lift enough, p = 0.08 above 0.05
    ("log_loss", 0.0, 0.10, "pass"),
    ("roc_auc", 0.50, 0.05, "fail"),  # significant, but not by enough
]


@pytest.mark.parametrize(("metric", "min_lift", "significance", "status"), SIGNIFICANCE_CASES)
def test_beats_baseline_with_significance(metric: str, min_lift: float, significance: float, status: str) -> None:
    finding = beats_baseline(HAND, {"metric": metric, "min_lift": min_lift, "significance": significance})
    assert finding.status == status
    assert finding.observed == HAND["lift_over_baseline"][metric]
    assert finding.threshold == min_lift
    if min_lift <= finding.observed:
        p_value = HAND["comparisons"]["baseline"][metric]["p_value"]
        assert f"p = {fmt(p_value)}" in finding.message
        assert fmt(significance) in finding.message


@pytest.mark.parametrize(
    "evidence",
    [_without("comparisons"), _without("comparisons", "baseline", "roc_auc"),
     {**HAND, "comparisons": {"baseline": {"roc_auc": {"lift": 0.34, "interval": [None, None], "p_value": None}}}}],
    ids=["no comparisons", "metric not compared", "no paired bootstrap"],
)
def test_beats_baseline_significance_unknown_without_paired_bootstrap(evidence: dict[str, Any]) -> None:
    finding = beats_baseline(evidence, {"metric": "roc_auc", "min_lift": 0.05, "significance": 0.05})
    assert finding.status == "unknown"
    assert finding.observed == 0.34
    assert "no paired bootstrap" in finding.message
    # without significance the same evidence passes on the lift alone
    assert beats_baseline(evidence, {"metric": "roc_auc", "min_lift": 0.05}).status == "pass"


# ---- slice_metric

# params, expected status, expected observed, a fragment of the message
SLICE_CASES = [
    ({"metric": "roc_auc", "by": "sex", "min": 0.75}, "pass", 0.80, "closest sex=Female ROC AUC 0.8"),
    ({"metric": "roc_auc", "by": "sex", "min": 0.82}, "fail", 0.80, "sex=Female ROC AUC 0.8 (below 0.82)"),
    ({"metric": "fpr", "by": "sex", "max": 0.10}, "pass", 0.09, "closest sex=Male FPR 0.09"),
    ({"metric": "fpr", "by": "sex", "max": 0.05}, "fail", 0.09, "sex=Male FPR 0.09 (above 0.05)"),
    ({"metric": "tpr", "by": "race", "max_gap_from_overall": 0.20}, "pass", 0.15, "closest race=Black TPR 0.4"),
    ({"metric": "tpr", "by": "race", "max_gap_from_overall": 0.10}, "fail", 0.15,
     "race=Black TPR 0.4 (0.15 worse than overall 0.55)"),
    ({"metric": "log_loss", "by": "sex", "max_gap_from_overall": 0.10}, "pass", 0.05, "closest sex=Male log loss"),
    ({"metric": "log_loss", "by": "sex", "max_gap_from_overall": 0.04}, "fail", 0.05, "0.05 worse than overall 0.4"),
    ({"metric": "roc_auc", "by": ["sex", "race"], "min": 0.70}, "pass", 0.74, "closest sex × race=Male × Black"),
    ({"metric": "roc_auc", "by": ["sex", "race"], "min": 0.80}, "fail", 0.74,
     "1 group out of bounds: sex × race=Male × Black ROC AUC 0.74 (below 0.8)"),
    ({"metric": "roc_auc", "by": ["sex"], "min": 0.75}, "pass", 0.80, "sex=Female"),
    ({"metric": "roc_auc", "max_gap_from_overall": 0.05}, "fail", 0.10, "sex × race=Male × Black"),  # every grouping
]


@pytest.mark.parametrize(("params", "status", "observed", "fragment"), SLICE_CASES)
def test_slice_metric(params: dict[str, Any], status: str, observed: float, fragment: str) -> None:
    finding = slice_metric(HAND, params)
    assert finding.status == status, finding.message
    assert finding.observed == pytest.approx(observed)
    assert fragment in finding.message
    expected_threshold = params.get("max_gap_from_overall", params.get("min", params.get("max")))
    assert finding.threshold == expected_threshold


def test_slice_metric_reports_the_bound_that_is_broken() -> None:
    # with both bounds, the finding names the group and the bound it actually breaks: never "0.74 vs 0.85"
    finding = slice_metric(HAND, {"metric": "roc_auc", "min": 0.6, "max": 0.85})
    assert finding.status == "fail"
    assert finding.threshold == 0.85 and finding.observed > 0.85  # the group furthest past the bound it breaks
    assert "sex=Male ROC AUC 0.86 (above 0.85)" in finding.message
    # a max bound on a higher-is-better metric: the group past the bound is the one reported
    high = slice_metric(HAND, {"metric": "roc_auc", "by": "sex", "max": 0.82})
    assert high.status == "fail" and high.observed > 0.82 and high.threshold == 0.82


def test_slice_metric_failure_lists_every_violating_group() -> None:
    finding = slice_metric(HAND, {"metric": "tpr", "by": ["sex", "race"], "min": 0.40})
    assert finding.status == "fail"
    assert finding.message.startswith("3 groups out of bounds: ")
    for group in ("Female × White", "Male × Black", "Male × White"):
        assert f"sex × race={group} TPR" in finding.message


@pytest.mark.parametrize(
    ("evidence", "params"),
    [
        (_without("slices"), {"metric": "roc_auc", "min": 0.7}),
        (_without("slices"), {"metric": "roc_auc", "by": "sex", "min": 0.7}),
        (HAND, {"metric": "roc_auc", "by": "age", "min": 0.7}),
        (HAND, {"metric": "roc_auc", "by": ["sex", "age"], "min": 0.7}),  # an intersection not computed
        (HAND, {"metric": "ppv", "by": "sex", "min": 0.5}),  # not computed for any group
        (HAND, {"metric": "tpr", "by": "workclass", "min": 0.5}),  # the only judged group lacks it
    ],
    ids=["no slices", "no slices with by", "unknown by", "unknown intersection", "metric absent", "no judged value"],
)
def test_slice_metric_unknown_without_evidence(evidence: dict[str, Any], params: dict[str, Any]) -> None:
    finding = slice_metric(evidence, params)
    assert finding.status == "unknown"
    assert finding.observed is None


def test_slice_metric_gap_is_unknown_without_the_overall_value() -> None:
    """Evidence recorded without `rates` (or `metrics`) cannot judge a gap from overall: never a silent pass."""
    finding = slice_metric(_without("rates"), {"metric": "tpr", "by": "race", "max_gap_from_overall": 0.05})
    assert finding.status == "unknown", finding


# small_groups policy, status of a rule that passes on the judged groups, and of one that fails
SMALL_GROUP_CASES = [
    ("report", "pass", "fail"),
    ("unknown", "unknown", "fail"),
    ("fail", "fail", "fail"),
]


@pytest.mark.parametrize(("policy", "passing", "failing"), SMALL_GROUP_CASES)
def test_slice_metric_small_groups(policy: str, passing: str, failing: str) -> None:
    ok = slice_metric(HAND, {"metric": "roc_auc", "by": "race", "min": 0.7, "small_groups": policy})
    bad = slice_metric(HAND, {"metric": "roc_auc", "by": "race", "min": 0.8, "small_groups": policy})
    assert (ok.status, bad.status) == (passing, failing)
    for finding in (ok, bad):
        assert "1 group too small to judge: race=Other (n=11)" in finding.message
        assert finding.observed == 0.78  # the small group's metric is not judged


def test_slice_metric_small_groups_default_is_report() -> None:
    finding = slice_metric(HAND, {"metric": "roc_auc", "by": ["sex", "race"], "min": 0.7})
    assert finding.status == "pass"
    assert "2 groups too small to judge: sex × race=Female × Other (n=4); sex × race=Male × Other (n=7)" in (
        finding.message)


def test_small_groups_beyond_the_first_few_are_counted() -> None:
    many = [_group(f"g{k}", k + 1, True, roc_auc=None) for k in range(5)]
    evidence = {**HAND, "slices": [_slice("age", [_group("adult", 900, roc_auc=0.8), *many], NO_GAPS, {})]}
    finding = slice_metric(evidence, {"metric": "roc_auc", "by": "age", "min": 0.7})
    assert finding.status == "pass"
    assert "5 groups too small to judge: age=g0 (n=1); age=g1 (n=2); age=g2 (n=3) and 2 more" in finding.message


def test_slice_metric_without_small_groups_names_none() -> None:
    finding = slice_metric(HAND, {"metric": "roc_auc", "by": "sex", "min": 0.7, "small_groups": "fail"})
    assert finding.status == "pass"
    assert "too small" not in finding.message


def test_slice_metric_only_small_groups_is_unknown() -> None:
    finding = slice_metric(HAND, {"metric": "log_loss", "by": "workclass", "max": 0.5})
    assert finding.status == "unknown"
    assert "workclass=Never-worked (n=2)" in finding.message
    failed = slice_metric(HAND, {"metric": "log_loss", "by": "workclass", "max": 0.5, "small_groups": "fail"})
    assert failed.status == "fail"


def test_grouping_name() -> None:
    assert grouping_name("sex") == "sex"
    assert grouping_name(["sex"]) == "sex"
    assert grouping_name(["sex", "race"]) == "sex × race"


# ---- fairness

# measure, bound key, bound, use, by, expected status, expected observed
FAIRNESS_CASES = [
    ("demographic_parity_difference", "max", 0.10, "point", "sex", "pass", 0.08),
    ("demographic_parity_difference", "max", 0.05, "point", "sex", "fail", 0.08),
    ("demographic_parity_difference", "max", 0.10, "ci_upper", "sex", "fail", 0.11),
    ("demographic_parity_difference", "max", 0.12, "ci_upper", "sex", "pass", 0.11),
    ("demographic_parity_ratio", "min", 0.40, "point", "sex", "pass", 0.47),
    ("demographic_parity_ratio", "min", 0.80, "point", "sex", "fail", 0.47),
    ("demographic_parity_ratio", "min", 0.30, "ci_lower", "sex", "pass", 0.32),
    ("demographic_parity_ratio", "min", 0.40, "ci_lower", "sex", "fail", 0.32),
    ("equalized_odds_difference", "max", 0.15, "point", "sex", "pass", 0.13),
    ("equalized_odds_difference", "max", 0.15, "ci_upper", "sex", "fail", 0.20),
    ("equal_opportunity_difference", "max", 0.10, "point", "sex", "fail", 0.13),
    ("equal_opportunity_difference", "max", 0.20, "ci_upper", "sex", "pass", 0.20),
    ("predictive_parity_difference", "max", 0.20, "point", "sex", "pass", 0.16),
    ("predictive_parity_difference", "max", 0.30, "ci_upper", "sex", "fail", 0.36),
    ("equalized_odds_difference", "max", 0.20, "point", ["sex", "race"], "fail", 0.30),
    ("demographic_parity_ratio", "min", 0.25, "point", ["sex", "race"], "pass", 0.29),
    ("equalized_odds_difference", "max", 0.20, "point", "race", "pass", 0.16),
]


@pytest.mark.parametrize(("measure", "key", "bound", "use", "by", "status", "observed"), FAIRNESS_CASES)
def test_fairness(measure: str, key: str, bound: float, use: str, by: str | list[str], status: str,
                  observed: float) -> None:
    finding = fairness(HAND, {"measure": measure, key: bound, "use": use, "by": by})
    assert finding.status == status
    assert finding.observed == observed
    assert finding.threshold == bound
    assert f"{measure.replace('_', ' ')} by {grouping_name(by)}" in finding.message
    assert (">=" if key == "min" else "<=") in finding.message
    assert ("is not" in finding.message) == (status == "fail")
    assert ("CI upper bound" in finding.message) == (use == "ci_upper")


def test_fairness_covers_every_measure() -> None:
    """Every binary measure here; the multiclass and regression ones in tests/test_tasks_policy.py."""
    measures = policy_schema_defs()["fairness"]["properties"]["measure"]["enum"]
    assert {case[0] for case in FAIRNESS_CASES} == set(FAIRNESS_TASKS["binary"]) == set(HAND["slices"][0]["gaps"])
    assert set(measures) == {m for task in FAIRNESS_TASKS.values() for m in task}


@pytest.mark.parametrize(
    ("evidence", "params"),
    [
        (_without("slices"), {"measure": "demographic_parity_difference", "by": "sex", "max": 0.1}),
        (HAND, {"measure": "demographic_parity_difference", "by": "age", "max": 0.1}),
        (HAND, {"measure": "demographic_parity_ratio", "by": "workclass", "min": 0.8}),  # fewer than two groups
        ({**HAND, "slices": [{k: v for k, v in HAND["slices"][0].items() if k != "gap_intervals"}]},
         {"measure": "equalized_odds_difference", "by": "sex", "max": 0.1, "use": "ci_upper"}),
        (HAND, {"measure": "equalized_odds_difference", "by": "workclass", "max": 0.1, "use": "ci_upper"}),
    ],
    ids=["no slices", "unknown by", "gaps undefined", "no intervals", "interval undefined"],
)
def test_fairness_unknown_without_evidence(evidence: dict[str, Any], params: dict[str, Any]) -> None:
    finding = fairness(evidence, params)
    assert finding.status == "unknown"
    assert finding.observed is None


@pytest.mark.parametrize(("policy", "passing", "failing"), SMALL_GROUP_CASES)
def test_fairness_small_groups(policy: str, passing: str, failing: str) -> None:
    params = {"measure": "demographic_parity_difference", "by": "race", "small_groups": policy}
    ok = fairness(HAND, {**params, "max": 0.2})
    bad = fairness(HAND, {**params, "max": 0.05})
    assert (ok.status, bad.status) == (passing, failing)
    for finding in (ok, bad):
        assert finding.observed == 0.10
        assert "1 group too small to judge: race=Other (n=11)" in finding.message


def test_fairness_unknown_for_too_few_groups_names_the_small_ones() -> None:
    finding = fairness(HAND, {"measure": "demographic_parity_difference", "by": "workclass", "max": 0.1})
    assert finding.status == "unknown"
    assert "fewer than two groups" in finding.message
    assert "workclass=Never-worked (n=2)" in finding.message


# ---- calibration

# params, expected status, expected observed
CALIBRATION_CASES = [
    ({"measure": "ece", "max": 0.05}, "pass", 0.03),
    ({"measure": "ece", "max": 0.02}, "fail", 0.03),
    ({"measure": "ece", "max": 0.03}, "pass", 0.03),
    ({"measure": "mce", "max": 0.10}, "fail", 0.12),
    ({"measure": "mce", "max": 0.15}, "pass", 0.12),
    ({"measure": "brier", "max": 0.13}, "pass", 0.127),
    ({"measure": "brier", "max": 0.12}, "fail", 0.127),
    ({"measure": "ece", "max": 0.04, "strategy": "quantile"}, "fail", 0.045),
    ({"measure": "mce", "max": 0.10, "strategy": "quantile"}, "pass", 0.09),
    ({"measure": "ece", "max": 0.05, "by": "sex"}, "pass", 0.04),
    ({"measure": "ece", "max": 0.03, "by": "sex"}, "fail", 0.04),
    ({"measure": "ece", "max": 0.05, "by": "race"}, "fail", 0.07),  # Other (0.30) is too small to judge
    ({"measure": "ece", "max": 0.08, "by": "race"}, "pass", 0.07),
    ({"measure": "ece", "max": 0.08, "by": ["sex", "race"]}, "fail", 0.09),
    ({"measure": "ece", "max": 0.10, "by": ["sex", "race"]}, "pass", 0.09),
]


@pytest.mark.parametrize(("params", "status", "observed"), CALIBRATION_CASES)
def test_calibration(params: dict[str, Any], status: str, observed: float) -> None:
    finding = calibration(HAND, params)
    assert finding.status == status, finding.message
    assert finding.observed == observed
    assert finding.threshold == params["max"]
    assert fmt(observed) in finding.message


def test_calibration_by_group_names_the_worst_group() -> None:
    finding = calibration(HAND, {"measure": "ece", "max": 0.05, "by": ["sex", "race"]})
    assert "worst Male × Black 0.09" in finding.message
    assert "in 2 groups" in finding.message  # Female × Black 0.06 and Male × Black 0.09


@pytest.mark.parametrize(
    ("evidence", "params"),
    [
        (_without("calibration"), {"measure": "ece", "max": 0.05}),
        (_without("calibration", "quantile"), {"measure": "ece", "max": 0.05, "strategy": "quantile"}),
        (_without("calibration"), {"measure": "ece", "max": 0.05, "by": "sex"}),
        (_without("calibration", "ece_by_group"), {"measure": "ece", "max": 0.05, "by": "sex"}),
        (_without("slices"), {"measure": "ece", "max": 0.05, "by": "sex"}),
        (HAND, {"measure": "ece", "max": 0.05, "by": "age"}),
    ],
    ids=["no calibration", "no quantile bins", "no calibration by group", "no ece by group", "no slices",
         "unknown by"],
)
def test_calibration_unknown_without_evidence(evidence: dict[str, Any], params: dict[str, Any]) -> None:
    finding = calibration(evidence, params)
    assert finding.status == "unknown"
    assert finding.observed is None


@pytest.mark.parametrize(("policy", "passing", "failing"), SMALL_GROUP_CASES)
def test_calibration_small_groups(policy: str, passing: str, failing: str) -> None:
    ok = calibration(HAND, {"measure": "ece", "max": 0.08, "by": "race", "small_groups": policy})
    bad = calibration(HAND, {"measure": "ece", "max": 0.05, "by": "race", "small_groups": policy})
    assert (ok.status, bad.status) == (passing, failing)
    for finding in (ok, bad):
        assert finding.observed == 0.07
        assert "1 group too small to judge: race=Other (n=11)" in finding.message


# ---------------------------------------------------------------------------------------------------------------
# The policy schema accepts every rule above and refuses ill-formed ones


def policy_schema_defs() -> dict[str, Any]:
    defs: dict[str, Any] = load_schema("engine.policy", "policy-v1.schema.json")["$defs"]
    return defs


def _policy_document(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    rule = {"id": "r", "kind": kind, "severity": "block", "checklist": "fairness", **params}
    return {"name": "p", "version": "1", "rules": [rule]}


def _errors(kind: str, params: dict[str, Any]) -> list[str]:
    return schema_errors(_policy_document(kind, params), load_schema("engine.policy", "policy-v1.schema.json"))


VALID_RULES = [
    *((kind, params) for kind, params in REAL_RULES.items()),
    *((kind, params) for kind, params, _ in REAL_CASES),
    *(("metric_threshold", {"metric": m, "op": o, "value": v, "use": u}) for m, o, v, u, _, _ in CI_CASES),
    *(("beats_baseline", {"metric": m, "min_lift": lift_, "significance": s}) for m, lift_, s, _ in
      SIGNIFICANCE_CASES),
    *(("slice_metric", params) for params, _, _, _ in SLICE_CASES),
    ("slice_metric", {"metric": "roc_auc", "by": "race", "min": 0.7, "small_groups": "unknown"}),
    *(("fairness", {"measure": m, k: b, "use": u, "by": by}) for m, k, b, u, by, _, _ in FAIRNESS_CASES),
    ("fairness", {"measure": "demographic_parity_difference", "by": "race", "max": 0.1, "small_groups": "fail"}),
    *(("calibration", params) for params, _, _ in CALIBRATION_CASES),
    ("calibration", {"measure": "ece", "max": 0.1, "by": "sex", "strategy": "uniform", "small_groups": "report"}),
]


@pytest.mark.parametrize(("kind", "params"), VALID_RULES)
def test_schema_accepts_the_rules_of_these_tests(kind: str, params: dict[str, Any]) -> None:
    assert _errors(kind, params) == []


INVALID_RULES = {
    "fairness without by": ("fairness", {"measure": "demographic_parity_difference", "max": 0.1}),
    "ratio with max only": ("fairness", {"measure": "demographic_parity_ratio", "by": "sex", "max": 0.8}),
    "difference with min only": ("fairness", {"measure": "equalized_odds_difference", "by": "sex", "min": 0.1}),
    "ratio above 1": ("fairness", {"measure": "demographic_parity_ratio", "by": "sex", "min": 1.2}),
    "unknown fairness measure": ("fairness", {"measure": "theil_index", "by": "sex", "max": 0.1}),
    "empty by list": ("fairness", {"measure": "demographic_parity_difference", "by": [], "max": 0.1}),
    "repeated by column": ("fairness", {"measure": "demographic_parity_difference", "by": ["sex", "sex"],
                                        "max": 0.1}),
    "calibration by group with mce": ("calibration", {"measure": "mce", "max": 0.1, "by": "sex"}),
    "calibration by group with brier": ("calibration", {"measure": "brier", "max": 0.2, "by": "sex"}),
    "calibration by group, quantile": ("calibration", {"measure": "ece", "max": 0.1, "by": "sex",
                                                       "strategy": "quantile"}),
    "calibration without max": ("calibration", {"measure": "ece"}),
    "calibration unknown strategy": ("calibration", {"measure": "ece", "max": 0.1, "strategy": "kde"}),
    "slice metric without a bound": ("slice_metric", {"metric": "roc_auc", "by": "sex"}),
    "slice metric unknown metric": ("slice_metric", {"metric": "auc", "by": "sex", "min": 0.7}),
    "negative gap": ("slice_metric", {"metric": "roc_auc", "max_gap_from_overall": -0.1}),
    "unknown small_groups": ("slice_metric", {"metric": "roc_auc", "min": 0.7, "small_groups": "ignore"}),
    "unknown use": ("metric_threshold", {"metric": "roc_auc", "op": ">=", "value": 0.7, "use": "ci_middle"}),
    "significance 0": ("beats_baseline", {"metric": "roc_auc", "min_lift": 0.05, "significance": 0}),
    "significance above 1": ("beats_baseline", {"metric": "roc_auc", "min_lift": 0.05, "significance": 1.5}),
    "parameter of another kind": ("calibration", {"measure": "ece", "max": 0.1, "metric": "roc_auc"}),
    "use on calibration": ("calibration", {"measure": "ece", "max": 0.1, "use": "ci_upper"}),
}


@pytest.mark.parametrize("case", list(INVALID_RULES))
def test_schema_refuses_ill_formed_rules(case: str) -> None:
    kind, params = INVALID_RULES[case]
    errors = _errors(kind, params)
    assert errors, case
    assert all(e.startswith("/rules/0") for e in errors), errors


def test_by_names_an_intersection_in_any_column_order() -> None:
    evidence = {
        "metrics": {"roc_auc": 0.9},
        "slices": [{
            "name": "sex × race", "columns": ["sex", "race"],
            "groups": [{"group": "F × A", "support": 100, "too_small": False, "metrics": {"roc_auc": 0.6}}],
        }],
    }
    for by in (["sex", "race"], ["race", "sex"]):
        finding = slice_metric(evidence, {"metric": "roc_auc", "by": by, "min": 0.7})
        assert finding.status == "fail"
        assert finding.observed == 0.6


def test_slice_metric_judges_a_bound_of_each_groups_interval() -> None:
    group = {"group": "F", "support": 100, "too_small": False, "metrics": {"roc_auc": 0.80},
             "intervals": {"roc_auc": [0.70, 0.88]}}
    evidence = {"metrics": {"roc_auc": 0.90}, "intervals": {"confidence": 0.95},
                "slices": [{"name": "sex", "columns": ["sex"], "groups": [group]}]}
    params = {"metric": "roc_auc", "by": "sex", "max_gap_from_overall": 0.05}
    point = slice_metric(evidence, params)
    assert (point.status, point.observed) == ("fail", pytest.approx(0.10))
    upper = slice_metric(evidence, {**params, "use": "ci_upper"})  # not clearly worse: 0.88 is within 0.05
    assert (upper.status, upper.observed) == ("pass", pytest.approx(0.02))
    assert "CI upper bound" in upper.message
    lower = slice_metric(evidence, {**params, "use": "ci_lower"})
    assert (lower.status, lower.observed) == ("fail", pytest.approx(0.20))
    no_intervals = {**evidence, "slices": [{"name": "sex", "columns": ["sex"],
                                            "groups": [{**group, "intervals": {}}]}]}
    assert slice_metric(no_intervals, {**params, "use": "ci_upper"}).status == "unknown"


def test_a_value_just_below_its_bound_never_prints_as_the_bound() -> None:
    finding = metric_threshold({"metrics": {"roc_auc": 0.699996}}, {"metric": "roc_auc", "op": ">=", "value": 0.7})
    assert finding.status == "fail"
    assert "0.699996 is not >= 0.7" in finding.message


def test_a_rule_inherited_by_two_given_policies_is_checked_once() -> None:
    from engine.policy.checker import check
    from engine.policy.loader import load_policies

    root = Path(__file__).resolve().parents[1] / "policies"
    outcomes = check(load_policies([root / "default.json", root / "high-risk.json"]), {"metrics": {"roc_auc": 0.9}})
    keys = [(o.policy, o.id) for o in outcomes]
    assert len(keys) == len(set(keys))
    assert ("default", "auc-floor") in keys and ("high-risk", "auc-floor") in keys
