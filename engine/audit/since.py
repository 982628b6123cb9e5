"""Incremental verification: only what was appended after a trusted head, once that head is still in the chain.

A trail only grows, so a head (log id, sequence number, hash: what `mlgate head` writes) that was verified
once covers every event up to it. `verify_since` first checks that the head is still part of this trail (the
same log id, the event at the head's sequence number still there with the head's hash and a body that hashes
to it, and exactly that many events up to it), then walks the chain from the head on, as `verify` walks it
from the start. A head no longer in the chain is reported and nothing else is walked: the trail was rewritten
or cut, and only a full `verify` against a published head can say more. What the head covers is trusted, not
re-read: that is the point of a checkpoint, and the reason a head to trust comes from somewhere the trail's
writer cannot change (a signed head, or this process's own memory of what it verified).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.audit import index
from engine.audit.head import signature_problem
from engine.audit.trail import COLUMNS, GENESIS_HASH, query_events, reading
from engine.audit.verify import (
    CHUNK_EVENTS,
    ENDS,
    Progress,
    Start,
    Verification,
    first_problem,
    log_id_of,
    row_problem,
)


@dataclass(frozen=True)
class SinceCheck:
    """The trail checked after a head: `result` as `verify` gives it (whole trail's count and head), the events
    walked, and why the head is no longer in the chain (then nothing was walked and `result` is not intact)."""

    result: Verification
    walked: int
    head_problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.head_problem is None and self.result.ok


def head_problem(con: Any, path: Path, head: dict[str, Any], ends: list[Any]) -> str | None:
    """Why `head` ({"log_id", "seq", "hash"}) is no longer part of this trail, or None when it is."""
    seq, digest = int(head["seq"]), str(head["hash"])
    log_id = log_id_of(ends[0]) if ends else None
    if log_id != head["log_id"]:
        return f"the trail's log id {log_id} is not the head's {head['log_id']}: a different or rewritten trail"
    if seq < 1 or int(ends[-1][0]) < seq:
        return f"the trail ends at sequence {ends[-1][0]}, before the head's {seq}: events were removed"
    rows = query_events(con, path, f"SELECT {COLUMNS} FROM events WHERE seq = ?", [seq])
    if not rows or str(rows[0][6]) != digest:
        return f"event {seq} is not the head's (hash {digest[:16]}…): the trail was rewritten"
    problem = row_problem(tuple(rows[0]), seq, str(rows[0][5]))
    if problem is not None:
        return f"event {seq}, the head's: {problem}"
    before = query_events(con, path, "SELECT count(*), min(seq) FROM events WHERE seq <= ?", [seq])[0]
    if int(before[0]) != seq or int(before[1]) != 1:
        return f"the trail holds {before[0]} events up to the head's sequence {seq}: events were removed or added"
    return None


def verify_since(path: Path, head: dict[str, Any], *, public_key: Path | None = None,
                 progress: Progress | None = None, chunk: int = CHUNK_EVENTS,
                 check_index: bool = True) -> SinceCheck:
    """Check that `head` is still in the chain (and signed by `public_key`, when given), then the events
    appended after it (`progress` told after each chunk), then the index rows of the runs they touch."""
    with reading(path) as con:
        count = int(query_events(con, path, "SELECT count(*) FROM events")[0][0])
        ends = query_events(con, path, ENDS)
        problem = signature_problem(head, public_key) if public_key is not None else None
        problem = problem or head_problem(con, path, head, ends)
        if problem is not None:
            failed = Verification(False, count, 0, GENESIS_HASH, log_id_of(ends[0]) if ends else None,
                                  bad_seq=int(head["seq"]), problem=problem)
            return SinceCheck(failed, 0, problem)
        seq = int(head["seq"])
        found = first_problem(con, path, start=Start(seq, str(head["hash"])), progress=progress, chunk=chunk)
        log_id = log_id_of(ends[0])
        if found is not None:
            position, prev_hash, why = found
            return SinceCheck(Verification(False, count, position - 1, prev_hash, log_id, bad_seq=position,
                                           problem=why), position - seq)
        disagrees = index.problem(con, after=seq) if check_index else None
        return SinceCheck(Verification(True, count, count, str(ends[-1][6]), log_id, index_problem=disagrees),
                          count - seq)
