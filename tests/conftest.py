"""Shared fixtures: a small stratified sample of the real UCI Adult data, written as CSV and Parquet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from task_runs import multiclass_runs, regression_runs  # noqa: F401  (session fixtures: trained task runs)

ROOT = Path(__file__).resolve().parents[1]
ADULT = ROOT / "examples" / "adult" / "adult.parquet"
DEFAULT_POLICY = ROOT / "policies" / "default.json"
SAMPLE_ROWS = 3000


@pytest.fixture(scope="session")
def adult_sample() -> pd.DataFrame:
    """3,000 real Adult rows (a fixed, seeded sample) with the original column names and NULLs."""
    con = duckdb.connect()
    frame = con.execute(
        f"SELECT * FROM read_parquet(?) USING SAMPLE {SAMPLE_ROWS} ROWS (reservoir, 7)", [str(ADULT)]
    ).df()
    con.close()
    return frame


@pytest.fixture(scope="session")
def adult_csv(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("adult") / "adult_sample.csv"
    adult_sample.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def adult_parquet(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("adult") / "adult_sample.parquet"
    adult_sample.to_parquet(path, index=False)
    return path


def tamper(path: Path, sql: str, *params: object) -> None:
    """Run one statement on the trail with plain DuckDB, as anyone with write access to the file could."""
    con = duckdb.connect(str(path))
    try:
        con.execute(sql, list(params))
    finally:
        con.close()


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real `mlgate` command in a subprocess."""
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *map(str, args)],
        capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=600, check=False,
    )
