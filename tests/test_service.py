"""`run_audit()` end to end on the real Adult sample: verdicts, recorded evidence, held-out metrics, cards, runs."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import DEFAULT_POLICY
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from engine.audit import runs
from engine.audit.runs import list_runs, load_run
from engine.audit.trail import NewEvent, append, read_events
from engine.audit.verify import verify
from engine.candidates import FAMILIES, TrainingData
from engine.canonical import digest
from engine.cards.files import FORMATS, card_path
from engine.data import load_dataset
from engine.errors import MlgateError
from engine.service import AuditResult, Progress, run_audit
from engine.spec import AuditSpec, build_spec
from engine.split import split_rows

pytestmark = pytest.mark.slow

SEED = 11
CANDIDATES: list[dict[str, Any]] = [
    {"name": "baseline", "family": "baseline"},
    {"name": "logistic", "family": "logistic", "params": {"C": 0.5}},
    {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 200, "learning_rate": 0.1}},
]
SMALL = CANDIDATES[:2]


def make_spec(
    data: Path,
    *,
    target: str = "income",
    positive: str = ">50K",
    candidates: list[dict[str, Any]] = CANDIDATES,
    policies: list[Path] | None = None,
) -> AuditSpec:
    document: dict[str, Any] = {
        "name": "adult-sample",
        "data": {"path": str(data), "target": target, "positive": positive, "sensitive": ["sex", "race"]},
        "split": {"seed": SEED},
        "candidates": candidates,
    }
    if policies is not None:
        document["policies"] = [str(p) for p in policies]
    return build_spec(document, source="test_service")


def write_policy(path: Path, *, severity: str, value: float = 0.999) -> Path:
    path.write_text(json.dumps({
        "name": "impossible", "version": "1.0.0",
        "rules": [{"id": "auc-perfect", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": value,
                   "severity": severity, "checklist": "optimizing_metric"}],
    }), encoding="utf-8")
    return path


@dataclass
class Audited:
    spec: AuditSpec
    result: AuditResult
    db: Path
    cards: Path
    progress: list[Progress]


@pytest.fixture(scope="module")
def audited(adult_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Audited:
    """One audit of the three candidates into a fresh trail, shared by the read-only tests below."""
    base = tmp_path_factory.mktemp("service")
    spec = make_spec(adult_parquet)
    seen: list[Progress] = []
    result = run_audit(spec, audit_db=base / "audit.duckdb", cards_dir=base / "cards", progress=seen.append)
    return Audited(spec, result, base / "audit.duckdb", base / "cards", seen)


def test_verdict_and_recommendation_follow_the_candidate_verdicts(audited: Audited) -> None:
    result = audited.result
    assert [c.name for c in result.candidates] == ["baseline", "logistic", "lightgbm"]
    for c in result.candidates:
        blocked = any(o.severity == "block" and o.status != "pass" for o in c.outcomes)
        assert c.verdict == ("fail" if blocked else "pass"), c.name
        assert c.is_baseline == (c.family == "baseline")
        assert c.error is None
    passing = [c for c in result.candidates if c.verdict == "pass" and not c.is_baseline]
    assert passing, "on Adult a real model clears the default policy"
    best = max(passing, key=lambda c: c.metrics["roc_auc"] or 0.0)
    assert result.recommended == best.name
    assert result.verdict == "pass"
    baseline = result.candidates[0]
    assert baseline.metrics["roc_auc"] == pytest.approx(0.5)
    assert baseline.verdict == "fail", "the class prior cannot beat itself by the default policy's margins"


def test_stored_evidence_equals_the_result(audited: Audited) -> None:
    result = audited.result
    record = load_run(audited.db, result.run_id)
    assert set(record.candidates) == set(record.rules) == set(record.cards) == {c.name for c in result.candidates}
    for c in result.candidates:
        evaluated = record.candidates[c.name].data
        assert evaluated["evidence"]["metrics"] == c.metrics
        assert evaluated["evidence"]["lift_over_baseline"] == c.lift
        assert evaluated["evidence_sha256"] == digest(evaluated["evidence"])
        assert (evaluated["family"], evaluated["is_baseline"]) == (c.family, c.is_baseline)
        checked = record.rules[c.name].data
        assert checked["outcomes"] == [o.to_json() for o in c.outcomes]
        assert checked["verdict"] == c.verdict
        assert checked["evidence_sha256"] == evaluated["evidence_sha256"]
    assert record.completed is not None
    assert record.completed.data["verdict"] == result.verdict
    assert record.completed.data["recommended"] == result.recommended
    assert record.completed.data["candidates"] == {c.name: c.verdict for c in result.candidates}


def test_run_started_records_spec_data_and_policy_fingerprints(audited: Audited, adult_parquet: Path) -> None:
    started = load_run(audited.db, audited.result.run_id).started.data
    assert started["spec"] == audited.spec.document
    assert started["spec_sha256"] == digest(audited.spec.document)
    assert started["data"]["fingerprint"]["sha256"] == hashlib.sha256(adult_parquet.read_bytes()).hexdigest()
    assert started["data"]["fingerprint"]["rows"] == 3000
    assert started["data"]["positive_label"] == ">50K"
    assert started["data"]["sensitive"] == ["sex", "race"]
    features = [*started["data"]["features"]["numeric"], *started["data"]["features"]["categorical"]]
    assert not {"income", "sex", "race"} & set(features), "target and sensitive columns are not features"
    assert [p["sha256"] for p in started["policies"]] == [hashlib.sha256(DEFAULT_POLICY.read_bytes()).hexdigest()]


def test_metrics_are_computed_on_the_held_out_test_rows_only(audited: Audited) -> None:
    spec = audited.spec
    dataset = load_dataset(spec.data)
    splits = split_rows(dataset.y, spec.split)
    assert not set(splits.test) & (set(splits.train) | set(splits.validation))
    frame, y = dataset.frame, dataset.y
    training = TrainingData(
        x_train=frame.iloc[splits.train], y_train=y[splits.train],
        x_valid=frame.iloc[splits.validation], y_valid=y[splits.validation],
        features=dataset.features, seed=spec.split.seed,
    )
    candidate = next(c for c in spec.candidates if c.name == "logistic")
    model = FAMILIES["logistic"].build(candidate.params)
    model.fit(training)
    test_proba = model.predict_proba(frame.iloc[splits.test])
    train_proba = model.predict_proba(frame.iloc[splits.train])

    record = load_run(audited.db, audited.result.run_id)
    assert record.started.data["split"]["sizes"] == splits.sizes()
    evidence = record.candidates["logistic"].data["evidence"]
    y_test = y[splits.test]
    assert evidence["rows"] == len(splits.test) == 600
    assert evidence["positives"] == int(np.count_nonzero(y_test))
    metrics = evidence["metrics"]
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y_test, test_proba), abs=1e-12)
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(y_test, test_proba), abs=1e-12)
    assert metrics["log_loss"] == pytest.approx(log_loss(y_test, test_proba), abs=1e-12)
    assert metrics["brier"] == pytest.approx(brier_score_loss(y_test, test_proba), abs=1e-12)
    train_auc = roc_auc_score(y[splits.train], train_proba)
    assert abs(train_auc - metrics["roc_auc"]) > 1e-4, "the stored AUC is not the training-rows AUC"
    for name in ("baseline", "lightgbm"):
        assert record.candidates[name].data["evidence"]["rows"] == len(splits.test)


def test_a_run_records_one_event_of_each_step(audited: Audited) -> None:
    events = read_events(audited.db, run_id=audited.result.run_id)
    kinds = [e.kind for e in events]
    assert kinds[0] == runs.RUN_STARTED
    assert kinds[-1] == runs.RUN_COMPLETED
    assert Counter(kinds) == {
        runs.RUN_STARTED: 1, runs.CANDIDATE_EVALUATED: 3, runs.RULES_CHECKED: 3, runs.CARD_WRITTEN: 3,
        runs.RUN_COMPLETED: 1,
    }
    for name in ("baseline", "logistic", "lightgbm"):
        position = {e.kind: i for i, e in enumerate(events) if e.data.get("candidate") == name}
        assert position[runs.CANDIDATE_EVALUATED] < position[runs.RULES_CHECKED] < position[runs.CARD_WRITTEN]
    seqs = [e.seq for e in read_events(audited.db)]
    assert seqs == list(range(1, len(kinds) + 2)), "genesis + this run, contiguous"


def test_the_result_head_is_the_verified_head(audited: Audited) -> None:
    result = verify(audited.db)
    assert result.intact
    assert result.head_hash == audited.result.chain_head
    assert audited.result.audit_db == audited.db


def test_cards_exist_with_the_recorded_sha256(audited: Audited) -> None:
    record = load_run(audited.db, audited.result.run_id)
    for c in audited.result.candidates:
        written = record.cards[c.name].data
        assert Path(written["path"]) == Path(c.card or "") == audited.cards / audited.result.run_id / f"{c.name}.md"
        for fmt, entry in written["files"].items():
            path = Path(entry["path"])
            assert path == card_path(audited.cards, audited.result.run_id, c.name, fmt)
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert set(written["files"]) == set(FORMATS)
    run_folder = audited.cards / audited.result.run_id
    assert sorted(p.name for p in run_folder.iterdir()) == sorted([
        f"{name}.{fmt}" for name in ("baseline", "lightgbm", "logistic") for fmt in ("html", "json", "md")
    ] + ["cyclonedx", "hf", "mct"]), "no temporary files left behind"
    assert sorted(str(p.relative_to(run_folder)) for p in run_folder.rglob("*") if p.is_file()) == sorted(
        str(card_path(audited.cards, audited.result.run_id, name, fmt).relative_to(run_folder.resolve()))
        for name in ("baseline", "lightgbm", "logistic") for fmt in FORMATS)


def test_a_card_shows_the_metrics_table_and_every_rule(audited: Audited) -> None:
    policy_ids = [rule["id"] for rule in json.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))["rules"]]
    for c in audited.result.candidates:
        text = Path(c.card or "").read_text(encoding="utf-8")
        roc_rows = [line for line in text.splitlines() if line.startswith("| ROC AUC |")]
        assert len(roc_rows) == 1, c.name
        assert f"{c.metrics['roc_auc']:.4f}" in roc_rows[0]
        assert f"{c.metrics['log_loss']:.4f}" in text
        assert "600 rows" in text, "the card says how many held-out rows the metrics come from"
        for rule_id in policy_ids:
            assert rule_id in text, (c.name, rule_id)
        assert audited.result.run_id in text


def test_progress_reports_every_stage(audited: Audited) -> None:
    stages = [p.stage for p in audited.progress]
    assert all(isinstance(p, Progress) and p.message for p in audited.progress)
    assert stages[0] == "data"
    assert stages[-1] == "cards"
    assert {"data", "train", "check", "record", "cards"} <= set(stages)
    names = [c.name for c in audited.spec.candidates]
    assert [p.candidate for p in audited.progress if p.stage == "train"] == names
    assert [p.candidate for p in audited.progress if p.stage == "check"] == names


def test_two_runs_are_listed_newest_first_and_the_chain_stays_intact(adult_parquet: Path, tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    spec = make_spec(adult_parquet, candidates=SMALL)
    first = run_audit(spec, audit_db=db, cards_dir=tmp_path / "cards")
    second = run_audit(spec, audit_db=db, cards_dir=tmp_path / "cards")
    assert first.run_id != second.run_id
    listed = list_runs(db)
    assert [s["run_id"] for s in listed] == [second.run_id, first.run_id]
    assert all(s["complete"] and s["verdict"] == "pass" and s["candidates"] == ["baseline", "logistic"]
               for s in listed)
    result = verify(db)
    assert result.intact
    assert result.events == 1 + 2 * 8
    assert result.head_hash == second.chain_head
    assert first.candidates[1].metrics == second.candidates[1].metrics, "same spec and seed, same evidence"


@pytest.mark.parametrize(
    ("severity", "verdict", "recommended"),
    [("block", "fail", None), ("warn", "pass", "logistic")],
)
def test_a_rule_no_candidate_can_pass(
    adult_parquet: Path, tmp_path: Path, severity: str, verdict: str, recommended: str | None
) -> None:
    policy = write_policy(tmp_path / "impossible.json", severity=severity)
    db = tmp_path / "audit.duckdb"
    result = run_audit(make_spec(adult_parquet, candidates=SMALL, policies=[policy]), audit_db=db,
                       cards_dir=tmp_path / "cards")
    assert (result.verdict, result.recommended) == (verdict, recommended)
    logistic = result.candidates[1]
    [outcome] = logistic.outcomes
    assert (outcome.id, outcome.status, outcome.threshold) == ("auc-perfect", "fail", 0.999)
    assert outcome.observed == logistic.metrics["roc_auc"]
    [summary] = list_runs(db)
    assert (summary["verdict"], summary["recommended"]) == (verdict, recommended)


def _missing_data(data: Path, tmp_path: Path) -> AuditSpec:
    return make_spec(tmp_path / "missing.parquet")


def _unknown_target(data: Path, tmp_path: Path) -> AuditSpec:
    return make_spec(data, target="no_such_column")


def _unknown_positive(data: Path, tmp_path: Path) -> AuditSpec:
    return make_spec(data, positive="maybe")


def _missing_policy(data: Path, tmp_path: Path) -> AuditSpec:
    return make_spec(data, policies=[tmp_path / "no-such-policy.json"])


BAD_INPUTS = [
    pytest.param(_missing_data, "missing.parquet", id="missing-data-file"),
    pytest.param(_unknown_target, "no_such_column", id="unknown-target"),
    pytest.param(_unknown_positive, "maybe", id="unknown-positive-label"),
    pytest.param(_missing_policy, "no-such-policy.json", id="missing-policy-file"),
]


@pytest.mark.parametrize(("make", "named"), BAD_INPUTS)
@pytest.mark.parametrize("existing_trail", [False, True], ids=["no-trail", "existing-trail"])
def test_a_bad_input_raises_and_writes_nothing(
    adult_parquet: Path, tmp_path: Path, make: Any, named: str, existing_trail: bool
) -> None:
    db = tmp_path / "trail" / "audit.duckdb"
    cards = tmp_path / "cards"
    if existing_trail:
        append(db, [NewEvent("note", None, {"before": True})])
    before = db.read_bytes() if existing_trail else None
    spec = make(adult_parquet, tmp_path)
    with pytest.raises(MlgateError) as raised:
        run_audit(spec, audit_db=db, cards_dir=cards)
    assert named in raised.value.one_line()
    assert "\n" not in raised.value.one_line()
    if existing_trail:
        assert db.read_bytes() == before
        assert [e.kind for e in read_events(db)] == ["trail_created", "note"]
    else:
        assert not db.exists()
        assert not db.parent.exists()
    assert not cards.exists()


class Interrupted(Exception):
    """Stands in for a kill between two steps of a run."""


def test_a_run_interrupted_after_it_started_leaves_a_verifiable_trail_and_an_incomplete_run(
    adult_parquet: Path, tmp_path: Path
) -> None:
    db = tmp_path / "audit.duckdb"

    def stop_before_recording(step: Progress) -> None:
        if step.stage == "record":
            raise Interrupted

    with pytest.raises(Interrupted):
        run_audit(make_spec(adult_parquet, candidates=SMALL), audit_db=db, cards_dir=tmp_path / "cards",
                  progress=stop_before_recording)
    [summary] = list_runs(db)
    assert (summary["complete"], summary["verdict"], summary["recommended"]) == (False, "incomplete", None)
    assert verify(db).intact
    finished = run_audit(make_spec(adult_parquet, candidates=SMALL), audit_db=db, cards_dir=tmp_path / "cards")
    assert [s["run_id"] for s in list_runs(db)] == [finished.run_id, summary["run_id"]]
    assert verify(db).intact


def test_every_candidate_records_conformal_explanation_and_robustness_evidence(audited: Audited) -> None:
    record = load_run(audited.db, audited.result.run_id)
    test_rows = record.started.data["split"]["sizes"]["test"]
    valid_rows = record.started.data["split"]["sizes"]["validation"]
    for name, event in record.candidates.items():
        evidence = event.data["evidence"]
        conformal, explained, robust = evidence["conformal"], evidence["explanations"], evidence["robustness"]
        for part in (conformal, explained, robust):
            assert "error" not in part, (name, part)
            assert part["seconds"] >= 0
        assert (conformal["calibration_rows"], conformal["rows"]) == (valid_rows, test_rows)
        assert [lv["confidence"] for lv in conformal["levels"]] == [0.9]
        assert {g["name"] for g in conformal["levels"][0]["by_group"]} == {"sex", "race", "sex × race"}
        assert explained["faithfulness"]["max_abs_error"] <= 1e-6
        features = record.started.data["data"]["features"]
        assert {e["feature"] for e in explained["ranking"]} == {*features["numeric"], *features["categorical"]}
        assert [t["column"] for t in robust["invariance"]] == ["sex", "race"]
        assert robust["rows"] == min(2000, test_rows)
    outcomes = {o.id: o.status for o in audited.result.candidates[1].outcomes}
    assert outcomes["explanations-faithful"] == "pass"


def test_every_candidate_is_packaged_beside_the_cards_and_recorded_with_its_hashes(audited: Audited) -> None:
    record = load_run(audited.db, audited.result.run_id)
    for c in audited.result.candidates:
        serving = record.candidates[c.name].data["evidence"]["serving"]
        folder = audited.cards.parent / "artifacts" / audited.result.run_id / c.name
        assert Path(serving["artifact"]["path"]) == folder
        for name, entry in serving["artifact"]["files"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]
        statuses = {o.id: o.status for o in c.outcomes}
        assert statuses["artifacts-packaged"] == statuses["onnx-parity"] == statuses["latency-p99"] == "pass"
        assert statuses["serving-features"] == "unknown", "the spec lists no serving features"
