"""`verify` walks the chain inside DuckDB; it must find exactly what a row-by-row walk in Python finds.

The reference below is the plain walk (every row, in order, judged by `row_problem`). Every kind of tampering,
at the start, in the middle and at the end of a trail, is judged by both and must give the same first bad
sequence number and the same problem; rows the DuckDB query only suspects are judged again in Python, across
as many suspect pages as there are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from conftest import tamper

from engine.audit import verify as walk
from engine.audit.trail import COLUMNS, GENESIS_HASH, TRAIL_CREATED, NewEvent, append
from engine.audit.verify import Verification, row_problem, verify
from engine.canonical import sha256_text

EVENTS = 40


def reference(path: Path) -> tuple[bool, int | None, str | None]:
    """The plain walk: every row in order, the first problem wins."""
    con = duckdb.connect(str(path), read_only=True)
    rows = con.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq").fetchall()
    con.close()
    prev = GENESIS_HASH
    for index, row in enumerate(rows):
        problem = row_problem(row, index + 1, prev)
        if problem is not None:
            return False, index + 1, problem
        prev = str(row[6])
    if not rows or rows[0][3] != TRAIL_CREATED:
        return False, 1, "the trail's creation event (sequence 1, trail_created) is missing"
    return True, None, None


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    path = tmp_path / "audit.duckdb"
    for first in range(1, EVENTS, 8):
        append(path, [NewEvent("step", "run-ü" if n % 3 else None, {"n": n, "text": "naïve \"q\" }"})
                      for n in range(first, first + 8)])
    return path


def rehash(path: Path, seq: int, body: str) -> None:
    """Rewrite one row's body and its hash, as a careful forger would (the next row's link then breaks)."""
    tamper(path, "UPDATE events SET body = ?, hash = ? WHERE seq = ?", body, sha256_text(body), seq)


def body_of(path: Path, seq: int) -> str:
    con = duckdb.connect(str(path), read_only=True)
    text = str(con.execute("SELECT body FROM events WHERE seq = ?", [seq]).fetchone()[0])  # type: ignore[index]
    con.close()
    return text


TAMPERINGS: dict[str, Callable[[Path, int], None]] = {
    "body-changed": lambda p, s: tamper(p, "UPDATE events SET body = replace(body, '\"data\":', '\"data\": ') "
                                           "WHERE seq = ?", s),
    "kind-column": lambda p, s: tamper(p, "UPDATE events SET kind = 'other' WHERE seq = ?", s),
    "run-id-column": lambda p, s: tamper(p, "UPDATE events SET run_id = 'forged' WHERE seq = ?", s),
    "recorded-at-column": lambda p, s: tamper(p, "UPDATE events SET recorded_at = '2001-01-01' WHERE seq = ?", s),
    "prev-hash-column": lambda p, s: tamper(p, "UPDATE events SET prev_hash = hash WHERE seq = ?", s),
    "hash-column": lambda p, s: tamper(p, "UPDATE events SET hash = prev_hash WHERE seq = ?", s),
    "deleted": lambda p, s: tamper(p, "DELETE FROM events WHERE seq = ?", s),
    "seq-renumbered": lambda p, s: tamper(p, "UPDATE events SET seq = seq + 1000 WHERE seq = ?", s),
    "rehashed-data": lambda p, s: rehash(p, s, body_of(p, s).replace('"data":{', '"data":{"added":1,')),
    "rehashed-not-json": lambda p, s: rehash(p, s, "not json"),
    "rehashed-broken-inside": lambda p, s: rehash(p, s, body_of(p, s).replace('"data":{', '"data":{,')),
    "rehashed-array": lambda p, s: rehash(p, s, "[1]"),
    "rehashed-kind-inside-data": lambda p, s: rehash(p, s, body_of(p, s).replace('"data":{', '"data":{"kind":"x",')),
}


@pytest.mark.parametrize("where", [1, 2, EVENTS // 2, EVENTS + 1])
@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_the_walk_in_duckdb_finds_what_the_plain_walk_finds(trail: Path, how: str, where: int) -> None:
    TAMPERINGS[how](trail, where)
    found: Verification = verify(trail)
    assert (found.intact, found.bad_seq, found.problem) == reference(trail)
    alone = verify(trail, check_index=False)  # the content check without the runs index facts
    assert (alone.intact, alone.bad_seq, alone.problem) == reference(trail)
    assert not found.intact or where == EVENTS + 1, "only a change to the last row can go unseen without a head"


def test_an_intact_trail_gives_its_head_and_count(trail: Path) -> None:
    found = verify(trail)
    assert found.intact and found.events == EVENTS + 1 and found.head_seq == EVENTS + 1
    assert reference(trail) == (True, None, None)


def test_rows_the_query_only_suspects_are_judged_again_page_after_page(trail: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A last row whose body says `"seq": 41.0` is suspect to DuckDB (not its canonical ending) but equal in
    Python's eyes: it is judged, found sound, and the walk goes on to the next page of suspects."""
    last = EVENTS + 1
    document = json.loads(body_of(trail, last))
    text = body_of(trail, last).replace(f'"seq":{last}}}', f'"seq":{last}.0}}')
    assert json.loads(text) == document
    rehash(trail, last, text)
    monkeypatch.setattr(walk, "SUSPECTS_PER_QUERY", 1)
    assert verify(trail).intact
    assert reference(trail) == (True, None, None)
    TAMPERINGS["kind-column"](trail, last - 1)  # and a real problem before it is still found first
    assert verify(trail).bad_seq == last - 1


def test_rows_stored_out_of_sequence_order_are_walked_in_sequence_order(trail: Path) -> None:
    """The streamed pass takes rows as they are stored; rows moved on disk (deleted and inserted again, the chain
    untouched) are no fault, so the chunk is walked again in sequence order and found intact."""
    tamper(trail, "CREATE TABLE moved AS SELECT * FROM events WHERE seq BETWEEN 3 AND 9; "
                  "DELETE FROM events WHERE seq BETWEEN 3 AND 9; "
                  "INSERT INTO events SELECT * FROM moved ORDER BY seq DESC; DROP TABLE moved")
    scanned = walk.scan(duckdb.connect(str(trail), read_only=True), (0, EVENTS + 1), walk.Start())
    assert not scanned.in_place and not scanned.unhashed  # the fast pass saw them out of place
    assert verify(trail).intact and reference(trail) == (True, None, None)
    TAMPERINGS["body-changed"](trail, 5)
    assert (verify(trail).bad_seq, verify(trail).problem) == reference(trail)[1:]
