"""`mlgate tui`: the reviewer's terminal. Runs -> a run's leaderboard -> a candidate's checklist -> the evidence
behind a rule, with sign-offs and waivers recorded through the engine, audits started out of process, and the
trail's log, verification and export.

The screens never call the app: they post the events of `tui.messages` (`RunChosen`, `SignoffRecorded`, ...)
and the app's handlers push the next screen or take note of what was recorded. The app holds no DuckDB
connection while idle: every read opens the trail read-only in a thread worker and closes it at once. It
watches the trail file's size and modification time (no connection needed) and, when it changed (another
process appended, or a form or audit of this app recorded something), sends `TrailChanged` to the open
screens and verifies the chain again for the header.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.screen import Screen
from textual.worker import get_current_worker

from engine.audit.head import head_document
from engine.audit.since import verify_since
from engine.audit.trail import DEFAULT_AUDIT_DB
from engine.audit.verify import Progress, verify
from tui import messages, reads
from tui.jump import RunsProvider
from tui.screens.audit import AuditScreen
from tui.screens.candidate import CandidateScreen
from tui.screens.card import CardScreen
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import ExportDialog, SignoffDialog, WaiverDialog
from tui.screens.help import HelpScreen
from tui.screens.monitoring import MonitoringScreen, model_of
from tui.screens.run import RunScreen
from tui.screens.runs import RunsScreen
from tui.screens.trail import TrailScreen
from tui.text import visible
from tui.workers import error_line

POLL_SECONDS = 1.0
BUILT_IN = ("quit",)  # the palette has its own Quit
VERIFY_DELAY = 1.0


class WalkStopped(Exception):
    """Raised from the walk's progress callback when the app quits or a newer verification replaces this one."""


def verify_line(audit_db: Path, *, since: dict[str, Any] | None = None, progress: Progress | None = None
                ) -> tuple[str, dict[str, Any] | None]:
    """The header's line and the head now verified: the whole chain walked (as `mlgate verify` does it), or,
    after a head this app verified before, only what follows it once that head is still in the chain."""
    try:
        if since is None:
            result = verify(audit_db, progress=progress)
            problem = None
        else:
            checked = verify_since(audit_db, since, progress=progress)
            result, problem = checked.result, checked.head_problem
    except WalkStopped:
        raise
    except Exception as exc:  # shown in the header, never raised into the reviewer's session
        return visible(error_line(exc)), since
    if problem is not None:  # the head verified before is kept: a rewritten trail stays reported
        return visible(f"trail REWRITTEN: {problem}"), since
    if result.intact and result.index_problem is not None:  # the chain holds; the derived index does not
        return visible(f"trail INTACT · runs index DISAGREES: {result.index_problem}"), head_document(result)
    if result.intact:
        return f"trail INTACT · {result.events} events", head_document(result)
    return visible(f"trail BROKEN at sequence {result.bad_seq}: {result.problem}"), since


class MlgateApp(App[None]):
    """The mlgate reviewer's app over one audit trail."""

    CSS_PATH = "mlgate.tcss"
    TITLE = "mlgate"
    SCREENS: ClassVar[dict[str, Any]] = {"audit": AuditScreen}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("R", "runs", "Runs", id="app.runs"),
        Binding("colon", "jump", "Jump to run", id="app.jump"),
        Binding("L", "trail", "Trail log", id="app.trail"),
        Binding("M", "monitoring", "Monitoring", id="app.monitoring", show=False),  # in the palette and help
        Binding("N", "new_audit", "New audit", id="app.audit"),
        Binding("E", "export", "Export", id="app.export"),
        Binding("V", "verify_now", "Verify", id="app.verify"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, audit_db: Path = DEFAULT_AUDIT_DB, *, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__()
        self.audit_db = audit_db
        self.poll_seconds = poll_seconds
        self.stamp: reads.Stamp | None = None
        self.verified_head: dict[str, Any] | None = None  # what this app verified last, in its own memory

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
        """Every open screen reads again, and the chain is verified again for the header."""
        self.stamp = reads.stamp(self.audit_db)
        for screen in self.screen_stack:
            screen.post_message(messages.TrailChanged())
        self.action_verify()

    def action_verify_now(self) -> None:
        """V: verify again, and say so (the header shows the result)."""
        self.sub_title = "verifying the trail…"
        self.notify("verifying the trail: the header shows the result", title="verify")
        self.action_verify()

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def action_verify(self) -> None:
        """The chain verified in a thread worker (the runs stay usable meanwhile), shown in the header."""
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:  # the app quits, or a newer verification replaced this one
                raise WalkStopped
            self.call_from_thread(setattr, self, "sub_title", f"verifying the trail… {done:,} of {total:,} events")

        if not self.audit_db.is_file():
            line = f"trail {visible(self.audit_db)}: none yet (run an audit: N)"
        else:
            try:
                line, self.verified_head = verify_line(self.audit_db, since=self.verified_head, progress=progress)
            except WalkStopped:
                return
        if not worker.is_cancelled:
            self.call_from_thread(setattr, self, "sub_title", line)

    def on_run_chosen(self, event: messages.RunChosen) -> None:
        self.push_screen(RunScreen(event.run_id))

    def on_candidate_chosen(self, event: messages.CandidateChosen) -> None:
        self.push_screen(CandidateScreen(event.run_id, event.candidate))

    def on_compare_chosen(self, event: messages.CompareChosen) -> None:
        self.push_screen(CompareScreen(event.run_id, event.left, event.right))

    def on_card_chosen(self, event: messages.CardChosen) -> None:
        self.push_screen(CardScreen(event.candidate, event.card))

    def on_signoff_chosen(self, event: messages.SignoffChosen) -> None:
        self.push_screen(SignoffDialog(self.audit_db, event.run_id, event.candidate, event.decision))

    def on_waiver_chosen(self, event: messages.WaiverChosen) -> None:
        self.push_screen(WaiverDialog(self.audit_db, event.run_id, event.candidate, event.outcome))

    @on(messages.SignoffRecorded)
    @on(messages.WaiverRecorded)
    @on(messages.ExportWritten)
    def recorded(self, event: messages.Recorded) -> None:
        """A form recorded something through the engine: tell the reviewer, and show the trail as it is now."""
        self.notify(visible(event.line), title="recorded")
        self.trail_changed()

    def on_audit_finished(self, event: messages.AuditFinished) -> None:
        self.trail_changed()

    def action_jump(self) -> None:
        self.push_screen(CommandPalette(providers=[RunsProvider], placeholder="jump to a run: id, spec, policy…"))

    def action_export(self) -> None:
        self.push_screen(ExportDialog(self.audit_db))

    def action_runs(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_trail(self) -> None:
        self.push_screen(TrailScreen())

    def action_monitoring(self) -> None:
        """M: the monitoring after approval of the model of the run shown (else the model monitored last)."""
        if not isinstance(self.screen, MonitoringScreen):
            self.push_screen(MonitoringScreen(model_of(self.screen)))

    def action_new_audit(self) -> None:
        self.push_screen("audit")

    def action_help(self) -> None:
        """? or F1: the help page of the screen in front (its purpose and keys, from its own bindings)."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen, self.BINDINGS))

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
