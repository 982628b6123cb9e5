"""Recomputing the trail's hash chain to find any changed, removed, inserted or reordered event.

Every stored row is checked against the canonical body it carries: the body's own SHA-256 must equal the
row's hash, its sequence number must be the next one, its previous hash must be the hash of the row before,
and the row's queryable columns must repeat the body. The first row that breaks any of these is reported.

Each chunk is read by two queries side by side (`scan`), each on the thread that asks. One streams the bodies
from DuckDB as Arrow batches, hashed in Python (SHA-NI, two threads), the links and positions compared column
by column. The other parses each body once inside DuckDB (`CHECKS`): it must be valid JSON and end with its
columns' values (`sound`: the canonical encoding's fixed ending, keys sorted so the scalar members follow
`data`), and the same parse yields the event's facts for the runs index (`engine.audit.index_walk`), so that
a full `verify` never parses a body twice. A chunk where anything is off is walked again by a query
deliberately wider than the rules (`SUSPECTS`, a window over the small columns): each row it returns is judged
by `row_problem` in Python, which alone decides and words the finding.

The walk goes in chunks of consecutive sequence numbers (`CHUNK_EVENTS`), each chunk's first link checked
against the last hash of the chunk before, so memory stays flat whatever the trail's size, a `progress`
callback hears after each chunk (it may raise to stop the walk), and a walk may start after a trusted head
(`Start`: `engine.audit.since` checks the head is still in the chain, then walks only what follows it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from engine.audit import index
from engine.audit.index_walk import WalkedIndex
from engine.audit.trail import COLUMNS, GENESIS_HASH, TRAIL_CREATED, query_events, reading
from engine.canonical import digests_differ, sha256_text


@dataclass(frozen=True)
class Verification:
    intact: bool
    events: int
    head_seq: int
    head_hash: str
    log_id: str | None
    bad_seq: int | None = None
    problem: str | None = None
    index_problem: str | None = None  # the runs index disagrees with the events (checked on an intact chain)

    @property
    def ok(self) -> bool:
        return self.intact and self.index_problem is None


@dataclass(frozen=True)
class Start:
    """Where a walk begins: after `position` events already trusted, the first new one linking to `prev_hash`."""

    position: int = 0
    prev_hash: str = GENESIS_HASH


#: Told (events checked, events to check) after each chunk; raising from it stops the walk.
Progress = Callable[[int, int], None]
CHUNK_EVENTS = 40_960  # about a second of walking on two cores: how soon a walk can be stopped (progress)

# A body that is valid JSON, an object, and ends with exactly its row's scalar members has them as its top-level
# values (the members before an object's last brace are its own); anything else is only a suspect.
def sound(valid: str) -> str:
    """The content check, given the SQL that says the body is valid JSON."""
    return f"""(starts_with(body, '{{') AND {valid}
    AND ends_with(body, ',"kind":' || to_json(kind) || ',"prev_hash":' || to_json(prev_hash)
                        || ',"recorded_at":' || to_json(recorded_at)
                        || ',"run_id":' || coalesce(to_json(run_id)::VARCHAR, 'null')
                        || ',"seq":' || seq || '}}')) IS TRUE"""


SOUND = sound("json_valid(body)")
# Rows that may break a rule, in chain order: a superset of the broken ones (Python has the last word).
SUSPECTS = f"""
WITH links AS (
    SELECT seq, row_number() OVER (ORDER BY seq) + ? AS position,
           lag(hash, 1, ?) OVER (ORDER BY seq) AS expected_prev, prev_hash
    FROM events WHERE seq > ? AND seq <= ?
), content AS (
    SELECT seq FROM events
    WHERE seq > ? AND seq <= ? AND (list_contains(?::BIGINT[], seq) OR NOT {SOUND})
)
SELECT l.position, l.expected_prev, {', '.join('e.' + c for c in COLUMNS.split(', '))}
FROM links AS l JOIN events AS e ON e.seq = l.seq
WHERE l.seq <> l.position OR l.prev_hash IS DISTINCT FROM l.expected_prev OR l.seq IN (SELECT seq FROM content)
ORDER BY l.position LIMIT ? OFFSET ?
"""
SUSPECTS_PER_QUERY = 1000
SUMMARY = "SELECT count(*), max(seq) FROM events"
# How many rows a chunk holds and the hash of its last one: where the next chunk's positions and links go on.
CHUNK_END = "SELECT count(*), arg_max(hash, seq) FROM events WHERE seq > ? AND seq <= ?"


def row_problem(row: tuple[object, ...], expected_seq: int, prev_hash: str) -> str | None:
    seq, recorded_at, run_id, kind, body, row_prev, row_hash = row
    if seq != expected_seq:
        return f"expected sequence number {expected_seq}, found {seq} (an event was removed or reordered)"
    if sha256_text(str(body)) != row_hash:
        return "the event's content does not match its hash (changed after it was written)"
    try:
        stored = json.loads(str(body))
    except json.JSONDecodeError:
        return "the event's body is not valid JSON"
    if not isinstance(stored, dict):
        return "the event's body is not a JSON object"
    if row_prev != prev_hash or stored.get("prev_hash") != prev_hash:
        return "the event does not link to the hash of the event before it"
    repeated = {"seq": seq, "recorded_at": recorded_at, "run_id": run_id, "kind": kind}
    changed = [column for column, value in repeated.items() if stored.get(column) != value]
    if changed:
        return f"column {', '.join(changed)} differs from the hashed event"
    return None


# Two passes over a chunk's bodies, run side by side. One in DuckDB's threads: each body parsed once, by the
# same extraction the runs index is derived with (a body it cannot parse is not valid JSON), for the content
# check and the event's facts (`index.FACT_VALUES`), so that the index check needs no second parse. The other
# streamed to Python, where each body is hashed and the links and positions are compared.
CHECKS = f"""
SELECT seq, {sound("parsed IS NOT NULL")} AS sound, run_id, kind, recorded_at, {index.FACT_VALUES}
FROM (SELECT *, CASE WHEN kind IN ({index.READ_KINDS}) AND run_id IS NOT NULL THEN parsed END AS f
      FROM (SELECT *, TRY({index.EXTRACT}) AS parsed FROM events WHERE seq > $low AND seq <= $high))
"""
#: The content check alone, for a walk whose facts nobody takes (`verify --since`, an export's walk).
SOUND_ONLY = f"SELECT seq, {SOUND} AS sound FROM events WHERE seq > $low AND seq <= $high"
BODIES = "SELECT seq, body, hash, prev_hash FROM events WHERE seq > $low AND seq <= $high"
BATCH_ROWS = 2048
HASHING_THREADS = 2


def checks(cursor: Any, sql: str, params: dict[str, int]) -> Any:
    """The content check (and the facts) of a chunk's rows, as an Arrow table (on a cursor of its own, closed)."""
    with cursor:
        return cursor.sql(sql, params=params).to_arrow_reader(BATCH_ROWS).read_all()


@dataclass
class Scan:
    """What one streamed pass over a chunk found: the seqs whose body does not hash to the row's hash, whether
    every row was in place (consecutive positions, each linking to the one before, its content sound), and
    where the chain goes on after the chunk."""

    unhashed: list[int]
    in_place: bool
    end: Start


def scan(con: Any, bounds: tuple[int, int], start: Start, walked: WalkedIndex | None = None) -> Scan:
    """Stream the rows of (low, high] as Arrow batches (flat memory, each body read once): bodies hashed in two
    threads straight from Arrow's buffer (Python's SHA-256 releases the lock while it hashes, and SHA-NI makes
    it several times faster than DuckDB's own `sha256`), positions and links compared column-wise, the content
    check and the facts computed by DuckDB on a second cursor meanwhile. With `walked`, the facts of the events
    with a run id are handed over to the runs index check (small columns only, the bodies left behind). Each
    query runs on the thread that asks: DuckDB's own workers would only contend with the two queries and the
    hashing threads already sharing the cores."""
    low, high = bounds
    wanted = walked is not None and walked.wanted
    con.execute("SET threads = 1")
    try:
        streamed, checked = _stream(con, CHECKS if wanted else SOUND_ONLY, {"low": low, "high": high}, start)
    finally:
        con.execute("RESET threads")
    if walked is not None and wanted:
        facts = checked.drop_columns(["sound"])
        walked.walked(facts.filter(pc.is_valid(facts.column("run_id"))), high)
    return Scan(streamed.unhashed, streamed.in_place and every(checked.column("sound")), streamed.end)


def _stream(con: Any, sql: str, params: dict[str, int], start: Start) -> tuple[Scan, Any]:
    """The bodies streamed and hashed, the links compared; with the table of `sql` computed meanwhile."""
    found: list[int] = []
    in_place, position, prev = True, start.position, start.prev_hash
    with ThreadPoolExecutor(HASHING_THREADS + 1) as pool:
        checked = pool.submit(checks, con.cursor(), sql, params)
        for batch in con.sql(BODIES, params=params).to_arrow_reader(BATCH_ROWS):
            seqs, bodies, hashes, prevs = batch.columns
            rows = len(seqs)
            if rows == 0:
                continue
            data = memoryview(bodies.buffers()[2] or b"")
            offsets = np.frombuffer(bodies.buffers()[1], dtype=np.int32)[bodies.offset:]
            digests = hashes.to_pylist()
            half = rows // 2
            parts = [pool.submit(digests_differ, data, offsets, digests[:half]),
                     pool.submit(digests_differ, data, offsets[half:], digests[half:])]
            numbers = seqs.to_numpy(zero_copy_only=False)
            linked = pc.equal(prevs.slice(1), hashes.slice(0, rows - 1))
            in_place = in_place and bool(
                np.array_equal(numbers, np.arange(position + 1, position + rows + 1)) and prevs[0].as_py() == prev
                and every(linked))
            bad = parts[0].result() + [half + i for i in parts[1].result()]
            found += [int(numbers[i]) for i in bad]
            position, prev = position + rows, str(digests[-1])
        return Scan(found, in_place, Start(position, prev)), checked.result()


def every(flags: Any) -> bool:
    """Is every value of an Arrow boolean array true (an empty array is; a null is not)?"""
    return len(flags) == 0 or pc.all(pc.fill_null(flags, False)).as_py() is True


def _chunk_problem(con: Any, path: Path, bounds: tuple[int, int], start: Start,
                   unhashed: list[int]) -> tuple[int, str, str] | None:
    """(position, hash of the row before, problem) of the first broken row whose seq is in (low, high]: the
    rows the query suspects (and those whose body did not hash right), judged one by one."""
    low, high = bounds
    offset = 0
    while True:
        params = [start.position, start.prev_hash, low, high, low, high, unhashed, SUSPECTS_PER_QUERY, offset]
        suspects = query_events(con, path, SUSPECTS, params)
        for position, expected_prev, *row in suspects:
            problem = row_problem(tuple(row), int(position), str(expected_prev))
            if problem is not None:
                return int(position), str(expected_prev), problem
        if len(suspects) < SUSPECTS_PER_QUERY:
            return None
        offset += SUSPECTS_PER_QUERY


def first_problem(con: Any, path: Path, *, start: Start = Start(), progress: Progress | None = None,
                  chunk: int = CHUNK_EVENTS, walked: WalkedIndex | None = None) -> tuple[int, str, str] | None:
    """(position, hash of the row before, problem) of the first broken row after `start`, or None when every
    row after it is sound; chunk by chunk of `chunk` sequence numbers, `progress` told after each, the facts
    of every event walked handed to `walked` when given."""
    lowest, last = query_events(con, path, "SELECT coalesce(min(seq), 1), coalesce(max(seq), 0) FROM events")[0]
    low = start.position if start.position > 0 else min(0, int(lowest) - 1)  # a seq below 1 is a fault too
    origin, total = low, max(int(last) - low, 0)
    while low < int(last):
        high = min(low + max(chunk, 1), int(last))
        streamed = scan(con, (low, high), start, walked)
        if streamed.in_place and not streamed.unhashed:
            start = streamed.end
        else:  # something is off (or merely stored out of order): the suspects, judged row by row
            found = _chunk_problem(con, path, (low, high), start, streamed.unhashed)
            if found is not None:
                return found
            rows, last_hash = query_events(con, path, CHUNK_END, [low, high])[0]
            if rows:
                start = Start(start.position + int(rows), str(last_hash))
        low = high
        if progress is not None:
            progress(low - origin, total)
    return None


def verify(path: Path, *, progress: Progress | None = None, chunk: int = CHUNK_EVENTS,
           check_index: bool = True) -> Verification:
    """Check the whole chain in sequence order, chunk by chunk inside DuckDB (`progress` told after each), then
    every runs index row against the events."""
    with reading(path) as con:
        count = int(query_events(con, path, SUMMARY)[0][0])
        walked = WalkedIndex(con) if check_index else None
        found = first_problem(con, path, progress=progress, chunk=chunk, walked=walked)
        ends = query_events(con, path, ENDS)
        if found is not None:
            position, prev_hash, problem = found
            log_id = log_id_of(ends[0]) if position > 1 else None
            return Verification(False, count, position - 1, prev_hash, log_id, bad_seq=position, problem=problem)
        if not ends or ends[0][3] != TRAIL_CREATED:  # every event deleted, or the first ones: not the trail it was
            return Verification(False, count, 0, GENESIS_HASH, None, bad_seq=1,
                                problem="the trail's creation event (sequence 1, trail_created) is missing")
        disagrees = walked.problem() if walked is not None else None
        return Verification(True, count, count, str(ends[-1][6]), log_id_of(ends[0]), index_problem=disagrees)


ENDS = (f"(SELECT {COLUMNS} FROM events ORDER BY seq LIMIT 1) UNION ALL "
        f"(SELECT {COLUMNS} FROM events ORDER BY seq DESC LIMIT 1)")


def log_id_of(first: tuple[Any, ...]) -> str | None:
    """The trail's log id, from its first row (None when that row is not the creation event)."""
    if first[3] != TRAIL_CREATED:
        return None
    log_id = json.loads(str(first[4]))["data"].get("log_id")
    return None if log_id is None else str(log_id)
