"""Cross-validation folds, the train/test gap and learning curves on the real wage data, checked against
scikit-learn's splitters, `cross_validate` and `learning_curve` on the same rows and seed; the rule kinds
`cv_stability` and `generalization_gap` pass, fail and are unknown on real evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, run_cli
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import (
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_validate,
    learning_curve,
)

from engine.audit.runs import load_run
from engine.candidates import FAMILIES, Features, TrainingData
from engine.errors import DataError, SpecError
from engine.evaluation.cv import fold_training
from engine.evaluation.generalization import DEFAULT_FRACTIONS, curve_sizes
from engine.policy.loader import load_policy
from engine.policy.rules_fit import cv_stability, generalization_gap
from engine.prepare import Outputs, Plan, prepare
from engine.service import run_audit
from engine.spec import build_spec

WAGE = ROOT / "tests" / "fixtures" / "wage" / "wage.csv"
WAGE_DATA = {"path": str(WAGE), "target": "health_ins", "positive": "1. Yes"}
LOGISTIC = [{"name": "logistic", "family": "logistic", "calibration": ["platt"]}]
SEED = 42
Audited = tuple[Plan, dict[str, dict[str, Any]], Path]


def planned(tmp_path: Path, split: dict[str, Any]) -> Plan:
    spec = build_spec({"data": WAGE_DATA, "candidates": LOGISTIC, "split": {"seed": SEED, **split}}, source="cv")
    return prepare(spec, Outputs(tmp_path / "audit.duckdb", tmp_path / "cards", tmp_path / "artifacts"))


class Family(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A candidate family as a scikit-learn estimator, so scikit-learn does the splitting and the scoring."""

    def __init__(self, features: Features | None = None, share: float = 0.25, curve: bool = False) -> None:
        self.features, self.share, self.curve = features, share, curve

    def fit(self, x: pd.DataFrame, y: NDArray[np.bool_]) -> Family:
        assert self.features is not None
        y = np.asarray(y, dtype=bool)
        self.model_ = FAMILIES["logistic"].build(dict(FAMILIES["logistic"].default_params))
        data = (TrainingData(x_train=x, y_train=y, x_valid=x, y_valid=y, features=self.features, seed=SEED)
                if self.curve else fold_training(x, y, self.features, seed=SEED, early_stopping_share=self.share))
        self.model_.fit(data)
        self.classes_ = np.array([False, True])
        return self

    def predict_proba(self, x: pd.DataFrame) -> NDArray[np.float64]:
        p = self.model_.predict_proba(x)
        return np.column_stack([1 - p, p])


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, dict[str, dict[str, Any]], Path]:
    """One real audit of wage.csv with 3 stratified folds and the default learning curve, against the shipped
    stability pack: its plan and every candidate's stored evidence."""
    folder = tmp_path_factory.mktemp("cv")
    document = {"data": WAGE_DATA, "candidates": LOGISTIC, "split": {"seed": SEED, "folds": 3},
                "policies": [str(ROOT / "policies" / "stability.json")],
                "evaluation": {"bootstrap": 0, "reproducibility": False, "shap_rows": 5, "robustness_rows": 200,
                               "learning_curve": True}}
    spec = build_spec(document, source="cv")
    result = run_audit(spec, audit_db=folder / "audit.duckdb", cards_dir=folder / "cards")
    run = load_run(folder / "audit.duckdb", result.run_id)
    plan = prepare(spec, Outputs(folder / "again.duckdb", folder / "cards2", folder / "artifacts2"))
    evidence = {name: run.evidence(name) for name in ("baseline", "logistic", "logistic.platt")}
    return plan, evidence, folder / "cards" / result.run_id


def development(plan: Plan) -> NDArray[np.intp]:
    return plan.splits.train_and_validation


# ---------------------------------------------------------------------------------------------------------------
# The folds are scikit-learn's splitter's, on the development rows only


@pytest.mark.parametrize("strategy", ["stratified", "random", "group"])
def test_folds_are_the_splitters_folds_on_the_development_rows(tmp_path: Path, strategy: str) -> None:
    split = {"strategy": strategy, "folds": 4, **({"group_column": "age"} if strategy == "group" else {})}
    plan = planned(tmp_path, split)
    dev = development(plan)
    y = plan.dataset.y[dev]
    if strategy == "stratified":
        expected = StratifiedKFold(4, shuffle=True, random_state=SEED).split(dev, y)
    elif strategy == "random":
        expected = KFold(4, shuffle=True, random_state=SEED).split(dev)
    else:
        groups = pd.factorize(plan.dataset.frame["age"])[0][dev]  # the groups as codes in order of appearance
        expected = StratifiedGroupKFold(4, shuffle=True, random_state=SEED).split(dev, y, groups)
    assert len(plan.folds) == 4
    for fold, (train, held) in zip(plan.folds, expected, strict=True):
        assert np.array_equal(fold.train, dev[train]) and np.array_equal(fold.held_out, dev[held])
        assert not np.isin(fold.held_out, plan.splits.test).any() and not np.isin(fold.train, plan.splits.test).any()
    if strategy == "group":  # no age on both sides of any fold, on every row
        ages = plan.dataset.frame["age"].to_numpy()
        assert all(not set(ages[f.train]) & set(ages[f.held_out]) for f in plan.folds)


def test_time_folds_chain_forward_and_never_train_on_a_held_out_year(tmp_path: Path) -> None:
    plan = planned(tmp_path, {"strategy": "time", "time_column": "year", "folds": 3})
    dev = development(plan)
    years = plan.dataset.frame["year"].to_numpy()
    order = dev[np.argsort(years[dev], kind="stable")]
    for fold, (train, held) in zip(plan.folds, TimeSeriesSplit(3).split(order), strict=True):
        assert np.array_equal(fold.held_out, np.sort(order[held]))
        reference = order[train][years[order[train]] < years[order[held]].min()]
        assert np.array_equal(fold.train, np.sort(reference))
        assert years[fold.train].max() < years[fold.held_out].min()
    assert years[plan.splits.test].min() > years[dev].max()  # the test years stay out of every fold


def test_folds_that_cannot_be_cut_are_refused_naming_the_file(tmp_path: Path) -> None:
    sites = pd.read_csv(WAGE)
    sites["site"] = np.arange(len(sites)) % 8  # 8 entities: the development rows hold fewer than 10 of them
    sites.to_csv(tmp_path / "sites.csv", index=False)
    spec = build_spec({"data": {**WAGE_DATA, "path": str(tmp_path / "sites.csv")}, "candidates": LOGISTIC,
                       "split": {"strategy": "group", "group_column": "site", "folds": 10}}, source="cv")
    with pytest.raises(DataError, match=r"sites\.csv: split\.folds = 10"):
        prepare(spec, Outputs(tmp_path / "audit.duckdb", tmp_path / "cards", tmp_path / "artifacts"))
    with pytest.raises(SpecError, match="/split/folds"):
        planned(tmp_path, {"folds": 1})


# ---------------------------------------------------------------------------------------------------------------
# The numbers, against scikit-learn


def test_fold_scores_equal_cross_validate_on_the_same_rows_and_seed(audited: Audited) -> None:
    plan, evidence, _ = audited
    section = evidence["logistic"]["cross_validation"]
    dev = development(plan)
    share = len(plan.splits.validation) / dev.size
    reference = cross_validate(Family(plan.dataset.features, share), plan.dataset.frame.iloc[dev],
                               plan.dataset.y[dev], cv=StratifiedKFold(3, shuffle=True, random_state=SEED),
                               scoring="roc_auc")["test_score"]
    scores = np.array([f["score"] for f in section["per_fold"]])
    assert np.allclose(scores, reference, rtol=0, atol=1e-12)
    assert section["mean"] == pytest.approx(reference.mean(), abs=1e-12)
    assert section["std"] == pytest.approx(np.std(reference), abs=1e-12)
    assert section["spread"] == pytest.approx(np.ptp(reference), abs=1e-12)
    assert section["worst"] == pytest.approx(reference.min(), abs=1e-12)
    assert sum(f["rows"] for f in section["per_fold"]) == dev.size
    assert evidence["baseline"]["cross_validation"]["std"] == 0.0  # the class prior ranks nothing: 0.5 each fold
    assert "calibrated variant" in evidence["logistic.platt"]["cross_validation"]["skipped"]


def test_the_gap_and_the_learning_curve_equal_scikit_learns(audited: Audited) -> None:
    plan, evidence, _ = audited
    section = evidence["logistic"]["generalization"]
    training = plan.training
    fitted = Family(plan.dataset.features, curve=True).fit(training.x_train, training.y_train)
    x_test, y_test = plan.dataset.frame.iloc[plan.splits.test], plan.dataset.y[plan.splits.test]
    on_train = roc_auc_score(training.y_train, fitted.predict_proba(training.x_train)[:, 1])
    on_test = roc_auc_score(y_test, fitted.predict_proba(x_test)[:, 1])
    assert section["train"] == pytest.approx(on_train, abs=1e-12)
    assert section["test"] == pytest.approx(on_test, abs=1e-12)
    assert section["test"] == pytest.approx(evidence["logistic"]["metrics"]["roc_auc"], abs=1e-12)
    assert section["gap"] == pytest.approx(on_train - on_test, abs=1e-12)

    x = pd.concat([training.x_train, training.x_valid])
    y = np.concatenate([training.y_train, training.y_valid])
    n_train = len(training.y_train)
    order = np.random.default_rng(SEED).permutation(n_train)
    sizes = curve_sizes(n_train, DEFAULT_FRACTIONS)
    rows, train_scores, valid_scores = learning_curve(
        Family(plan.dataset.features, curve=True), x, y, train_sizes=sizes, scoring="roc_auc", shuffle=False,
        cv=[(order, np.arange(n_train, len(y)))])
    points = section["learning_curve"]["points"]
    assert [p["rows"] for p in points] == list(rows) == sizes
    assert np.allclose([p["train"] for p in points], train_scores[:, 0], rtol=0, atol=1e-12)
    assert np.allclose([p["validation"] for p in points], valid_scores[:, 0], rtol=0, atol=1e-12)
    assert "learning_curve" not in evidence["baseline"]["generalization"]


# ---------------------------------------------------------------------------------------------------------------
# The rule kinds


def test_cv_stability_passes_fails_and_is_unknown(audited: Audited) -> None:
    _, evidence, _ = audited
    logistic = evidence["logistic"]
    std = logistic["cross_validation"]["std"]
    assert cv_stability(logistic, {"max_std": std + 0.01, "worst_fold": 0.6}).status == "pass"
    failed = cv_stability(logistic, {"max_std": std / 2, "max_spread": 0.001})
    assert failed.status == "fail" and "std above" in failed.message and "spread above" in failed.message
    assert failed.observed == pytest.approx(std)
    assert cv_stability(logistic, {"worst_fold": 0.99}).status == "fail"
    assert cv_stability({"metrics": logistic["metrics"]}, {"max_std": 1}).status == "unknown"  # no split.folds
    assert cv_stability(evidence["logistic.platt"], {"max_std": 1}).status == "unknown"  # skipped, with why
    assert cv_stability({"cross_validation": {"folds": 3, "metric": "roc_auc", "error": "fold 1: x"}},
                        {"max_std": 1}).status == "unknown"


def test_generalization_gap_passes_fails_and_is_unknown(audited: Audited) -> None:
    _, evidence, _ = audited
    logistic = evidence["logistic"]
    gap = logistic["generalization"]["gap"]
    assert generalization_gap(logistic, {"max_gap": abs(gap) + 0.01}).status == "pass"
    failed = generalization_gap(logistic, {"max_gap": 0.0}) if gap > 0 else None
    assert failed is not None and failed.status == "fail" and "overfitting" in failed.message
    assert generalization_gap({}, {"max_gap": 0.1}).status == "unknown"
    skipped = {"generalization": {"metric": "roc_auc", "skipped": "a model trained elsewhere"}}
    assert generalization_gap(skipped, {"max_gap": 0.1}).status == "unknown"


def test_the_stability_pack_judges_the_audit(audited: Audited, tmp_path: Path) -> None:
    pack = load_policy(ROOT / "policies" / "stability.json")
    assert {rule.kind for rule in pack.rules} == {"cv_stability", "generalization_gap"}
    done = run_cli("audit", "--data", WAGE, "--target", "health_ins", "--positive", "1. Yes", "--folds", "1",
                   "--audit-db", tmp_path / "a.duckdb")
    assert done.returncode == 2 and "--folds" in done.stderr and "Traceback" not in done.stderr


def test_the_card_lists_the_data_checks_the_folds_and_draws_the_learning_curve(audited: Audited) -> None:
    _, evidence, cards = audited
    card = (cards / "logistic.md").read_text(encoding="utf-8")
    section = card.split("## Split integrity and data quality")[1].split("## Metrics")[0]
    cert = evidence["logistic"]["split_integrity"]
    assert f"sizes: train {cert['sizes']['train']}, validation {cert['sizes']['validation']}" in section
    assert f"Test rows that repeat a development row: {cert['duplicates']['rows']} of" in section
    assert cert["data_sha256"] in section and "Leakage screen" in section and "Constant or near-constant" in section
    folds = evidence["logistic"]["cross_validation"]["per_fold"]
    assert f"| 1 | {folds[0]['train_rows']} | {folds[0]['rows']} | {folds[0]['score']:.4f} |" in card
    assert "not evaluated: a calibrated variant" in (cards / "logistic.platt.md").read_text(encoding="utf-8")
    page = (cards / "logistic.html").read_text(encoding="utf-8")
    svg = page.split("<title>Learning curve (roc_auc)</title>")[1].split("</svg>")[0]
    assert svg.count("<path") == 2 * len(evidence["logistic"]["generalization"]["learning_curve"]["points"])
