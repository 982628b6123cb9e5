"""The reviewer's terminal on a trail checked by both shipped packs (every rule kind of the registry): each kind's
own evidence with units, forms that keep every key typed before Ctrl+S, impossible actions refused before a
reason is asked, the comparison of two candidates, an event's detail, and one adverse decision explained (with
`mlgate show` summarising the reasons explained for a run)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
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
from tui.screens.decision import DecisionScreen
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
    "cv_stability": r"per_fold", "generalization_gap": r"validation_gap",
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
                     str(decisions_pack(folder)), str(ROOT / "policies/stability.json")],
        "data": {"path": str(folder / "adult.csv"), "target": "income", "positive": ">50K",
                 "sensitive": ["sex", "race"]},
        "split": {"seed": 42, "folds": 3},
        "evaluation": {"bootstrap": 50, "min_group_size": 30, "shap_rows": 10, "robustness_rows": 300,
                       "learning_curve": [0.5, 1.0]},
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


def test_an_adverse_decision_opens_with_its_reasons_withheld_features_and_recourse(packs: Trail) -> None:
    run = reads.load(packs.db, packs.run_id)
    section = run.candidates["logistic"].evidence["decisions"]
    kept = section["explained"]
    assert 0 < len(kept) <= min(25, section["explained_rows"])
    assert all(d["score"] < section["threshold"] for d in kept)  # adverse = the negative outcome: below it
    principal = Counter(d["reasons"][0]["feature"] for d in kept if d["reasons"])
    recorded = {r["feature"]: r["principal"] for r in section["summary"]["reasons"]}
    assert all(n <= recorded[f] for f, n in principal.items())  # the kept decisions are among those summarised
    examples = {e["test_row"]: e for e in section["recourse"]["examples"]}
    for d in kept:
        if d["test_row"] in examples:  # the section's recourse examples are the same decisions' recourse
            assert d["recourse"] == {k: v for k, v in examples[d["test_row"]].items() if k != "test_row"}
    assert any(o["kind"] == "reason_codes" for o in run.candidates["logistic"].view.outcomes)

    async def drive() -> None:
        app = MlgateApp(packs.db)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            app.post_message(CandidateChosen(packs.run_id, "logistic"))
            await settle(pilot, lambda: isinstance(app.screen, CandidateScreen) and app.screen.run is not None)
            await pilot.press("e")  # every evidence section, the decisions among them
            await settle(pilot, lambda: bool(app.screen.query("#decisions-explained")))
            table = app.screen.query_one("#decisions-explained", SortableTable)
            assert [row[0] for row in table.rows_of()] == [str(d["test_row"]) for d in kept]
            table.focus()
            table.move_cursor(row=1)
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, DecisionScreen) and bool(app.screen.query(
                "#decision-reasons")))
            text = " ".join(screen_text(app).split())
            assert f"decision 2 of {len(kept)}" in text and f"test row {kept[1]['test_row']}" in text
            reasons = app.screen.query_one("#decision-reasons", SortableTable).rows_of()
            assert [r[1] for r in reasons] == [r["feature"] for r in kept[1]["reasons"]]
            assert "Withheld from the reasons" in text and "Recourse" in text
            option = kept[1]["recourse"]
            if option is not None:
                assert [r[0] for r in app.screen.query_one("#decision-recourse", SortableTable).rows_of()] == [
                    c["feature"] for c in option["changes"]]
            else:
                assert "none found within the actionable features" in text
            await pilot.press("n")
            await settle(pilot, lambda: "decision 3 of" in screen_text(app))
            assert f"decision 3 of {len(kept)}" in " ".join(screen_text(app).split())

    asyncio.run(drive())


def test_show_summarises_the_reasons_explained_for_a_run(packs: Trail, tmp_path: Path) -> None:
    import shutil

    from conftest import run_cli

    shutil.copytree(packs.db.parent, tmp_path / "t")
    db = tmp_path / "t" / packs.db.name
    rows = tmp_path / "rows.csv"
    pd.read_csv(tmp_path / "t" / "adult.csv").iloc[::10].to_csv(rows, index=False)
    done = run_cli("reasons", packs.run_id, "logistic", "--data", rows, "--audit-db", db, "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    principal = Counter(d["reasons"][0]["feature"] for d in document["decisions"] if d["reasons"])
    shown = run_cli("show", packs.run_id, "--audit-db", db, "--format", "json")
    assert shown.returncode == 0, shown.stderr
    (entry,) = json.loads(shown.stdout)["reasons_explained"]
    assert (entry["candidate"], entry["rows"], entry["adverse_rows"], entry["explained"]) == (
        "logistic", len(pd.read_csv(rows)), document["adverse_rows"], len(document["decisions"]))
    assert entry["batch_sha256"] == document["batch_sha256"]
    assert [(r["feature"], r["decisions"]) for r in entry["principal_reasons"]] == sorted(
        principal.items(), key=lambda item: (-item[1], item[0]))[:3]
    text = run_cli("show", packs.run_id, "--audit-db", db)
    top = entry["principal_reasons"][0]
    assert (f"reasons explained for logistic: {entry['rows']} rows of rows.csv (sha256 "
            f"{document['batch_sha256'][:12]}…), {entry['adverse_rows']} adverse") in text.stdout
    assert f"principal reasons: {top['feature']} ({top['decisions']})" in text.stdout
    assert "reasons explained" not in run_cli("show", packs.run_id, "baseline", "--audit-db", db).stdout
