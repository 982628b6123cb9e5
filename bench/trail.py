"""A trail at scale: build one of N runs through the public `append`, then time `verify` on it.

The events are the real shapes of a recorded audit (tests/fixtures/trail_v0: an audit of four candidates with
a waiver, a sign-off, a promotion and a re-check, about 1.3 KB to 60 KB an event), copied with new run ids.
Prints the trail's size, the build time, and `verify`'s wall time, CPU seconds and peak memory (RSS of this
process, which includes DuckDB's), and whether the chain is intact. With `--readers`, each reader instead runs as
a user runs it, in its own process (`mlgate verify`, `verify --since` a head one run old, the export of one run
after that head with `--trusted-head`, `runs --limit 50`, `show`, `export` of one run, `champion`, the TUI's
first screen), with its wall time, CPU seconds and peak RSS (the child's own, from GNU time) and the load
average. `--trail PATH` (or `--keep`) reuses a trail built before.

    .venv/bin/python bench/trail.py --runs 5000             # ~100,000 events
    .venv/bin/python bench/trail.py --runs 10000 --keep /tmp/t10k.duckdb --readers
    .venv/bin/python bench/trail.py --events 1000000 --fast --keep /tmp/big.duckdb --readers   # ~50,000 runs

`--fast` writes the same rows `append` would (canonical bodies, hashes, links) from each template event's data
encoded once, in batches, then derives the runs index with `rebuild_index`: `append` re-encodes every event's
JSON (about 10 s per 100 runs on a loaded 2-core machine), so a million events would take hours.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audit.trail import TRAIL_CREATED, NewEvent, append, now_utc, rebuild_index  # noqa: E402
from engine.audit.verify import verify  # noqa: E402
from engine.canonical import canonical_json, jsonable, sha256_text  # noqa: E402

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


def build_fast(path: Path, runs: int) -> int:
    """The same trail `build` writes, byte for byte in form (canonical bodies, hashes, links), assembled from each
    template event's canonical data encoded once and inserted in large batches; the runs index is then derived
    by the public `rebuild_index`. For a million events, where `append` would re-encode 11 GB of JSON."""
    append(path, [])  # the trail and its creation event, through the public path
    con = duckdb.connect(str(path), config={"memory_limit": "1GB"})
    head = con.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchall()[0]
    seq, prev = int(head[0]), str(head[1])
    encoded = [(kind, canonical_json(jsonable(data))) for kind, data in template()]
    rows: list[tuple[object, ...]] = []
    for n in range(runs):
        run_id = f"20260101T000000Z-{n:06x}"
        for kind, data in encoded:
            seq += 1
            at = now_utc()
            body = (f'{{"data":{data},"kind":{json.dumps(kind)},"prev_hash":"{prev}","recorded_at":"{at}",'
                    f'"run_id":{json.dumps(run_id)},"seq":{seq}}}')
            digest = sha256_text(body)
            rows.append((seq, at, run_id, kind, body, prev, digest))
            prev = digest
        if len(rows) >= 20_000 or n == runs - 1:
            con.register("batch", pd.DataFrame(rows, columns=["seq", "recorded_at", "run_id", "kind", "body",
                                                              "prev_hash", "hash"]))
            con.execute("INSERT INTO events SELECT * FROM batch")
            con.unregister("batch")
            rows = []
    con.close()
    rebuild_index(path)
    return seq


TUI_FIRST_SCREEN = """
import asyncio, sys, time
from pathlib import Path
from tui.app import MlgateApp
async def main():
    app = MlgateApp(Path(sys.argv[1]))
    async with app.run_test(size=(160, 50)) as pilot:
        while app.screen.query("#runs-table").first().row_count == 0:
            await pilot.pause(0.01)
        print(f"first screen {time.perf_counter() - STARTED:.2f} s", file=sys.stderr, flush=True)
        import os; os._exit(0)  # the first screen is what is timed, not the workers still reading behind it
STARTED = time.perf_counter()
asyncio.run(main())
"""


def timed(name: str, argv: list[str]) -> None:
    """Run one reader in its own process; print its wall time, its CPU seconds (user + system) and its own peak
    RSS (GNU time's %U, %S and %M), and the load it ran under."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    seconds = time.perf_counter() - started
    *said, measured = done.stderr.strip().splitlines() or ["0 0 0"]
    user, system, peak = (float(v) for v in measured.split()[-3:])
    print(f"{name:<30} {seconds:7.2f} s  {user + system:7.2f} CPU-s  peak RSS {peak / 1024:7,.0f} MB  "
          f"load {os.getloadavg()[0]:4.1f}  exit {done.returncode} {' '.join(said)[-200:]}", flush=True)


def readers(path: Path, folder: Path) -> None:
    """Each reader as a user runs it, on `path` (a copy gets one more run after a head, for --since)."""
    mlgate = [sys.executable, "-m", "cli"]
    con = duckdb.connect(str(path), read_only=True)
    newest = str(con.execute("SELECT run_id FROM events WHERE kind = 'run_started' ORDER BY seq DESC LIMIT 1")
                 .fetchone()[0])  # type: ignore[index]
    con.close()
    timed("verify", [*mlgate, "verify", "--audit-db", str(path)])
    grown = folder / "grown.duckdb"
    shutil.copy(path, grown)
    subprocess.run([*mlgate, "head", "--audit-db", str(grown), "--out", str(folder / "head.json"), "--force"],
                   cwd=ROOT, check=True, capture_output=True)
    append(grown, [NewEvent(kind, "20991231T000000Z-new", data) for kind, data in template()])
    timed("verify --since", [*mlgate, "verify", "--audit-db", str(grown), "--since", str(folder / "head.json")])
    timed("export (1 run) --trusted-head", [*mlgate, "export", "--audit-db", str(grown), "--format", "jsonl", "--run",
                                            newest, "--out", str(folder / "export-trusted"), "--force",
                                            "--trusted-head", str(folder / "head.json")])
    grown.unlink()
    timed("runs --limit 50", [*mlgate, "runs", "--audit-db", str(path), "--limit", "50"])
    timed("show", [*mlgate, "show", newest, "--audit-db", str(path)])
    timed("export (1 run)", [*mlgate, "export", "--audit-db", str(path), "--format", "jsonl", "--run", newest,
                             "--out", str(folder / "export"), "--force"])
    timed("champion", [*mlgate, "champion", "--audit-db", str(path)])
    timed("tui first screen", [sys.executable, "-c", TUI_FIRST_SCREEN, str(path)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--events", type=int, help="about this many events instead (runs of the fixture's shape)")
    parser.add_argument("--keep", "--trail", type=Path,
                        help="build the trail here instead of a temporary file, or reuse the one already there")
    parser.add_argument("--readers", action="store_true", help="then time each reader in its own process")
    parser.add_argument("--fast", action="store_true", help="build with `build_fast` (the same bytes, batched)")
    args = parser.parse_args()
    if args.events:
        args.runs = max(1, args.events // len(template()))
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "audit.duckdb"
        if not path.exists():
            started = time.perf_counter()
            events = (build_fast if args.fast else build)(path, args.runs)
            print(f"built {events:,} events ({args.runs:,} runs) in {time.perf_counter() - started:.1f} s, "
                  f"{path.stat().st_size / 1e6:,.0f} MB")
        if args.readers:  # `verify` among them, in its own process
            readers(path, Path(folder))
            return
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started, cpu = time.perf_counter(), time.process_time()
        result = verify(path)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"verify: {result.events:,} events, intact={result.intact}, {seconds:.2f} s, {cpu:.2f} CPU-s, "
              f"peak RSS {peak / 1024:,.0f} MB (before: {before / 1024:,.0f} MB), load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
