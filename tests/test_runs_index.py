"""The runs index: derived from the events in the same transaction, checked by `verify`, rebuilt when absent.

Starting from the recorded audit of tests/fixtures/trail_v0 (a trail written before the index existed), copies
of its run are appended, then waivers, sign-offs, a promotion and a lapse are recorded through the engine; after
each write every stored row must equal the row derived from the events again, and each run's verdict and
recommendation read from its row must equal what `engine.audit.runs.view` decides from the run's events. A
changed, deleted or doubled row is reported by `verify` (exit 1) and `verify --rebuild-index` mends it.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import run_cli, tamper

from engine import champion, review
from engine.audit import index, runs
from engine.audit.head import head_document
from engine.audit.since import verify_since
from engine.audit.trail import NewEvent, append, rebuild_index
from engine.audit.verify import CHUNK_EVENTS, verify
from engine.canonical import canonical_json, sha256_text

FIXTURE = Path(__file__).parent / "fixtures" / "trail_v0" / "audit.duckdb"
RUN = "20261204T163008Z-942e4d"
C0, C1 = "20261205T000000Z-c0ffe0", "20261205T000001Z-c0ffe1"


def copies(n: int) -> list[NewEvent]:
    con = duckdb.connect(str(FIXTURE), read_only=True)
    rows = con.execute("SELECT kind, body FROM events WHERE kind <> 'trail_created' ORDER BY seq").fetchall()
    con.close()
    return [NewEvent(kind, f"20261205T00000{n}Z-c0ffe{n}", json.loads(body)["data"]) for kind, body in rows]


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    path = tmp_path / "audit.duckdb"
    shutil.copy(FIXTURE, path)
    return path


def table(path: Path, sql: str) -> list[dict[str, Any]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def assert_index_is_the_events(path: Path, today: date | None = None) -> None:
    """Stored rows == rows derived again; each row's verdict == the view of the run's own events; verify agrees."""
    stored = table(path, f"SELECT * FROM {index.TABLE} ORDER BY run_id")
    assert stored == table(path, f"SELECT * FROM ({index.ALL_RUNS}) ORDER BY run_id")
    today = today or runs.today_utc()
    for row in stored:
        now = runs.view(runs.load_run(path, row["run_id"]), today=today)
        assert index.current(row, today=today) == (now.verdict, now.recommended), row["run_id"]
    listed = {r["run_id"]: r for r in runs.list_runs(path, today=today)}
    assert set(listed) == {row["run_id"] for row in stored}
    result = verify(path)
    assert result.ok and result.index_problem is None, result


def test_every_kind_of_write_keeps_the_index_equal_to_the_events(trail: Path) -> None:
    assert verify(trail).ok  # no index yet: not a fault, readers derive the rows
    assert [r["run_id"] for r in runs.list_runs(trail)] == [RUN]
    append(trail, copies(0) + copies(1))  # the first write on the old trail builds the index, then extends it
    assert_index_is_the_events(trail)
    assert {r["run_id"] for r in table(trail, f"SELECT run_id FROM {index.TABLE}")} == {RUN, C0, C1}
    review.waive(trail, C0, "logistic", "slice-auc-gap", reviewer="Ann", reason="known gap",
                 until=runs.today_utc() + timedelta(days=3))
    assert_index_is_the_events(trail)
    review.signoff(trail, C0, "lightgbm", decision="reject", reviewer="Bo", reason="too opaque")
    assert_index_is_the_events(trail)
    assert runs.list_runs(trail, limit=1, before=C1)[0]["recommended"] == "logistic.isotonic"
    champion.rollback(trail, reviewer="Cy", reason="back to the one before")  # the copies were promoted too
    assert_index_is_the_events(trail)
    champion.promote(trail, C1, "lightgbm", reviewer="Cy", reason="better after all")
    assert_index_is_the_events(trail)
    row = table(trail, f"SELECT promoted FROM {index.TABLE} WHERE run_id = '20261205T000001Z-c0ffe1'")[0]
    assert row["promoted"] == ["lightgbm"]
    entry = champion.registry(trail, "adult-fixture").current
    assert entry is not None
    append(trail, [NewEvent(champion.APPROVAL_LAPSED, C1, {"model": "adult-fixture", "champion": entry,
                                                                 "rule": "drift", "message": "drifted"})])
    assert_index_is_the_events(trail)
    assert table(trail, f"SELECT lapsed FROM {index.TABLE} WHERE run_id = '20261205T000001Z-c0ffe1'")[0]["lapsed"] == 1
    review.signoff(trail, C0, "logistic.isotonic", decision="reject", reviewer="Bo", reason="no")
    review.signoff(trail, C0, "logistic", decision="reject", reviewer="Bo", reason="no")
    assert_index_is_the_events(trail)
    assert runs.list_runs(trail, runs.RunFilter(verdict="fail")) == [r for r in runs.list_runs(trail)
                                                                       if r["run_id"] == C0]


def test_a_verdict_read_from_the_index_follows_a_waiver_expiring(trail: Path) -> None:
    """A copy whose lightgbm failed a blocking rule, the other two rejected: waived through today, the run
    passes today and fails tomorrow, both read from the same row."""
    events = copies(0)
    for event in events:
        if event.kind == runs.RULES_CHECKED and event.data["candidate"] == "lightgbm":
            floor = next(o for o in event.data["outcomes"] if o["id"] == "auc-floor")
            floor.update(status="fail", message="below the floor")
    append(trail, events)
    for name in ("logistic", "logistic.isotonic"):
        review.signoff(trail, C0, name, decision="reject", reviewer="Bo", reason="no")
    today = runs.today_utc()
    assert runs.list_runs(trail, limit=1)[0]["verdict"] == "fail"
    review.waive(trail, C0, "lightgbm", "auc-floor", reviewer="Ann", reason="one day", until=today)
    for day in (today, today + timedelta(days=1)):
        assert_index_is_the_events(trail, today=day)
    verdicts = [runs.list_runs(trail, today=day, limit=1)[0]["verdict"] for day in (today, today + timedelta(days=1))]
    assert verdicts == ["pass", "fail"]


@pytest.mark.parametrize(("sql", "said"), [
    (f"UPDATE runs_index SET recorded_verdict = 'fail' WHERE run_id = '{C0}'", f"run {C0} disagrees"),
    (f"UPDATE runs_index SET standing = [] WHERE run_id = '{C0}'", "(standing)"),
    (f"UPDATE runs_index SET reviewers = ['Mallory'] WHERE run_id = '{C0}'", "(reviewers)"),
    (f"DELETE FROM runs_index WHERE run_id = '{C0}'", f"has no row for run {C0}"),
    (f"INSERT INTO runs_index SELECT * FROM runs_index WHERE run_id = '{C0}'", f"2 rows for run {C0}"),
    ("INSERT INTO runs_index SELECT * REPLACE ('ghost' AS run_id) FROM runs_index LIMIT 1", "run ghost"),
    ("UPDATE runs_index_meta SET through_seq = 3", "current through sequence 3"),
])
def test_a_tampered_index_is_reported_by_verify_and_rebuilt(trail: Path, sql: str, said: str) -> None:
    append(trail, copies(0))
    tamper(trail, sql)
    result = verify(trail)
    assert result.intact and not result.ok and said in str(result.index_problem), result.index_problem
    done = run_cli("verify", "--audit-db", trail)
    assert done.returncode == 1 and done.stdout.startswith("RUNS INDEX DISAGREES"), done.stdout
    document = json.loads(run_cli("verify", "--audit-db", trail, "--format", "json").stdout)
    assert document["ok"] is False and document["index_problem"] == result.index_problem
    mended = run_cli("verify", "--audit-db", trail, "--rebuild-index")
    assert mended.returncode == 0 and "runs index rebuilt from the events: 2 runs" in mended.stderr, mended.stdout
    assert_index_is_the_events(trail)


def test_a_trail_written_before_the_index_keeps_working(trail: Path) -> None:
    assert not table(trail, f"SELECT * FROM duckdb_tables() WHERE table_name = '{index.TABLE}'")
    listed = run_cli("runs", "--audit-db", trail, "--format", "json")
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [RUN]
    assert run_cli("show", RUN, "--audit-db", trail).returncode == 0
    done = run_cli("verify", "--audit-db", trail, "--format", "json")
    assert done.returncode == 0 and json.loads(done.stdout)["index_problem"] is None
    assert rebuild_index(trail) == 1
    assert_index_is_the_events(trail)


def test_an_index_left_behind_by_an_older_writer_is_not_trusted(trail: Path) -> None:
    """Events appended without the index moving (an older mlgate): readers derive, the next write rebuilds."""
    append(trail, copies(0))
    con = duckdb.connect(str(trail))
    head = con.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    assert head is not None
    con.close()
    rows, seq, prev, at = [], int(head[0]), str(head[1]), "2026-12-05T00:00:00.000000Z"
    for event in copies(1):
        seq += 1
        body = canonical_json({"seq": seq, "prev_hash": prev, "recorded_at": at, "run_id": event.run_id,
                               "kind": event.kind, "data": event.data})
        rows.append((seq, at, event.run_id, event.kind, body, prev, sha256_text(body)))
        prev = rows[-1][-1]
    con = duckdb.connect(str(trail))
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()
    assert "current through sequence" in str(verify(trail).index_problem)
    assert {r["run_id"] for r in runs.list_runs(trail)} == {RUN, C0, C1}
    append(trail, copies(2))
    assert_index_is_the_events(trail)


@pytest.mark.parametrize("column", ["signoffs", "events"])
def test_runs_checked_a_batch_at_a_time_each_within_its_runs_span(trail: Path, column: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """One run per batch (`verify --since` derives the rows again): the older run's sign-off comes after the newer
    run's events, so its span holds them; a change to either run's row is still found, and an intact index is
    found intact."""
    head = head_document(verify(trail))  # before either run's events: both are compared after it
    append(trail, copies(0))
    review.signoff(trail, RUN, "logistic", decision="reject", reviewer="Bo", reason="late")
    monkeypatch.setattr(index, "RUNS_PER_CHECK", 1)
    assert verify_since(trail, head).ok
    for run_id in (RUN, C0):
        tamper(trail, f"UPDATE runs_index SET {column} = {column} + 1 WHERE run_id = ?", run_id)
        found = verify_since(trail, head).result.index_problem
        assert found == f"the runs index row of run {run_id} disagrees with its events ({column})", found
        tamper(trail, f"UPDATE runs_index SET {column} = {column} - 1 WHERE run_id = ?", run_id)
    assert verify_since(trail, head).ok


@pytest.mark.parametrize("chunk", [3, 7, CHUNK_EVENTS])
@pytest.mark.parametrize("column", ["signoffs", "events", "standing"])
def test_the_walk_compares_each_run_once_it_has_passed_its_last_event(trail: Path, column: str, chunk: int) -> None:
    """`verify` compares a run's row from the facts of its own walk, once the walk is past the run's last event:
    the older run's late sign-off keeps it open across chunks while the newer run is compared, a change to either
    row is found, and with both changed the older run (the first by start) is the one reported."""
    append(trail, copies(0))
    review.signoff(trail, RUN, "logistic", decision="reject", reviewer="Bo", reason="late")
    assert verify(trail, chunk=chunk).ok
    change, undo = {"signoffs": ("signoffs + 1", "signoffs - 1"), "events": ("events + 1", "events - 1"),
                    "standing": ("list_reverse(standing)", "list_reverse(standing)")}[column]
    for run_id in (C0, RUN):  # the newer run first; then both changed, the older is the first by start
        tamper(trail, f"UPDATE runs_index SET {column} = {change} WHERE run_id = ?", run_id)
        found = verify(trail, chunk=chunk).index_problem
        assert found == f"the runs index row of run {run_id} disagrees with its events ({column})", found
    for run_id in (C0, RUN):
        tamper(trail, f"UPDATE runs_index SET {column} = {undo} WHERE run_id = ?", run_id)
    assert verify(trail, chunk=chunk).ok
