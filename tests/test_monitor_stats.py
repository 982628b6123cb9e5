"""The drift tests of engine.monitor against scipy and a hand computation, on the real Adult sample: PSI, KS on
the reference's bins (equal to scipy's ks_2samp on the same binned values, exact and asymptotic), chi-squared
(equal to scipy's chi2_contingency on the raw rows' counts), the corrections for many features, schema
violations, and the label-free estimate against the truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import accuracy_score, roc_auc_score

from engine.monitor import stats as monitor_stats
from engine.monitor.drift import PSI_ACTION, PSI_WARNING, drift_evidence, psi_level
from engine.monitor.feedback import estimated_performance, versus_approval
from engine.monitor.reference import bin_counts, drift_reference, numbers
from engine.monitor.schema import schema_violations

NUMERIC = ("age", "fnlwgt", "hours-per-week", "capital-gain")
CATEGORICAL = ("workclass", "education", "sex", "race")


@pytest.fixture(scope="module")
def halves(adult_sample: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The Adult sample split in two: the first 2,000 rows as training reference, the rest as a batch."""
    return adult_sample.iloc[:2000].reset_index(drop=True), adult_sample.iloc[2000:].reset_index(drop=True)


def _reference(frame: pd.DataFrame, scores: np.ndarray | None = None) -> dict:
    return drift_reference(frame, numeric=NUMERIC, categorical=CATEGORICAL, scores=scores)


def test_psi_equals_the_hand_computation() -> None:
    ref, cur = np.array([50, 30, 20]), np.array([30, 30, 40])
    hand = ((0.3 - 0.5) * math.log(0.3 / 0.5) + 0 + (0.4 - 0.2) * math.log(0.4 / 0.2))
    assert monitor_stats.psi(ref, cur) == pytest.approx(hand, abs=1e-12)
    assert monitor_stats.psi(ref, ref) == 0.0
    floored = monitor_stats.psi(np.array([10, 0]), np.array([5, 5]))
    assert floored == pytest.approx((0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4))
    assert [psi_level(v) for v in (0.05, PSI_WARNING, 0.2, PSI_ACTION)] == ["stable", "warning", "warning", "action"]


def test_numeric_psi_is_over_the_reference_deciles(halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, batch = halves
    reference = _reference(train)
    age = next(f for f in reference["features"] if f["name"] == "age")
    values = numbers(train["age"])
    deciles = np.unique(np.quantile(values, np.arange(1, 10) / 10))
    assert age["psi_edges"] == pytest.approx(list(deciles))
    assert sum(age["counts"]) == sum(age["psi_counts"]) == len(values)
    drifted = drift_evidence(reference, batch, None)
    entry = next(f for f in drifted["features"] if f["name"] == "age")
    now = numbers(batch["age"])
    ref_share = np.histogram(values, [-np.inf, *deciles, np.inf])[0] / len(values)
    # bins are [edge, next edge): np.histogram's right-closed inner bins differ only on ties, so count by hand
    cur = np.bincount(np.searchsorted(deciles, now, side="right"), minlength=len(deciles) + 1) / len(now)
    ref = np.bincount(np.searchsorted(deciles, values, side="right"), minlength=len(deciles) + 1) / len(values)
    assert ref_share.sum() == pytest.approx(1.0)
    hand = float(np.sum((np.maximum(cur, 1e-4) - np.maximum(ref, 1e-4)) * np.log(np.maximum(cur, 1e-4)
                                                                                 / np.maximum(ref, 1e-4))))
    assert entry["psi"] == pytest.approx(hand, abs=1e-12)
    assert entry["psi"] < PSI_WARNING  # two halves of one sample do not drift


@pytest.mark.parametrize("rows", [1000, 30_000])  # scipy's exact distribution, then the asymptotic one
def test_ks_on_the_reference_bins_equals_scipy_on_the_binned_values(adult_sample: pd.DataFrame, rows: int) -> None:
    rng = np.random.default_rng(3)
    values = numbers(adult_sample["age"])
    train = rng.choice(values, rows)
    batch = rng.choice(values, rows // 2) + rng.integers(0, 4, rows // 2)  # an older population
    reference = _reference(pd.DataFrame({"age": train, "fnlwgt": train, "hours-per-week": train,
                                         "capital-gain": train, "workclass": "a", "education": "b",
                                         "sex": "c", "race": "d"}))
    age = next(f for f in reference["features"] if f["name"] == "age")
    ours = monitor_stats.ks_binned(np.array(age["counts"]), np.array(bin_counts(batch, age["edges"])))
    assert ours is not None
    edges = np.array(age["edges"])
    theirs = stats.ks_2samp(np.searchsorted(edges, train, side="right"), np.searchsorted(edges, batch, side="right"))
    assert ours[0] == pytest.approx(float(theirs.statistic), abs=1e-12)
    assert ours[1] == pytest.approx(float(theirs.pvalue), rel=1e-9, abs=1e-300)
    raw = stats.ks_2samp(train, batch)  # on the rows themselves: within one percentile bin's mass
    assert abs(ours[0] - raw.statistic) <= max(age["counts"]) / rows + 1e-12


@pytest.mark.parametrize("n", [50, 141, 5_000, 120_000, 500_000])
def test_smirnovs_distribution_equals_scipys_kstwo_in_every_branch(n: int) -> None:
    """`kstwo_sf` sums scipy's slowest branch (the exact Smirnov sum) itself: equal to scipy on a grid that crosses
    every branch boundary (n d <= 1, n d^2 = 2.2 and 370, d = 0.5, n d >= n - 1)."""
    grid = [0.5 / n, 1.0 / n, 1.5 / n, np.sqrt(2.19 / n), np.sqrt(2.2 / n), np.sqrt(20 / n), np.sqrt(369.9 / n),
            np.sqrt(370 / n), 0.3, 0.4999, 0.5, 0.7, 1 - 1.5 / n, 1 - 0.5 / n]
    for d in (float(x) for x in grid if 0 < x < 1):
        ours, theirs = monitor_stats.kstwo_sf(d, n), float(np.clip(stats.kstwo.sf(d, n), 0, 1))
        assert ours == pytest.approx(theirs, rel=1e-11, abs=1e-300), (n, d)


def test_chi_squared_equals_scipy_on_the_raw_counts(halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, batch = halves
    shifted = batch.copy()
    shifted.loc[shifted.index[:300], "workclass"] = "Self-emp-inc"
    drifted = drift_evidence(_reference(train), shifted, None)
    entry = next(f for f in drifted["features"] if f["name"] == "workclass")
    both = pd.concat([train["workclass"].dropna().astype(str).to_frame().assign(s=0),
                      shifted["workclass"].dropna().astype(str).to_frame().assign(s=1)])
    table = pd.crosstab(both["s"], both["workclass"]).to_numpy()
    theirs = stats.chi2_contingency(table)
    assert entry["statistic"] == pytest.approx(theirs.statistic, rel=1e-12)
    assert entry["p_value"] == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300)
    assert entry["dof"] == theirs.dof
    assert entry["effect_size"] == pytest.approx(math.sqrt(theirs.statistic / table.sum()))
    assert entry["drifted"] is True and entry["psi"] > PSI_WARNING


def test_the_corrections_for_many_features() -> None:
    p = [0.01, 0.04, None, 0.03, 0.2]
    bh = monitor_stats.adjust(p, method="bh")
    expected = stats.false_discovery_control([0.01, 0.04, 0.03, 0.2], method="bh")
    assert [bh[i] for i in (0, 1, 3, 4)] == pytest.approx(list(expected)) and bh[2] is None
    holm = monitor_stats.adjust(p, method="holm")  # by hand: sorted 0.01, 0.03, 0.04, 0.2 times 4, 3, 2, 1
    assert [holm[i] for i in (0, 3, 1, 4)] == pytest.approx([0.04, 0.09, 0.09, 0.2])


def test_schema_violations_against_the_input_schema(halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, batch = halves
    schema = {"columns": [
        {"name": "age", "kind": "numeric", "training_range": [float(train["age"].min()), float(train["age"].max())]},
        {"name": "sex", "kind": "categorical", "categories": sorted(train["sex"].dropna().astype(str).unique())},
        {"name": "race", "kind": "categorical", "categories": sorted(train["race"].dropna().astype(str).unique())},
    ]}
    broken = batch.copy()
    broken.loc[broken.index[:10], "age"] = 150
    broken.loc[broken.index[5:25], "sex"] = "Unknown"
    found = schema_violations(schema, broken)
    assert found["missing_columns"] == [] and found["violating_rows"] == 25
    assert found["violation_rate"] == pytest.approx(25 / len(broken))
    by_name = {c["name"]: c for c in found["columns"]}
    assert by_name["age"]["above"] == 10 and by_name["sex"]["examples"] == ["Unknown"]
    gone = schema_violations(schema, broken.drop(columns=["race"]))
    assert gone["missing_columns"] == ["race"] and gone["violation_rate"] == 1.0


def test_the_label_free_estimate_is_close_to_the_truth_for_calibrated_scores() -> None:
    rng = np.random.default_rng(11)
    p = rng.beta(2, 5, 20_000)
    y = rng.random(p.size) < p  # the scores are calibrated by construction
    estimate = estimated_performance(p, threshold=0.5)
    assert estimate["estimate"] is True
    assert estimate["metrics"]["accuracy"] == pytest.approx(accuracy_score(y, p >= 0.5), abs=0.01)
    assert estimate["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=0.01)


def test_the_change_since_approval_has_a_two_sample_interval() -> None:
    approved = {"metrics": {"roc_auc": 0.90}, "intervals": {"metrics": {"roc_auc": [0.88, 0.92]}}}
    batch = {"metrics": {"roc_auc": 0.80}, "intervals": {"metrics": {"roc_auc": [0.77, 0.83]}}}
    entry = versus_approval(batch, approved)["metrics"]["roc_auc"]
    z = stats.norm.ppf(0.975)
    half = z * math.hypot(0.02 / z, 0.03 / z)
    assert entry["change"] == pytest.approx(-0.10)
    assert entry["change_interval"] == pytest.approx([-0.10 - half, -0.10 + half])
    assert entry["significant_decay"] is True
