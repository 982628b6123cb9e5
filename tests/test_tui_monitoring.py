"""The TUI's monitoring screen on a real trail: a real audit of the Adult sample (a spec name, a column, a reviewer,
a window and a new category written like Rich markup), two promoted champions with real ONNX artifacts, and the
real `mlgate monitor` run twice in a subprocess (a healthy batch with a challenger compared paired, then an older
population that lapses the approval). The screen is opened with `M` from the runs list and from a run, driven
with Pilot, and what it shows is checked against what the trail recorded."""

from __future__ import annotations

import asyncio
import json

import pandas as pd
import pytest
from conftest import run_cli
from textual.widgets import Static
from tui_trail import MARKUP_NAME, POLICY_RULES, Trail, screen_text, settle, spec_document, write_inputs

from engine.audit.runs import MONITORING_RUN
from engine.audit.trail import read_events
from engine.champion import promote
from engine.monitor.conditions import attached_conditions
from engine.policy.loader import packs_dir
from engine.service import run_audit
from engine.spec import build_spec
from tui.app import MlgateApp
from tui.screens.monitoring import MonitoringScreen
from tui.screens.run import RunScreen
from tui.widgets.tables import SortableTable

pytestmark = pytest.mark.slow

REVIEWER = "[bold]Ann[/] | QA"
NEW_CATEGORY = "[blink]Crew[/]"
WINDOW = "[i]2026-W50[/]"
GATE = {"name": "gate", "version": "1.0.0", "rules": POLICY_RULES[:1]}  # the ROC AUC floor alone


@pytest.fixture(scope="module")
def monitored(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Trail:
    folder = tmp_path_factory.mktemp("tui-monitoring")
    data, _ = write_inputs(adult_sample, folder)
    gate = folder / "gate.json"
    gate.write_text(json.dumps(GATE), encoding="utf-8")
    document = spec_document(data, gate)
    document["candidates"] = [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"},
                              {"name": "logistic-strong", "family": "logistic", "params": {"C": 0.01}}]
    document["evaluation"] = {"bootstrap": 50, "reproducibility": False}
    document["serving"] = {"latency_calls": 10, "warmup_calls": 0, "throughput_repeats": 1, "batch_rows": 200}
    db = folder / "audit.duckdb"
    run_id = run_audit(build_spec(document, source="tui monitoring"), audit_db=db, cards_dir=folder / "cards",
                       artifacts_dir=folder / "art").run_id
    promote(db, run_id, "logistic-strong", reviewer="Bo", reason="first")
    promote(db, run_id, "logistic", reviewer=REVIEWER, reason="better", conditions=attached_conditions(
        packs_dir() / "monitoring.json"))
    rows = pd.read_csv(data).sample(800, random_state=4)
    rows.to_csv(folder / "healthy.csv", index=False)
    older = rows.assign(age=rows["age"] + 25)
    older.loc[older.index[:200], "workclass"] = NEW_CATEGORY
    older.to_csv(folder / "older.csv", index=False)
    first = run_cli("monitor", folder / "healthy.csv", "--audit-db", db, "--window", "w1", "--challenger",
                    "logistic-strong", "--resamples", "50")
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_cli("monitor", folder / "older.csv", "--audit-db", db, "--window", WINDOW, "--resamples", "50")
    assert second.returncode == 1 and "approval lapsed" in second.stdout, second.stdout + second.stderr
    return Trail(db, run_id)


def _rows(screen: MonitoringScreen, table: str) -> list[list[str]]:
    return screen.query_one(f"#{table}", SortableTable).rows_of()


def test_the_monitoring_screen_shows_runs_drift_feedback_and_the_lapse(monitored: Trail) -> None:
    recorded = [e.data for e in read_events(monitored.db, kinds=(MONITORING_RUN,))]
    age = [next(f for f in r["evidence"]["drift"]["features"] if f["name"] == "age") for r in recorded]

    async def look() -> None:
        app = MlgateApp(monitored.db)
        async with app.run_test(size=(200, 60)) as pilot:
            await settle(pilot, lambda: app.screen.query_one("#runs-table", SortableTable).row_count == 1)
            await pilot.press("M")
            await settle(pilot, lambda: isinstance(app.screen, MonitoringScreen) and app.screen.found is not None)
            screen = app.screen
            assert isinstance(screen, MonitoringScreen) and screen.model == MARKUP_NAME
            state = str(screen.query_one("#monitoring-state", Static).render())
            assert f"champion logistic of run {monitored.run_id} (promoted by {REVIEWER})" in state
            assert f"approval LAPSED — rollback recommended to logistic-strong of run {monitored.run_id}" in state
            assert "feature-drift-action" in state
            assert "checklist item Monitoring in the latest run: FAIL" in state
            runs = _rows(screen, "monitoring-runs")
            assert [r[2] for r in runs] == ["w1", WINDOW] and [r[5] for r in runs] == ["HEALTHY", "LAPSED"]
            assert runs[0][11] == recorded[0]["evidence"]["versus_challenger"]["verdict"]["verdict"]
            auc = recorded[0]["evidence"]["versus_approval"]["metrics"]["roc_auc"]
            assert runs[0][9].startswith(f"{auc['batch']:.4f} [{auc['batch_interval'][0]:.4f}")
            features = _rows(screen, "monitoring-features")  # the latest run is selected: worst feature first
            assert features[0][0] == "age" and features[0][2] == f"{age[1]['psi']:.3f}" and features[0][3] == "ACTION"
            assert features[0][4] == f"{max(a['psi'] for a in age):.3f}" and len(features[0][1]) == 2
            workclass = next(r for r in features if r[0] == "workclass")
            assert NEW_CATEGORY in workclass[6]
            text = screen_text(app)
            assert MARKUP_NAME in text and NEW_CATEGORY in text and WINDOW in text and "\x1b" not in text
            assert "CRITICAL: feature-drift-action" in text

            screen.query_one("#monitoring-runs", SortableTable).move_cursor(row=0)
            await settle(pilot, lambda: "challenger logistic-strong" in screen_text(app))
            features = _rows(screen, "monitoring-features")
            assert features[0][2] == f"{age[0]['psi']:.3f}" and features[0][3] == age[0]["psi_level"].upper()
            text = screen_text(app)
            assert "supports" in text and "feedback roc_auc" in text

            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("enter")  # the run, then M: the run's model
            await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run is not None)
            await pilot.press("M")
            await settle(pilot, lambda: isinstance(app.screen, MonitoringScreen) and app.screen.found is not None)
            assert app.screen.model == MARKUP_NAME

    asyncio.run(look())
