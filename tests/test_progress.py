"""`mlgate audit --progress jsonl`: stderr as JSON Lines (cli/progress.py), through the real command and alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli

from cli.progress import stream_format

STREAM_TYPES = {
    "progress": {"type", "stage", "message", "candidate"},
    "error": {"type", "message", "hint", "exit_code"},
    "result": {"type", "exit_code", "run_id", "verdict", "recommended"},
}


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of stderr as a JSON object of a documented type (fails on any other line)."""
    documents = [json.loads(line) for line in stderr.splitlines()]
    for document in documents:
        assert set(document) == STREAM_TYPES[document["type"]], document
    return documents


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["audit", "--spec", "a.toml"], "text"),
        (["audit", "--progress", "jsonl"], "jsonl"),
        (["audit", "--progress=jsonl", "--seed", "3"], "jsonl"),
        (["audit", "--progress", "text"], "text"),
        (["audit", "--progress", "xml"], "text"),
        (["audit", "--progress"], "text"),
        (["audit", "--", "--progress", "jsonl"], "text"),
    ],
)
def test_the_stream_format_is_read_from_the_command_line_before_parsing(argv: list[str], expected: str) -> None:
    assert stream_format(argv) == expected


def test_everything_written_to_stderr_in_the_block_arrives_as_json_and_the_outcome_is_last() -> None:
    code = (
        "import os, sys, warnings\n"
        "from cli.progress import Failure, jsonl_stderr\n"
        "with jsonl_stderr() as stream:\n"
        "    stream.progress(stage='data', message='read 3 rows')\n"
        "    os.write(2, b'a native library speaks\\n')\n"
        "    print('python speaks', file=sys.stderr)\n"
        "    warnings.warn('careful')\n"
        "    stream.keep_result(exit_code=1, run_id='r1', verdict='fail', recommended=None)\n"
        "stream.finish(None)\n"
        "stream.progress(stage='late', message='dropped')\n"
        "print('after', file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    *streamed, after = done.stderr.splitlines()
    assert after == "after", "stderr is itself again after the block"
    documents = json_lines("\n".join(streamed))
    assert documents[0] == {"type": "progress", "stage": "data", "message": "read 3 rows", "candidate": None}
    stray = {d["message"] for d in documents if d["type"] == "progress" and d["stage"] == "stderr"}
    assert {"a native library speaks", "python speaks"} <= stray
    assert any("UserWarning: careful" in message for message in stray)
    assert documents[-1] == {"type": "result", "exit_code": 1, "run_id": "r1", "verdict": "fail",
                             "recommended": None}
    assert "dropped" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--spec", "{tmp}/missing-spec.json"], "missing-spec.json: spec file not found"),
        (["--seed", "-1"], "--seed"),
        (["--no-such-flag"], "--no-such-flag"),
    ],
)
def test_a_bad_input_is_one_error_object_exit_2_and_nothing_on_stdout(
    argv: list[str], named: str, tmp_path: Path
) -> None:
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    done = run_cli("audit", *argv, "--progress", "jsonl", "--audit-db", tmp_path / "audit.duckdb",
                   "--cards-dir", tmp_path / "cards")
    assert done.returncode == 2, done.stderr
    [error] = json_lines(done.stderr)
    assert error["type"] == "error" and error["exit_code"] == 2
    assert named in error["message"] and "mlgate: error:" not in error["message"]
    assert done.stdout == ""
    assert not (tmp_path / "audit.duckdb").exists() and not (tmp_path / "cards").exists()


@pytest.mark.slow
def test_an_unusable_data_file_is_an_error_object_with_the_engine_message(adult_csv: Path, tmp_path: Path) -> None:
    done = run_cli("audit", "--data", adult_csv, "--target", "no-such-column", "--progress", "jsonl",
                   "--audit-db", tmp_path / "audit.duckdb", "--cards-dir", tmp_path / "cards")
    text = run_cli("audit", "--data", adult_csv, "--target", "no-such-column",
                   "--audit-db", tmp_path / "audit.duckdb", "--cards-dir", tmp_path / "cards")
    assert done.returncode == text.returncode == 2
    error = json_lines(done.stderr)[-1]
    assert error["type"] == "error" and error["exit_code"] == 2
    assert text.stderr.strip() == f"mlgate: error: {error['message']}", "the same words as the text line"


@pytest.mark.slow
def test_a_finished_audit_streams_progress_then_its_result_and_stdout_is_unchanged(
    adult_parquet: Path, tmp_path: Path
) -> None:
    shutil.copy(adult_parquet, tmp_path / "adult.parquet")
    spec = tmp_path / "audit.json"
    spec.write_text(json.dumps({
        "name": "adult-stream",
        "data": {"path": "adult.parquet", "target": "income", "positive": ">50K", "sensitive": ["sex"]},
        "split": {"seed": 5},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"}],
    }), encoding="utf-8")
    done = run_cli("audit", "--spec", spec, "--progress", "jsonl", "--format", "json",
                   "--audit-db", tmp_path / "audit.duckdb", "--cards-dir", tmp_path / "cards")
    assert done.returncode in (0, 1), done.stderr
    documents = json_lines(done.stderr)
    *progress, result = documents
    assert {d["type"] for d in progress} == {"progress"}
    stages = [d["stage"] for d in progress if d["stage"] != "stderr"]
    assert stages[0] == "data" and stages[-2:] == ["record", "cards"]
    assert {d["candidate"] for d in progress if d["stage"] == "train"} == {"baseline", "logistic"}
    report = json.loads(done.stdout)  # stdout is still the one `--format json` document
    assert result == {"type": "result", "exit_code": done.returncode, "run_id": report["run_id"],
                      "verdict": report["verdict"], "recommended": report["recommended"]}
    assert done.returncode == (0 if report["verdict"] == "pass" else 1)
