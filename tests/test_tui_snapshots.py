"""SVG snapshots of the main TUI screens (pytest-textual-snapshot), at 80x24, 120x40 and 200x60.

The trail is a real audit with the clock and the run id fixed (`build_trail(stable=True)`), so what the screens
show is the same on every machine and run. Update after a deliberate change with `pytest --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input
from tui_trail import STABLE_RUN, Trail, build_trail, settle

from tui.app import MlgateApp
from tui.screens.audit import AuditScreen
from tui.screens.candidate import CandidateScreen
from tui.screens.card import CardScreen
from tui.screens.compare import CompareScreen
from tui.screens.decision import DecisionScreen
from tui.screens.dialogs import ExportDialog, SignoffDialog, WaiverDialog
from tui.screens.event import EventScreen
from tui.screens.help import HelpScreen
from tui.screens.run import RunScreen
from tui.screens.trail import TrailScreen
from tui.widgets.tables import SortableTable

pytestmark = pytest.mark.slow

Compare = Callable[..., bool]


@pytest.fixture(scope="module")
def stable(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Trail:
    built = build_trail(adult_sample, tmp_path_factory.mktemp("tui-snapshots"), stable=True, decisions=True)
    assert built.run_id == STABLE_RUN
    return built


def measured(screen: Screen[Any]) -> bool:
    """Every table's cells measured into its columns' widths: a DataTable measures new cells only on its next
    idle, so a picture taken before that showed each column cut to its header's width."""
    return all(column.content_width >= max((cell_len(cell) for cell in table.get_column(key)), default=0)
               for table in screen.query(DataTable) for key, column in table.columns.items())


def cell_len(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(str(cell))


async def steady(pilot: Pilot[Any]) -> None:
    """The picture as it stays: every table measured, and the text cursors shown steadily (an Input's cursor
    blinks on a 0.5 s timer, so a picture taken at another moment differed by it)."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await settle(pilot, lambda: measured(pilot.app.screen))
    await pilot.pause()


def rows(table: SortableTable) -> list[list[str]]:
    return table.rows_of()


async def ready(pilot: Pilot[Any]) -> None:
    """The runs listed (every run counted) and the header's verification shown."""
    app = pilot.app
    await settle(pilot, lambda: "INTACT" in app.sub_title and app.screen.query_one("#runs-table").row_count == 1
                 and getattr(app.screen, "complete", False) and getattr(app.screen, "decisions_read", False))


async def candidate(pilot: Pilot[Any], item: str) -> None:
    await ready(pilot)
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(pilot.app.screen, RunScreen) and pilot.app.screen.run is not None)
    await pilot.press("down", "enter")
    await settle(pilot, lambda: isinstance(pilot.app.screen, CandidateScreen) and pilot.app.screen.run is not None)
    checklist = pilot.app.screen.query_one("#checklist", SortableTable)
    checklist.move_cursor(row=[r[0] for r in rows(checklist)].index(item))
    await settle(pilot)
    await pilot.press("tab")
    await settle(pilot)


def test_run_leaderboard_at_120x40(stable: Trail, snap_compare: Compare) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(pilot.app.screen, RunScreen) and pilot.app.screen.run is not None)
        await steady(pilot)

    assert snap_compare(MlgateApp(stable.db), terminal_size=(120, 40), run_before=run)


def test_fairness_rule_evidence_at_120x40(stable: Trail, snap_compare: Compare) -> None:
    async def fairness(pilot: Pilot[Any]) -> None:
        await candidate(pilot, "Fairness")
        await steady(pilot)

    assert snap_compare(MlgateApp(stable.db), terminal_size=(120, 40), run_before=fairness)


def test_calibration_rule_with_its_reliability_diagram_at_200x60(stable: Trail, snap_compare: Compare) -> None:
    async def calibration(pilot: Pilot[Any]) -> None:
        await candidate(pilot, "Calibration")
        await steady(pilot)

    assert snap_compare(MlgateApp(stable.db), terminal_size=(200, 60), run_before=calibration)


def test_waiver_form_says_what_will_be_recorded_at_80x24(stable: Trail, snap_compare: Compare) -> None:
    async def waiver(pilot: Pilot[Any]) -> None:
        await candidate(pilot, "Fairness")
        await pilot.press("w")
        await settle(pilot, lambda: isinstance(pilot.app.screen, WaiverDialog))
        for field, value in (("#reviewer", "[bold]Ann[/]"), ("#reason", "accepted for the pilot"),
                             ("#until", "2030-01-31")):
            pilot.app.screen.query_one(field).value = value
        await steady(pilot)

    assert snap_compare(MlgateApp(stable.db), terminal_size=(80, 24), run_before=waiver)


async def on_run(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await pilot.press("enter")
    await settle(pilot, lambda: isinstance(pilot.app.screen, RunScreen) and pilot.app.screen.run is not None)


async def on_compare(pilot: Pilot[Any]) -> None:
    await on_run(pilot)
    await pilot.press("down", "v")
    await settle(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.run is not None)


async def on_trail(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await pilot.press("L")
    await settle(pilot, lambda: isinstance(pilot.app.screen, TrailScreen) and bool(pilot.app.screen.events))


async def on_candidate(pilot: Pilot[Any]) -> None:
    await candidate(pilot, "Fairness")


async def on_export(pilot: Pilot[Any]) -> None:
    await on_trail(pilot)
    await pilot.press("E")
    await settle(pilot, lambda: isinstance(pilot.app.screen, ExportDialog))


async def on_event(pilot: Pilot[Any]) -> None:
    """The detail of the chain's first event: the only one whose body, and so whose hash, no measured figure
    (a latency, a duration) reaches, so its picture is the same on every run."""
    await on_trail(pilot)
    await open_row(pilot, "#events", -1, lambda screen: isinstance(screen, EventScreen))


async def open_row(pilot: Pilot[Any], table_id: str, row: int, opened: Callable[[Screen[Any]], bool]) -> None:
    """Enter on row `row` (-1: the last) of the table, then wait until the screen it opens is drawn."""
    table = pilot.app.screen.query_one(table_id, SortableTable)
    table.focus()
    table.move_cursor(row=row % table.row_count)
    await pilot.press("enter")
    await settle(pilot, lambda: opened(pilot.app.screen))


async def on_audit(pilot: Pilot[Any]) -> None:
    await ready(pilot)
    await pilot.press("N")
    await settle(pilot, lambda: isinstance(pilot.app.screen, AuditScreen))


async def on_signoff(pilot: Pilot[Any]) -> None:
    """The reject form of the logistic candidate, filled in (the default reviewer is the login name: typed over,
    as a reviewer does), once it has read which card files the sign-off writes again."""
    await on_run(pilot)
    await pilot.press("down", "x")
    await settle(pilot, lambda: isinstance(pilot.app.screen, SignoffDialog) and bool(pilot.app.screen.cards))
    for field, value in (("#reviewer", "Ann"), ("#reason", "the fairness gap is too wide")):
        pilot.app.screen.query_one(field, Input).value = value
    await settle(pilot)


async def on_card(pilot: Pilot[Any]) -> None:
    """The logistic candidate's card: its contents and first section drawn."""
    await on_run(pilot)
    await pilot.press("down", "c")
    await settle(pilot, lambda: isinstance(card := pilot.app.screen, CardScreen) and card.opened_seconds is not None)


async def on_decision(pilot: Pilot[Any]) -> None:
    """The second adverse decision the logistic candidate's evidence explains (opened from every evidence, e)."""
    await on_candidate(pilot)
    await pilot.press("e")
    await settle(pilot, lambda: bool(pilot.app.screen.query("#decisions-explained")))
    await open_row(pilot, "#decisions-explained", 1,
                   lambda screen: isinstance(screen, DecisionScreen) and bool(screen.query("#decision-reasons")))


async def on_help(pilot: Pilot[Any]) -> None:
    await on_candidate(pilot)
    await pilot.press("question_mark")
    await settle(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))


SCREENS = {"runs": ready, "run": on_run, "candidate": on_candidate, "compare": on_compare, "export": on_export,
           "trail": on_trail, "event": on_event, "audit": on_audit, "signoff": on_signoff, "card": on_card,
           "decision": on_decision, "help": on_help}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_every_screen_at_80x24_and_120x40(stable: Trail, snap_compare: Compare, screen: str,
                                          size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await SCREENS[screen](pilot)
        await steady(pilot)

    assert snap_compare(MlgateApp(stable.db), terminal_size=size, run_before=before)
