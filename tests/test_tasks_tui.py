"""The reviewer's terminal on a regression run (the ISLR Wage data): the run, the candidate and every rule's
evidence pane open without an error, and the pane shows the regression's own numbers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from test_tui import open_candidate
from test_tui_review import pane_text
from tui_trail import Trail, screen_text, settle

from engine.service import run_audit
from engine.spec import build_spec
from tui import reads
from tui.app import MlgateApp
from tui.widgets.evidence import Context, render_rule

pytestmark = pytest.mark.slow
WAGE = Path(__file__).resolve().parents[1] / "examples" / "wage" / "wage.csv"


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    folder = tmp_path_factory.mktemp("tui-regression")
    spec = build_spec({
        "name": "wage", "data": {"path": str(WAGE), "target": "wage", "sensitive": ["race"],
                                 "features": ["year", "age", "education", "jobclass", "health"]},
        "evaluation": {"bootstrap": 50},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"}],
    }, source="tui regression")
    result = run_audit(spec, audit_db=folder / "audit.duckdb", cards_dir=folder / "cards")
    return Trail(folder / "audit.duckdb", result.run_id)


def test_every_rule_pane_of_a_regression_candidate_renders(regression_run: Trail) -> None:
    run = reads.load(regression_run.db, regression_run.run_id)
    candidate = run.candidates["logistic"]
    rmse = candidate.evidence["metrics"]["rmse"]
    for outcome in candidate.view.outcomes:
        params = run.rules.get((str(outcome["policy"]), str(outcome["id"])), {})
        text, _ = pane_text(render_rule(outcome, Context(candidate.evidence, "rmse", params, outcome)))
        assert text.strip(), outcome["id"]
        if outcome["id"] == "r2-floor":
            assert "r2" in text
        if outcome["id"] == "rmse-beats-baseline":
            assert f"{rmse:.4f}"[:4] in text


def test_the_app_opens_a_regression_run_and_candidate(regression_run: Trail) -> None:
    async def drive() -> str:
        app = MlgateApp(regression_run.db)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = await open_candidate(pilot, app, "logistic")
            await settle(pilot)
            assert screen.run is not None
            return screen_text(app)
    shown = asyncio.run(drive())
    assert "logistic" in shown
