"""`mlgate audit` checks the trail before it appends: from the head the previous audit verified, only what came after.

A real audit on a copy of tests/fixtures/trail_v0 (a trail with no recorded check: walked whole once) records the
head it verified in its `run_started`; the next audit walks only from there, and refuses (exit 2, nothing
appended) once an event after that head was changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import ROOT, run_cli, tamper

from engine.audit.checkpoint import CHECKED, check_before_append, last_checked
from engine.audit.trail import NewEvent, append
from engine.audit.verify import verify
from engine.errors import TrailError

FIXTURE = ROOT / "tests" / "fixtures" / "trail_v0" / "audit.duckdb"
POLICY = {"name": "easy", "version": "1.0.0",
          "rules": [{"id": "auc-above-chance", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=",
                     "value": 0.5, "severity": "block", "checklist": "optimizing_metric"}]}


def count(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])
    finally:
        con.close()


def starts(path: Path) -> list[dict[str, object]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT body FROM events WHERE kind = 'run_started' ORDER BY seq").fetchall()
    finally:
        con.close()
    return [json.loads(body)["data"] for (body,) in rows]


def test_an_audit_records_its_check_and_the_next_refuses_a_trail_changed_since(
        adult_sample: pd.DataFrame, tmp_path: Path) -> None:
    trail = tmp_path / "audit.duckdb"
    shutil.copy(FIXTURE, trail)
    before = verify(trail)
    csv = tmp_path / "adult.csv"
    adult_sample.head(600).to_csv(csv, index=False)
    spec, policy = tmp_path / "spec.json", tmp_path / "easy.json"
    spec.write_text(json.dumps({"name": "checked", "data": {"path": csv.name, "target": "income", "positive": ">50K"},
                                "candidates": [{"name": "baseline", "family": "baseline"},
                                               {"name": "logistic", "family": "logistic"}],
                                "evaluation": {"bootstrap": 100}}), encoding="utf-8")
    policy.write_text(json.dumps(POLICY), encoding="utf-8")
    audit = ("audit", "--spec", spec, "--policy", policy, "--audit-db", trail, "--cards-dir", tmp_path / "cards")
    done = run_cli(*audit)
    assert done.returncode == 0, done.stderr
    checked = starts(trail)[-1][CHECKED]
    assert checked == {"log_id": before.log_id, "seq": before.head_seq, "hash": before.head_hash,
                       "walked": before.events}  # no check recorded before: the whole trail, once
    assert last_checked(trail) == checked
    appended = count(trail) - before.events
    assert check_before_append(trail)["walked"] == appended  # type: ignore[index]
    tamper(trail, "UPDATE events SET body = replace(body, 'logistic', 'logistlc') "
                  "WHERE seq = (SELECT max(seq) FROM events WHERE kind = 'card_written')")
    events = count(trail)
    refused = run_cli(*audit)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "the audit trail failed its check at sequence" in refused.stderr
    assert "does not match its hash" in refused.stderr and count(trail) == events


def test_the_check_walks_from_the_recorded_head_and_rejects_one_cut_away(tmp_path: Path) -> None:
    trail = tmp_path / "audit.duckdb"
    append(trail, [NewEvent("step", None, {"n": n}) for n in range(5)])
    assert last_checked(trail) is None
    head = check_before_append(trail)
    assert head is not None and head["walked"] == 6
    append(trail, [NewEvent("run_started", "r1", {CHECKED: head}), NewEvent("step", "r1", {"n": 9})])
    assert check_before_append(trail)["walked"] == 2  # type: ignore[index]
    tamper(trail, "DELETE FROM events WHERE seq = 6")
    with pytest.raises(TrailError, match="failed its check"):
        check_before_append(trail)
