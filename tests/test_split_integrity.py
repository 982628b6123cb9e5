"""Honest splits on real data: time, group and kept-apart test-file splits, the split-integrity certificate and the
data-quality profile (with planted problems built from real rows), and the inputs that are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, run_cli

from engine.audit import runs
from engine.errors import DataError, SpecError
from engine.policy.rules_data import data_quality, split_integrity
from engine.prepare import Outputs, Plan, prepare
from engine.spec import build_spec

WAGE = ROOT / "tests" / "fixtures" / "wage" / "wage.csv"
ADULT_DATA = {"target": "income", "positive": ">50K", "sensitive": ["sex"]}
WAGE_DATA = {"target": "health_ins", "positive": "1. Yes"}
LOGISTIC = [{"name": "logistic", "family": "logistic"}]


def planned(tmp_path: Path, path: Path, data: dict[str, Any], split: dict[str, Any] | None = None,
            candidates: list[dict[str, Any]] | None = None) -> Plan:
    """The prepared audit (read, split, checked; nothing trained) of `path`."""
    document = {"data": {"path": str(path), **data}, "candidates": candidates or LOGISTIC,
                **({"split": split} if split else {})}
    spec = build_spec(document, source="test_split_integrity")
    return prepare(spec, Outputs(tmp_path / "audit.duckdb", tmp_path / "cards", tmp_path / "artifacts"))


def certificate(plan: Plan) -> dict[str, Any]:
    assert plan.data_evidence is not None
    return dict(plan.data_evidence["split_integrity"])


def judged(plan: Plan, **params: Any) -> Any:
    bounds = {"max_duplicate_rate": 0.01, "max_conflict_rate": 0.01}  # the default pack's
    return split_integrity({"split_integrity": certificate(plan)}, {**bounds, **params})


# ---------------------------------------------------------------------------------------------------------------
# Split strategies


def test_a_time_split_on_wage_trains_on_the_early_years_and_tests_on_the_latest(tmp_path: Path) -> None:
    plan = planned(tmp_path, WAGE, WAGE_DATA, {"strategy": "time", "time_column": "year"})
    years = plan.dataset.frame["year"].to_numpy()
    train, validation, test = (years[rows] for rows in (plan.splits.train, plan.splits.validation,
                                                        plan.splits.test))
    assert train.max() < validation.min() <= validation.max() < test.min()
    assert set(test) == {2009} and train.min() == 2003
    bounds = plan.splits.record["boundaries"]
    assert bounds["train"] == {"from": 2003, "to": int(train.max())} and bounds["test"] == {"from": 2009, "to": 2009}
    assert plan.splits.sizes()["test"] == int((years == 2009).sum())
    assert "time_overlap" in certificate(plan) and certificate(plan)["time_overlap"]["rows"] == 0
    assert judged(plan).status == "pass"


def test_a_group_split_never_puts_one_group_on_both_sides(tmp_path: Path) -> None:
    plan = planned(tmp_path, WAGE, WAGE_DATA, {"strategy": "group", "group_column": "age"})
    ages = plan.dataset.frame["age"].to_numpy()
    sides = [set(ages[rows]) for rows in (plan.splits.train, plan.splits.validation, plan.splits.test)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sum(len(rows) for rows in (plan.splits.train, plan.splits.validation, plan.splits.test)) == len(ages)
    assert plan.splits.record["groups_in_several_parts"] == 0
    assert certificate(plan)["entity_overlap"]["groups"] == 0


def test_the_default_split_is_unchanged(tmp_path: Path, adult_parquet: Path) -> None:
    from engine.split import split_rows

    plan = planned(tmp_path, adult_parquet, ADULT_DATA)
    again = split_rows(plan.dataset.y, plan.spec.split)
    assert np.array_equal(plan.splits.test, again.test) and np.array_equal(plan.splits.train, again.train)
    assert plan.spec.document["split"] == {"test": 0.2, "validation": 0.2, "seed": 42}


def test_a_kept_apart_test_file_is_the_only_test_data(tmp_path: Path, adult_sample: pd.DataFrame) -> None:
    data, test = tmp_path / "data.csv", tmp_path / "test.csv"
    adult_sample.iloc[:2000].to_csv(data, index=False)
    adult_sample.iloc[2000:].to_csv(test, index=False)
    plan = planned(tmp_path, data, ADULT_DATA, {"test_path": str(test)})
    assert np.array_equal(plan.splits.test, np.arange(2000, 3000))
    assert plan.splits.train.max() < 2000 and plan.splits.validation.max() < 2000
    assert plan.data_evidence is not None and plan.data_evidence["data_quality"]["schema_drift"]["missing"] == []


# ---------------------------------------------------------------------------------------------------------------
# The certificate on planted problems


def test_split_integrity_passes_on_the_clean_data(tmp_path: Path, adult_parquet: Path) -> None:
    finding = judged(planned(tmp_path, adult_parquet, ADULT_DATA))
    assert finding.status == "pass", finding.message


def test_rows_duplicated_across_the_split_fail_it(tmp_path: Path, adult_sample: pd.DataFrame) -> None:
    data, test = tmp_path / "data.csv", tmp_path / "test.csv"
    adult_sample.iloc[:2000].to_csv(data, index=False)
    pd.concat([adult_sample.iloc[2000:2800], adult_sample.iloc[:200]]).to_csv(test, index=False)
    plan = planned(tmp_path, data, ADULT_DATA, {"test_path": str(test)})
    found = certificate(plan)["duplicates"]
    assert found["rows"] >= 200 and found["examples"][0] > 2000
    finding = judged(plan)
    assert finding.status == "fail" and "test rows repeat a development row" in finding.message


def test_a_noisy_copy_of_the_label_fails_it_and_is_named(tmp_path: Path, adult_sample: pd.DataFrame) -> None:
    frame = adult_sample.copy()
    flips = np.random.default_rng(1).random(len(frame)) < 0.005
    frame["approved"] = np.where((frame["income"] == ">50K") ^ flips, "yes", "no")
    path = tmp_path / "leak.parquet"
    frame.to_parquet(path, index=False)
    plan = planned(tmp_path, path, ADULT_DATA)
    finding = judged(plan)
    assert finding.status == "fail" and "approved (ROC AUC 0.99" in finding.message


def test_an_id_column_used_as_a_feature_fails_it(tmp_path: Path, adult_sample: pd.DataFrame) -> None:
    frame = adult_sample.copy()
    frame.insert(0, "customer_id", np.random.default_rng(2).permutation(len(frame)) + 100_000)
    path = tmp_path / "ids.parquet"
    frame.to_parquet(path, index=False)
    finding = judged(planned(tmp_path, path, ADULT_DATA))
    assert finding.status == "fail" and "identifier-like feature(s) unique per row: customer_id" in finding.message
    assert judged(planned(tmp_path, path, ADULT_DATA), allow_identifiers=True).status == "pass"


def test_a_later_test_file_that_overlaps_the_training_years_fails_it(tmp_path: Path) -> None:
    wage = pd.read_csv(WAGE)
    early, late = wage[wage["year"] <= 2007], wage[wage["year"] >= 2007]
    data, test = tmp_path / "early.csv", tmp_path / "late.csv"
    early.to_csv(data, index=False)
    late.to_csv(test, index=False)
    plan = planned(tmp_path, data, WAGE_DATA, {"strategy": "time", "time_column": "year", "test_path": str(test)})
    finding = judged(plan)
    assert finding.status == "fail" and "not later than the latest training year" in finding.message


def test_split_integrity_is_unknown_without_its_evidence() -> None:
    assert split_integrity({}, {}).status == "unknown"
    assert split_integrity({"split_integrity": {"error": "ValueError: x"}}, {}).status == "unknown"


# ---------------------------------------------------------------------------------------------------------------
# Data quality


def test_data_quality_passes_fails_and_is_unknown_on_real_data(tmp_path: Path, adult_parquet: Path) -> None:
    plan = planned(tmp_path, adult_parquet, ADULT_DATA)
    assert plan.data_evidence is not None
    quality = plan.data_evidence["data_quality"]
    loose = {"allow_constant": True, "max_unseen_rate": 0.05}
    assert data_quality({"data_quality": quality}, loose).status == "pass"
    strict = data_quality({"data_quality": quality}, {**loose, "max_out_of_range_rate": 0.0})
    assert strict.status == "fail" and "outside the training range" in strict.message
    assert data_quality({}, {}).status == "unknown"


def test_a_time_split_shows_the_label_and_missing_rates_per_part(tmp_path: Path) -> None:
    plan = planned(tmp_path, WAGE, WAGE_DATA, {"strategy": "time", "time_column": "year"})
    assert plan.data_evidence is not None
    quality = plan.data_evidence["data_quality"]
    assert set(quality["label_balance"]) == {"train", "validation", "test"}
    assert {m["feature"] for m in quality["missing"]} >= {"age", "education"}
    assert "year" not in {o["feature"] for o in quality["out_of_range"]}, "later years in test are the design"


# ---------------------------------------------------------------------------------------------------------------
# Inputs refused, not guessed


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_refusals(tmp_path: Path, adult_sample: pd.DataFrame) -> None:
    rows = "".join(f"{i},{'M' if i % 2 else 'F'},{'F' if i % 3 else 'M'},{i % 2}\n" for i in range(40))
    dup = write_csv(tmp_path / "dup.csv", "age,sex,sex,y\n" + rows)
    with pytest.raises(DataError, match=r"column 'sex' appears more than once"):
        planned(tmp_path, dup, {"target": "y"})
    import pyarrow as pa
    import pyarrow.parquet as pq

    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"tags": [[1, 2]] * 40, "y": [i % 2 for i in range(40)]}), nested)
    with pytest.raises(DataError, match=r"column 'tags' holds nested values"):
        planned(tmp_path, nested, {"target": "y"})
    with pytest.raises(DataError, match=r"the target 'health_ins' cannot also be a sensitive column"):
        planned(tmp_path, WAGE, {**WAGE_DATA, "sensitive": ["health_ins"]})
    with pytest.raises(DataError, match=r"time column 'maritl' does not parse as times"):
        planned(tmp_path, WAGE, WAGE_DATA, {"strategy": "time", "time_column": "maritl"})
    frame = pd.read_csv(WAGE).assign(region="one")
    one = tmp_path / "one.csv"
    frame.to_csv(one, index=False)
    with pytest.raises(DataError, match=r"group column 'region' has 1 group only"):
        planned(tmp_path, one, WAGE_DATA, {"strategy": "group", "group_column": "region"})
    with pytest.raises(SpecError, match=r"strategy 'time' needs split.time_column"):
        planned(tmp_path, WAGE, WAGE_DATA, {"strategy": "time"})


def test_the_cli_refuses_a_bad_time_column_with_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_cli("audit", "--data", WAGE, "--target", "health_ins", "--positive", "1. Yes", "--split", "time",
                   "--time-column", "region", "--audit-db", tmp_path / "a.duckdb", "--cards-dir", tmp_path / "c")
    assert done.returncode == 2
    assert "time column 'region' does not parse as times" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "a.duckdb").exists()


@pytest.mark.slow
def test_a_time_split_audit_records_its_boundaries_in_the_trail(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"data": {"path": str(WAGE), **WAGE_DATA}, "candidates": LOGISTIC,
                                "evaluation": {"bootstrap": 50, "shap_rows": 10, "shap_background": 5,
                                               "robustness_rows": 200, "reproducibility": False}}))
    db = tmp_path / "a.duckdb"
    done = run_cli("audit", "--spec", spec, "--split", "time", "--time-column", "year", "--audit-db", db,
                   "--cards-dir", tmp_path / "cards", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    run = runs.load_run(db, json.loads(done.stdout)["run_id"])
    split = run.started.data["split"]
    assert split["strategy"] == "time" and split["boundaries"]["test"] == {"from": 2009, "to": 2009}
    evidence = run.evidence("logistic")
    assert evidence["split_integrity"]["time_overlap"]["rows"] == 0
    card = next((tmp_path / "cards" / run.run_id).glob("logistic*.md")).read_text(encoding="utf-8")
    assert "- Split (by time on `year`: train 2003–2006; validation 2007–2008; test 2009–2009, seed 42)" in card
