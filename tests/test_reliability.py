"""The reliability suite: what an attacker or a careless operator tries, each with its exit code and the trail after.

A hostile skops file, a trail held busy before and during a command, escapes in every output, an I/O error at the
N-th write, and the smaller refusals. Kept small (a few seconds each) so it runs in CI with the rest.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io
from conftest import ROOT, run_cli
from sklearn.datasets import dump_svmlight_file
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from cli.main import main as mlgate
from engine.audit.locks import lock_timeout
from engine.audit.runs import list_runs
from engine.audit.trail import NewEvent, append, current_head, read_events
from engine.audit.verify import verify
from engine.candidates.external_formats import load_skops
from engine.errors import EXIT_BUSY, EXIT_WRITE_FAILED, ModelError, TrailBusyError
from engine.reports import junit_xml, write_reports
from engine.service import Progress, run_audit
from engine.spec import build_spec

TARGET, POSITIVE = "income", ">50K"
NUMERIC = ["age", "education-num", "hours-per-week"]
WRITER = "sklearn.datasets._svmlight_format_io.dump_svmlight_file"


def _fitted(adult_sample: pd.DataFrame) -> Pipeline:
    """A fitted pipeline whose first step is, for now, the identity."""
    frame = adult_sample[NUMERIC].astype(float).fillna(0.0)
    y = (adult_sample[TARGET].astype(str).str.strip() == POSITIVE).astype(int)
    return Pipeline([("pre", FunctionTransformer()), ("model", LogisticRegression(max_iter=500))]).fit(frame, y)


def _hostile(adult_sample: pd.DataFrame, folder: Path, name: str, **step: object) -> Path:
    """The fitted pipeline with its first step turned into a library function of the file author's choice."""
    pipeline = _fitted(adult_sample)
    for key, value in step.items():
        setattr(pipeline.steps[0][1], key, value)
    path = folder / f"{name}.skops"
    skops.io.dump(pipeline, path)
    return path


@pytest.mark.slow
def test_a_skops_file_holding_a_function_is_refused_naming_it(adult_sample: pd.DataFrame, tmp_path: Path) -> None:
    victim = tmp_path / "audit.duckdb"
    victim.write_bytes(b"the trail")
    labels = np.zeros(len(adult_sample))
    files = {
        WRITER: _hostile(adult_sample, tmp_path, "writer", func=dump_svmlight_file,
                         kw_args={"y": labels, "f": str(victim)}),
        "numpy.fromfile": _hostile(adult_sample, tmp_path, "reader", func=np.fromfile),
        "functools.partial": _hostile(adult_sample, tmp_path, "partial",
                                      func=functools.partial(dump_svmlight_file, y=labels, f=str(victim))),
        "numpy.absolute": _hostile(adult_sample, tmp_path, "ufunc", func=np.abs),  # a function skops trusts
        "numpy.save": _hostile(adult_sample, tmp_path, "inverse", inverse_func=np.save),
    }
    for name, path in files.items():
        with pytest.raises(ModelError, match="outside mlgate's allow-list") as refused:
            load_skops(path)
        assert name in refused.value.one_line() and str(path) in refused.value.one_line()
    assert victim.read_bytes() == b"the trail"

    identity = tmp_path / "identity.skops"  # a FunctionTransformer without a function is a listed transformer
    skops.io.dump(_fitted(adult_sample), identity)
    assert load_skops(identity).facts["estimator"] == "Pipeline"


@pytest.mark.slow
def test_the_audit_refuses_a_hostile_skops_file_with_exit_2(adult_sample: pd.DataFrame, tmp_path: Path) -> None:
    victim = tmp_path / "audit.duckdb"
    data = tmp_path / "data.csv"
    adult_sample.to_csv(data, index=False)
    path = _hostile(adult_sample, tmp_path, "writer", func=dump_svmlight_file,
                    kw_args={"y": np.zeros(len(adult_sample)), "f": str(victim)})
    done = run_cli("audit", "--model", path, "--data", data, "--target", TARGET, "--positive", POSITIVE,
                   "--audit-db", victim, "--cards-dir", tmp_path / "cards")
    assert done.returncode == 2, done.stderr
    assert WRITER in done.stderr and "Traceback" not in done.stderr
    assert not victim.exists()


# --- a trail held busy: one lock timeout for every access, exit 3, the holder named ----------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    from filelock import FileLock
    path, what = sys.argv[1], sys.argv[2]
    lock = FileLock(path + ".lock")
    if what == "sidecar":
        lock.acquire()
    con = duckdb.connect(path) if what == "duckdb" else None
    print("holding", flush=True)
    sys.stdin.read()  # hold until the test closes our stdin
    """
)
FAKE_RUN = "20260101T000000Z-abcdef"


@contextmanager
def holding(db: Path, what: str) -> Iterator[int]:
    """Another process holding the trail (DuckDB's read-write lock, or the writers' sidecar lock); its PID."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), what], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        yield holder.pid
    finally:
        holder.communicate(timeout=60)


def _trail(folder: Path) -> Path:
    db = folder / "audit.duckdb"
    append(db, [NewEvent("note", None, {"before": True})])
    return db


def test_every_reader_takes_a_lock_timeout_and_exits_3_naming_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _trail(tmp_path)
    commands = [["runs"], ["show", FAKE_RUN], ["verify"], ["card", FAKE_RUN, "baseline"], ["champion"],
                ["export", "--format", "jsonl", "--out", str(tmp_path / "export")], ["head", "--out",
                str(tmp_path / "head.json")]]
    with holding(db, "duckdb") as pid:
        for command in commands:
            started = time.monotonic()
            code = mlgate([*command, "--audit-db", str(db), "--lock-timeout", "0.5"])
            waited = time.monotonic() - started
            err = capsys.readouterr().err
            assert code == EXIT_BUSY, (command, err)
            assert "mlgate: error:" in err and "locked" in err and f"PID {pid}" in err, (command, err)
            assert waited < 10, (command, waited)
    assert verify(db).intact


def test_a_writer_names_the_process_holding_its_turn(tmp_path: Path) -> None:
    db = _trail(tmp_path)
    with holding(db, "sidecar") as pid, lock_timeout(0.3), pytest.raises(TrailBusyError) as busy:
        append(db, [NewEvent("note", None, {"after": True})])
    assert busy.value.exit_code == EXIT_BUSY and f"PID {pid}" in busy.value.one_line()
    assert "--lock-timeout" in busy.value.one_line()
    assert verify(db).intact and verify(db).events == 2


@pytest.mark.slow
def test_an_audit_mid_run_reads_within_its_lock_timeout(adult_sample: pd.DataFrame, tmp_path: Path) -> None:
    data = tmp_path / "data.parquet"
    adult_sample.iloc[:600].to_parquet(data, index=False)
    db = _trail(tmp_path)
    spec = build_spec({"name": "held", "data": {"path": str(data), "target": TARGET, "positive": POSITIVE},
                       "candidates": [{"name": "baseline", "family": "baseline"}]}, source="test")
    holders: list[Any] = []

    def take_the_lock_after_the_run_started(step: Progress) -> None:
        if step.stage == "train" and not holders:  # the run is recorded as started; now the champion lookup
            holders.append(holding(db, "duckdb"))
            holders[0].__enter__()

    started = time.monotonic()
    try:
        with pytest.raises(TrailBusyError, match="PID"):
            run_audit(spec, audit_db=db, cards_dir=tmp_path / "cards", progress=take_the_lock_after_the_run_started,
                      lock_timeout=1.0)
    finally:
        for holder in holders:
            holder.__exit__(None, None, None)
    assert time.monotonic() - started < 60, "the mid-run read gave up after the run's timeout, not 120 s"
    assert holders, "the lock was taken mid-run"
    [run] = list_runs(db)
    assert (run["complete"], run["verdict"]) == (False, "incomplete")
    assert verify(db).intact


def test_the_lock_timeout_of_a_block_bounds_every_read(tmp_path: Path) -> None:
    db = _trail(tmp_path)
    with holding(db, "duckdb"), lock_timeout(0.3), pytest.raises(TrailBusyError):
        current_head(db)  # what an audit's cards name, read mid-run


@pytest.mark.slow
def test_the_progress_stream_reports_a_busy_trail_with_exit_code_3(adult_csv: Path, tmp_path: Path) -> None:
    db = _trail(tmp_path)
    with holding(db, "duckdb"):
        done = run_cli("audit", "--data", adult_csv, "--target", TARGET, "--positive", POSITIVE, "--audit-db", db,
                       "--cards-dir", tmp_path / "cards", "--lock-timeout", "0.5", "--progress", "jsonl")
    assert done.returncode == EXIT_BUSY, done.stderr
    last = json.loads(done.stderr.strip().splitlines()[-1])
    assert last["type"] == "error" and last["exit_code"] == EXIT_BUSY and "locked" in last["message"]
    assert verify(db).events == 2


# --- escapes in every output ------------------------------------------------------------------------------------------

HOSTILE = "White\x1b]0;owned\x07\x1b[2J\x9b31m\u202eevil\u2066"
DANGEROUS = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066")


@pytest.mark.slow
def test_control_and_bidi_characters_never_reach_an_output(
    adult_sample: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = adult_sample.iloc[:600].copy()
    frame["race"] = frame["race"].where(frame["race"] != "White", HOSTILE)
    data = tmp_path / "data.parquet"
    frame.to_parquet(data, index=False)
    db, cards = tmp_path / "audit.duckdb", tmp_path / "cards"
    spec = build_spec({"name": "escapes", "data": {"path": str(data), "target": TARGET, "positive": POSITIVE,
                                                   "sensitive": ["race"]},
                       "candidates": [{"name": "baseline", "family": "baseline"}]}, source="test")
    result = run_audit(spec, audit_db=db, cards_dir=cards)
    write_reports(result, name="escapes", junit=tmp_path / "junit.xml", summary=tmp_path / "summary.md")
    written = [p for p in (cards / result.run_id).iterdir() if p.suffix in (".md", ".html", ".json")]
    written += [tmp_path / "junit.xml", tmp_path / "summary.md"]
    assert {p.suffix for p in written} >= {".md", ".html", ".json"}
    outputs = {str(p): p.read_text(encoding="utf-8") for p in written}
    for argv in (["show", result.run_id], ["show", result.run_id, "--format", "json"], ["runs", "--format", "json"],
                 *(["card", result.run_id, "baseline", "--format", fmt] for fmt in ("md", "html", "json"))):
        code = mlgate([*argv, "--audit-db", str(db)])
        outputs[" ".join(argv)] = capsys.readouterr().out
        assert code == 0, argv
    for where, text in outputs.items():
        assert not [ch for ch in DANGEROUS if ch in text], where
    recorded = json.dumps([e.data for e in read_events(db)], ensure_ascii=False)
    encoded = json.dumps(HOSTILE, ensure_ascii=False)[1:-1]
    assert encoded in recorded, "the trail records the value as it is"
    shown = json.loads(outputs[f"card {result.run_id} baseline --format json"])
    assert encoded in json.dumps(shown, ensure_ascii=False), "a JSON output keeps the recorded value, escaped"


# --- a full disk: one line naming the path and the cause, exit 4, no leftovers, the run left incomplete ---------------

def _full_disk_at(monkeypatch: pytest.MonkeyPatch, method: str, nth: int, suffix: str) -> list[str]:
    """Make the `nth` call of `Path.<method>` on a scratch file (`suffix`) write half and fail as a full disk would."""
    original = getattr(Path, method)
    calls: list[str] = []

    def failing(self: Path, data: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.name.endswith(suffix):
            return original(self, data, *args, **kwargs)
        calls.append(str(self))
        if len(calls) == nth:
            original(self, data[: len(data) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, method, failing)
    return calls


def _small_audit_argv(adult_sample: pd.DataFrame, folder: Path) -> list[str]:
    data = folder / "data.parquet"
    adult_sample.iloc[:600].to_parquet(data, index=False)
    return ["audit", "--data", str(data), "--target", TARGET, "--positive", POSITIVE, "--audit-db",
            str(folder / "audit.duckdb"), "--cards-dir", str(folder / "cards")]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "nth", "suffix", "what"), [
    ("write_text", 2, ".tmp", "card"), ("write_bytes", 1, ".partial", "artifact")])
def test_a_full_disk_while_writing_is_exit_4_with_no_leftovers_and_an_incomplete_run(
    method: str, nth: int, suffix: str, what: str, adult_sample: pd.DataFrame, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    argv = _small_audit_argv(adult_sample, tmp_path)
    calls = _full_disk_at(monkeypatch, method, nth, suffix)
    code = mlgate(argv)
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == EXIT_WRITE_FAILED, err
    [line] = [x for x in err.splitlines() if x.strip()][-1:]
    assert line.startswith("mlgate: error:") and "No space left on device" in line and what in line, err
    assert "Traceback" not in err and len(calls) >= nth
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".partial"))]
    db = tmp_path / "audit.duckdb"
    [run] = list_runs(db)
    assert (run["complete"], run["verdict"]) == (False, "incomplete")
    assert verify(db).intact


def test_a_full_disk_while_exporting_is_exit_4_with_no_leftovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _trail(tmp_path)
    out = tmp_path / "export"
    _full_disk_at(monkeypatch, "write_text", 1, ".partial")  # the manifest, after every table was written
    code = mlgate(["export", "--format", "csv", "--out", str(out), "--audit-db", str(db)])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == EXIT_WRITE_FAILED and "manifest.json" in err and "No space left on device" in err, err
    assert not [p for p in out.rglob("*") if p.name.endswith((".tmp", ".partial"))]


# --- concurrent writers, some killed at a random moment ---------------------------------------------------------------

APPENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from engine.audit.trail import NewEvent, append
    for n in range(int(sys.argv[2])):
        append(Path(sys.argv[1]), [NewEvent("note", None, {"writer": sys.argv[3], "n": n}),
                                   NewEvent("note", None, {"writer": sys.argv[3], "n": n, "pair": True})])
    """
)


@pytest.mark.slow
def test_concurrent_writers_killed_at_random_moments_leave_an_intact_trail(tmp_path: Path) -> None:
    db = _trail(tmp_path)
    rng = np.random.default_rng(12)
    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(db), "15", str(i)], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}) for i in range(4)]
    for victim in writers[:2]:  # a bounded number of kills, at a random moment of each victim's appends
        time.sleep(float(rng.uniform(0.5, 2.0)))
        victim.kill()
    codes = [w.wait(timeout=120) for w in writers]
    assert codes[2:] == [0, 0]
    checked = verify(db)
    assert checked.intact, checked.problem
    notes = [e.data for e in read_events(db, kinds=["note"]) if "writer" in e.data]
    assert len(notes) % 2 == 0, "each append is whole: both events of a pair, or neither"
    assert sum(1 for n in notes if n["writer"] in ("2", "3")) == 2 * 2 * 15


def test_junit_xml_carries_no_control_or_bidi_character() -> None:
    result = SimpleNamespace(candidates=[SimpleNamespace(name="gbm", outcomes=[], error=f"failed on {HOSTILE}")])
    xml = junit_xml(result, name=HOSTILE)
    assert not [ch for ch in DANGEROUS if ch in xml] and "owned" in xml
