"""A trail written before the typed evidence contract (tests/fixtures/trail_v0) stays readable.

The fixture was written by the release before `evidence_version` existed, with an audit, a waiver, a sign-off,
a promotion and a re-check; beside it is what that release printed for it. The current reader must verify it,
show and list it exactly as it did, re-check its stored evidence, render its cards, and read each candidate's
evidence through the versioned reader as evidence that follows evidence-v1.schema.json.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import DEFAULT_POLICY, ROOT, run_cli

from engine.audit import runs
from engine.evaluation.evidence import Evidence, evidence_errors, stored_evidence

FIXTURE = ROOT / "tests" / "fixtures" / "trail_v0"
RUN = "20261204T163008Z-942e4d"
CANDIDATES = ["baseline", "logistic", "logistic.isotonic", "lightgbm"]


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    """A copy of the fixture: commands that append (re-check, cards) never touch the checked-in file."""
    path = tmp_path / "audit.duckdb"
    shutil.copyfile(FIXTURE / "audit.duckdb", path)
    return path


def printed(name: str) -> Any:
    return json.loads((FIXTURE / name).read_text(encoding="utf-8"))


def test_the_old_trail_verifies(trail: Path) -> None:
    done = run_cli("verify", "--audit-db", trail)
    assert done.returncode == 0, done.stderr
    assert "intact: 21 events" in done.stdout


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(("show", RUN), "show.json", id="show"),
    pytest.param(("show", RUN, "lightgbm"), "show_lightgbm.json", id="show-candidate"),
    pytest.param(("runs",), "runs.json", id="runs"),
])
def test_show_and_runs_print_what_the_old_release_printed(trail: Path, args: tuple[str, ...], expected: str) -> None:
    done = run_cli(*args, "--audit-db", trail, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == printed(expected)


def test_every_old_candidate_reads_as_typed_evidence_that_follows_the_schema(trail: Path) -> None:
    record = runs.load_run(trail, RUN)
    assert list(record.candidates) == CANDIDATES
    for name, event in record.candidates.items():
        assert "evidence_version" not in event.data, "the fixture predates the version field"
        evidence = stored_evidence(event.data)
        assert evidence_errors(evidence) == [], name
        typed = Evidence.from_json(evidence)
        assert typed.to_json() == evidence, name
        assert typed.performance.rows == 400
        assert typed.comparisons.baseline == "baseline"


def test_the_old_evidence_is_rechecked_against_a_policy_without_retraining(trail: Path) -> None:
    done = run_cli("recheck", RUN, "--policy", DEFAULT_POLICY, "--audit-db", trail, "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    result = json.loads(done.stdout)
    record = runs.load_run(trail, RUN)
    first = record.rechecks[0].data["candidates"]  # the re-check the old release recorded (high-risk pack)
    latest = record.rechecks[-1].data["candidates"]
    assert len(record.rechecks) == 2
    assert set(latest) == set(first) == set(CANDIDATES)
    recorded = {o["id"]: o["status"] for o in record.rules["lightgbm"].data["outcomes"]}
    again = {o["id"]: o["status"] for o in latest["lightgbm"]["outcomes"]}
    new_rules = {"split-integrity": "unknown", "data-quality": "unknown"}  # the pack's rules added after this run
    assert again == {**recorded, **new_rules}, "the same rules on the same stored evidence give the same outcomes"
    assert {(c["rule"], c["before"], c["after"]) for c in result["changes"]} == {
        (rule, None, "unknown") for rule in new_rules}, "only the rules added since: unknown (no certificate then)"


def test_an_old_candidate_card_is_rendered_from_the_trail(trail: Path, tmp_path: Path) -> None:
    out = tmp_path / "card.md"
    done = run_cli("card", RUN, "lightgbm", "--audit-db", trail, "--out", out)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert "lightgbm" in text and RUN in text
    assert "Dana Reviewer" in text, "the card shows the recorded sign-off"
    latency = next(line for line in text.splitlines() if line.startswith("| `latency-p99`"))
    assert latency.endswith("| serving |"), "each rule names the card section its kind's record shows"


def test_the_tui_walks_the_old_trail_to_a_candidate_checklist(trail: Path) -> None:
    from test_tui import column, open_candidate, rows
    from tui_trail import settle

    from tui.app import MlgateApp
    from tui.widgets.tables import SortableTable

    async def walk() -> None:
        app = MlgateApp(trail)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, lambda: "INTACT" in app.sub_title)
            screen = await open_candidate(pilot, app, "lightgbm")
            checklist = dict(rows(screen.query_one("#checklist", SortableTable)))
            assert checklist["Optimizing metric"] == "WARN", "a warning rule (no champion to compare with) is unknown"
            assert checklist["Calibration"] == "PASS" and checklist["Fairness"] == "NOT COVERED"
            assert checklist["Rollback"] == "WAIVED", "the old trail's waiver still applies"
            assert screen.run is not None and screen.run.view.recommended == "lightgbm"
            assert "auc-floor" in column(screen.query_one("#rules", SortableTable), 0)

    asyncio.run(walk())
