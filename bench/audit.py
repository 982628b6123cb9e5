"""A quick-mode audit on a fixed real table, timed: the stage table, the wall time and the peak memory.

Run `.venv/bin/python bench/audit.py` (a seeded 7,000-row sample of Adult: six features, `sex` and `race`
sensitive, the four families, the default pack), `--concurrent 2` (that many such audits at once, each on its own
trail), or `--demo` (the Adult demo audit, examples/adult/audit.toml). Each audit is the real `mlgate audit`
command in a fresh process: wall time from its start to its exit, CPU seconds (user + system, its own and its
worker processes'), peak memory its resident high-water mark (`wait4`'s ru_maxrss: the largest single process)
and the peak of its process tree's summed resident memory (sampled every 20 ms: what the audit and any workers
held at once). The stage table is what the run recorded (`mlgate show RUN --timings --format json`). The machine's
load average is printed before and after: on a shared machine, read CPU seconds beside the wall time.
`--concurrent N` also prints the ratio of the slowest audit's wall time to a single audit's run just before.
The import floor is a fresh process that only imports what an audit loads, with what each library adds.

A benchmark, not a test: nothing here is collected by pytest, and nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "examples" / "adult" / "adult.parquet"
FEATURES = ["age", "workclass", "education", "marital-status", "occupation", "hours-per-week"]
SENSITIVE = ["sex", "race"]
ROWS, SEED = 7000, 22


def sample(folder: Path, *, rows: int = ROWS, seed: int = SEED) -> Path:
    """The seeded sample of Adult as Parquet: six features, the two sensitive columns and the label."""
    columns = ", ".join(f'"{c}"' for c in [*FEATURES, *SENSITIVE, "income"])
    path = folder / f"adult{rows}.parquet"
    con = duckdb.connect()
    try:
        con.execute(f"COPY (SELECT {columns} FROM read_parquet(?) USING SAMPLE {rows} ROWS (reservoir, {seed})) "
                    f"TO '{path}' (FORMAT parquet)", [str(ADULT)])
    finally:
        con.close()
    return path


def audit_command(data: Path | None, folder: Path) -> list[str]:
    outputs = ["--audit-db", str(folder / "audit.duckdb"), "--cards-dir", str(folder / "cards"), "--format", "json"]
    if data is None:
        return [sys.executable, "-m", "cli", "audit", "--spec", str(ROOT / "examples" / "adult" / "audit.toml"),
                *outputs]
    return [sys.executable, "-m", "cli", "audit", "--data", str(data), "--target", "income", "--positive", ">50K",
            "--sensitive", ",".join(SENSITIVE), "--features", ",".join(FEATURES), *outputs]


PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def tree(pid: int) -> dict[int, float]:
    """The resident memory (MB) of `pid` and of each of its descendants (empty once it has exited)."""
    sizes, todo = {}, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm") as f:
                sizes[current] = int(f.read().split()[1]) * PAGE_MB
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return sizes


class TreeSampler(threading.Thread):
    """Samples each audit's process tree every 20 ms and keeps the highest summed resident memory seen.

    A descendant counts from its second sample on: a child between fork and exec (the audit asking git for its
    commit) briefly shows all of its parent's pages and would count them twice. Pages a long-lived forked worker
    shares copy-on-write with its parent do count twice, so the sum is an upper bound."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peaks, self.done = pids, dict.fromkeys(pids, 0.0), threading.Event()

    def run(self) -> None:
        previous: dict[int, dict[int, float]] = {pid: {} for pid in self.pids}
        while not self.done.wait(0.02):
            for pid in self.pids:
                sizes = tree(pid)
                counted = sum(mb for p, mb in sizes.items() if p == pid or p in previous[pid])
                self.peaks[pid], previous[pid] = max(self.peaks[pid], counted), sizes


def run_audits(data: Path | None, folders: list[Path]) -> list[dict[str, Any]]:
    """Start one audit per folder at once; wall and CPU seconds, peak MB and run id of each."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    procs = [subprocess.Popen(audit_command(data, f), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for f in folders]
    sampler = TreeSampler([p.pid for p in procs])
    sampler.start()
    texts: dict[int, str] = {}
    readers = [threading.Thread(target=lambda p=p: texts.__setitem__(p.pid, p.stdout.read() if p.stdout else ""))
               for p in procs]
    for reader in readers:
        reader.start()
    ended: dict[int, dict[str, Any]] = {}
    for _ in procs:  # in the order they exit, so each wall time is its own
        pid, status, usage = os.wait4(-1, 0)
        ended[pid] = {"exit": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - started,
                      "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}
    sampler.done.set()
    for reader in readers:
        reader.join()
    results = []
    for proc, folder in zip(procs, folders, strict=True):
        proc.returncode = ended[proc.pid]["exit"]
        results.append({**ended[proc.pid], "folder": folder, "tree_peak_mb": sampler.peaks[proc.pid],
                        "run_id": json.loads(texts[proc.pid])["run_id"]})
    return results


def stage_table(result: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "cli", "show", result["run_id"], "--timings", "--format", "json",
                           "--audit-db", str(result["folder"] / "audit.duckdb")], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    timings: dict[str, Any] = json.loads(done.stdout)["timings"]
    return timings


# What a quick-mode audit of the four families loads, the big shared libraries first so that each line is what
# that library adds: numpy, pandas (with pyarrow), scipy, scikit-learn, numba's compiler (the bootstrap), DuckDB
# (data and trail), then mlgate's modules, LightGBM, torch, the ONNX converters and runtime, MAPIE.
LIBRARIES = ("numpy", "pandas", "scipy.stats", "sklearn.linear_model", "numba", "duckdb", "cli.main",
             "engine.service", "engine.evaluation.bootstrap", "lightgbm", "torch", "skl2onnx", "onnxmltools",
             "onnxruntime", "mapie.classification")


def import_floor() -> list[tuple[str, float, float]]:
    """A fresh process that only imports what an audit loads, in order: each library's name, the megabytes it
    added to the peak and the seconds it took. The total is the part of the audit's peak no data adds to."""
    # resident memory now, not ru_maxrss: a process keeps the high-water mark of the one it was forked from
    code = ("import importlib, time\n"
            "def rss(): return int(open('/proc/self/statm').read().split()[1]) * PAGE_KB\n"
            f"PAGE_KB = {os.sysconf('SC_PAGE_SIZE') // 1024}\n"
            "print('python', rss(), 0.0)\n"
            f"for m in {LIBRARIES!r}:\n"
            "    t = time.perf_counter(); importlib.import_module(m)\n"
            "    print(m, rss(), time.perf_counter() - t)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    rows, before = [], 0.0
    for line in done.stdout.splitlines():
        name, kb, seconds = line.split()
        rows.append((name, int(kb) / 1024 - before, float(seconds)))
        before = int(kb) / 1024
    return rows


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def report(results: list[dict[str, Any]]) -> None:
    timings = stage_table(results[0])
    print(f"{'stage':<16} {'candidate':<22} {'seconds':>8}")
    for row in timings["stages"]:
        print(f"{row['stage']:<16} {row['candidate'] or '-':<22} {row['seconds']:>8.3f}")
    print(f"{'in-process audit':<39} {timings['wall_seconds']:>8.3f}")
    for r in results:
        print(f"audit {r['run_id']}: exit {r['exit']}, wall {r['wall_s']:.2f} s, CPU {r['cpu_s']:.2f} s, "
              f"peak {r['peak_mb']:.0f} MB (process tree {r['tree_peak_mb']:.0f} MB)")
    print(f"load average after: {load()}")
    floor = import_floor()
    print("import floor (a fresh process importing what an audit loads, in this order; MB added, seconds):")
    for name, mb, seconds in floor:
        print(f"  {name:<28} {mb:>6.0f} {seconds:>6.2f}")
    print(f"  {'total':<28} {sum(mb for _, mb, _ in floor):>6.0f} {sum(s for *_, s in floor):>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=1, help="audits started at the same time")
    parser.add_argument("--demo", action="store_true", help="the Adult demo audit instead of the 7,000-row sample")
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    print(f"load average before: {load()}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = None if args.demo else sample(folder, rows=args.rows)
        single = None
        if args.concurrent > 1:
            (folder / "single").mkdir()
            single = run_audits(data, [folder / "single"])[0]
            print(f"one audit alone: wall {single['wall_s']:.2f} s, CPU {single['cpu_s']:.2f} s, "
                  f"peak {single['peak_mb']:.0f} MB; load average {load()}")
        folders = [folder / f"audit{i}" for i in range(args.concurrent)]
        for f in folders:
            f.mkdir()
        results = run_audits(data, folders)
        report(results)
        if single is not None:
            slowest = max(r["wall_s"] for r in results)
            most_cpu = max(r["cpu_s"] for r in results)
            print(f"{args.concurrent} at once: slowest wall {slowest:.2f} s = {slowest / single['wall_s']:.2f}x one "
                  f"audit alone; most CPU {most_cpu:.2f} s = {most_cpu / single['cpu_s']:.2f}x (on a loaded "
                  "machine the CPU ratio shows what running together costs: waiting threads that spin add CPU)")


if __name__ == "__main__":
    main()
