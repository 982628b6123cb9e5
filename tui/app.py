"""`mlgate tui`: the reviewer's terminal. Runs -> a run's leaderboard -> a candidate's checklist -> the evidence
behind a rule, with sign-offs and waivers recorded through the engine, audits started out of process, and the
trail's log, verification and export.

The app holds no DuckDB connection while idle: every read opens the trail read-only in a thread worker and
closes it at once. It watches the trail file's size and modification time (no connection needed) and, when
another process appends, reloads the open screens and verifies the chain again for the header.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from engine.audit.trail import DEFAULT_AUDIT_DB
from tui import reads
from tui.screens.audit import AuditScreen
from tui.screens.base import MlgateScreen
from tui.screens.candidate import CandidateScreen
from tui.screens.card import CardScreen
from tui.screens.dialogs import ExportDialog, SignoffDialog, WaiverDialog
from tui.screens.run import RunScreen
from tui.screens.runs import RunsScreen
from tui.screens.trail import TrailScreen
from tui.text import visible

POLL_SECONDS = 1.0
BUILT_IN = ("quit", "toggle_keys")  # the palette has its own Quit and Keys
VERIFY_DELAY = 1.0


def verify_line(audit_db: Path) -> str:
    """The header's line: the result of `mlgate verify --format json` on the trail, or the CLI's error line."""
    done = subprocess.run([sys.executable, "-m", "engine", "verify", "--audit-db", str(audit_db), "--format", "json"],
                          capture_output=True, text=True, check=False, env={**os.environ, "NO_COLOR": "1"})
    try:
        result = json.loads(done.stdout)
    except ValueError:
        lines = done.stderr.strip().splitlines()
        return visible(lines[-1] if lines else f"verify stopped (exit {done.returncode})")
    if result.get("intact"):
        return f"trail INTACT · {result.get('events')} events"
    return visible(f"trail BROKEN at sequence {result.get('bad_seq')}: {result.get('problem')}")


class MlgateApp(App[None]):
    """The mlgate reviewer's app over one audit trail."""

    CSS_PATH = "mlgate.tcss"
    TITLE = "mlgate"
    SCREENS: ClassVar[dict[str, Any]] = {"audit": AuditScreen}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "toggle_keys", "Keys", id="app.keys"),
        Binding("R", "runs", "Runs", id="app.runs"),
        Binding("L", "trail", "Trail log", id="app.trail"),
        Binding("N", "new_audit", "New audit", id="app.audit"),
        Binding("E", "export", "Export", id="app.export", show=False),
        Binding("V", "verify", "Verify", id="app.verify", show=False),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, audit_db: Path = DEFAULT_AUDIT_DB, *, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__()
        self.audit_db = audit_db
        self.poll_seconds = poll_seconds
        self.stamp: reads.Stamp | None = None

    def on_mount(self) -> None:
        self.sub_title = "verifying the trail…"
        self.push_screen(RunsScreen())
        self.stamp = reads.stamp(self.audit_db)
        self.set_timer(VERIFY_DELAY, self.action_verify)  # the runs list first: verifying a long chain takes a while
        self.set_interval(self.poll_seconds, self.poll)

    def poll(self) -> None:
        """Reload when the trail file changed (another process appended): no connection is opened to find out."""
        current = reads.stamp(self.audit_db)
        if current != self.stamp:
            self.stamp = current
            self.trail_changed()

    def trail_changed(self) -> None:
        self.stamp = reads.stamp(self.audit_db)
        for screen in self.screen_stack:
            if isinstance(screen, MlgateScreen):
                screen.reload()
        self.action_verify()

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def action_verify(self) -> None:
        """`mlgate verify` in a child process (a long chain is hashed without slowing the UI), shown in the header."""
        if not self.audit_db.is_file():
            line = f"trail {visible(self.audit_db)}: none yet (run an audit: N)"
        else:
            line = verify_line(self.audit_db)
        self.call_from_thread(setattr, self, "sub_title", line)

    def open_run(self, run_id: str) -> None:
        self.push_screen(RunScreen(run_id))

    def open_candidate(self, run_id: str, candidate: str) -> None:
        self.push_screen(CandidateScreen(run_id, candidate))

    def open_card(self, run: reads.Run, candidate: str) -> None:
        found = run.candidates.get(candidate)
        self.push_screen(CardScreen(candidate, found.card if found else None))

    def recorded(self, line: str | None) -> None:
        if line:
            self.notify(visible(line), title="recorded")
            self.trail_changed()

    def ask_signoff(self, run_id: str, candidate: str, decision: str) -> None:
        self.push_screen(SignoffDialog(self.audit_db, run_id, candidate, decision), self.recorded)

    def ask_waiver(self, run_id: str, candidate: str, outcome: Mapping[str, Any]) -> None:
        self.push_screen(WaiverDialog(self.audit_db, run_id, candidate, outcome), self.recorded)

    def action_export(self) -> None:
        self.push_screen(ExportDialog(self.audit_db), self.recorded)

    def action_runs(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_trail(self) -> None:
        self.push_screen(TrailScreen())

    def action_new_audit(self) -> None:
        self.push_screen("audit")

    def action_toggle_keys(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette reaches every action: each binding with an id, of the app, the screen and the focused widget."""
        yield from super().get_system_commands(screen)
        owners: list[Any] = [self, screen, *([screen.focused] if screen.focused is not None else [])]
        for owner in owners:
            for binding in getattr(owner, "BINDINGS", []):
                if isinstance(binding, Binding) and binding.id and binding.action not in BUILT_IN:
                    yield SystemCommand(binding.description, f"{binding.description} ({binding.key})",
                                        self._runner(binding.action, owner))

    def _runner(self, action: str, owner: Any) -> Any:
        return lambda: self.call_later(self.run_action, action, owner)


def run(audit_db: Path = DEFAULT_AUDIT_DB) -> None:
    """Start the TUI on `audit_db` (it need not exist yet: the first audit creates it)."""
    MlgateApp(audit_db).run()
