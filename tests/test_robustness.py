"""engine.evaluation.robustness: perturbation drops, invariance and directional tests on real candidates, the
`robustness` rule on them, and a directional test on a non-numeric feature refused as a spec error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from beyond_data import NUMERIC, Fitted, fit
from conftest import run_cli
from sklearn.metrics import roc_auc_score

from engine.candidates.base import Features
from engine.evaluation.robustness import robustness_evidence
from engine.policy.rules_beyond import robustness

RAISE_GAIN = {"feature": "capital-gain", "shift": 5000, "expect": "non_decreasing"}
EVERY_ROW = 100000


def _tested(fitted: Fitted) -> dict[str, Any]:
    c = fitted.context
    return robustness_evidence(fitted.model.predict_proba, c.x_test, c.y_test, features=c.features,
                               sensitive=c.sensitive, settings=c.settings.robustness)


@pytest.fixture(scope="module")
def logistic(adult_sample: pd.DataFrame) -> Fitted:
    return fit(adult_sample, "logistic", robustness_rows=EVERY_ROW, directional=[RAISE_GAIN])


def test_clean_metrics_are_sklearns_on_the_test_rows(logistic: Fitted) -> None:
    evidence = _tested(logistic)
    y = logistic.context.y_test
    assert evidence["rows"] == y.size
    assert evidence["clean"]["roc_auc"] == pytest.approx(roc_auc_score(y, logistic.test_proba), abs=1e-12)
    assert evidence["clean"]["accuracy"] == pytest.approx(np.mean((logistic.test_proba >= 0.5) == y), abs=1e-12)
    for name, result in evidence["perturbations"].items():
        assert result["mean_abs_change"] > 0, name
        for metric, drop in result["drop"].items():
            assert drop == pytest.approx(evidence["clean"][metric] - result["metrics"][metric], abs=1e-12)
    assert evidence["seconds"] >= 0


def test_no_perturbation_no_drop(adult_sample: pd.DataFrame) -> None:
    fitted = fit(adult_sample, "logistic", robustness_rows=EVERY_ROW, noise_scale=0.0, swap_rate=0.0,
                 missing_rate=0.0)
    for result in _tested(fitted)["perturbations"].values():
        assert result["drop"] == {"roc_auc": 0.0, "accuracy": 0.0}
        assert result["flip_rate"] == 0.0 and result["mean_abs_change"] == 0.0


def test_every_value_missing_leaves_no_ranking(adult_sample: pd.DataFrame) -> None:
    fitted = fit(adult_sample, "lightgbm", params={"n_estimators": 50}, robustness_rows=EVERY_ROW, missing_rate=1.0)
    evidence = _tested(fitted)
    missing = evidence["perturbations"]["missing_values"]
    assert missing["metrics"]["roc_auc"] == pytest.approx(0.5)
    assert missing["drop"]["roc_auc"] == pytest.approx(evidence["clean"]["roc_auc"] - 0.5)
    assert robustness({"robustness": evidence}, {"max_drop": 0.1}).status == "fail"
    assert robustness({"robustness": evidence}, {"max_drop": 0.1, "perturbations": ["category_swap"]}).status == "pass"


def test_invariance_to_a_sensitive_column_that_is_not_a_feature(logistic: Fitted) -> None:
    evidence = _tested(logistic)
    assert [(t["column"], t["is_feature"], t["violation_rate"]) for t in evidence["invariance"]] == [
        ("sex", False, 0.0), ("race", False, 0.0)]
    assert robustness({"robustness": evidence}, {"max_invariance_violation_rate": 0.0}).status == "pass"


def test_a_sensitive_feature_is_reported_not_judged_unless_asked(adult_sample: pd.DataFrame) -> None:
    fitted = fit(adult_sample, "logistic", features=Features(NUMERIC, ("sex",)), robustness_rows=EVERY_ROW)
    evidence = _tested(fitted)
    sex = next(t for t in evidence["invariance"] if t["column"] == "sex")
    assert sex["is_feature"] and sex["violation_rate"] > 0.1
    reported = robustness({"robustness": evidence}, {"max_invariance_violation_rate": 0.0})
    assert reported.status == "pass"
    assert "not judged for invariance (sensitive, but used as features): sex" in reported.message
    refused = robustness({"robustness": evidence}, {"max_invariance_violation_rate": 0.0, "sensitive_features": "fail"})
    assert refused.status == "fail"


def test_directional_expectation_matches_a_direct_recomputation(logistic: Fitted) -> None:
    (result,) = _tested(logistic)["directional"]
    shifted = logistic.context.x_test.copy()
    shifted["capital-gain"] = shifted["capital-gain"] + 5000
    change = logistic.model.predict_proba(shifted) - logistic.test_proba
    assert result["violation_rate"] == pytest.approx(float(np.mean(change < 0)), abs=1e-12)
    assert result["mean_change"] == pytest.approx(float(change.mean()), abs=1e-12)
    assert result["mean_change"] > 0, "a logistic model rewards capital gains on Adult"


def test_a_directional_test_violated_on_purpose_fails(adult_sample: pd.DataFrame) -> None:
    wrong = {**RAISE_GAIN, "expect": "non_increasing"}
    fitted = fit(adult_sample, "logistic", robustness_rows=EVERY_ROW, directional=[wrong])
    evidence = _tested(fitted)
    assert evidence["directional"][0]["violation_rate"] > 0.9
    finding = robustness({"robustness": evidence}, {"max_directional_violation_rate": 0.05})
    assert finding.status == "fail"
    assert "rows against non-increasing when capital-gain +5000" in finding.message
    assert finding.observed == evidence["directional"][0]["violation_rate"]


@pytest.mark.slow
def test_a_directional_test_on_a_categorical_feature_is_a_spec_error(adult_csv: Path, tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "data": {"path": str(adult_csv), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "evaluation": {"directional": [{"feature": "occupation", "shift": 1, "expect": "non_decreasing"}]},
    }), encoding="utf-8")
    db = tmp_path / "audit.duckdb"
    done = run_cli("audit", "--spec", spec, "--audit-db", db, "--cards-dir", tmp_path / "cards")
    assert done.returncode == 2, done.stderr
    assert "/evaluation/directional/0/feature: 'occupation' is not a numeric feature" in done.stderr
    assert "Traceback" not in done.stderr
    assert not db.exists(), "nothing is recorded for a bad spec"
