"""Recomputing the trail's hash chain to find any changed, removed, inserted or reordered event.

Every stored row is checked against the canonical body it carries: the body's own SHA-256 must equal the
row's hash, its sequence number must be the next one, its previous hash must be the hash of the row before,
and the row's queryable columns must repeat the body. The first row that breaks any of these is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.audit.trail import COLUMNS, GENESIS_HASH, TRAIL_CREATED, query_events, reading
from engine.canonical import sha256_text


@dataclass(frozen=True)
class Verification:
    intact: bool
    events: int
    head_seq: int
    head_hash: str
    log_id: str | None
    bad_seq: int | None = None
    problem: str | None = None


def _row_problem(row: tuple[object, ...], expected_seq: int, prev_hash: str) -> str | None:
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


def verify(path: Path) -> Verification:
    """Walk the whole chain once, in sequence order."""
    with reading(path) as con:
        rows = query_events(con, path, f"SELECT {COLUMNS} FROM events ORDER BY seq")
    prev_hash, log_id = GENESIS_HASH, None
    for index, row in enumerate(rows):
        problem = _row_problem(row, index + 1, prev_hash)
        if problem is not None:
            return Verification(False, len(rows), index, prev_hash, log_id, bad_seq=index + 1, problem=problem)
        if index == 0 and row[3] == TRAIL_CREATED:
            log_id = json.loads(str(row[4]))["data"].get("log_id")
        prev_hash = str(row[6])
    if not rows or rows[0][3] != TRAIL_CREATED:  # every event deleted, or the first ones: not the trail it was
        return Verification(False, len(rows), 0, GENESIS_HASH, None, bad_seq=1,
                            problem="the trail's creation event (sequence 1, trail_created) is missing")
    return Verification(True, len(rows), len(rows), prev_hash, log_id)
