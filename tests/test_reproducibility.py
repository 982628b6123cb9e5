"""engine.evaluation.reproducibility and the audit's retrain check: every family (and a calibrated variant) retrains
bit for bit on the CPU, a candidate that ignores its seed is caught, a retrain that fails is a finding, and the
spec's `evaluation.reproducibility = false` records why no retrain ran (the rule is then unknown)."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine.audit import runs
from engine.candidates import FAMILIES, Candidate, TrainingData
from engine.candidates.calibrated import CalibratedCandidate
from engine.candidates.lgbm import LightGBMCandidate
from engine.data import Dataset, load_dataset
from engine.evaluation.candidate import reproducibility_evidence
from engine.evaluation.reproducibility import device_of
from engine.policy.rules_release import reproducible
from engine.service import run_audit
from engine.spec import DEFAULT_MISSING_VALUES, DataSpec, SplitSpec, build_spec
from engine.split import Splits, split_rows
from engine.train import retrain_twin

SEED = 42


def retrain(fresh: Candidate, training: TrainingData, x_test: pd.DataFrame, reference: Any, *, threshold: float,
            device: str) -> tuple[dict[str, Any], Candidate | None]:
    """What the audit does for one candidate: the train stage fits the twin, the evaluate stage compares it."""
    retrained = retrain_twin(fresh, training)
    return reproducibility_evidence(retrained, reference, x_test, threshold=threshold, device=device), retrained.twin

@pytest.fixture(scope="module")
def adult(adult_parquet: Path) -> tuple[Dataset, Splits]:
    data = load_dataset(DataSpec(path=adult_parquet, target="income", positive=">50K", sensitive=("sex",),
                                 features=None, include_sensitive=False, missing_values=DEFAULT_MISSING_VALUES))
    return data, split_rows(data.y, SplitSpec(test=0.2, validation=0.2, seed=SEED))


@pytest.fixture(scope="module")
def training(adult: tuple[Dataset, Splits]) -> TrainingData:
    data, splits = adult
    return TrainingData(x_train=data.frame.iloc[splits.train], y_train=data.y[splits.train],
                        x_valid=data.frame.iloc[splits.validation], y_valid=data.y[splits.validation],
                        features=data.features, seed=SEED)


def _build(family: str) -> Candidate:
    return FAMILIES[family].build(dict(FAMILIES[family].default_params))


def _test_rows(adult: tuple[Dataset, Splits]) -> Any:
    data, splits = adult
    return data.frame.iloc[splits.test]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_retrains_bit_for_bit_on_the_cpu(family: str, adult: tuple[Dataset, Splits],
                                                      training: TrainingData) -> None:
    x_test = _test_rows(adult)
    model = _build(family)
    model.fit(training)
    reference = model.predict_proba(x_test)
    evidence, twin = retrain(_build(family), training, x_test, reference, threshold=0.5,
                             device=device_of(model.describe()))
    assert twin is not None
    assert np.array_equal(twin.predict_proba(x_test), reference)
    assert evidence["identical"] is True
    assert evidence["max_abs_diff"] == 0.0
    assert evidence["label_disagreement"] == 0.0
    assert evidence["rows"] == len(x_test)
    assert evidence["device"] == "cpu"
    assert evidence["seconds"] >= 0
    assert reproducible({"reproducibility": evidence}, {"max_abs_diff": 0}).status == "pass"


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_a_calibrated_variant_reproduces_on_its_retrained_base(method: str, adult: tuple[Dataset, Splits],
                                                               training: TrainingData) -> None:
    x_test = _test_rows(adult)
    base = _build("logistic")
    base.fit(training)
    calibrated = CalibratedCandidate(base, method)
    calibrated.fit(training)
    _, twin_base = retrain(_build("logistic"), training, x_test, base.predict_proba(x_test), threshold=0.5,
                           device="cpu")
    assert twin_base is not None
    evidence, _ = retrain(CalibratedCandidate(twin_base, method), training, x_test,
                          calibrated.predict_proba(x_test), threshold=0.5, device="cpu")
    assert evidence["identical"] is True


class UnseededLightGBM(LightGBMCandidate):
    """LightGBM with row subsampling that draws a fresh seed at every fit: what forgetting the seed looks like."""

    def fit(self, data: TrainingData) -> None:
        super().fit(replace(data, seed=secrets.randbelow(2**31)))


def test_a_candidate_that_ignores_its_seed_is_caught(adult: tuple[Dataset, Splits], training: TrainingData) -> None:
    x_test = _test_rows(adult)
    params = {"subsample": 0.5, "colsample_bytree": 0.5, "n_estimators": 100}
    model = UnseededLightGBM(params)
    model.fit(training)
    reference = model.predict_proba(x_test)
    evidence, twin = retrain(UnseededLightGBM(params), training, x_test, reference, threshold=0.5, device="cpu")
    assert twin is not None
    expected = float(np.max(np.abs(twin.predict_proba(x_test) - reference)))
    assert expected > 0
    assert evidence["identical"] is False
    assert evidence["max_abs_diff"] == expected
    finding = reproducible({"reproducibility": evidence}, {"max_abs_diff": 0})
    assert (finding.status, finding.observed) == ("fail", expected)


class FailsOnRefit(LightGBMCandidate):
    def fit(self, data: TrainingData) -> None:
        raise ValueError("the training data moved")


def test_a_retrain_that_raises_is_recorded_as_a_failed_check(adult: tuple[Dataset, Splits]) -> None:
    x_test = _test_rows(adult)
    evidence, twin = retrain(FailsOnRefit({}), TrainingData(x_test, np.zeros(len(x_test), bool), x_test,
                                                             np.zeros(len(x_test), bool), adult[0].features, SEED),
                             x_test, np.zeros(len(x_test)), threshold=0.5, device="cpu")
    assert twin is None
    assert evidence["error"] == "ValueError: the training data moved"
    assert reproducible({"reproducibility": evidence}, {}).status == "fail"


def test_device_of_reads_a_name_or_a_table() -> None:
    assert device_of({}) == "cpu"
    assert device_of({"device": "cuda"}) == "cuda"
    assert device_of({"device": {"type": "cuda", "name": "H100"}}) == "cuda"


POLICY = {"name": "repro", "version": "1.0.0", "rules": [
    {"id": "retrain-reproduces", "kind": "reproducible", "max_abs_diff": 0, "severity": "block",
     "checklist": "reproducibility"}]}


def _audit(adult_parquet: Path, tmp_path: Path, reproducibility: bool) -> runs.RunRecord:
    policy = tmp_path / "repro.json"
    policy.write_text(json.dumps(POLICY), encoding="utf-8")
    spec = build_spec({
        "name": "adult-repro",
        "data": {"path": str(adult_parquet), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "evaluation": {"bootstrap": 50, "reproducibility": reproducibility},
        "candidates": [{"name": "baseline", "family": "baseline"},
                       {"name": "logistic", "family": "logistic", "calibration": ["isotonic"]},
                       {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 50}}],
        "policies": [str(policy)],
    }, source="test_reproducibility")
    db = tmp_path / "audit.duckdb"
    result = run_audit(spec, audit_db=db, cards_dir=tmp_path / "cards")
    return runs.load_run(db, result.run_id)


@pytest.mark.slow
def test_the_audit_records_a_retrain_of_every_candidate(adult_parquet: Path, tmp_path: Path) -> None:
    record = _audit(adult_parquet, tmp_path, True)
    assert set(record.candidates) == {"baseline", "logistic", "logistic.isotonic", "lightgbm"}
    for name, evaluated in record.candidates.items():
        check = evaluated.data["evidence"]["reproducibility"]
        assert (check["retrained"], check["identical"], check["max_abs_diff"]) == (True, True, 0.0), name
        assert check["rows"] == evaluated.data["evidence"]["rows"]
        (outcome,) = record.rules[name].data["outcomes"]
        assert outcome["status"] == "pass"


@pytest.mark.slow
def test_turned_off_in_the_spec_the_rule_is_unknown_with_the_reason(adult_parquet: Path, tmp_path: Path) -> None:
    record = _audit(adult_parquet, tmp_path, False)
    for name, evaluated in record.candidates.items():
        assert evaluated.data["evidence"]["reproducibility"]["retrained"] is False
        (outcome,) = record.rules[name].data["outcomes"]
        assert outcome["status"] == "unknown", name
        assert "evaluation.reproducibility is false" in outcome["message"]
        assert record.rules[name].data["verdict"] == "fail"
