"""The smaller refusals of the reliability suite: each is one line and an exit code, never a traceback or a lie.

A deeply nested spec or policy, a trail without its creation event, a head written through a symlink, a card
overwritten without --force, a card of a run that never completed, a folder given as data, a file that is not
a DuckDB database given as the trail.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from conftest import tamper

from cli.main import main as mlgate
from engine.audit.trail import NewEvent, append
from engine.audit.verify import verify
from engine.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, TrailError
from engine.service import Progress, run_audit
from engine.spec import build_spec

TARGET, POSITIVE = "income", ">50K"


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mlgate: error:"), err
    return lines[0]


def test_a_deeply_nested_spec_or_policy_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{"name": ' + "[" * 50_000 + "]" * 50_000 + "}", encoding="utf-8")
    assert mlgate(["audit", "--spec", str(deep)]) == EXIT_BAD_INPUT
    assert "nested more than 64 levels" in _error(capsys)
    assert mlgate(["policy", "explain", str(deep)]) == EXIT_BAD_INPUT
    assert "nested more than 64 levels" in _error(capsys)
    assert mlgate(["policy", "validate", str(deep)]) == EXIT_BAD_INPUT
    assert "nested more than 64 levels" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["", "WHERE seq = 1"])
def test_a_trail_without_its_creation_event_is_not_intact(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "audit.duckdb"
    append(db, [NewEvent("note", None, {"n": 1})])
    tamper(db, f"DELETE FROM events {where}")
    assert not verify(db).intact
    assert mlgate(["verify", "--audit-db", str(db)]) == EXIT_FAILED
    assert "BROKEN" in capsys.readouterr().out


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_head_out_refuses_a_symlink(force: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "audit.duckdb"
    append(db, [NewEvent("note", None, {})])
    target, link = tmp_path / "precious.txt", tmp_path / "head.json"
    target.write_text("keep me", encoding="utf-8")
    link.symlink_to(target)
    assert mlgate(["head", "--audit-db", str(db), "--out", str(link), *force]) == EXIT_BAD_INPUT
    assert "symbolic link" in _error(capsys)
    assert target.read_text(encoding="utf-8") == "keep me"


class Stop(Exception):
    """Stands for a process that stopped after its cards were written, before its run was completed."""


@pytest.mark.slow
def test_cards_of_an_incomplete_run_say_so_first_and_card_out_needs_force(
    adult_sample: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.parquet"
    adult_sample.iloc[:600].to_parquet(data, index=False)
    db = tmp_path / "audit.duckdb"
    spec = build_spec({"name": "stopped", "data": {"path": str(data), "target": TARGET, "positive": POSITIVE},
                       "candidates": [{"name": "baseline", "family": "baseline"}]}, source="test")
    seen: list[str] = []

    def stop_before_completion(step: Progress) -> None:
        seen.append(step.message)
        if step.stage == "cards":
            raise Stop

    with pytest.raises(Stop):
        run_audit(spec, audit_db=db, cards_dir=tmp_path / "cards", progress=stop_before_completion)
    run_id = next(p.name for p in (tmp_path / "cards").iterdir())
    assert mlgate(["card", run_id, "baseline", "--audit-db", str(db)]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[0].startswith("> **Incomplete run: run " + run_id)
    out = tmp_path / "card.html"
    out.write_text("an earlier card", encoding="utf-8")
    assert mlgate(["card", run_id, "baseline", "--format", "html", "--out", str(out), "--audit-db", str(db)]) == 2
    assert "--force" in _error(capsys) and out.read_text(encoding="utf-8") == "an earlier card"
    assert mlgate(["card", run_id, "baseline", "--format", "html", "--out", str(out), "--audit-db", str(db),
                   "--force"]) == EXIT_OK
    html = out.read_text(encoding="utf-8")
    assert html.index("Incomplete run") < html.index("<h1")


def test_data_that_is_a_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = mlgate(["audit", "--data", str(tmp_path), "--target", TARGET, "--audit-db", str(tmp_path / "a.duckdb")])
    assert code == EXIT_BAD_INPUT
    assert "a folder, not a data file" in _error(capsys)


def test_a_trail_that_is_not_a_duckdb_file_says_what_it_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lite = tmp_path / "audit.sqlite"
    con = sqlite3.connect(lite)
    con.execute("CREATE TABLE events (seq INTEGER)")
    con.commit()
    con.close()
    text = tmp_path / "audit.csv"
    text.write_text("seq,kind\n1,note\n", encoding="utf-8")
    assert mlgate(["runs", "--audit-db", str(lite)]) == EXIT_BAD_INPUT
    assert "it is a SQLite database, not a DuckDB database" in _error(capsys)
    assert mlgate(["verify", "--audit-db", str(text)]) == EXIT_BAD_INPUT
    assert "it is a text file" in _error(capsys)
    with pytest.raises(TrailError, match="text file"):
        append(text, [NewEvent("note", None, {})])
    assert text.read_text(encoding="utf-8") == "seq,kind\n1,note\n"
