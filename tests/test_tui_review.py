"""The reviewer's terminal on a trail checked by both shipped packs (every rule kind of the registry): each kind's
own evidence with units, forms that keep every key typed before Ctrl+S, impossible actions refused before a
reason is asked, the comparison of two candidates and an event's detail."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Collapsible
from tui_trail import Trail, screen_text, settle

from engine.audit.runs import load_run, view
from engine.audit.trail import read_events
from engine.policy.registry import RULE_KINDS
from engine.policy.rules_monitor import MONITOR_KINDS
from engine.service import run_audit
from engine.spec import build_spec
from tui import reads
from tui.app import MlgateApp
from tui.messages import CandidateChosen
from tui.screens.candidate import CandidateScreen
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import SignoffDialog, WaiverDialog
from tui.screens.event import EventScreen
from tui.screens.run import RunScreen
from tui.screens.trail import TrailScreen
from tui.widgets.evidence import SECTION_VIEWS, Context, render_rule
from tui.widgets.tables import SortableTable

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent

# What each kind's pane must show: its own figures, with their units (a new kind fails until it has a line here).
EXPECTED: dict[str, str] = {
    "metric_threshold": r"★ roc_auc", "beats_baseline": r"lift over the baseline",
    "slice_metric": r"groups judged \(minimum support 30\)", "fairness": r"fairness measure",
    "calibration": r"ECE \d\.\d{4}", "conformal_coverage": r"\d+\.\d % +\d+\.\d %",
    "explainability": r"faithfulness: .* = (0|\d\.\d\de-\d+)", "robustness": r"labels flipped",
    "onnx_parity": r"max_abs_diff +(0|\d\.\d\de-\d+)", "latency": r"p99_ms +[\d.e-]+ ms",
    "throughput": r"rows_per_second +[\d,]+ rows/s", "model_size": r"model_bytes +[\d.]+ KiB \([\d,]+ bytes\)",
    "feature_availability": r"serving · features", "artifacts_packaged": r"model\.onnx\.bytes +[\d.]+ KiB",
    "reproducible": r"(IDENTICAL scores|scores DIFFER) · max \|Δ score\|", "lineage_complete": r"data_sha256",
    "rollback": r"earlier champion\(s\) to roll back to", "beats_champion": r"champion: none yet",
    "split_integrity": r"duplicates\.rate", "data_quality": r"missing", "test_reuse": r"prior_comparisons",
    "reason_codes": r"withheld_share", "recourse_parity": r"feasible_share",
}
# Kinds that judge a monitoring run's batch, not an audited candidate: the checklist never shows them.
AUDITED_KINDS = sorted(set(RULE_KINDS) - set(MONITOR_KINDS))


def decisions_pack(folder: Path) -> Path:
    """The shipped decisions pack, its recourse parity judged by `sex` (the Adult sample has no `afam`)."""
    pack = json.loads((ROOT / "policies/decisions.json").read_text(encoding="utf-8"))
    for rule in pack["rules"]:
        if rule["kind"] == "recourse_parity":
            rule["by"] = "sex"
    path = folder / "decisions.json"
    path.write_text(json.dumps(pack), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def packs(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Trail:
    """A real audit of the sample against both shipped packs: every rule kind has an outcome."""
    folder = tmp_path_factory.mktemp("tui-packs")
    adult_sample.to_csv(folder / "adult.csv", index=False)
    spec = build_spec({
        "name": "adult-income",
        "policies": [str(ROOT / "policies/default.json"), str(ROOT / "policies/high-risk.json"),
                     str(decisions_pack(folder))],
        "data": {"path": str(folder / "adult.csv"), "target": "income", "positive": ">50K",
                 "sensitive": ["sex", "race"]},
        "split": {"seed": 42},
        "evaluation": {"bootstrap": 50, "min_group_size": 30, "shap_rows": 10, "robustness_rows": 300},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"}],
        "decisions": {"rows": 60, "actionable": {"hours-per-week": {"direction": "increase", "max": 60}}},
    }, source="tui packs")
    result = run_audit(spec, audit_db=folder / "audit.duckdb", cards_dir=folder / "cards")
    return Trail(folder / "audit.duckdb", result.run_id)


class Pane(App[None]):
    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="pane")


def pane_text(widgets: list[Any]) -> tuple[str, list[str]]:
    async def draw() -> tuple[str, list[str]]:
        app = Pane()
        async with app.run_test(size=(160, 400)) as pilot:
            await app.query_one("#pane").mount_all(widgets)
            await pilot.pause()
            titles = [c.title for c in app.query(".section").results(Collapsible)]
            text = screen_text(app)
            tables = " ".join("  ".join(row) for t in app.query(SortableTable) for row in t.rows_of())
            return text + "\n" + tables, titles
    return asyncio.run(draw())


@pytest.mark.parametrize("kind", AUDITED_KINDS)
def test_each_rule_kind_shows_its_own_evidence_with_units(packs: Trail, kind: str) -> None:
    assert kind in EXPECTED, f"rule kind {kind}: add the line its evidence pane must show (and its view)"
    assert all(section in SECTION_VIEWS for section in RULE_KINDS[kind].shows), f"{kind}: a section without a view"
    run = reads.load(packs.db, packs.run_id)
    candidate = run.candidates["logistic"]
    outcome = next(o for o in candidate.view.outcomes if o["kind"] == kind)
    params = run.rules.get((str(outcome["policy"]), str(outcome["id"])), {})
    text, titles = pane_text(render_rule(outcome, Context(candidate.evidence, "roc_auc", params, outcome)))
    assert len(titles) >= len(RULE_KINDS[kind].shows)
    assert "UNKNOWN: the evidence" not in text
    assert re.search(EXPECTED[kind], text), f"{kind}: {EXPECTED[kind]!r} not shown"


def test_text_typed_just_before_ctrl_s_is_recorded_whole_and_enter_in_the_last_field_records(
        packs: Trail, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(packs.db.parent, tmp_path / "t")
    db = tmp_path / "t" / packs.db.name
    reason = "rejected: gap on the slices, ticket 4711"

    async def drive() -> None:
        app = MlgateApp(db)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.push_screen(SignoffDialog(db, packs.run_id, "logistic", "reject"))
            await settle(pilot, lambda: isinstance(app.screen, SignoffDialog))
            app.screen.query_one("#reviewer").value = "Ann"  # type: ignore[attr-defined]
            app.screen.query_one("#reason").focus()
            await pilot.press(*["space" if c == " " else c for c in reason], "ctrl+s")  # Ctrl+S right after
            await settle(pilot, lambda: not isinstance(app.screen, SignoffDialog))
            app.push_screen(SignoffDialog(db, packs.run_id, "logistic", "reject"))
            await settle(pilot, lambda: isinstance(app.screen, SignoffDialog))
            app.screen.query_one("#reviewer").value = "Bob"  # type: ignore[attr-defined]
            app.screen.query_one("#reason").focus()
            await pilot.press(*"second", "enter")  # Enter in the last field records
            await settle(pilot, lambda: not isinstance(app.screen, SignoffDialog))

    asyncio.run(drive())
    signoffs = read_events(db, run_id=packs.run_id, kinds=["signoff"])
    assert [(s.data["reviewer"], s.data["reason"]) for s in signoffs] == [("Ann", reason), ("Bob", "second")]


def test_impossible_actions_are_refused_before_a_reason_is_asked(packs: Trail) -> None:
    current = view(load_run(packs.db, packs.run_id)).candidate("logistic")
    assert current is not None
    passing = next(o for o in current.outcomes if o["status"] == "pass")

    async def drive() -> None:
        app = MlgateApp(packs.db)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, lambda: app.screen.query_one("#runs-table", SortableTable).row_count == 1)
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run is not None)
            board = app.screen.query_one("#leaderboard", SortableTable)
            board.move_cursor(row=[r[1] for r in board.rows_of()].index("baseline"))
            await pilot.press("a")
            await settle(pilot, lambda: "cannot record" in screen_text(app))
            assert not isinstance(app.screen, SignoffDialog) and "never a model to approve" in " ".join(
                screen_text(app).split())
            screen = app.screen
            assert isinstance(screen, RunScreen)
            await pilot.press("v")  # the baseline against the recommended (or the other) candidate
            await settle(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.run is not None)
            shown = " ".join(str(w.render()) for w in app.screen.query(".evidence-heading"))
            assert "Metrics on held-out rows" in shown and "Rule outcomes" in shown and "Group gaps" in shown
            tables = list(app.screen.query(SortableTable))
            assert "roc_auc" in [row[0] for row in tables[0].rows_of()] and tables[1].row_count == len(
                current.outcomes)
            await pilot.press("escape")
            await settle(pilot)
            app.post_message(CandidateChosen(packs.run_id, "logistic"))
            await settle(pilot, lambda: isinstance(app.screen, CandidateScreen) and app.screen.run is not None)
            app.screen.outcome = lambda key: passing  # type: ignore[attr-defined,method-assign]
            app.screen.selected_rule = lambda: passing  # type: ignore[attr-defined,method-assign]
            app.screen.action_waive()  # type: ignore[attr-defined]
            await settle(pilot, lambda: "only a failed, unknown or errored rule can be waived" in str(
                app.screen.query_one("#candidate-summary").render()))
            assert not isinstance(app.screen, WaiverDialog)
            app.pop_screen()
            app.pop_screen()
            await pilot.press("L")
            await settle(pilot, lambda: isinstance(app.screen, TrailScreen) and bool(app.screen.events))
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, EventScreen))
            detail = " ".join(screen_text(app).split())
            assert "previous hash" in detail and app.screen.event.hash in detail  # type: ignore[attr-defined]

    asyncio.run(drive())
