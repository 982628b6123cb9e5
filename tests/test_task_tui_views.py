"""The reviewer's terminal on real regression and multiclass runs (a champion re-scored): the task's own evidence
views (per-class metrics, the confusion matrix, the residual summary and histogram, class-wise calibration, the
lift over the champion) show the recorded numbers, recorded text stays literal, the app opens the candidate and
its evidence in a real `App.run_test`, and a re-checked task run still opens."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from conftest import run_cli
from task_runs import ESCAPED_GROUP, MARKUP_COLUMN, TaskRuns
from test_tui import open_candidate
from test_tui_review import pane_text
from tui_trail import screen_text, settle

from engine.policy.loader import POLICIES_DIR
from tui import reads
from tui.app import MlgateApp
from tui.widgets.evidence import Context, render_all, render_key

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["regression", "multiclass"])
def runs(request: pytest.FixtureRequest) -> TaskRuns:
    return request.getfixturevalue(f"{request.param}_runs")  # type: ignore[no-any-return]


def _context(runs: TaskRuns, name: str = "logistic") -> Context:
    run = reads.load(runs.db, runs.second)
    return Context(run.candidates[name].evidence, run.view.optimizing_metric)


def test_the_task_views_show_the_recorded_numbers(runs: TaskRuns) -> None:
    ctx = _context(runs)
    evidence = ctx.evidence
    if runs.task == "regression":
        text, _ = pane_text(render_key("error_analysis", ctx))
        assert "Residuals (target − prediction) by prediction bucket" in text
        for bucket in evidence["error_analysis"]["by_prediction"]:
            assert f"{bucket['mean_prediction']:.4f}" in text
            assert f"{bucket['residual_quantiles']['p90']:+.4f}" in text
        assert "Residual histogram (rows per bin)" in text
        assert "Groups with the largest loss" in text
    else:
        text, _ = pane_text(render_key("confusion_matrix", ctx))
        matrix = evidence["confusion_matrix"]
        assert "Confusion matrix on" in text
        for row in matrix:
            assert "  ".join(str(v) for v in row) in text  # one table row per true class
        text, _ = pane_text(render_key("per_class", ctx))
        for entry in evidence["per_class"]:
            assert entry["class"] in text and f"{entry['recall']:.4f}" in text
        text, _ = pane_text(render_key("calibration", ctx))
        assert f"Class-wise ECE {evidence['calibration']['classwise_ece']:.4f}" in text
        assert f"ECE {evidence['calibration']['top_label']['ece']:.4f}" in text


def test_metrics_and_the_lift_over_the_champion_show_their_intervals(runs: TaskRuns) -> None:
    ctx = _context(runs, "strong")
    text, _ = pane_text(render_key("comparisons", ctx))
    metric = "rmse" if runs.task == "regression" else "accuracy"
    entry = ctx.evidence["comparisons"]["champion"][metric]
    assert "versus the champion" in text
    assert f"{entry['lift']:+.4f}" in text and f"{entry['interval'][0]:.4f}" in text
    text, _ = pane_text(render_key("metrics", ctx))
    low, high = ctx.evidence["intervals"]["metrics"][metric]
    assert f"[{low:.4f}, {high:.4f}]" in text


def test_recorded_text_stays_literal_in_every_section(runs: TaskRuns) -> None:
    text, titles = pane_text(render_all(_context(runs)))
    assert "\x1b" not in text
    assert {"Metrics on held-out rows", "Where the errors are"} <= set(titles)
    for section in titles:
        assert section  # every section drew a title
    slices, _ = pane_text(render_key("slices", _context(runs)))
    assert ESCAPED_GROUP.replace("\x1b", "\\x1b") in slices
    assert MARKUP_COLUMN in slices  # the markup-like name shown as the characters it is made of


def _open_all_evidence(db: Path) -> str:
    async def drive() -> str:
        app = MlgateApp(db)
        async with app.run_test(size=(140, 60)) as pilot:
            await settle(pilot)
            screen = await open_candidate(pilot, app, "logistic")
            await settle(pilot)
            assert screen.run is not None
            await pilot.press("e")
            await settle(pilot)
            return screen_text(app)
    return asyncio.run(drive())


def test_the_app_opens_the_candidate_and_all_its_evidence(runs: TaskRuns) -> None:
    shown = _open_all_evidence(runs.db)
    own = {"regression": "Where the errors are", "multiclass": "Confusion matrix"}[runs.task]
    assert "Metrics on held-out rows" in shown and own in shown
    assert "\x1b" not in shown


def test_a_rechecked_task_run_opens(runs: TaskRuns, tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    shutil.copy(runs.db, db)
    done = run_cli("recheck", runs.second, "--policy", POLICIES_DIR / f"{runs.task}.json", "--audit-db", db)
    assert done.returncode in (0, 1), done.stderr  # 1: a candidate fails the pack, as the audit said
    assert "no rule outcome changed" in done.stdout and "Traceback" not in done.stderr
    shown = _open_all_evidence(db)
    assert "Metrics on held-out rows" in shown
