"""Where an audit's time goes: each stage times itself, and the run records the table with its completion.

`recording()` opens a recorder for one audit (a context variable, so concurrent audits in threads keep their own
and code outside an audit pays nothing); `for_candidate(name)` names the candidate the stages inside belong to;
`timed(stage)` adds the seconds spent inside it. A stage timed while nothing records is simply not kept.
The recorded table is a list of `{"stage", "candidate", "seconds"}` rows in the order the stages ran
(`run_completed` stores it under `timings`; `mlgate show RUN --timings` prints it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# the order a table is printed in
STAGES = ("load", "split", "search", "train", "performance", "conformal", "explanations", "robustness", "package",
          "measure", "retrain", "reproducibility", "cross_validation", "generalization", "exposure", "check",
          "record", "cards")


@dataclass
class Timings:
    """The stages of one audit as they ran: (stage, candidate or None, seconds)."""

    rows: list[tuple[str, str | None, float]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def add(self, stage: str, seconds: float, candidate: str | None = None) -> None:
        self.rows.append((stage, candidate, seconds))

    def to_json(self) -> dict[str, Any]:
        """What the trail stores: every timed stage, rounded to the millisecond, and the audit's wall time so far."""
        return {"stages": [{"stage": stage, "candidate": candidate, "seconds": round(seconds, 3)}
                           for stage, candidate, seconds in self.rows],
                "wall_seconds": round(time.perf_counter() - self.started, 3)}


_RECORDER: ContextVar[Timings | None] = ContextVar("mlgate_timings", default=None)
_CANDIDATE: ContextVar[str | None] = ContextVar("mlgate_timed_candidate", default=None)


@contextmanager
def recording() -> Iterator[Timings]:
    """Record every stage timed inside this block (one audit)."""
    recorder = Timings()
    token = _RECORDER.set(recorder)
    try:
        yield recorder
    finally:
        _RECORDER.reset(token)


@contextmanager
def for_candidate(name: str) -> Iterator[None]:
    """The stages timed inside this block belong to candidate `name`."""
    token = _CANDIDATE.set(name)
    try:
        yield
    finally:
        _CANDIDATE.reset(token)


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Add the seconds spent inside this block to `stage` (of the current candidate, if any)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        recorder = _RECORDER.get()
        if recorder is not None:
            recorder.add(stage, time.perf_counter() - started, _CANDIDATE.get())


def absorb(rows: Sequence[tuple[str, str | None, float]]) -> None:
    """Add stages timed elsewhere (a worker process, a Ray task) to the table being recorded, if any."""
    recorder = _RECORDER.get()
    if recorder is not None:
        recorder.rows.extend(rows)


def totals(stages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recorded rows summed by (stage, candidate): the run's first stages, then each candidate's in the order
    they ran (its stages in `STAGES` order), then the run's last stages."""
    summed: dict[tuple[str, str | None], float] = {}
    for row in stages:
        key = (str(row["stage"]), row.get("candidate"))
        summed[key] = summed.get(key, 0.0) + float(row["seconds"])
    rank = {stage: i for i, stage in enumerate(STAGES)}
    candidates = list(dict.fromkeys(c for _, c in summed if c is not None))

    def place(key: tuple[str, str | None]) -> tuple[int, int, int]:
        stage, candidate = key
        if candidate is not None:
            return 1, candidates.index(candidate), rank.get(stage, len(STAGES))
        return (0 if rank.get(stage, len(STAGES)) < rank["train"] else 2), 0, rank.get(stage, len(STAGES))

    return [{"stage": stage, "candidate": candidate, "seconds": round(summed[(stage, candidate)], 3)}
            for stage, candidate in sorted(summed, key=place)]
