"""A quick-mode audit on a fixed real table, timed: the stage table, the wall time and the peak memory.

Run `.venv/bin/python bench/audit.py` (a seeded 7,000-row sample of Adult: six features, `sex` and `race`
sensitive, the four families, the default pack), `--concurrent 2` (that many such audits at once, each on its own
trail), or `--demo` (the Adult demo audit, examples/adult/audit.toml). Each audit is the real `mlgate audit`
command in a fresh process: wall time from its start to its exit, peak memory its resident high-water mark
(`wait4`'s ru_maxrss). The stage table is what the run recorded (`mlgate show RUN --timings --format json`).

A benchmark, not a test: nothing here is collected by pytest, and nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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


def run_audits(data: Path | None, folders: list[Path]) -> list[dict[str, Any]]:
    """Start one audit per folder at once; wall seconds, peak MB and run id of each."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    procs = [subprocess.Popen(audit_command(data, f), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for f in folders]
    results = []
    for proc, folder in zip(procs, folders, strict=True):
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        results.append({"folder": folder, "exit": proc.returncode, "wall_s": time.perf_counter() - started,
                        "peak_mb": usage.ru_maxrss / 1024, "run_id": json.loads(out)["run_id"]})
    return results


def stage_table(result: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "cli", "show", result["run_id"], "--timings", "--format", "json",
                           "--audit-db", str(result["folder"] / "audit.duckdb")], cwd=ROOT, capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    timings: dict[str, Any] = json.loads(done.stdout)["timings"]
    return timings


# What a quick-mode audit of the four families loads (scikit-learn, pandas and pyarrow, numba's compiler for the
# bootstrap, LightGBM, torch, the ONNX converters and runtime, MAPIE, DuckDB for the trail).
LIBRARIES = ("cli.main", "engine.service", "engine.evaluation.bootstrap", "lightgbm", "torch", "skl2onnx",
             "onnxmltools", "onnxruntime", "mapie.classification", "duckdb")


def import_floor_mb() -> float:
    """Peak memory of a fresh process that only imports what an audit loads: the part of the audit's peak no
    data, copy or buffer adds to."""
    code = f"import importlib, resource\nfor m in {LIBRARIES!r}: importlib.import_module(m)\n" \
           "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return int(done.stdout.split()[-1]) / 1024


def report(results: list[dict[str, Any]]) -> None:
    timings = stage_table(results[0])
    print(f"{'stage':<16} {'candidate':<22} {'seconds':>8}")
    for row in timings["stages"]:
        print(f"{row['stage']:<16} {row['candidate'] or '-':<22} {row['seconds']:>8.3f}")
    print(f"{'in-process audit':<39} {timings['wall_seconds']:>8.3f}")
    for r in results:
        print(f"audit {r['run_id']}: exit {r['exit']}, wall {r['wall_s']:.2f} s, peak {r['peak_mb']:.0f} MB")
    print(f"import floor (the libraries an audit loads, no data): peak {import_floor_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrent", type=int, default=1, help="audits started at the same time")
    parser.add_argument("--demo", action="store_true", help="the Adult demo audit instead of the 7,000-row sample")
    parser.add_argument("--rows", type=int, default=ROWS)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = None if args.demo else sample(folder, rows=args.rows)
        folders = [folder / f"audit{i}" for i in range(args.concurrent)]
        for f in folders:
            f.mkdir()
        report(run_audits(data, folders))


if __name__ == "__main__":
    main()
