"""Checking the runs index during the walk of the whole chain, from the facts the walk parsed out of each body.

`verify` parses every body once (to check that it is JSON whose scalar members repeat its columns) and takes
each event's facts from that same parse (`index.FACT_VALUES`). Deriving the index rows again from the events
would parse most of the trail's bytes a second time, so instead the facts follow the walk: a run is compared
(its stored row against the row `index.ROWS` derives from its facts) as soon as the walk has passed its last
event, and its facts are then let go. Memory holds the facts of the runs still open at the walk's position
(a chunk's worth, and those of runs whose later sign-offs, waivers or re-checks are further on), not the
trail's. The first difference by start (as `index.problem` orders them) is the one reported.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from engine.audit import index


class WalkedIndex:
    """The stored rows compared, run by run, with the rows derived from the facts the walk hands over."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.behind = index.lag(con)  # absent or not current: nothing to compare run by run
        spans = con.execute(index.SPANS).fetchall() if self.behind is None else []
        self.closing = sorted((int(high), str(run_id)) for run_id, _, high in spans)  # runs by their last event
        self.passed = 0  # how many of them the walk has passed (and compared)
        self.pending: pa.Table | None = None
        self.first: tuple[Any, ...] | None = None  # the first difference found, by start

    @property
    def wanted(self) -> bool:
        """Does the walk need to hand over facts at all?"""
        return self.behind is None

    def walked(self, facts: pa.Table, through_seq: int) -> None:
        """Take the facts of a chunk the walk checked, up to `through_seq`; compare every run it has passed."""
        self.pending = facts if self.pending is None else pa.concat_tables([self.pending, facts])
        start = self.passed
        while self.passed < len(self.closing) and self.closing[self.passed][0] <= through_seq:
            self.passed += 1
        done = [run for _, run in self.closing[start:self.passed]]
        for first in range(0, len(done), index.RUNS_PER_CHECK):  # a bounded batch of runs at a time
            self._compare(done[first:first + index.RUNS_PER_CHECK])

    def problem(self) -> str | None:
        """Why the stored index disagrees with the events, or None. Stored rows of runs no event names are
        compared last (against the events, which hold nothing of them to parse)."""
        if self.behind is not None:
            return self.behind or None
        stored = self.con.execute(f"SELECT list(run_id) FROM {index.TABLE}").fetchall()[0][0] or []
        named = {run for _, run in self.closing}
        unnamed = [run for run in stored if run not in named]
        if unnamed:
            self._keep(self.con.execute(index.differs(index.DERIVE.replace("RUNS", index.ONLY)),
                                        [unnamed, unnamed]).fetchall())
        return None if self.first is None else index.wording(self.first)

    def _compare(self, runs: list[str]) -> None:
        """Compare the rows of `runs` (whose every event the walk has passed), then let their facts go."""
        assert self.pending is not None
        mine = pc.is_in(self.pending.column("run_id"), value_set=pa.array(runs, pa.string()))
        self.con.register(index.WALKED, self.pending.filter(mine))
        try:
            self._keep(self.con.execute(index.differs(index.FROM_WALKED), [runs]).fetchall())
        finally:
            self.con.unregister(index.WALKED)
        self.pending = self.pending.filter(pc.invert(mine))

    def _keep(self, found: list[tuple[Any, ...]]) -> None:
        """Keep the first difference by start (then run id) of those found so far."""
        def order(row: tuple[Any, ...]) -> tuple[bool, int, str]:
            return row[-1] is None, int(row[-1] or 0), str(row[0])
        if found and (self.first is None or order(found[0]) < order(self.first)):
            self.first = found[0]
