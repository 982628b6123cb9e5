"""The newest events of the trail, for a log view: one bounded query, newest first, never the whole trail.

A trail of 10,000 runs holds hundreds of thousands of events; a reviewer's log view needs the latest few
hundred, optionally of one run or some kinds, with a short summary of each, not every evidence body.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.audit.trail import COLUMNS, Event, event_filter, event_of, query_events, reading

MAX_EVENTS = 100_000


def recent_events(path: Path, *, limit: int = 1000, run_id: str | None = None, kinds: Sequence[str] = ()
                  ) -> list[Event]:
    """At most `limit` stored events, newest first, optionally of one run and of some kinds."""
    clause, params = event_filter(run_id, kinds)
    params.append(max(0, min(int(limit), MAX_EVENTS)))
    with reading(path) as con:
        rows = query_events(con, path, f"SELECT {COLUMNS} FROM events {clause} ORDER BY seq DESC LIMIT ?", params)
    return [event_of(row) for row in rows]
