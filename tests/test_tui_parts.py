"""The TUI's parts without a terminal: literal text, charts, the evidence-view tables, checklist statuses, the
run summaries and recent events it reads, and the import boundary (the engine never loads textual or tui)."""

from __future__ import annotations

import asyncio
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli
from rich.text import Text

import engine
from engine.audit.recent import recent_events
from engine.audit.runs import list_runs, newest_runs
from engine.audit.trail import NewEvent, append, read_events
from engine.checklist import NOT_COVERED, item_status
from tui.screens.runs import matches
from tui.text import interval, literal, number, status, visible
from tui.widgets.charts import bar, bars, reliability
from tui.widgets.evidence import EVIDENCE_VIEWS, Context, keys_for_rule, render_all, render_rule
from tui.widgets.tables import SortableTable, sort_key


def test_every_engine_module_imports_without_textual_or_the_tui() -> None:
    names = sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine.") if m.name != "engine.__main__")
    code = f"import importlib, json, sys\nfor n in {names!r}: importlib.import_module(n)\n" \
           "print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout.splitlines()[-1])
    assert "engine.reports" in modules and "engine.audit.recent" in modules and len(names) > 20
    assert [m for m in modules if m.split(".")[0] in ("textual", "tui")] == []


@pytest.mark.parametrize("name", ["[bold red]x[/]", "\x1b[31mred\x1b[0m", "a\x07b\rc", "[link=file:///etc]x[/link]"])
def test_untrusted_text_is_shown_as_the_characters_it_is_made_of(name: str) -> None:
    shown = literal(name)
    assert isinstance(shown, Text) and shown.spans == []
    assert shown.plain == visible(name)
    assert all(ch.isprintable() for ch in shown.plain)
    assert visible(name).encode().decode("unicode_escape") == name  # nothing lost: the escapes spell it out


def test_numbers_statuses_and_intervals_are_words_a_reviewer_reads() -> None:
    assert status("waived").plain == "WAIVED" and status("fail").style == "bold red"
    assert (number(None), number(0.123456), number(3), number(True)) == ("—", "0.1235", "3", "true")
    assert (interval([0.1, 0.2]), interval([None, 0.2]), interval(None)) == ("[0.1000, 0.2000]", "—", "—")


def test_bars_are_scaled_to_the_largest_value_in_eighths() -> None:
    assert bar(1.0, 4) == "████" and bar(0.5, 4) == "██  " and bar(0.0, 3) == "   "
    assert bar(1 / 32, 4) == "▏   "
    drawn = bars([("a", 2.0), ("b", 1.0), ("[c]", None)], width=10).plain.splitlines()
    assert drawn == ["a   ██████████ 2.0000", "b   █████      1.0000", "[c] (not computed)"]


def test_the_reliability_diagram_puts_each_bin_at_its_predicted_and_observed_value() -> None:
    diagram = [{"count": 10, "mean_predicted": 0.1, "fraction_positive": 0.5},
               {"count": 0, "mean_predicted": None, "fraction_positive": None}]
    lines = reliability(diagram, size=10).plain.splitlines()
    grid = [line.split("│", 1)[1] for line in lines[:11]]
    assert [(r, row.index("●")) for r, row in enumerate(grid) if "●" in row] == [(5, 2)]  # y 0.5, x 0.1 of 20 cells
    assert grid[10][0] == "·" and grid[0][20] == "·"  # the diagonal from (0, 0) to (1, 1)


def outcome(status: str, severity: str = "block") -> dict[str, Any]:
    return {"status": status, "severity": severity}


@pytest.mark.parametrize(("outcomes", "expected"), [
    ([], NOT_COVERED),
    ([outcome("pass"), outcome("fail")], "fail"),
    ([outcome("pass"), outcome("unknown")], "unknown"),
    ([outcome("pass"), outcome("fail", "warn")], "warn"),
    ([outcome("waived"), outcome("pass")], "waived"),
    ([outcome("pass"), outcome("pass", "warn")], "pass"),
])
def test_a_checklist_item_takes_the_status_of_its_worst_rule(outcomes: list[dict[str, Any]], expected: str) -> None:
    assert item_status(outcomes, "block") == expected


def test_with_fail_on_warn_a_failed_warning_fails_the_item() -> None:
    assert item_status([outcome("fail", "warn")], "warn") == "fail"


def test_sorting_compares_numbers_as_numbers_and_puts_missing_values_last() -> None:
    cells = [Text("10.5"), Text("—"), Text("9"), Text("+0.2"), Text("abc"), Text("[0.3, 0.4]")]
    assert [c.plain for c in sorted(cells, key=sort_key)] == ["+0.2", "[0.3, 0.4]", "9", "10.5", "abc", "—"]


def test_every_rule_kind_of_the_registry_has_its_evidence_view() -> None:
    from engine.policy.registry import RULE_KINDS

    assert all(keys_for_rule(kind, {"x": 1}) for kind in RULE_KINDS)
    assert all(key in EVIDENCE_VIEWS for kind in RULE_KINDS.values() for key in kind.shows)
    assert keys_for_rule("not_a_kind", {"x": 1}) == ["x"]  # a kind the registry does not know shows what there is


UNKNOWN_EVIDENCE: dict[str, Any] = {
    "metrics": {"roc_auc": 0.9},
    "conformal": {"coverage": 0.91, "by_group": {"[b]x[/]": {"coverage": 0.8, "size": 40}}},
    "shap": [{"feature": "age", "mean_abs": 0.3}, {"feature": "\x1b[2Jhours", "mean_abs": 0.1}],
    "latency": {"p50_ms": 1.5, "p99_ms": 4.0},
    "lineage": "git abc123",
}


def test_unknown_evidence_is_drawn_generically_and_a_new_rule_kind_shows_its_evidence() -> None:
    async def draw() -> None:
        from textual.app import App, ComposeResult
        from textual.containers import VerticalScroll

        class Host(App[None]):
            def compose(self) -> ComposeResult:
                yield VerticalScroll(id="pane")

        app = Host()
        async with app.run_test(size=(120, 60)) as pilot:
            ctx = Context(UNKNOWN_EVIDENCE, "roc_auc")
            await app.query_one("#pane").mount_all(render_all(ctx))
            await pilot.pause()
            tables = list(app.query(SortableTable))
            shap = next(t for t in tables if [c.label.plain for c in t.ordered_columns] == ["feature", "mean_abs"])
            assert [shap.get_row_at(i)[0].plain for i in range(shap.row_count)] == ["age", "\\x1b[2Jhours"]
            latency = next(t for t in tables if t.row_count and t.get_row_at(0)[0].plain == "p50_ms")
            assert [latency.get_row_at(i)[1].plain for i in range(2)] == ["1.5 ms", "4 ms"]  # with their unit
            conformal = next(t for t in tables if t.row_count and t.get_row_at(0)[0].plain == "coverage")
            assert [[c.plain for c in conformal.get_row_at(i)] for i in range(3)] == [
                ["coverage", "91.0 %"], ["by_group.[b]x[/].coverage", "80.0 %"], ["by_group.[b]x[/].size", "40"]]
            assert not app.query("Tree")  # nested evidence is drawn as tables, never a tree

            rule = {"id": "coverage-floor", "kind": "conformal_coverage", "status": "fail", "severity": "block",
                    "policy": "p", "observed": 0.8, "threshold": 0.85, "message": "coverage 0.8 < 0.85"}
            assert keys_for_rule("conformal_coverage", UNKNOWN_EVIDENCE) == ["conformal"]
            assert keys_for_rule("latency_percentile", UNKNOWN_EVIDENCE) == ["latency"]
            widgets = render_rule(rule, ctx)
            assert any(str(w.render()).startswith("observed 0.8000 against threshold 0.8500") for w in widgets[:3])

    asyncio.run(draw())


def test_a_run_filter_matches_every_word_in_any_field() -> None:
    run = {"run_id": "r1", "started_at": "2026-01-01", "name": "credit", "data_sha256": "ab", "verdict": "pass",
           "recommended": "lgbm", "candidates": ["baseline", "lgbm"], "reviewers": ["Ann"], "policies": ["bank"]}
    assert matches(run, ["credit", "ann"]) and matches(run, ["bank", "pass"])
    assert not matches(run, ["credit", "bob"])


def small_run(run_id: str) -> list[NewEvent]:
    spec = {"name": f"spec {run_id}", "candidates": [{"name": "baseline", "family": "baseline"},
                                                    {"name": "m", "family": "logistic", "calibration": ["sigmoid"]}],
            "evaluation": {"optimizing_metric": "roc_auc"}}
    return [NewEvent("run_started", run_id, {"spec": spec, "data": {"fingerprint": {"sha256": "f" * 64}},
                                            "policies": [{"name": "default"}]}),
            NewEvent("run_completed", run_id, {"verdict": "fail", "recommended": None})]


def test_the_newest_runs_are_the_first_page_of_the_full_list(tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    for index in range(5):
        append(db, small_run(f"run-{index}"))
    append(db, small_run("never-finished")[:1])
    everything = list_runs(db)
    assert [r["run_id"] for r in everything] == ["never-finished", "run-4", "run-3", "run-2", "run-1", "run-0"]
    assert everything[0]["verdict"] == "incomplete" and everything[1]["candidates"] == ["baseline", "m", "m.sigmoid"]
    assert everything[1]["policies"] == ["default"] and everything[1]["data_sha256"] == "f" * 64
    assert newest_runs(db, 3) == everything[:3]
    assert newest_runs(db, 0) == []


def test_recent_events_are_the_newest_first_bounded_and_filtered(tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    for index in range(3):
        append(db, small_run(f"run-{index}"))
    stored = read_events(db)
    assert [e.seq for e in recent_events(db, limit=4)] == [e.seq for e in reversed(stored)][:4]
    assert [e.kind for e in recent_events(db, run_id="run-1")] == ["run_completed", "run_started"]
    assert [e.run_id for e in recent_events(db, kinds=["run_started"], limit=2)] == ["run-2", "run-1"]
    assert recent_events(db, limit=-5) == []


def test_without_a_trail_the_app_says_so_opens_its_help_and_the_palette_reaches_every_action(tmp_path: Path) -> None:
    from tui_trail import settle

    from tui.app import MlgateApp
    from tui.screens.help import HelpScreen
    from tui.screens.runs import RunsScreen

    async def drive() -> None:
        app = MlgateApp(tmp_path / "none" / "audit.duckdb")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, lambda: "none yet" in app.sub_title)
            assert app.screen.query_one("#runs-table", SortableTable).row_count == 0
            await pilot.press("question_mark")
            await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
            help_page = app.screen
            assert "The runs of the trail; Enter opens one." in str(help_page.query_one("#help-purpose").render())
            assert help_page.query_one("#help-screen-keys", SortableTable).rows_of() == [
                ["Enter", "Open run"], ["/", "Filter"], ["]", "Older runs"], ["[", "Newer runs"],
                ["Esc", "Clear filter"]]
            assert ["? / F1", "Help"] in help_page.query_one("#help-app-keys", SortableTable).rows_of()
            await pilot.press("question_mark")
            await settle(pilot, lambda: isinstance(app.screen, RunsScreen))
            await pilot.press("f1")
            await settle(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press("escape")
            await settle(pilot, lambda: isinstance(app.screen, RunsScreen))
            titles = [command.title for command in app.get_system_commands(app.screen)]
            assert {"Runs", "Trail log", "New audit", "Export", "Verify", "Filter", "Sort", "Help"} <= set(titles)
            assert titles.count("Help") == 1 and titles.count("Quit") == 1
            await pilot.press("L")
            await settle(pilot, lambda: "0 of the newest 0" in str(app.screen.query_one("#trail-count").render()))

    asyncio.run(drive())


def test_the_tui_refuses_a_folder_as_the_trail_with_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_cli("tui", "--audit-db", tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"mlgate: error: {tmp_path}: --audit-db names a folder; give the trail file, "
                                   f"such as {tmp_path / 'audit.duckdb'}")


def test_the_tui_module_needs_exactly_the_trail_file() -> None:
    done = subprocess.run([sys.executable, "-m", "tui"], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          check=False)
    assert done.returncode == 1
    assert "usage: python -m tui AUDIT_DB" in done.stderr


def test_the_runs_list_pages_past_its_first_page_with_each_run_once(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of two (the screen's page size made small): `]` older, `[` newer, each run on exactly one page."""
    from tui_trail import settle

    from tui.app import MlgateApp
    from tui.screens import runs as runs_screen

    monkeypatch.setattr(runs_screen, "SHOWN", 2)
    db = tmp_path / "audit.duckdb"
    for index in range(5):
        append(db, small_run(f"run-{index}"))
    everything = [r["run_id"] for r in list_runs(db)]

    async def drive() -> list[list[str]]:
        app = MlgateApp(db)
        pages: list[list[str]] = []
        async with app.run_test(size=(160, 40)) as pilot:
            table = app.screen.query_one("#runs-table", SortableTable)
            for key in ("", "right_square_bracket", "right_square_bracket", "right_square_bracket"):
                if key:
                    await pilot.press(key)
                expected = everything[2 * min(len(pages), 2):][:2]
                await settle(pilot, lambda e=expected: [r[3] for r in table.rows_of()] == e)
                pages.append([r[3] for r in table.rows_of()])
            count = str(app.screen.query_one("#runs-count").render())
            assert "runs 5–5 of 5" in count, count
            await pilot.press("left_square_bracket")
            await settle(pilot, lambda: [r[3] for r in table.rows_of()] == everything[2:4])
            await pilot.press("slash", "r", "u", "n", "-", "1")
            await settle(pilot, lambda: [r[3] for r in table.rows_of()] == ["run-1"])
        return pages

    pages = asyncio.run(drive())
    assert pages[:3] == [everything[:2], everything[2:4], everything[4:]] and pages[3] == pages[2]
def test_every_screens_help_page_lists_each_of_its_bindings_with_its_key() -> None:
    from textual.binding import Binding

    from tui.screens import audit, candidate, card, compare, dialogs, event, run, runs, trail
    from tui.screens.help import key_name, key_rows

    assert (key_name("question_mark,f1"), key_name("ctrl+s"), key_name("V"), key_name("colon")) == (
        "? / F1", "Ctrl+S", "V", ":")
    screens = [runs.RunsScreen, run.RunScreen, candidate.CandidateScreen, compare.CompareScreen, card.CardScreen,
               trail.TrailScreen, event.EventScreen, audit.AuditScreen, dialogs.SignoffDialog, dialogs.ExportDialog]
    for screen in screens:
        rows = key_rows(screen.BINDINGS)
        bindings = [b for b in screen.BINDINGS if isinstance(b, Binding)]
        assert rows == [[key_name(b.key), b.description] for b in bindings] and len(rows) == len(bindings) > 0
        keys = {k for b in Binding.make_bindings(screen.BINDINGS) for k in [b.key]}
        assert keys == {k.strip() for b in bindings for k in b.key.split(",")}, screen
        assert all(description for _, description in rows), screen


def test_a_card_is_cut_into_sections_at_its_headings_outside_code_and_joins_back_whole() -> None:
    from tui.screens.card import sections

    card = ("# Model card: `m`\n\nintro\n\n## Data\n\n```\n## not a heading\n```\n### sub\n"
            "## Policy verdict: **FAIL**\nx")
    found = sections(card)
    assert [s.title for s in found] == ["Model card: m", "Data", "Policy verdict: FAIL"]
    assert "".join(s.text for s in found) == card and "### sub" in found[1].text
    assert [s.title for s in sections("no heading")] == ["(start)"] and sections("")[0].text == ""
