"""Multiplicity-aware gates: adjusted p-values equal statsmodels' `multipletests`, a run adjusts its comparisons
across its candidates (the baseline left out), and the lift rules judge the adjusted value, showing both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from engine.audit.runs import load_run
from engine.evaluation.multiplicity import benjamini_hochberg, holm
from engine.policy.rules import beats_baseline
from engine.policy.rules_release import beats_champion
from engine.service import run_audit
from engine.spec import build_spec

STATSMODELS = {"holm": "holm", "bh": "fdr_bh"}


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adjusted_p_values_equal_statsmodels(size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 0.2, size) ** 2
    if size > 2:
        p[1] = p[0]  # ties
        p[-1] = 1.0
    for ours, theirs in ((holm, "holm"), (benjamini_hochberg, "fdr_bh")):
        expected = multipletests(p, method=theirs)[1]
        np.testing.assert_allclose(ours(p), expected, rtol=0, atol=1e-15)


CANDIDATES: list[dict[str, Any]] = [
    {"name": "baseline", "family": "baseline"},
    {"name": "weak", "family": "logistic", "params": {"C": 0.0005}},
    {"name": "logistic", "family": "logistic", "params": {"C": 0.5}},
    {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 40}},
]


@pytest.fixture(scope="module")
def run(adult_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One audit of three contenders and the baseline, with a light evaluation (few resamples, no SHAP rows)."""
    folder = tmp_path_factory.mktemp("multiplicity")
    spec = build_spec({
        "name": "adult-multiplicity",
        "data": {"path": str(adult_parquet), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "split": {"seed": 3},
        "evaluation": {"bootstrap": 200, "reproducibility": False, "shap_rows": 10, "shap_background": 5,
                       "shap_samples": 20, "robustness_rows": 200},
        "candidates": CANDIDATES,
    }, source="test_multiplicity")
    result = run_audit(spec, audit_db=folder / "audit.duckdb", cards_dir=folder / "cards")
    return folder / "audit.duckdb", result.run_id


def test_a_run_adjusts_across_its_contenders(run: tuple[Path, str]) -> None:
    record = load_run(*run)
    contenders = [c["name"] for c in CANDIDATES if c["family"] != "baseline"]
    entries = [record.evidence(name)["comparisons"]["baseline"]["roc_auc"] for name in contenders]
    raw = np.array([e["p_value"] for e in entries])
    for method, theirs in STATSMODELS.items():
        expected = multipletests(raw, method=theirs)[1]
        assert [e["p_adjusted"][method] for e in entries] == pytest.approx(list(expected), abs=1e-15)
    assert all(e["p_adjusted"]["family"] == len(contenders) for e in entries)
    baseline = record.evidence("baseline")["comparisons"]["baseline"]["roc_auc"]
    assert "p_adjusted" not in baseline  # the reference is no contender


def test_the_default_rule_judges_the_holm_value_and_says_both(run: tuple[Path, str]) -> None:
    record = load_run(*run)
    checked = record.rules["logistic"].data["outcomes"]
    lift = next(o for o in checked if o["kind"] == "beats_baseline")
    entry = record.evidence("logistic")["comparisons"]["baseline"]["roc_auc"]
    assert "raw" in lift["message"] and "Holm-adjusted over 3 candidates" in lift["message"]
    assert f"{entry['p_adjusted']['holm']:.3g}"[:4] in lift["message"]


def evidence_with(p_value: float, adjusted: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"lift": 0.2, "interval": [0.1, 0.3], "p_value": p_value,
                             **({"p_adjusted": adjusted} if adjusted is not None else {})}
    return {"lift_over_baseline": {"roc_auc": 0.2}, "comparisons": {"baseline": {"roc_auc": entry},
                                                                     "champion": {"roc_auc": entry}},
            "champion": {"model": "m", "current": {"candidate": "c", "run_id": "r"}}}


@pytest.mark.parametrize("check", [beats_baseline, beats_champion])
def test_the_adjustment_decides_where_raw_and_adjusted_disagree(check: Any) -> None:
    evidence = evidence_with(0.02, {"holm": 0.06, "bh": 0.03, "family": 3})
    rule = {"metric": "roc_auc", "min_lift": 0.0, "significance": 0.05}
    assert check(evidence, rule).status == "fail"  # Holm by default
    assert check(evidence, {**rule, "adjust": "bh"}).status == "pass"
    assert check(evidence, {**rule, "adjust": "none"}).status == "pass"
    message = check(evidence, rule).message
    assert "p = 0.02 raw, 0.06 Holm-adjusted over 3 candidates (needs ≤ 0.05)" in message


def test_evidence_recorded_before_adjustment_is_judged_raw_and_says_so() -> None:
    finding = beats_baseline(evidence_with(0.02, None), {"metric": "roc_auc", "min_lift": 0.0, "significance": 0.05})
    assert finding.status == "pass" and "no adjusted value recorded" in finding.message
