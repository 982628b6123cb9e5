"""`mlgate monitor` on a real trail: a real audit of the Adult sample, two promoted champions with real ONNX
artifacts, batches drawn from the rest of Adult (a healthy one, an older population with a new category, one
missing a column), the real CLI for exit codes. Drift values are re-derived from the recorded reference with
scipy; the label-free estimate is compared with the true performance; the lapse, the rollback and
`mlgate verify` are checked in the trail."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import ADULT, run_cli
from scipy import stats
from sklearn.metrics import roc_auc_score

from engine.audit import runs
from engine.audit.trail import read_events
from engine.audit.verify import verify
from engine.cards.document import card_document
from engine.champion import APPROVAL_LAPSED, CHAMPION_ROLLED_BACK, promote, registry
from engine.evaluation.performance import EvidenceSettings
from engine.jsonfiles import load_schema, schema_errors
from engine.monitor.batch import checked_artifact, read_batch, score_batch
from engine.monitor.conditions import attached_conditions
from engine.monitor.drift import numeric_drift
from engine.monitor.reference import bin_counts, numbers
from engine.monitor.run import MONITORING_RUN, NO_REFERENCE, Options, monitor, monitoring_evidence
from engine.policy.loader import packs_dir
from engine.policy.registry import RULE_KINDS
from engine.policy.rules_monitor import MONITOR_KINDS
from engine.service import run_audit
from engine.spec import build_spec

pytestmark = pytest.mark.slow

MODEL = "adult-monitored"
POLICY = {"name": "monitor-test", "version": "1.0.0", "rules": [
    {"id": "auc-floor", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.70,
     "severity": "block", "checklist": "optimizing_metric"}]}


@dataclass(frozen=True)
class Trail:
    base: Path
    db: Path
    run_id: str

    def cli(self, *args: str | Path) -> Any:
        return run_cli("monitor", *args, "--audit-db", self.db)


def _batch(rows: int, seed: int) -> pd.DataFrame:
    con = duckdb.connect()
    frame = con.execute(f"SELECT * FROM read_parquet(?) USING SAMPLE {rows} ROWS (reservoir, {seed})",
                        [str(ADULT)]).df()
    con.close()
    return frame


@pytest.fixture(scope="module")
def template(adult_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Trail:
    base = tmp_path_factory.mktemp("monitor")
    policy = base / "monitor-test.json"
    policy.write_text(json.dumps(POLICY), encoding="utf-8")
    spec = build_spec({
        "name": MODEL,
        "data": {"path": str(adult_parquet), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "split": {"seed": 5}, "evaluation": {"bootstrap": 100, "reproducibility": False},
        "serving": {"latency_calls": 10, "warmup_calls": 0, "throughput_repeats": 1, "batch_rows": 200},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"},
                       {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 40}}],
        "policies": [str(policy)],
    }, source="test_monitor")
    db = base / "audit.duckdb"
    run_id = run_audit(spec, audit_db=db, cards_dir=base / "cards", artifacts_dir=base / "artifacts").run_id
    promote(db, run_id, "logistic", reviewer="Ann", reason="first champion")
    promote(db, run_id, "lightgbm", reviewer="Ann", reason="better AUC", conditions=attached_conditions(
        packs_dir() / "monitoring.json"))
    healthy = _batch(2000, 11)
    healthy.to_csv(base / "healthy.csv", index=False)
    healthy.drop(columns=["income"]).to_parquet(base / "unlabelled.parquet", index=False)
    older = healthy.copy()
    older["age"] = older["age"] + 25
    older.loc[older.index[:400], "workclass"] = "Crew-of-a-starship"
    older.to_csv(base / "older.csv", index=False)
    healthy.drop(columns=["hours-per-week"]).to_csv(base / "no-hours.csv", index=False)
    return Trail(base, db, run_id)


@pytest.fixture
def work(template: Trail, tmp_path: Path) -> Trail:
    """A copy of the trail and its artifacts (the artifact paths the trail records stay valid: same folder)."""
    shutil.copy2(template.db, tmp_path / "audit.duckdb")
    return Trail(template.base, tmp_path / "audit.duckdb", template.run_id)


def _runs(db: Path) -> list[Any]:
    return read_events(db, kinds=(MONITORING_RUN,))


def test_a_healthy_batch_is_recorded_with_drift_and_feedback_and_exits_0(work: Trail) -> None:
    done = work.cli(work.base / "healthy.csv", "--format", "json", "--window", "2026-W49")
    assert done.returncode == 0, done.stderr + done.stdout
    shown = json.loads(done.stdout)
    record = shown["record"]
    assert shown["healthy"] is True and record["status"] == "healthy" and shown["lapsed"] is None
    assert record["champion"]["candidate"] == "lightgbm" and record["conditions"]["source"] == "promotion"
    assert record["batch"]["rows"] == 2000 and record["batch"]["window"] == {"label": "2026-W49"}
    events = _runs(work.db)
    assert len(events) == 1 and events[0].data == record and events[0].run_id == work.run_id
    evidence = record["evidence"]
    assert {f["name"] for f in evidence["drift"]["features"]} >= {"age", "workclass", "hours-per-week"}
    assert all(f["psi"] < 0.1 for f in evidence["drift"]["features"])
    assert evidence["drift"]["prediction"]["psi"] < 0.1
    auc = evidence["versus_approval"]["metrics"]["roc_auc"]
    assert auc["batch_interval"][0] < auc["batch"] < auc["batch_interval"][1] and auc["change_interval"] is not None
    assert {o["id"]: o["status"] for o in record["outcomes"]}["auc-decay"] == "pass"
    assert verify(work.db).intact


def test_drift_values_equal_scipy_on_the_recorded_reference(work: Trail) -> None:
    result = monitor(work.db, work.base / "older.csv", Options(resamples=50))
    reference = runs.load_run(work.db, work.run_id).evidence("lightgbm")["drift_reference"]
    batch = pd.read_csv(work.base / "older.csv")
    by_name = {f["name"]: f for f in result.record["evidence"]["drift"]["features"]}
    age_ref = next(f for f in reference["features"] if f["name"] == "age")
    edges = np.asarray(age_ref["edges"])
    ages = numbers(batch["age"])
    expanded = np.repeat(np.arange(len(edges) + 1), age_ref["counts"])
    theirs = stats.ks_2samp(expanded, np.searchsorted(edges, ages, side="right"))
    assert by_name["age"]["statistic"] == pytest.approx(theirs.statistic, abs=1e-12)
    assert by_name["age"]["p_value"] == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300)
    assert by_name["age"]["psi"] == numeric_drift(age_ref, ages)["psi"] and by_name["age"]["psi_level"] == "action"
    work_ref = next(f for f in reference["features"] if f["name"] == "workclass")
    cats = sorted(set(work_ref["counts"]) | set(batch["workclass"].dropna().astype(str)))
    now = batch["workclass"].dropna().astype(str).value_counts()
    table = np.array([[work_ref["counts"].get(c, 0) for c in cats], [int(now.get(c, 0)) for c in cats]])
    chi = stats.chi2_contingency(table)
    assert by_name["workclass"]["p_value"] == pytest.approx(chi.pvalue, rel=1e-9, abs=1e-300)
    assert "Crew-of-a-starship" in by_name["workclass"]["new_categories"]
    assert sum(bin_counts(numbers(batch["age"]), edges)) == len(batch)


def test_a_broken_batch_lapses_the_approval_and_recommends_the_rollback(work: Trail) -> None:
    done = work.cli(work.base / "older.csv")
    assert done.returncode == 1, done.stderr + done.stdout
    assert "CRITICAL: feature-drift-action" in done.stdout
    assert f"approval lapsed — rollback recommended to logistic of run {work.run_id}" in done.stdout
    lapses = read_events(work.db, kinds=(APPROVAL_LAPSED,))
    assert len(lapses) == 1
    lapse = lapses[0].data
    assert lapse["rule"] == "feature-drift-action" and lapse["observed"] > 0.25 and lapse["threshold"] == 0.25
    assert lapse["batch"]["sha256"] == _runs(work.db)[0].data["batch"]["sha256"]
    assert lapse["rollback_recommended_to"]["candidate"] == "logistic"
    listing = run_cli("champion", "--audit-db", work.db)
    assert "approval lapsed — rollback recommended to logistic" in listing.stdout
    current = registry(work.db, MODEL).current
    assert current is not None and current["candidate"] == "lightgbm" and current["lapsed"]["rule"] == lapse["rule"]
    assert verify(work.db).intact


def test_rollback_on_critical_records_the_rollback(work: Trail) -> None:
    result = monitor(work.db, work.base / "older.csv", Options(rollback_on="critical", resamples=50))
    assert result.lapsed is not None and result.rolled_back is not None
    assert [e.data["reviewer"] for e in read_events(work.db, kinds=(CHAMPION_ROLLED_BACK,))] == ["mlgate monitor"]
    current = registry(work.db, MODEL).current
    assert current is not None and current["candidate"] == "logistic"
    assert verify(work.db).intact


def test_a_missing_column_is_a_schema_violation_and_unscored(work: Trail) -> None:
    result = monitor(work.db, work.base / "no-hours.csv", Options(resamples=50))
    evidence = result.record["evidence"]
    assert evidence["schema"]["missing_columns"] == ["hours-per-week"] and "error" in evidence["scoring"]
    statuses = {o["id"]: o["status"] for o in result.record["outcomes"]}
    assert statuses["schema"] == "fail" and statuses["auc-decay"] == "unknown"
    assert result.record["status"] == "lapsed"


def test_the_label_free_estimate_is_close_to_the_true_performance(work: Trail) -> None:
    labelled = monitor(work.db, work.base / "healthy.csv", Options(resamples=50)).record["evidence"]
    unlabelled = monitor(work.db, work.base / "unlabelled.parquet", Options()).record["evidence"]
    estimate = unlabelled["estimated"]
    assert estimate["estimate"] is True and "versus_approval" not in unlabelled
    gaps = {m: abs(estimate["metrics"][m] - labelled["metrics"][m]) for m in ("accuracy", "roc_auc")}
    assert gaps["accuracy"] <= 0.03 and gaps["roc_auc"] <= 0.06, gaps  # an uncalibrated LightGBM: AUC is rougher
    outcome = {o["id"]: o for o in monitor(work.db, work.base / "unlabelled.parquet").record["outcomes"]}
    assert outcome["auc-decay"]["status"] == "unknown"  # an estimate never judges unless a rule allows it


def test_monitoring_kinds_read_only_their_sections(work: Trail) -> None:
    evidence = monitor(work.db, work.base / "healthy.csv", Options(resamples=50)).record["evidence"]
    params = {"drift": {"max_psi": 0.25}, "prediction_drift": {"max_psi": 0.25},
              "schema_violations": {"max_rate": 0.05}, "performance_decay": {"metric": "roc_auc", "max_drop": 0.05}}
    for kind in MONITOR_KINDS:
        record = RULE_KINDS[kind]
        alone = {key: value for key, value in evidence.items() if key in record.reads}
        finding = record.check(evidence, params[kind])
        assert finding.status == "pass" and isinstance(finding.observed, float), (kind, finding.message)
        assert record.check(alone, params[kind]) == finding, kind
        assert record.check({}, params[kind]).status == "unknown", kind


def test_a_champion_without_a_reference_says_so(work: Trail) -> None:
    entry = registry(work.db, MODEL).current
    assert entry is not None
    model, schema = checked_artifact(entry["artifact"])
    approved = runs.load_run(work.db, work.run_id).evidence("lightgbm")
    old = {k: v for k, v in approved.items() if k != "drift_reference"}  # as a trail written before it existed
    evidence = monitoring_evidence(read_batch(work.base / "healthy.csv"), approved=old, model=model, schema=schema,
                                   data={"target": "income"}, positive=">50K",
                                   settings=EvidenceSettings(resamples=20))
    assert evidence["drift"] == {"error": NO_REFERENCE}
    assert RULE_KINDS["drift"](evidence, {"max_psi": 0.25}).status == "unknown"
    assert "re-audit" in RULE_KINDS["drift"](evidence, {}).message


def test_a_changed_artifact_or_a_bad_batch_is_refused_with_exit_2(work: Trail, tmp_path: Path) -> None:
    before = work.db.read_bytes()
    assert work.cli(tmp_path / "nope.csv").returncode == 2
    entry = registry(work.db, MODEL).current
    assert entry is not None
    onnx = Path(entry["artifact"]["path"]) / "model.onnx"
    saved = onnx.read_bytes()
    try:
        onnx.write_bytes(saved + b"\0")
        done = work.cli(work.base / "healthy.csv")
        assert done.returncode == 2 and "SHA-256 differs" in done.stderr
    finally:
        onnx.write_bytes(saved)
    assert work.db.read_bytes() == before


def test_history_is_a_time_series_per_model_worst_feature_first(work: Trail) -> None:
    monitor(work.db, work.base / "healthy.csv", Options(resamples=20, window="w1"))
    monitor(work.db, work.base / "older.csv", Options(resamples=20, window="w2"))
    done = work.cli("--history", MODEL, "--format", "json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert [r["batch"]["window"]["label"] for r in found["runs"]] == ["w1", "w2"]
    assert found["features"][0] == "age" and found["runs"][1]["status"] == "lapsed" and len(found["lapses"]) == 1
    text = work.cli("--history", MODEL)
    assert text.returncode == 0 and "age" in text.stdout and "approval lapsed" in text.stdout
    assert found["champion"]["candidate"] == "lightgbm" and found["lapsed"]["rule"] == "feature-drift-action"
    assert found["rollback_target"]["candidate"] == "logistic"
    assert f"champion lightgbm of run {work.run_id} — approval lapsed — rollback recommended to logistic" in text.stdout


def test_a_challenger_is_compared_paired_on_the_same_feedback_rows(work: Trail) -> None:
    done = work.cli(work.base / "healthy.csv", "--challenger", "logistic", "--resamples", "50", "--format", "json")
    assert done.returncode == 0, done.stderr + done.stdout
    evidence = json.loads(done.stdout)["record"]["evidence"]
    paired = evidence["versus_challenger"]
    assert paired["champion"]["candidate"] == "lightgbm" and paired["challenger"]["candidate"] == "logistic"
    batch = pd.read_csv(work.base / "healthy.csv")
    y = (batch["income"].astype(str).str.strip() == ">50K").to_numpy()
    record = runs.load_run(work.db, work.run_id)
    artifact = record.evidence("logistic")["serving"]["artifact"]
    model, schema = checked_artifact(artifact)
    theirs = score_batch(model, schema, read_batch(work.base / "healthy.csv").frame)
    auc = paired["metrics"]["roc_auc"]
    assert auc["challenger"] == pytest.approx(roc_auc_score(y, theirs), abs=1e-9)
    assert auc["champion"] == pytest.approx(evidence["metrics"]["roc_auc"], abs=1e-12)  # the same rows and scores
    assert auc["interval"][0] <= auc["lift"] <= auc["interval"][1] and paired["delong_roc_auc"]["p_value"] is not None
    assert paired["verdict"]["verdict"] in ("challenger_better", "champion_better", "no_difference")
    text = work.cli(work.base / "healthy.csv", "--challenger", "logistic", "--resamples", "50")
    assert "challenger logistic of run" in text.stdout and "verdict:" in text.stdout
    unlabelled = monitor(work.db, work.base / "unlabelled.parquet", Options(challenger=f"{work.run_id}:logistic"))
    assert "no labels" in unlabelled.record["evidence"]["versus_challenger"]["error"]
    before = work.db.read_bytes()
    for wrong in ("lightgbm", "nobody"):
        refused = work.cli(work.base / "healthy.csv", "--challenger", wrong)
        assert refused.returncode == 2 and "--challenger" in refused.stderr, refused.stderr
    assert work.db.read_bytes() == before


def test_the_champions_card_gains_a_monitoring_section_written_again_by_each_run(work: Trail) -> None:
    window = "[x](javascript:alert(1)) <b>w2</b>"
    monitor(work.db, work.base / "healthy.csv", Options(resamples=20, window="w1"))
    monitor(work.db, work.base / "older.csv", Options(resamples=20, window=window))
    written = [e for e in read_events(work.db, kinds=("card_written",)) if e.data["candidate"] == "lightgbm"]
    assert len(written) == 3  # the audit's, then one per monitoring run
    text = Path(written[-1].data["path"]).read_text(encoding="utf-8")
    assert text == Path(written[-1].data["files"]["md"]["path"]).read_text(encoding="utf-8")
    assert "## Monitoring after approval" in text and "2 monitoring run(s)" in text
    assert "**Approval lapsed**" in text and "`feature-drift-action`" in text
    assert "Checklist item `monitoring` in the latest run: **FAIL**." in text
    assert "Rollback recommended to logistic" in text
    age = next(f for f in _runs(work.db)[-1].data["evidence"]["drift"]["features"] if f["name"] == "age")
    assert f"| `age` | {age['psi']:.4f} | action |" in text
    assert "[x](javascript" not in text and "<b>" not in text  # the window is recorded as given, shown inert
    html = Path(written[-1].data["files"]["html"]["path"]).read_text(encoding="utf-8")
    assert "Monitoring after approval" in html and "<b>w2" not in html
    record = runs.load_run(work.db, work.run_id)
    document = card_document(record, "lightgbm", trail_head={"seq": 1, "hash": "0" * 64})
    assert schema_errors(document, load_schema("engine.cards", "model-card-v1.schema.json")) == []
    assert [r["status"] for r in document["mlgate"]["monitoring"]["runs"]] == ["healthy", "lapsed"]
    assert "monitoring" not in card_document(record, "logistic", trail_head={"seq": 1, "hash": "0" * 64})["mlgate"]
    again = run_cli("card", work.run_id, "lightgbm", "--audit-db", work.db)
    assert again.returncode == 0 and "## Monitoring after approval" in again.stdout
    assert verify(work.db).intact
