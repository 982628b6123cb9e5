"""The champion registry (engine.champion) on a real audited trail, through the real CLI: promotion, the listing,
a new audit seeing the champion (`rollback` passes, `beats_champion` names it), rollback, and every refusal
(exit 2, one line, nothing written). A first model's `rollback` failure is waived with the existing mechanism."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest
from conftest import run_cli
from sklearn.metrics import roc_auc_score

from engine.audit import runs
from engine.audit.trail import NewEvent, append, read_events
from engine.audit.verify import verify
from engine.canonical import digest
from engine.champion import CHAMPION_PROMOTED, CHAMPION_ROLLED_BACK, champion_evidence, promote, registry
from engine.data import load_dataset
from engine.evaluation.versus_champion import NotRescored, champion_scores
from engine.review import signoff, waive
from engine.service import run_audit
from engine.spec import build_spec
from engine.split import split_rows

pytestmark = pytest.mark.slow

POLICY = {"name": "champion-test", "version": "1.0.0", "rules": [
    {"id": "auc-floor", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.70,
     "severity": "block", "checklist": "optimizing_metric"},
    {"id": "rollback-ready", "kind": "rollback", "severity": "block", "checklist": "rollback"},
    {"id": "beats-champion", "kind": "beats_champion", "metric": "roc_auc", "min_lift": -0.01, "severity": "warn",
     "checklist": "optimizing_metric"},
]}
MODEL = "adult-champion"


def _spec(adult_parquet: Path, policy: Path, name: str = MODEL) -> Any:
    return build_spec({
        "name": name,
        "data": {"path": str(adult_parquet), "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "split": {"seed": 5},
        "evaluation": {"bootstrap": 100, "reproducibility": False},
        "serving": {"latency_calls": 10, "warmup_calls": 0, "throughput_repeats": 1, "batch_rows": 200},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"},
                       {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 40}}],
        "policies": [str(policy)],
    }, source="test_champion")


@dataclass(frozen=True)
class Trail:
    base: Path
    db: Path
    first: str  # the first run: no champion existed when it was audited
    policy: Path

    def cli(self, *args: str) -> Any:
        return run_cli(*args, "--audit-db", self.db)

    def audit(self, adult_parquet: Path, name: str = MODEL) -> str:
        spec = _spec(adult_parquet, self.policy, name)
        return run_audit(spec, audit_db=self.db, cards_dir=self.base / "cards").run_id


@pytest.fixture(scope="module")
def template(adult_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Trail:
    base = tmp_path_factory.mktemp("champion")
    policy = base / "champion-test.json"
    policy.write_text(json.dumps(POLICY), encoding="utf-8")
    trail = Trail(base, base / "audit.duckdb", "", policy)
    return Trail(base, trail.db, trail.audit(adult_parquet), policy)


@pytest.fixture
def work(template: Trail, tmp_path: Path) -> Trail:
    shutil.copytree(template.base, tmp_path / "t")
    base = tmp_path / "t"
    return Trail(base, base / "audit.duckdb", template.first, base / "champion-test.json")


def _outcome(db: Path, run_id: str, candidate: str, rule: str) -> dict[str, Any]:
    return next(o for o in runs.load_run(db, run_id).rules[candidate].data["outcomes"] if o["id"] == rule)


def _listing(t: Trail) -> list[dict[str, Any]]:
    done = t.cli("champion", "--format", "json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout)["models"].get(MODEL, []))


def _waive_first(t: Trail, candidate: str = "lightgbm") -> None:
    waive(t.db, t.first, candidate, "rollback-ready", reviewer="Ann", reason="first model: nothing to roll back to")


def test_a_first_model_fails_rollback_and_is_promoted_after_a_recorded_waiver(work: Trail) -> None:
    outcome = _outcome(work.db, work.first, "lightgbm", "rollback-ready")
    assert outcome["status"] == "fail" and "waive" in outcome["message"]
    assert _outcome(work.db, work.first, "lightgbm", "beats-champion")["status"] == "unknown"
    before = work.db.read_bytes()
    refused = work.cli("promote", work.first, "lightgbm", "--reviewer", "Ann", "--reason", "best AUC")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "rollback-ready (fail)" in refused.stderr
    assert work.db.read_bytes() == before
    waived = work.cli("waive", work.first, "lightgbm", "rollback-ready", "--reviewer", "Ann", "--reason", "first")
    assert waived.returncode == 0, waived.stderr
    done = work.cli("promote", work.first, "lightgbm", "--reviewer", "Ann", "--reason", "best AUC")
    assert done.returncode == 0, done.stderr
    assert f"lightgbm of run {work.first} is the champion" in done.stdout
    (entry,) = _listing(work)
    assert (entry["candidate"], entry["run_id"], entry["status"]) == ("lightgbm", work.first, "champion")
    assert (entry["reviewer"], entry["reason"]) == ("Ann", "best AUC")
    assert entry["evidence_sha256"] == runs.load_run(work.db, work.first).rules["lightgbm"].data["evidence_sha256"]
    (event,) = read_events(work.db, kinds=[CHAMPION_PROMOTED])
    assert event.data["previous"] is None and event.data["model"] == MODEL
    assert verify(work.db).intact


def test_a_new_audit_sees_the_champion_then_promote_and_roll_back(work: Trail, adult_parquet: Path) -> None:
    _waive_first(work)
    promote(work.db, work.first, "lightgbm", reviewer="Ann", reason="first champion")
    second = work.audit(adult_parquet)
    evidence = runs.load_run(work.db, second).candidates["logistic"].data["evidence"]
    assert evidence["champion"]["current"]["run_id"] == work.first
    assert evidence["champion"]["current"]["candidate"] == "lightgbm"
    rollback_ready = _outcome(work.db, second, "logistic", "rollback-ready")
    assert rollback_ready["status"] == "pass" and f"lightgbm of run {work.first}" in rollback_ready["message"]

    done = work.cli("promote", second, "logistic", "--reviewer", "Bob", "--reason", "simpler to explain")
    assert done.returncode == 0, done.stderr
    shown = work.cli("champion")
    assert shown.returncode == 0
    lines = [line for line in shown.stdout.splitlines() if "logistic" in line or "lightgbm" in line]
    assert "CHAMPION" in lines[0] and "logistic" in lines[0] and "AVAILABLE" in lines[1] and "lightgbm" in lines[1]
    (promoted_second,) = [e for e in read_events(work.db, kinds=[CHAMPION_PROMOTED]) if e.run_id == second]
    assert promoted_second.data["previous"]["candidate"] == "lightgbm"

    rolled = work.cli("rollback", "--reviewer", "Cy", "--reason", "latency regression")
    assert rolled.returncode == 0, rolled.stderr
    assert f"from logistic of run {second} to lightgbm of run {work.first}" in rolled.stdout
    listing = {(e["candidate"], e["status"]) for e in _listing(work)}
    assert listing == {("logistic", "rolled back"), ("lightgbm", "champion")}
    (event,) = read_events(work.db, kinds=[CHAMPION_ROLLED_BACK])
    assert event.data["restored"]["candidate"] == "lightgbm" and event.data["reviewer"] == "Cy"
    assert registry(work.db, MODEL).current["candidate"] == "lightgbm"  # type: ignore[index]

    again = work.cli("rollback", "--reviewer", "Cy", "--reason", "again")
    assert again.returncode == 2 and "no earlier champion" in again.stderr
    assert run_cli("verify", "--audit-db", work.db).returncode == 0


def test_champions_are_kept_per_model(work: Trail, adult_parquet: Path) -> None:
    _waive_first(work)
    promote(work.db, work.first, "lightgbm", reviewer="Ann", reason="first champion")
    other = work.audit(adult_parquet, name="another-model")
    assert champion_evidence(work.db, "another-model")["current"] is None
    assert _outcome(work.db, other, "logistic", "rollback-ready")["status"] == "fail"
    assert champion_evidence(work.db, MODEL)["current"]["candidate"] == "lightgbm"  # type: ignore[index]


def _incomplete(t: Trail) -> str:
    started = runs.load_run(t.db, t.first).started
    append(t.db, [NewEvent(runs.RUN_STARTED, "20000101T000000Z-killed", started.data)])
    return "20000101T000000Z-killed"


def _rejected(t: Trail) -> str:
    _waive_first(t)
    signoff(t.db, t.first, "lightgbm", decision="reject", reviewer="Dee", reason="too opaque")
    return t.first


def _already(t: Trail) -> str:
    _waive_first(t)
    promote(t.db, t.first, "lightgbm", reviewer="Ann", reason="first")
    return t.first


REFUSALS = [
    pytest.param(lambda t: ("promote", "20000101T000000Z-nosuch", "lightgbm"), "no run", id="unknown-run"),
    pytest.param(lambda t: ("promote", t.first, "forest"), "no candidate 'forest'", id="unknown-candidate"),
    pytest.param(lambda t: ("promote", t.first, "baseline"), "is the baseline", id="baseline"),
    pytest.param(lambda t: ("promote", t.first, "logistic"), "blocking rules not passed: rollback-ready",
                 id="failing-candidate"),
    pytest.param(lambda t: ("promote", _incomplete(t), "lightgbm"), "incomplete", id="incomplete-run"),
    pytest.param(lambda t: ("promote", _rejected(t), "lightgbm"), "rejected by Dee", id="rejected"),
    pytest.param(lambda t: ("promote", _already(t), "lightgbm"), "already is the champion", id="already-champion"),
    pytest.param(lambda t: ("rollback",), "no champion has been promoted", id="rollback-without-champion"),
    pytest.param(lambda t: ("rollback", "--model", "nope"), "has no champion", id="rollback-unknown-model"),
]


@pytest.mark.parametrize(("command", "named"), REFUSALS)
def test_a_refused_promotion_or_rollback_exits_2_with_one_line_and_writes_nothing(work: Trail, command: Any,
                                                                                   named: str) -> None:
    args = command(work)
    before = work.db.read_bytes()
    done = work.cli(*args, "--reviewer", "Ann", "--reason", "because")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and named in done.stderr, done.stderr
    assert work.db.read_bytes() == before


def test_a_terminal_escape_in_the_reviewer_is_refused(work: Trail) -> None:
    _waive_first(work)
    before = work.db.read_bytes()
    done = work.cli("promote", work.first, "lightgbm", "--reviewer", "Ann\x1b[31m", "--reason", "x")
    assert done.returncode == 2 and "control characters" in done.stderr
    assert work.db.read_bytes() == before


def test_champion_listing_of_a_trail_without_champions(work: Trail) -> None:
    done = work.cli("champion")
    assert done.returncode == 0 and "no champion has been promoted" in done.stdout
    missing = run_cli("champion", "--audit-db", work.base / "nothing.duckdb")
    assert missing.returncode == 2 and "no audit trail" in missing.stderr


def test_every_candidate_of_a_real_audit_carries_its_lineage(template: Trail, adult_parquet: Path) -> None:
    record = runs.load_run(template.db, template.first)
    started = record.started.data
    for name, evaluated in record.candidates.items():
        recorded = evaluated.data["evidence"]["lineage"]
        assert recorded["inputs"]["data_sha256"] == hashlib.sha256(adult_parquet.read_bytes()).hexdigest()
        assert recorded["inputs"]["spec_sha256"] == started["spec_sha256"]
        assert recorded["inputs"]["policies_sha256"] == [
            {"name": "champion-test", "sha256": hashlib.sha256(template.policy.read_bytes()).hexdigest()}]
        assert recorded["seeds"] == {"split": 5, "training": 5, "bootstrap": 5}
        assert recorded["candidate"]["family"] == evaluated.data["family"]
        assert recorded["candidate"]["params_sha256"] == digest(evaluated.data["params"]), name
        assert {k: v for k, v in recorded.items() if k != "candidate"} == started["lineage"]


def _test_rows(adult_parquet: Path, policy: Path) -> tuple[Any, Any]:
    spec = _spec(adult_parquet, policy)
    data = load_dataset(spec.data)
    rows = split_rows(data.y, spec.split).test
    return data.frame.iloc[rows], data.y[rows]


def _onnxruntime_scores(artifact: dict[str, Any], frame: Any) -> Any:
    """The champion's artifact run directly with onnxruntime, fed from its own input schema file."""
    folder = Path(artifact["path"])
    schema = json.loads((folder / "input_schema.json").read_text(encoding="utf-8"))
    feeds = {}
    for column in schema["columns"]:
        values = frame[column["name"]]
        if column["kind"] == "numeric":
            feeds[column["onnx_input"]] = values.astype("float32").to_numpy().reshape(-1, 1)
        else:
            text = values.astype(str).where(values.notna(), schema["missing"]["categorical"])
            feeds[column["onnx_input"]] = text.to_numpy(dtype=object).reshape(-1, 1)
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(["probability"], feeds)[0], dtype=np.float64).reshape(-1)


def test_the_champion_is_re_scored_from_its_onnx_artifact_on_the_new_test_rows(work: Trail,
                                                                               adult_parquet: Path) -> None:
    _waive_first(work)
    promote(work.db, work.first, "lightgbm", reviewer="Ann", reason="first champion")
    champion = registry(work.db, MODEL).current
    assert champion is not None and champion["artifact"]["files"]["model.onnx"]["sha256"]
    second = work.audit(adult_parquet)
    record = runs.load_run(work.db, second)
    x_test, y_test = _test_rows(adult_parquet, work.policy)
    served = _onnxruntime_scores(champion["artifact"], x_test)
    expected_auc = roc_auc_score(y_test, served)
    for name in ("logistic", "lightgbm"):
        evidence = record.candidates[name].data["evidence"]
        rescored = evidence["champion"]["rescored"]
        assert rescored["rows"] == len(y_test)
        assert rescored["model_sha256"] == champion["artifact"]["files"]["model.onnx"]["sha256"]
        assert rescored["metrics"]["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)
        lift = evidence["comparisons"]["champion"]["roc_auc"]["lift"]
        assert lift == pytest.approx(evidence["metrics"]["roc_auc"] - expected_auc, abs=1e-12)
    # the same model retrained on the same rows: no lift (within the ONNX parity bound); the class prior is worse
    same = _outcome(work.db, second, "lightgbm", "beats-champion")
    assert same["status"] == "pass" and abs(same["observed"]) < 1e-3
    worse = _outcome(work.db, second, "baseline", "beats-champion")
    assert worse["status"] == "fail" and worse["observed"] == pytest.approx(0.5 - expected_auc, abs=1e-12)
    assert "worse than the champion" in worse["message"]


def test_a_champion_artifact_changed_after_promotion_is_not_trusted(tmp_path: Path, adult_parquet: Path,
                                                                     template: Trail) -> None:
    base = tmp_path / "own"
    base.mkdir()
    policy = base / "champion-test.json"
    shutil.copy(template.policy, policy)
    trail = Trail(base, base / "audit.duckdb", "", policy)
    first = trail.audit(adult_parquet)
    waive(trail.db, first, "lightgbm", "rollback-ready", reviewer="Ann", reason="first model")
    promote(trail.db, first, "lightgbm", reviewer="Ann", reason="first champion")
    model = Path(registry(trail.db, MODEL).current["artifact"]["path"]) / "model.onnx"  # type: ignore[index]
    model.write_bytes(model.read_bytes() + b"\0")
    second = trail.audit(adult_parquet)
    outcome = _outcome(trail.db, second, "logistic", "beats-champion")
    assert outcome["status"] == "unknown"
    assert "no longer matches the SHA-256 recorded at promotion" in outcome["message"]
    assert "champion" not in runs.load_run(trail.db, second).candidates["logistic"].data["evidence"]["comparisons"]


def test_without_an_artifact_or_a_column_the_champion_is_not_re_scored(adult_parquet: Path, template: Trail) -> None:
    x_test, _ = _test_rows(adult_parquet, template.policy)
    with pytest.raises(NotRescored, match="no packaged ONNX artifact"):
        champion_scores(None, x_test)
    artifact = runs.load_run(template.db, template.first).candidates["lightgbm"].data["evidence"]["serving"]["artifact"]
    with pytest.raises(NotRescored, match="lacks column\\(s\\) it needs: age"):
        champion_scores(artifact, x_test.drop(columns=["age"]))
    assert champion_scores(artifact, x_test).shape == (len(x_test),)
