"""engine.policy.rules_release: reproducible, lineage_complete, rollback and beats_champion on pass, fail and unknown,
on real evidence (a real retrain, this process's lineage, a real weaker champion scored on the same rows), with
lifts checked against scikit-learn; and their policy schema entries."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest
from adult_scores import Scored, score_half
from release_evidence import CHAMPION_COLUMNS, real_lineage, release_evidence
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

from engine.evaluation.groups import sensitive_groupings
from engine.evaluation.performance import EvidenceSettings, evaluate
from engine.evaluation.reproducibility import compare_predictions, not_retrained
from engine.jsonfiles import load_schema, schema_errors
from engine.lineage import required_fields
from engine.policy.rules_release import beats_champion, lineage_complete, reproducible, rollback

SETTINGS = EvidenceSettings(resamples=300, seed=11, min_group_size=30)


@pytest.fixture(scope="module")
def scored(adult_sample: pd.DataFrame) -> Scored:
    return score_half(adult_sample)


@pytest.fixture(scope="module")
def evidence(adult_sample: pd.DataFrame, scored: Scored) -> dict[str, Any]:
    groupings = sensitive_groupings(scored.frame, ["sex"], {})
    base, samples = evaluate(scored.y, scored.proba, groupings=groupings, settings=SETTINGS)
    return {**base, **release_evidence(adult_sample, scored, base, samples, groupings, SETTINGS)}


def _other_model_proba(adult: pd.DataFrame, scored: Scored) -> np.ndarray:
    """A genuinely different fit on the same rows (much stronger regularisation): what a non-reproducible retrain
    looks like."""
    half = len(adult) // 2
    columns = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
    x = adult[columns].to_numpy(dtype=np.float64)
    x = (x - x[:half].mean(axis=0)) / x[:half].std(axis=0)
    y = (adult["income"] == ">50K").to_numpy()
    return LogisticRegression(C=0.001).fit(x[:half], y[:half]).predict_proba(x[half:])[:, 1]


# --- reproducible -------------------------------------------------------------------------------------------------

def test_an_identical_retrain_passes(evidence: dict[str, Any]) -> None:
    assert evidence["reproducibility"]["identical"] is True
    finding = reproducible(evidence, {"max_abs_diff": 0})
    assert (finding.status, finding.observed, finding.threshold) == ("pass", 0.0, 0.0)
    assert "bit for bit" in finding.message


def test_a_different_retrain_fails_with_its_max_difference(adult_sample: pd.DataFrame, scored: Scored) -> None:
    other = _other_model_proba(adult_sample, scored)
    check = compare_predictions(scored.proba, other, threshold=0.5, seconds=0.1, device="cpu")
    expected = float(np.max(np.abs(scored.proba - other)))
    assert check["identical"] is False
    assert check["max_abs_diff"] == pytest.approx(expected, abs=0)
    assert check["label_disagreement"] == pytest.approx(np.mean((scored.proba >= 0.5) != (other >= 0.5)))
    finding = reproducible({"reproducibility": check}, {})
    assert (finding.status, finding.observed, finding.threshold) == ("fail", expected, 0.0)
    assert "beyond the tolerance" in finding.message
    loose = reproducible({"reproducibility": check}, {"max_abs_diff": expected})
    assert loose.status == "pass" and "within the tolerance" in loose.message


def test_off_the_cpu_the_gpu_tolerance_applies(scored: Scored) -> None:
    nudged = np.nextafter(scored.proba, 1.0)  # one ulp away: what a GPU's non-associative sums give
    diff = float(np.max(np.abs(nudged - scored.proba)))
    params = {"max_abs_diff": 0, "max_abs_diff_gpu": 1e-6}
    on_gpu = compare_predictions(scored.proba, nudged, threshold=0.5, seconds=0.1, device="cuda")
    on_cpu = compare_predictions(scored.proba, nudged, threshold=0.5, seconds=0.1, device="cpu")
    assert reproducible({"reproducibility": on_gpu}, params).status == "pass"
    assert reproducible({"reproducibility": on_gpu}, params).threshold == 1e-6
    assert reproducible({"reproducibility": on_cpu}, params).status == "fail"
    assert reproducible({"reproducibility": on_cpu}, params).observed == diff


def test_a_retrain_with_nan_or_an_error_fails(scored: Scored) -> None:
    broken = scored.proba.copy()
    broken[:3] = np.nan
    check = compare_predictions(scored.proba, broken, threshold=0.5, seconds=0.1, device="cpu")
    finding = reproducible({"reproducibility": check}, {})
    assert finding.status == "fail" and "3 probabilities" in finding.message
    errored = {"retrained": True, "device": "cpu", "error": "ValueError: no convergence"}
    assert reproducible({"reproducibility": errored}, {}).status == "fail"


@pytest.mark.parametrize("evidence_part", [
    {},
    {"reproducibility": not_retrained("evaluation.reproducibility is false in the spec")},
    {"reproducibility": not_retrained("an external model has no trainer here")},
])
def test_reproducible_is_unknown_without_a_retrain(evidence_part: dict[str, Any]) -> None:
    finding = reproducible(evidence_part, {"max_abs_diff": 0})
    assert finding.status == "unknown"
    reason = evidence_part.get("reproducibility", {}).get("reason")
    assert reason is None or (reason in finding.message and finding.message.startswith("not applicable"))


# --- lineage_complete ---------------------------------------------------------------------------------------------

def _without(record: dict[str, Any], dotted: str) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    *parents, last = dotted.split(".")
    place = changed
    for part in parents:
        place = place[part]
    del place[last]
    return changed


def test_a_real_lineage_is_complete(evidence: dict[str, Any]) -> None:
    finding = lineage_complete(evidence, {})
    assert finding.status == "pass", finding.message
    assert evidence["lineage"]["git_commit"][:12] in finding.message


@pytest.mark.parametrize("field", required_fields("logistic"))
def test_each_missing_lineage_field_fails_by_name(field: str) -> None:
    finding = lineage_complete({"lineage": _without(real_lineage(11), field)}, {})
    assert (finding.status, finding.observed) == ("fail", 1.0)
    assert field in finding.message


def test_a_null_field_counts_as_missing_and_an_empty_gpu_list_does_not() -> None:
    record = real_lineage(11)
    record["git_commit"] = None
    record["gpu"]["devices"] = []
    finding = lineage_complete({"lineage": record}, {})
    assert finding.status == "fail" and finding.message.endswith("missing: git_commit")


def test_the_family_library_is_required() -> None:
    record = real_lineage(11)
    record["candidate"]["family"] = "torch_mlp"
    record["libraries"]["torch"] = None
    finding = lineage_complete({"lineage": record}, {})
    assert finding.status == "fail" and "libraries.torch" in finding.message
    record["libraries"]["torch"] = "2.13.0"
    assert lineage_complete({"lineage": record}, {}).status == "pass"


def test_a_dirty_tree_fails_only_when_the_policy_says_so() -> None:
    record = real_lineage(11)
    record["git_dirty"] = True
    assert lineage_complete({"lineage": record}, {}).status == "pass"
    assert "uncommitted" in lineage_complete({"lineage": record}, {}).message
    strict = lineage_complete({"lineage": record}, {"allow_dirty": False})
    assert strict.status == "fail" and "dirty" in strict.message
    record["git_dirty"] = False
    assert lineage_complete({"lineage": record}, {"allow_dirty": False}).status == "pass"


def test_lineage_complete_is_unknown_without_lineage() -> None:
    assert lineage_complete({}, {}).status == "unknown"


# --- rollback -----------------------------------------------------------------------------------------------------

def test_rollback_passes_with_a_champion_to_return_to(evidence: dict[str, Any]) -> None:
    finding = rollback(evidence, {})
    assert (finding.status, finding.observed, finding.threshold) == ("pass", 2.0, 1.0)
    assert "20260102T030405Z-aaaaaa" in finding.message and "Ann" in finding.message


def test_rollback_fails_before_the_first_promotion_and_is_unknown_without_the_registry() -> None:
    first = rollback({"champion": {"model": "adult", "current": None, "available": []}}, {})
    assert (first.status, first.observed) == ("fail", 0.0)
    assert "waive" in first.message
    assert rollback({}, {}).status == "unknown"


# --- beats_champion -----------------------------------------------------------------------------------------------

def test_beats_champion_passes_with_the_lift_scikit_learn_computes(adult_sample: pd.DataFrame, scored: Scored,
                                                                   evidence: dict[str, Any]) -> None:
    champion = score_half(adult_sample, CHAMPION_COLUMNS)
    expected = roc_auc_score(scored.y, scored.proba) - roc_auc_score(scored.y, champion.proba)
    finding = beats_champion(evidence, {"metric": "roc_auc", "min_lift": 0.0, "significance": 0.05})
    assert finding.status == "pass", finding.message
    assert finding.observed == pytest.approx(expected, abs=1e-12)
    assert "better than the champion logistic of run 20260102T030405Z-aaaaaa" in finding.message
    loss = beats_champion(evidence, {"metric": "log_loss", "min_lift": 0.0})
    assert loss.observed == pytest.approx(log_loss(scored.y, champion.proba) - log_loss(scored.y, scored.proba))


def test_beats_champion_fails_short_of_the_lift_or_the_significance(evidence: dict[str, Any]) -> None:
    lift = evidence["comparisons"]["champion"]["roc_auc"]["lift"]
    short = beats_champion(evidence, {"metric": "roc_auc", "min_lift": lift + 0.01})
    assert (short.status, short.observed) == ("fail", lift)
    # 300 resamples: the smallest p-value is 1/301, never at most 0.001
    unproven = beats_champion(evidence, {"metric": "roc_auc", "min_lift": 0.0, "significance": 0.001})
    assert unproven.status == "fail" and "p = " in unproven.message


def test_a_worse_candidate_fails_against_the_champion_unless_within_the_margin(evidence: dict[str, Any]) -> None:
    worse = copy.deepcopy(evidence)
    for entry in worse["comparisons"]["champion"].values():
        entry["lift"] = None if entry["lift"] is None else -entry["lift"]
    finding = beats_champion(worse, {"metric": "roc_auc", "min_lift": 0.0})
    assert finding.status == "fail" and "worse than the champion" in finding.message
    margin = abs(finding.observed or 0.0) + 0.01
    within = beats_champion(worse, {"metric": "roc_auc", "min_lift": -margin})
    assert within.status == "pass" and "may be at most" in within.message


@pytest.mark.parametrize(("case", "change", "words"), [
    ("no registry", lambda e: e.pop("champion"), "not read"),
    ("no champion yet", lambda e: e["champion"].update(current=None), "no champion"),
    ("not re-scored", lambda e: e["comparisons"].pop("champion"), "not re-scored"),
    ("no artifact", lambda e: (e["comparisons"].pop("champion"),
                               e["champion"].update(rescored_error="no ONNX artifact recorded")), "no ONNX"),
    ("undefined lift", lambda e: e["comparisons"]["champion"]["roc_auc"].update(lift=None), "undefined"),
])
def test_beats_champion_is_unknown_without_its_evidence(evidence: dict[str, Any], case: str, change: Any,
                                                        words: str) -> None:
    changed = copy.deepcopy(evidence)
    change(changed)
    finding = beats_champion(changed, {"metric": "roc_auc", "min_lift": 0.0})
    assert finding.status == "unknown", case
    assert words in finding.message


# --- schema -------------------------------------------------------------------------------------------------------

def _errors(kind: str, params: dict[str, Any]) -> list[str]:
    document = {"name": "p", "version": "1", "rules": [
        {"id": "r", "kind": kind, "severity": "block", "checklist": "reproducibility", **params}]}
    return schema_errors(document, load_schema("engine.policy", "policy-v1.schema.json"))


@pytest.mark.parametrize(("kind", "params"), [
    ("reproducible", {}),
    ("reproducible", {"max_abs_diff": 0, "max_abs_diff_gpu": 1e-4}),
    ("lineage_complete", {"allow_dirty": False}),
    ("rollback", {}),
    ("beats_champion", {"metric": "roc_auc", "min_lift": -0.01}),
    ("beats_champion", {"metric": "log_loss", "min_lift": 0.0, "significance": 0.05}),
])
def test_schema_accepts(kind: str, params: dict[str, Any]) -> None:
    assert _errors(kind, params) == []


@pytest.mark.parametrize(("kind", "params"), [
    ("reproducible", {"max_abs_diff": -1}),
    ("reproducible", {"tolerance": 0.1}),
    ("lineage_complete", {"allow_dirty": "no"}),
    ("rollback", {"min": 1}),
    ("beats_champion", {"metric": "roc_auc"}),
    ("beats_champion", {"metric": "auc", "min_lift": 0}),
    ("beats_champion", {"metric": "roc_auc", "min_lift": 0, "significance": 1.5}),
])
def test_schema_refuses(kind: str, params: dict[str, Any]) -> None:
    assert _errors(kind, params)
