"""A trail walked in chunks, verified after a head, and listed in pages: the parts that let a trail last for years.

The chain walk goes chunk by chunk; each tampering below is placed at, before and after a chunk boundary of a
trail several chunks long, and must be found exactly where the plain walk (tests/test_verify_walk.py) finds it.
`verify --since` checks only what follows a head, and rejects a head no longer in the chain. Keyset pages of
`runs` return every run exactly once.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import run_cli, tamper
from test_verify_walk import TAMPERINGS, reference

from engine.audit.head import head_document
from engine.audit.since import verify_since
from engine.audit.trail import NewEvent, append
from engine.audit.verify import verify

CHUNK = 7
FIXTURE = Path(__file__).parent / "fixtures" / "trail_v0" / "audit.duckdb"
EVENTS = 40  # six chunks of seven and a bit


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    path = tmp_path / "audit.duckdb"
    for first in range(1, EVENTS, 8):
        append(path, [NewEvent("step", f"run-{n % 3}", {"n": n}) for n in range(first, first + 8)])
    return path


@pytest.mark.parametrize("where", [CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1, EVENTS])
@pytest.mark.parametrize("how", ["body-changed", "deleted", "seq-renumbered", "rehashed-data", "prev-hash-column"])
def test_the_chunked_walk_finds_the_first_fault_at_a_chunk_boundary(trail: Path, how: str, where: int) -> None:
    TAMPERINGS[how](trail, where)
    found = verify(trail, chunk=CHUNK)
    assert (found.intact, found.bad_seq, found.problem) == reference(trail)
    assert not found.intact


def test_reordered_events_across_a_chunk_boundary_are_found(trail: Path) -> None:
    """Two rows swapped across a boundary (seq values exchanged): the first out of place is reported."""
    tamper(trail, "UPDATE events SET seq = -1 WHERE seq = ?", CHUNK)
    tamper(trail, "UPDATE events SET seq = ? WHERE seq = ?", CHUNK, CHUNK + 1)
    tamper(trail, "UPDATE events SET seq = ? WHERE seq = -1", CHUNK + 1)
    found = verify(trail, chunk=CHUNK)
    assert (found.intact, found.bad_seq, found.problem) == reference(trail)
    assert found.bad_seq == CHUNK


def test_progress_is_told_after_each_chunk_up_to_the_whole(trail: Path) -> None:
    heard: list[tuple[int, int]] = []
    assert verify(trail, chunk=CHUNK, progress=lambda done, total: heard.append((done, total))).intact
    assert heard[-1] == (EVENTS + 1, EVENTS + 1) and len(heard) == -(-(EVENTS + 1) // CHUNK)


def test_since_walks_only_what_follows_the_head(trail: Path) -> None:
    head = head_document(verify(trail))
    append(trail, [NewEvent("step", "run-new", {"n": n}) for n in range(5)])
    checked = verify_since(trail, head, chunk=CHUNK)
    assert checked.ok and checked.walked == 5 and checked.result.head_seq == EVENTS + 6
    TAMPERINGS["body-changed"](trail, EVENTS + 3)
    broken = verify_since(trail, head, chunk=CHUNK)
    assert not broken.ok and broken.head_problem is None and broken.result.bad_seq == EVENTS + 3


@pytest.mark.parametrize("how", ["body-changed", "deleted", "hash-column", "rehashed-data"])
def test_since_rejects_a_head_no_longer_in_the_chain(trail: Path, tmp_path: Path, how: str) -> None:
    head = head_document(verify(trail))
    head_file = tmp_path / "head.json"
    head_file.write_text(json.dumps(head), encoding="utf-8")
    TAMPERINGS[how](trail, int(head["seq"]) - (1 if how == "deleted" else 0))
    checked = verify_since(trail, head)
    assert not checked.ok and checked.head_problem is not None and checked.walked == 0
    done = run_cli("verify", "--audit-db", trail, "--since", head_file)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("HEAD NOT IN THE CHAIN"), done.stdout
    document = json.loads(run_cli("verify", "--audit-db", trail, "--since", head_file, "--format", "json").stdout)
    assert document["ok"] is False and document["since_problem"] == checked.head_problem


def test_since_on_the_cli_keeps_json_on_stdout_and_progress_on_stderr(trail: Path, tmp_path: Path) -> None:
    head_file = tmp_path / "head.json"
    assert run_cli("head", "--audit-db", trail, "--out", head_file).returncode == 0
    append(trail, [NewEvent("step", None, {"n": 1})])
    done = run_cli("verify", "--audit-db", trail, "--since", head_file, "--progress", "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] and document["walked"] == 1 and "verified: 1 of 1 events" in done.stderr
    plain = run_cli("verify", "--audit-db", trail, "--format", "json")
    assert "since" not in json.loads(plain.stdout) and plain.stderr == ""  # not a terminal: no progress


@pytest.fixture
def shared_trail(tmp_path: Path) -> Path:
    """The recorded audit of tests/fixtures/trail_v0 and four copies of its run under new run ids."""
    path = tmp_path / "runs.duckdb"
    shutil.copy(FIXTURE, path)
    con = duckdb.connect(str(FIXTURE), read_only=True)
    rows = con.execute("SELECT kind, body FROM events WHERE kind <> 'trail_created' ORDER BY seq").fetchall()
    con.close()
    for n in range(4):
        append(path, [NewEvent(kind, f"copy-{n}", json.loads(body)["data"]) for kind, body in rows])
    return path


def test_runs_pages_return_every_run_exactly_once(shared_trail: Path) -> None:
    from engine.audit.runs import list_runs

    everything = [r["run_id"] for r in list_runs(shared_trail)]
    pages: list[str] = []
    before = None
    while page := list_runs(shared_trail, limit=1, before=before):
        pages += [r["run_id"] for r in page]
        before = page[-1]["run_id"]
    assert pages == everything and len(set(pages)) == len(pages) >= 2
    done = run_cli("runs", "--audit-db", shared_trail, "--limit", "1", "--before", everything[0], "--format", "json")
    assert [r["run_id"] for r in json.loads(done.stdout)] == everything[1:2]
    assert run_cli("runs", "--audit-db", shared_trail, "--before", "no-such-run").returncode != 0
