"""Real `mlgate` processes sharing one trail: concurrent writers, readers beside them, a held lock, SIGKILL, and
filter values that try to reach SQL.

Each audit here is quick mode on 600 Adult rows with two cheap candidates (baseline and logistic) and 100 bootstrap
resamples, so eight of them at once stay fast on two cores.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from conftest import ROOT, run_cli

from engine.audit.trail import NewEvent, append

pytestmark = pytest.mark.slow

WRITERS = 8
READS = 4  # `mlgate runs` while the writers run (a few: the two cores are busy enough)
SAMPLE_ROWS = 600
EASY_POLICY = {
    "name": "easy", "version": "1.0.0",
    "rules": [{"id": "auc-above-chance", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.5,
               "severity": "block", "checklist": "optimizing_metric"}],
}
INJECTION = "x' UNION SELECT content FROM read_text('/etc/hostname') --"


@dataclass(frozen=True)
class Inputs:
    csv: Path
    spec: Path
    policy: Path


@pytest.fixture(scope="module")
def inputs(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    base = tmp_path_factory.mktemp("concurrency-inputs")
    csv = base / "adult_600.csv"
    adult_sample.head(SAMPLE_ROWS).to_csv(csv, index=False)
    spec = base / "spec.json"
    spec.write_text(json.dumps({
        "name": "concurrent",
        "data": {"path": csv.name, "target": "income", "positive": ">50K"},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"}],
        "evaluation": {"bootstrap": 100},
    }), encoding="utf-8")
    policy = base / "easy.json"
    policy.write_text(json.dumps(EASY_POLICY), encoding="utf-8")
    return Inputs(csv, spec, policy)


def audit_argv(inputs: Inputs, db: Path, cards: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cli", "audit", "--spec", str(inputs.spec), "--data", str(inputs.csv),
            "--target", "income", "--positive", ">50K", "--policy", str(inputs.policy), "--audit-db", str(db),
            "--cards-dir", str(cards), "--format", "json", *extra]


def start_audit(inputs: Inputs, db: Path, cards: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1"}
    return subprocess.Popen(audit_argv(inputs, db, cards, *extra), cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def runs_json(db: Path, *args: str) -> list[dict[str, Any]]:
    done = run_cli("runs", "--audit-db", db, "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert isinstance(listed, list)
    return listed


def assert_verifies(db: Path) -> None:
    done = run_cli("verify", "--audit-db", db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intact" in done.stdout


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("•")]


# --- eight writers at once -----------------------------------------------------------------------------------------


@dataclass
class Crowd:
    db: Path
    results: list[tuple[int, str, str]]  # (exit code, stdout, stderr) per writer
    reads: list[subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def crowd(inputs: Inputs, tmp_path_factory: pytest.TempPathFactory) -> Crowd:
    """Eight `mlgate audit` processes started together on one trail, with `mlgate runs` reading meanwhile."""
    base = tmp_path_factory.mktemp("crowd")
    db = base / "audit.duckdb"
    append(db, [])  # the trail exists, so a reader started at once has something to read
    writers = [start_audit(inputs, db, base / f"cards-{n}") for n in range(WRITERS)]
    reads = []
    while any(w.poll() is None for w in writers) and len(reads) < READS:
        reads.append(run_cli("runs", "--audit-db", db, "--format", "json"))
        time.sleep(2.0)  # spread over the writers' lifetime, into their writes
    results = []
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        results.append((writer.returncode, out, err))
    return Crowd(db, results, reads)


def test_eight_concurrent_audits_all_succeed(crowd: Crowd) -> None:
    for code, _, err in crowd.results:
        assert code in (0, 1), err
        assert "Traceback" not in err
    assert [code for code, _, _ in crowd.results] == [0] * WRITERS, "the easy policy passes every run"


def test_eight_concurrent_audits_are_eight_complete_runs_in_one_intact_chain(crowd: Crowd) -> None:
    printed = {json.loads(out)["run_id"] for _, out, _ in crowd.results}
    assert len(printed) == WRITERS
    listed = runs_json(crowd.db)
    assert {r["run_id"] for r in listed} == printed
    for run in listed:
        assert run["complete"] is True
        assert run["verdict"] == "pass" and run["recommended"] == "logistic"
    assert_verifies(crowd.db)
    verified = json.loads(run_cli("verify", "--audit-db", crowd.db, "--format", "json").stdout)
    assert verified["events"] == 1 + WRITERS * 8, "genesis + per run: start, 2 x (evaluated, checked), 2 cards, end"
    con = duckdb.connect(str(crowd.db), read_only=True)
    try:
        kinds = con.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall()
    finally:
        con.close()
    assert dict(kinds)["trail_created"] == 1


def test_a_reader_works_while_writers_are_active(crowd: Crowd) -> None:
    assert crowd.reads, "at least one `mlgate runs` ran while the writers were running"
    for done in crowd.reads:
        assert done.returncode == 0, done.stderr
        listed = json.loads(done.stdout)
        assert all(isinstance(r["run_id"], str) for r in listed)
        assert all(r["verdict"] in ("pass", "incomplete") for r in listed)


# --- a writer that cannot get the file -----------------------------------------------------------------------------


HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    from filelock import FileLock
    path, what = sys.argv[1], sys.argv[2]
    lock = FileLock(path + ".lock")
    if what in ("sidecar", "both"):
        lock.acquire()
    con = duckdb.connect(path) if what in ("duckdb", "both") else None
    print("holding", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
    if con is not None:
        con.close()
    """
)


@contextmanager
def holding(db: Path, what: str) -> Iterator[None]:
    """Another process holding the trail: its sidecar lock, DuckDB's read-write lock, or both."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), what], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        yield
    finally:
        holder.communicate(timeout=60)


def event_rows(db: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT seq, hash FROM events ORDER BY seq").fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("what", ["both", "sidecar", "duckdb"])
def test_a_writer_that_cannot_get_the_file_in_time_exits_3_and_writes_nothing(
    what: str, inputs: Inputs, tmp_path: Path
) -> None:
    db = tmp_path / "audit.duckdb"
    append(db, [NewEvent("note", None, {"before": True})])
    before = event_rows(db)
    cards = tmp_path / "cards"
    with holding(db, what):
        started = time.monotonic()
        done = subprocess.run(audit_argv(inputs, db, cards, "--lock-timeout", "1"), cwd=ROOT, text=True,
                              capture_output=True, timeout=120, check=False)
        waited = time.monotonic() - started
    assert done.returncode == 3, done.stdout + done.stderr  # "the trail is busy": CI may retry
    assert "Traceback" not in done.stderr
    [line] = error_lines(done.stderr)
    assert line.startswith("mlgate: error:") and str(db) in line
    assert "busy" in line or "locked" in line, line
    assert "--lock-timeout" in line or what == "duckdb", "the hint names the option that allows longer"
    assert done.stdout == ""
    assert waited < 60, "the writer gave up after about its timeout, not the default 120 s"
    assert event_rows(db) == before
    assert not cards.exists() or not any(p.is_file() for p in cards.rglob("*")), "no card was written"
    assert_verifies(db)


# --- SIGKILL at any moment -----------------------------------------------------------------------------------------


def _runs_started(db: Path) -> int | None:
    """How many runs have started, read the way an outsider would (None while the file is locked or absent)."""
    if not db.exists():
        return None
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute("SELECT count(*) FROM events WHERE kind = 'run_started'").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return int(row[0]) if row else 0


def _wait_for_new_run(db: Path, writer: subprocess.Popen[str], known: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and writer.poll() is None:
        count = _runs_started(db)
        if count is not None and count > known:
            return
        time.sleep(0.01)
    raise AssertionError("the audit never recorded its start")


def _wait_for_progress(writer: subprocess.Popen[str], words: str) -> None:
    assert writer.stderr is not None
    for line in writer.stderr:
        if words in line:
            return
    raise AssertionError(f"the audit ended without printing {words!r}")


def _assert_trail_sound(db: Path) -> list[dict[str, Any]]:
    """The trail (if any) verifies; no run is shown complete unless it is; incomplete runs are never recommended."""
    if not db.exists():
        return []
    assert_verifies(db)
    listed = runs_json(db)
    for run in listed:
        if run["complete"]:
            assert run["verdict"] in ("pass", "fail")
        else:
            assert (run["verdict"], run["recommended"]) == ("incomplete", None), run
    return listed


def _assert_shown_incomplete(db: Path, run_id: str) -> None:
    shown = run_cli("show", run_id, "--audit-db", db, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert (document["complete"], document["verdict"], document["recommended"]) == (False, "incomplete", None)


# Where to kill: after a pause (seconds), once the run's start is in the trail, or once a progress line is printed.
RECORDED = "after its start was recorded"
STAGES = {
    "training and evaluating logistic": "during training",
    "recording": "during the write of the evidence",
    "wrote": "after the cards, before the closing event",
}


def test_killing_an_audit_at_any_moment_leaves_a_trail_that_verifies(inputs: Inputs, tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    delays = sorted(random.Random(20).sample([0.4, 0.7, 1.0, 1.3, 1.6, 1.9, 2.2], 2))
    points: list[tuple[str, float | None]] = [("at start", 0.02), (RECORDED, None),
                                              *[(stage, None) for stage in STAGES], *[(f"{d}s", d) for d in delays]]
    seen: set[str] = set()
    left_incomplete: set[str] = set()
    for point, delay in points:
        known = _runs_started(db) or 0
        writer = start_audit(inputs, db, tmp_path / "cards")
        if delay is not None:
            time.sleep(delay)
        elif point == RECORDED:
            _wait_for_new_run(db, writer, known)
        else:
            _wait_for_progress(writer, point)
        os.kill(writer.pid, signal.SIGKILL)
        writer.communicate(timeout=60)
        assert writer.returncode == -signal.SIGKILL

        listed = _assert_trail_sound(db)
        new = [r for r in listed if r["run_id"] not in seen]
        seen |= {r["run_id"] for r in new}
        assert len(new) <= 1, point
        if delay is None:
            [run] = new  # the start was recorded before the kill
            if run["complete"]:  # only possible when the closing event was committed just before the kill
                assert point == "wrote", (point, run)
                assert (run["verdict"], run["recommended"]) == ("pass", "logistic")
            elif point == "recording":
                _assert_shown_incomplete(db, run["run_id"])
        left_incomplete |= {r["run_id"] for r in new if not r["complete"]}
    assert len(left_incomplete) >= 3, "at least the runs killed during training and writing are incomplete"
    assert {r["run_id"] for r in runs_json(db, "--verdict", "incomplete")} == left_incomplete
    assert not left_incomplete & {r["run_id"] for r in runs_json(db, "--verdict", "pass")}

    out = tmp_path / "export"  # a killed run is never exported as complete
    done = run_cli("export", "--audit-db", db, "--format", "jsonl", "--out", out)
    assert done.returncode == 0, done.stderr
    exported = {r["run_id"]: r for r in map(json.loads, (out / "runs.jsonl").read_text(encoding="utf-8").splitlines())}
    for run_id in left_incomplete:
        assert (exported[run_id]["complete"], exported[run_id]["verdict"], exported[run_id]["recommended"]) == (
            False, "incomplete", None)

    after = start_audit(inputs, db, tmp_path / "cards")
    stdout, stderr = after.communicate(timeout=120)
    assert after.returncode == 0, stderr
    run_id = json.loads(stdout)["run_id"]
    listed = _assert_trail_sound(db)
    [final] = [r for r in listed if r["run_id"] == run_id]
    assert (final["complete"], final["verdict"], final["recommended"]) == (True, "pass", "logistic")
    assert {r["run_id"] for r in listed if not r["complete"]} == left_incomplete, "killed runs stay incomplete"


# --- filter values never reach SQL ---------------------------------------------------------------------------------


def _hostname() -> str | None:
    try:
        text = Path("/etc/hostname").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


@pytest.mark.parametrize("option", ["--candidate", "--policy", "--reviewer"])
def test_a_filter_value_with_sql_in_it_matches_nothing_and_leaks_nothing(option: str, crowd: Crowd) -> None:
    hostname = _hostname()
    for output in ("json", "text"):
        done = run_cli("runs", "--audit-db", crowd.db, option, INJECTION, "--format", output)
        assert done.returncode == 0, done.stderr
        if output == "json":
            assert json.loads(done.stdout) == []
        if hostname is not None:
            assert hostname not in done.stdout + done.stderr


def test_an_export_filter_with_sql_in_it_exports_no_run(crowd: Crowd, tmp_path: Path) -> None:
    hostname = _hostname()
    for n, option in enumerate(("--candidate", "--policy", "--run")):
        out = tmp_path / f"export-{n}"
        done = run_cli("export", "--audit-db", crowd.db, "--format", "jsonl", "--out", out, option, INJECTION)
        assert "Traceback" not in done.stderr
        if hostname is not None:
            assert hostname not in done.stdout + done.stderr
        if done.returncode == 2:  # refusing an unknown run is fine too, with nothing written
            assert option == "--run" and not out.exists(), done.stderr
            continue
        assert done.returncode == 0, done.stderr
        assert (out / "runs.jsonl").read_text(encoding="utf-8").strip() == ""
        written = "".join(p.read_text(encoding="utf-8") for p in out.iterdir())
        if hostname is not None:
            assert hostname not in written


def test_runs_since_a_future_date_is_empty_and_a_bad_date_is_refused(crowd: Crowd) -> None:
    assert runs_json(crowd.db, "--since", "2999-01-01") == []
    assert len(runs_json(crowd.db, "--until", "2999-01-01")) == WRITERS
    refused = run_cli("runs", "--audit-db", crowd.db, "--since", "2024-01-01' OR '1'='1")
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
