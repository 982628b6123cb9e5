"""The hash-chained audit trail on a real DuckDB file: append, read back, verify, and find tampering.

Tampering is done the way an attacker would do it: with plain DuckDB SQL on the file, bypassing the engine.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from conftest import ROOT, tamper

from engine.audit.trail import GENESIS_HASH, TRAIL_CREATED, NewEvent, append, read_events, reading
from engine.audit.verify import verify
from engine.errors import MlgateError, TrailError

RUN = "run-1"
ROWS = 7  # genesis + 6 events
MIDDLE = 4
MIDDLE_VALUE = '"value":3'  # the data of the event at seq MIDDLE (seq 1 is the genesis event)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def raw_rows(path: Path) -> list[tuple[Any, ...]]:
    """The events table exactly as stored, bypassing the engine."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        query = "SELECT seq, recorded_at, run_id, kind, body, prev_hash, hash FROM events ORDER BY seq"
        return con.execute(query).fetchall()
    finally:
        con.close()



@pytest.fixture
def trail(tmp_path: Path) -> tuple[Path, str]:
    """A trail of 7 events (genesis + 6, written in three appends) and the head hash the last append returned."""
    path = tmp_path / "audit.duckdb"
    append(path, [NewEvent("note", None, {"value": 1})])
    append(path, [NewEvent("step", RUN, {"value": v}) for v in (2, 3, 4)])
    head = append(path, [NewEvent("step", RUN, {"value": 5}), NewEvent("done", RUN, {"value": 6})])
    return path, head


def test_append_then_read_round_trips_data(tmp_path: Path) -> None:
    path = tmp_path / "audit.duckdb"
    data = {
        "text": "naïve — 日本語 \"quoted\" \\ back",
        "int": 12345678901234,
        "float": 0.1 + 0.2,
        "bool": True,
        "none": None,
        "list": [1, "two", [3.5, None]],
        "nested": {"b": {"c": [True, False]}, "a": 1},
    }
    append(path, [NewEvent("evidence", "run-a", data), NewEvent("other", None, {"k": "v"})])

    events = read_events(path)
    assert [e.kind for e in events] == [TRAIL_CREATED, "evidence", "other"]
    assert events[1].data == data
    assert events[1].run_id == "run-a"
    assert events[2].run_id is None
    assert events[2].data == {"k": "v"}


def test_numpy_values_and_undefined_numbers_are_stored_as_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "audit.duckdb"
    append(path, [NewEvent("evidence", None, {
        "n": np.int64(3), "x": np.float64(0.25), "arr": np.array([1, 2]), "nan": float("nan"), "inf": np.inf,
    })])
    assert read_events(path)[1].data == {"n": 3, "x": 0.25, "arr": [1, 2], "nan": None, "inf": None}
    assert verify(path).intact


def test_read_events_filters_by_run_and_kind(trail: tuple[Path, str]) -> None:
    path, _ = trail
    assert [e.data["value"] for e in read_events(path, run_id=RUN)] == [2, 3, 4, 5, 6]
    assert [e.data["value"] for e in read_events(path, kinds=("note", "done"))] == [1, 6]
    assert [e.data["value"] for e in read_events(path, run_id=RUN, kinds=("done",))] == [6]
    assert read_events(path, run_id="no-such-run") == []


def test_the_first_event_is_trail_created_with_a_log_id(trail: tuple[Path, str]) -> None:
    path, _ = trail
    events = read_events(path)
    genesis = events[0]
    assert (genesis.seq, genesis.kind, genesis.run_id, genesis.prev_hash) == (1, TRAIL_CREATED, None, GENESIS_HASH)
    assert len(genesis.data["log_id"]) == 32
    int(genesis.data["log_id"], 16)  # hex
    assert [e.kind for e in events].count(TRAIL_CREATED) == 1, "only the first append creates the trail"
    assert verify(path).log_id == genesis.data["log_id"]


def test_two_trails_get_different_log_ids(tmp_path: Path) -> None:
    for name in ("a.duckdb", "b.duckdb"):
        append(tmp_path / name, [NewEvent("note", None, {})])
    assert verify(tmp_path / "a.duckdb").log_id != verify(tmp_path / "b.duckdb").log_id


def test_every_row_links_to_the_one_before_and_hashes_its_stored_body(trail: tuple[Path, str]) -> None:
    path, head = trail
    rows = raw_rows(path)
    assert [row[0] for row in rows] == list(range(1, ROWS + 1))
    previous = GENESIS_HASH
    for seq, recorded_at, run_id, kind, body, prev_hash, digest in rows:
        assert prev_hash == previous
        assert digest == sha256(body), "the hash is over the exact stored text"
        stored = json.loads(body)
        assert (stored["seq"], stored["prev_hash"], stored["recorded_at"], stored["run_id"], stored["kind"]) == (
            seq, prev_hash, recorded_at, run_id, kind,
        )
        previous = digest
    assert previous == head


def test_events_read_back_carry_the_stored_hashes(trail: tuple[Path, str]) -> None:
    path, _ = trail
    rows = raw_rows(path)
    events = read_events(path)
    assert [(e.seq, e.prev_hash, e.hash) for e in events] == [(r[0], r[5], r[6]) for r in rows]


def test_verify_reports_an_intact_trail_and_its_head(trail: tuple[Path, str]) -> None:
    path, head = trail
    result = verify(path)
    assert result.intact
    assert (result.events, result.head_seq, result.head_hash) == (ROWS, ROWS, head)
    assert result.bad_seq is None and result.problem is None


def test_appending_an_empty_list_to_a_new_trail_only_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "audit.duckdb"
    head = append(path, [])
    assert [e.kind for e in read_events(path)] == [TRAIL_CREATED]
    assert verify(path).head_hash == head


# Each column of one middle row changed with plain SQL; the value keeps the column's type.
COLUMN_TAMPERING = [
    pytest.param("seq", "seq = 100", id="seq"),
    pytest.param("recorded_at", "recorded_at = '2000-01-01T00:00:00.000000Z'", id="recorded_at"),
    pytest.param("run_id", "run_id = 'another-run'", id="run_id"),
    pytest.param("run_id", "run_id = NULL", id="run_id-null"),
    pytest.param("kind", "kind = 'forged'", id="kind"),
    pytest.param("body", f"body = replace(body, '{MIDDLE_VALUE}', '{MIDDLE_VALUE}0')", id="body"),
    pytest.param("body", "body = body || ' '", id="body-whitespace"),
    pytest.param("prev_hash", f"prev_hash = '{GENESIS_HASH}'", id="prev_hash"),
    pytest.param("hash", f"hash = '{sha256('forged')}'", id="hash"),
]


@pytest.mark.parametrize(("column", "assignment"), COLUMN_TAMPERING)
def test_changing_any_column_of_a_middle_row_is_found(trail: tuple[Path, str], column: str, assignment: str) -> None:
    path, _ = trail
    before = {row[0]: row for row in raw_rows(path)}[MIDDLE]
    tamper(path, f"UPDATE events SET {assignment} WHERE seq = {MIDDLE}")
    assert before not in raw_rows(path), "the UPDATE must have changed the row"

    result = verify(path)
    assert not result.intact
    assert result.problem
    if column == "seq":
        assert result.bad_seq is not None and result.bad_seq <= MIDDLE
    else:
        assert result.bad_seq == MIDDLE, result.problem
    assert result.events == ROWS


def test_rehashing_a_changed_row_breaks_the_link_of_the_next_one(trail: tuple[Path, str]) -> None:
    path, _ = trail
    body = {row[0]: row for row in raw_rows(path)}[MIDDLE][4]
    forged = body.replace(MIDDLE_VALUE, MIDDLE_VALUE + "0")
    assert forged != body
    tamper(path, "UPDATE events SET body = ?, hash = ? WHERE seq = ?", forged, sha256(forged), MIDDLE)
    result = verify(path)
    assert not result.intact
    assert result.bad_seq == MIDDLE + 1


def test_deleting_a_middle_row_is_found(trail: tuple[Path, str]) -> None:
    path, _ = trail
    tamper(path, f"DELETE FROM events WHERE seq = {MIDDLE}")
    result = verify(path)
    assert not result.intact
    assert result.bad_seq == MIDDLE
    assert result.events == ROWS - 1


def test_deleting_the_genesis_row_is_found(trail: tuple[Path, str]) -> None:
    path, _ = trail
    tamper(path, "DELETE FROM events WHERE seq = 1")
    result = verify(path)
    assert not result.intact
    assert result.bad_seq == 1


def test_deleting_the_last_row_is_not_detectable_by_the_chain_alone(trail: tuple[Path, str]) -> None:
    """Current behaviour, documented: truncation leaves a shorter chain that is still consistent.

    Only a head hash published outside the file (a later feature) can tell that the head moved back.
    """
    path, head = trail
    tamper(path, f"DELETE FROM events WHERE seq = {ROWS}")
    result = verify(path)
    assert result.intact
    assert result.events == ROWS - 1
    assert result.head_seq == ROWS - 1
    assert result.head_hash != head, "the head moved back: comparing with a published head would catch it"
    assert result.head_hash == raw_rows(path)[-1][6]


def test_swapping_the_bodies_of_two_rows_is_found(trail: tuple[Path, str]) -> None:
    path, _ = trail
    tamper(
        path,
        "UPDATE events SET body = (SELECT body FROM events e WHERE e.seq = CASE events.seq WHEN 3 THEN 5 ELSE 3 END) "
        "WHERE seq IN (3, 5)",
    )
    rows = {row[0]: row for row in raw_rows(path)}
    assert json.loads(rows[3][4])["seq"] == 5, "the bodies were swapped"
    result = verify(path)
    assert not result.intact
    assert result.bad_seq == 3


def test_a_forged_row_appended_with_a_wrong_link_is_found(trail: tuple[Path, str]) -> None:
    path, _ = trail
    body = json.dumps({"seq": ROWS + 1, "prev_hash": GENESIS_HASH, "recorded_at": "x", "run_id": None,
                       "kind": "forged", "data": {}}, sort_keys=True, separators=(",", ":"))
    tamper(path, "INSERT INTO events VALUES (?, 'x', NULL, 'forged', ?, ?, ?)", ROWS + 1, body, GENESIS_HASH,
           sha256(body))
    result = verify(path)
    assert not result.intact
    assert result.bad_seq == ROWS + 1


def test_append_continues_a_chain_after_the_engine_reopened_it(trail: tuple[Path, str]) -> None:
    path, head = trail
    new_head = append(path, [NewEvent("later", None, {"value": 7})])
    last = read_events(path)[-1]
    assert (last.seq, last.prev_hash, last.hash) == (ROWS + 1, head, new_head)
    assert verify(path).intact


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[4])
    from engine.audit.trail import NewEvent, append
    path, writer, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    while not go.exists():
        time.sleep(0.005)
    for i in range(10):
        append(path, [NewEvent("write", None, {"writer": writer, "i": i})])
    """
)


def test_concurrent_writers_neither_lose_events_nor_fork_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.duckdb"
    go = tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{n}", str(go), str(ROOT)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    time.sleep(0.5)  # let all four start and wait at the barrier
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=180)
        assert writer.returncode == 0, err

    events = read_events(path)
    assert len(events) == 41
    assert [e.kind for e in events].count(TRAIL_CREATED) == 1
    written = sorted((e.data["writer"], e.data["i"]) for e in events if e.kind == "write")
    assert written == sorted((f"w{n}", i) for n in range(4) for i in range(10))
    for n in range(4):  # each writer's own events keep their order
        mine = [e.data["i"] for e in events if e.kind == "write" and e.data["writer"] == f"w{n}"]
        assert mine == list(range(10))
    result = verify(path)
    assert result.intact
    assert result.events == 41


HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    sys.stdin.read()  # hold the file until the test closes our stdin
    con.close()
    """
)


def test_a_writer_gives_up_with_trail_error_while_another_process_holds_the_file(trail: tuple[Path, str]) -> None:
    path, _ = trail
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(TrailError, match="locked"):
            append(path, [NewEvent("blocked", None, {})], wait=0.3)
    finally:
        holder.communicate(timeout=30)
    append(path, [NewEvent("after", None, {})])  # the lock is gone: appending works again
    kinds = [e.kind for e in read_events(path)]
    assert kinds[-1] == "after"
    assert "blocked" not in kinds
    assert verify(path).intact


def test_a_reader_works_while_no_writer_holds_the_file(trail: tuple[Path, str]) -> None:
    path, _ = trail
    with reading(path) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (ROWS,)
    # the read-only connection was closed: a writer can open the file at once
    append(path, [NewEvent("after-read", None, {})], wait=0.0)
    assert len(read_events(path)) == ROWS + 1


def _garbage_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.duckdb"
    path.write_bytes(b"this is not a DuckDB database\n" * 200)
    return path


def _directory(tmp_path: Path) -> Path:
    path = tmp_path / "audit.duckdb"
    path.mkdir()
    return path


def _other_duckdb(tmp_path: Path) -> Path:
    path = tmp_path / "audit.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.close()
    return path


NOT_A_TRAIL = [
    pytest.param(_garbage_file, id="not-duckdb"),
    pytest.param(_directory, id="directory"),
    pytest.param(_other_duckdb, id="duckdb-without-events"),
]
OPERATIONS = [
    pytest.param(lambda p: read_events(p), id="read_events"),
    pytest.param(lambda p: verify(p), id="verify"),
]


@pytest.mark.parametrize("make", NOT_A_TRAIL)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_reading_something_that_is_not_a_trail_raises_trail_error(tmp_path: Path, make: Any, operation: Any) -> None:
    path = make(tmp_path)
    with pytest.raises(TrailError) as raised:
        operation(path)
    assert str(path) in raised.value.message
    assert isinstance(raised.value, MlgateError)


@pytest.mark.parametrize("make", [p for p in NOT_A_TRAIL if p.id != "duckdb-without-events"])
def test_appending_to_something_that_is_not_a_trail_raises_and_changes_nothing(tmp_path: Path, make: Any) -> None:
    path = make(tmp_path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(TrailError) as raised:
        append(path, [NewEvent("note", None, {})], wait=0.0)
    assert str(path) in raised.value.message
    assert (path.read_bytes() if path.is_file() else None) == before


@pytest.mark.parametrize("operation", OPERATIONS)
def test_reading_a_missing_trail_raises_and_creates_nothing(tmp_path: Path, operation: Any) -> None:
    path = tmp_path / "missing" / "audit.duckdb"
    with pytest.raises(TrailError, match="no audit trail"):
        operation(path)
    assert not path.exists()
    assert not path.parent.exists()
