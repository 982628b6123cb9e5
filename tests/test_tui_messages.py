"""The TUI's plumbing without a trained model: the audit's JSON Lines progress stream read into events and
status lines, the audit command line, the one failure line, the load-in-a-worker helper, and the screens'
events (`RunChosen`, `ExportWritten`, `AuditFinished`, ...) handled by the app, on small real trails."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static
from tui_trail import settle

import tui.app
from engine.audit.trail import NewEvent, append
from engine.audit.verify import verify
from engine.errors import MlgateError, TrailError
from tui import messages
from tui.app import MlgateApp
from tui.progress import Ending, Failure, Plain, Progress, Result, Unknown, ending, log_line, parse_line
from tui.screens.audit import AuditScreen, audit_command
from tui.screens.base import MlgateScreen
from tui.screens.dialogs import ExportDialog
from tui.screens.run import RunScreen
from tui.screens.runs import RunsScreen
from tui.widgets.tables import SortableTable
from tui.workers import error_line

PROGRESS = '{"type": "progress", "stage": "data", "message": "read 3000 labelled rows", "candidate": null}'
TRAINING = ('{"type": "progress", "stage": "train", "message": "training and evaluating logistic", '
            '"candidate": "logistic"}')
ERROR = ('{"type": "error", "message": "no-such.toml: the spec file does not exist", '
         '"hint": "give --spec FILE", "exit_code": 2}')
RESULT = ('{"type": "result", "exit_code": 1, "run_id": "20260102T030405Z-000001", "verdict": "fail", '
          '"recommended": null}')
WARNED = '{"type": "progress", "stage": "stderr", "message": "\\u001b[2J wiped", "candidate": null}'
PASSED = '{"type": "result", "exit_code": 0, "run_id": "r-2", "verdict": "pass", "recommended": "lgbm"}'


def test_each_object_of_the_stream_is_read_into_its_event() -> None:
    assert parse_line(PROGRESS + "\n") == Progress("data", "read 3000 labelled rows", None)
    assert parse_line(TRAINING) == Progress("train", "training and evaluating logistic", "logistic")
    assert parse_line(ERROR) == Failure("no-such.toml: the spec file does not exist", "give --spec FILE", 2)
    assert parse_line(RESULT) == Result(1, "20260102T030405Z-000001", "fail", None)
    assert parse_line(PASSED) == Result(0, "r-2", "pass", "lgbm")


@pytest.mark.parametrize("line", [
    "Traceback (most recent call last):",
    "mlgate: error: a human line is never parsed",
    "[1, 2]",
    '"progress"',
    '{"type": "progress"}',
    '{"type": "progress", "stage": "data", "message": 3, "candidate": null}',
    '{"type": "result", "exit_code": true, "run_id": "r", "verdict": "pass", "recommended": null}',
    '{"type": "result", "exit_code": "1", "run_id": "r", "verdict": "pass", "recommended": null}',
    '{"type": ["progress"], "message": "x"}',
    '{"kind": "progress", "message": "x"}',
    "",
])
def test_a_line_that_is_not_a_well_formed_object_is_kept_as_written(line: str) -> None:
    assert parse_line(line + "\n") == Plain(line)


def test_objects_of_an_unknown_type_and_unknown_fields_are_ignored() -> None:
    assert parse_line('{"type": "warning", "message": "later versions may add types"}') == Unknown("warning")
    assert log_line(Unknown("warning")) is None
    assert parse_line('{"type": "progress", "stage": "data", "message": "m", "candidate": null, "pct": 5}') == (
        Progress("data", "m", None))


def test_the_log_shows_progress_as_bullets_errors_as_the_cli_line_and_other_lines_as_written() -> None:
    assert log_line(parse_line(PROGRESS)) == "• read 3000 labelled rows"
    line = "mlgate: error: no-such.toml: the spec file does not exist (give --spec FILE)"
    assert log_line(parse_line(ERROR)) == line == parse_line(ERROR).line()  # type: ignore[union-attr]
    assert log_line(parse_line("a warning")) == "a warning"
    wrapped = '{"type": "progress", "stage": "stderr", "message": "UserWarning: x", "candidate": null}'
    assert log_line(parse_line(wrapped)) == "UserWarning: x"  # text another library wrote, shown as written
    assert log_line(parse_line(RESULT)) is None  # the result is the status line, not a log line


def test_an_error_line_is_what_the_cli_prints_for_the_same_engine_error() -> None:
    error = MlgateError("x.toml: no such   file", hint="give\n--spec")
    assert error_line(error) == f"mlgate: error: {error.one_line()}"
    assert error_line(error) == "mlgate: error: x.toml: no such file (give --spec)"
    assert Failure("x.toml: no such   file", "give\n--spec", 2).line() == error_line(error)
    assert error_line(TrailError("t: no run 'r'")) == "mlgate: error: t: no run 'r'"
    assert error_line(KeyError("seq")) == "mlgate: error: KeyError: 'seq'"


def test_the_status_at_the_end_says_cancelled_failed_or_the_result() -> None:
    events = [parse_line(line) for line in (PROGRESS, TRAINING, "some warning", RESULT)]
    assert ending(events, 1, cancelled=False) == Ending(
        "finished: FAIL: no candidate passed its blocking rules (exit 1); the new run is on the runs screen",
        "finished", 1, "20260102T030405Z-000001")
    assert ending([parse_line(PASSED)], 0, cancelled=False).line.startswith("finished: PASS: a candidate is ready")
    assert ending([parse_line(ERROR)], 2, cancelled=False) == Ending(
        "mlgate: error: no-such.toml: the spec file does not exist (give --spec FILE)", "failed", 2, None)
    assert ending(events[:2], -15, cancelled=True).kind == "cancelled"
    assert ending(events[:3], 1, cancelled=False) == Ending("mlgate: error: the audit stopped (exit 1)", "failed", 1,
                                                            None)


def test_the_audit_command_is_the_cli_with_its_progress_as_json_lines(tmp_path: Path) -> None:
    db = tmp_path / "audit.duckdb"
    head = [sys.executable, "-m", "cli", "audit", "--progress", "jsonl", "--audit-db", str(db)]
    assert audit_command(db, spec="a.toml", data="", target="", positive="") == [*head, "--spec", "a.toml"]
    assert audit_command(db, spec="", data="adult.csv", target="income", positive=">50K") == [
        *head, "--data", "adult.csv", "--target", "income", "--positive", ">50K"]
    assert audit_command(db, spec="a.toml", data="b.csv", target="", positive="") == [
        *head, "--spec", "a.toml", "--data", "b.csv"]


class Host(MlgateScreen):
    """A screen that loads with the shared helper and shows failures where the real screens do."""

    FAILURE_PLACE: ClassVar[str] = "status"

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[int] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="status")

    def show(self, value: int) -> None:
        self.shown.append(value)


class HostApp(App[None]):
    def __init__(self, audit_db: Path) -> None:
        super().__init__()
        self.audit_db = audit_db

    def on_mount(self) -> None:
        self.push_screen(Host())


def fail() -> int:
    raise TrailError("audit.duckdb: not an mlgate audit trail", hint="give the trail file")


def test_the_worker_helper_shows_each_read_in_order_and_a_failure_as_the_error_line(tmp_path: Path) -> None:
    async def drive() -> None:
        app = HostApp(tmp_path / "audit.duckdb")
        async with app.run_test() as pilot:
            host = app.screen
            assert isinstance(host, Host) and host.audit_db == tmp_path / "audit.duckdb"
            host.load(host.show, lambda: 1, lambda: 2, group="host")
            await settle(pilot, lambda: host.shown == [1, 2])
            host.load(host.show, lambda: 3, fail, lambda: 4, group="host")
            await settle(pilot, lambda: "error" in str(host.query_one("#status", Static).render()))
            assert host.shown == [1, 2, 3]
            assert str(host.query_one("#status", Static).render()) == (
                "mlgate: error: audit.duckdb: not an mlgate audit trail (give the trail file)")

    asyncio.run(drive())


def small_trail(folder: Path, *run_ids: str) -> Path:
    db = folder / "audit.duckdb"
    for run_id in run_ids:
        spec = {"name": f"spec {run_id}", "candidates": [{"name": "baseline", "family": "baseline"}],
                "evaluation": {"optimizing_metric": "roc_auc"}}
        append(db, [NewEvent("run_started", run_id, {"spec": spec, "policies": [{"name": "default"}]}),
                    NewEvent("run_completed", run_id, {"verdict": "fail", "recommended": None})])
    return db


def runs_shown(app: MlgateApp) -> int:
    return app.screen.query_one("#runs-table", SortableTable).row_count


def test_a_chosen_run_opens_its_screen_and_a_failed_read_shows_the_engines_line(tmp_path: Path) -> None:
    db = small_trail(tmp_path, "run-1")

    async def drive() -> None:
        app = MlgateApp(db)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot, lambda: runs_shown(app) == 1)
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run is not None)
            assert app.screen.run_id == "run-1"  # type: ignore[attr-defined]
            app.screen.post_message(messages.RunChosen("no-such-run"))
            await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run_id == "no-such-run"
                         and "error" in str(app.screen.query_one("#run-summary").render()))
            assert str(app.screen.query_one("#run-summary").render()) == (
                f"mlgate: error: {db}: no run 'no-such-run' in the audit trail (`mlgate runs` lists them)")
            assert len(app.screen_stack) == 4  # the default screen, the runs, and the two runs chosen

    asyncio.run(drive())


def test_what_a_form_records_and_an_audit_ending_reload_every_open_screen(tmp_path: Path) -> None:
    db = small_trail(tmp_path, "run-1")

    async def drive() -> None:
        app = MlgateApp(db, poll_seconds=3600)  # no polling: only the events make the screens read again
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot, lambda: runs_shown(app) == 1 and "INTACT" in app.sub_title)
            small_trail(tmp_path, "run-2")
            app.screen.post_message(messages.ExportWritten("exported 5 files to x (see manifest.json)"))
            events = verify(db).events
            await settle(pilot, lambda: runs_shown(app) == 2 and f"INTACT · {events} events" in app.sub_title)
            small_trail(tmp_path, "run-3")
            app.screen.post_message(messages.AuditFinished(1, "run-3"))
            await settle(pilot, lambda: runs_shown(app) == 3)
            assert isinstance(app.screen, RunsScreen) and app.screen.complete

    asyncio.run(drive())


def test_a_refused_export_shows_the_line_and_keeps_the_form_open(tmp_path: Path) -> None:
    async def drive() -> None:
        app = MlgateApp(tmp_path / "audit.duckdb")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("E")
            await settle(pilot, lambda: isinstance(app.screen, ExportDialog))
            app.screen.query_one("#folder").value = ""  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, ExportDialog)
            assert str(app.screen.query_one("#dialog-error").render()) == (
                "mlgate: error: folder: give a folder to export into")

    asyncio.run(drive())


def stand_in(lines: list[str], *, stdout: str = "", code: int = 0, sleep: float = 0.0) -> list[str]:
    """A child process that writes `lines` on stderr as the CLI's stream would, `stdout` on stdout, and exits."""
    script = (f"import sys, time\nfor line in {lines!r}:\n    print(line, file=sys.stderr, flush=True)\n"
              f"print({stdout!r}, end='', flush=True)\ntime.sleep({sleep})\nsys.exit({code})\n")
    return [sys.executable, "-c", script]


async def follow(app: MlgateApp, pilot: Any, command: list[str]) -> AuditScreen:
    await settle(pilot)
    await pilot.press("N")
    await settle(pilot, lambda: isinstance(app.screen, AuditScreen))
    screen = app.screen
    assert isinstance(screen, AuditScreen)
    screen.run_audit(command)
    return screen


def log_of(screen: AuditScreen) -> list[str]:
    return [str(line) for line in screen.query_one("#audit-log").lines]  # type: ignore[attr-defined]


def status_of(screen: AuditScreen) -> str:
    return str(screen.query_one("#audit-status").render())


def test_the_audit_screen_follows_the_stream_and_logs_the_leaderboard_as_printed(tmp_path: Path) -> None:
    board = "candidate  verdict\nlogistic   FAIL\n"
    finished: list[messages.AuditFinished] = []

    class Watching(MlgateApp):
        CSS_PATH = str(Path(tui.app.__file__).with_name("mlgate.tcss"))  # relative paths are the module's

        def on_audit_finished(self, event: messages.AuditFinished) -> None:  # MlgateApp's handler runs too
            finished.append(event)

    async def drive() -> None:
        app = Watching(tmp_path / "audit.duckdb")
        async with app.run_test(size=(120, 30)) as pilot:
            screen = await follow(app, pilot, stand_in([PROGRESS, TRAINING, "\x1b[31ma warning", WARNED, RESULT],
                                                       stdout=board, code=1))
            await settle(pilot, lambda: screen.process is None and "finished" in status_of(screen))
            assert status_of(screen) == ("finished: FAIL: no candidate passed its blocking rules (exit 1); the new "
                                         "run is on the runs screen")
            log = log_of(screen)
            assert [line for line in log if line.startswith("•")] == [
                "• read 3000 labelled rows", "• training and evaluating logistic"]
            assert "\\x1b[31ma warning" in log and "logistic   FAIL" in log and "\\x1b[2J wiped" in log
            assert not any(line.startswith("{") for line in log)

            screen.run_audit(stand_in([PROGRESS, ERROR], code=2))
            await settle(pilot, lambda: screen.process is None and "error" in status_of(screen))
            assert status_of(screen) == "mlgate: error: no-such.toml: the spec file does not exist (give --spec FILE)"

            screen.run_audit(stand_in([PROGRESS], sleep=60))
            await settle(pilot, lambda: "• read 3000 labelled rows" in log_of(screen), workers=False)
            await pilot.press("ctrl+c")
            await settle(pilot, lambda: screen.process is None)
            assert status_of(screen).startswith("CANCELLED")

            screen.run_audit([str(tmp_path / "no-such-program")])
            await settle(pilot, lambda: screen.process is None and "error" in status_of(screen))
            assert status_of(screen).startswith("mlgate: error: cannot start the audit:")

    asyncio.run(drive())
    assert [(f.exit_code, f.run_id) for f in finished] == [
        (1, "20260102T030405Z-000001"), (2, None), (-15, None), (2, None)]
