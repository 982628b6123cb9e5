"""A trail at scale: build one of N runs through the public `append`, then time `verify` on it.

The events are the real shapes of a recorded audit (tests/fixtures/trail_v0: an audit of four candidates with
a waiver, a sign-off, a promotion and a re-check, about 1.3 KB to 60 KB an event), copied with new run ids.
Prints the trail's size, the build time, and `verify`'s wall time and peak memory (RSS of this process, which
includes DuckDB's), and whether the chain is intact.

    .venv/bin/python bench/trail.py --runs 5000             # ~100,000 events
    .venv/bin/python bench/trail.py --runs 50000 --keep /tmp/big.duckdb
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audit.trail import TRAIL_CREATED, NewEvent, append  # noqa: E402
from engine.audit.verify import verify  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "trail_v0" / "audit.duckdb"
RUNS_PER_APPEND = 100


def template() -> list[tuple[str, dict[str, object]]]:
    """(kind, data) of every event of the fixture's run, in order."""
    con = duckdb.connect(str(FIXTURE), read_only=True)
    rows = con.execute("SELECT kind, body FROM events ORDER BY seq").fetchall()
    con.close()
    return [(kind, json.loads(body)["data"]) for kind, body in rows if kind != TRAIL_CREATED]


def build(path: Path, runs: int) -> int:
    events = template()
    written = 0
    for first in range(0, runs, RUNS_PER_APPEND):
        batch = [NewEvent(kind, f"20260101T000000Z-{n:06x}", data)
                 for n in range(first, min(first + RUNS_PER_APPEND, runs)) for kind, data in events]
        append(path, batch)
        written += len(batch)
    return written + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the trail here instead of a temporary file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "audit.duckdb"
        if not path.exists():
            started = time.perf_counter()
            events = build(path, args.runs)
            print(f"built {events:,} events ({args.runs:,} runs) in {time.perf_counter() - started:.1f} s, "
                  f"{path.stat().st_size / 1e6:,.0f} MB")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        result = verify(path)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"verify: {result.events:,} events, intact={result.intact}, {seconds:.2f} s, "
              f"peak RSS {peak / 1024:,.0f} MB (before: {before / 1024:,.0f} MB)")


if __name__ == "__main__":
    main()
