"""Starting an audit from the TUI: a spec (or data file + target), progress streamed in, cancellable.

The audit runs out of process, as `python -m cli audit --progress jsonl ...`, the command a CI job runs: it can
be cancelled by terminating the process (the trail stays verifiable; the run shows as incomplete), and the TUI's
own read-only connections never meet the audit's read-write one inside one process. The child's stderr is the
machine-readable progress stream (`tui.progress`, one JSON object a line): progress goes to the log, the error
object to the status line, the result object makes the final status. Its stdout (the human leaderboard) is
shown in the log as printed and never parsed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Header, Input, Label, Log, Static

from engine.errors import MlgateError
from tui.messages import AuditFinished
from tui.progress import Ending, Failure, StreamEvent, ending, log_line, parse_line
from tui.screens.base import MlgateScreen
from tui.text import literal, visible

STYLES = {"finished": "bold", "failed": "bold red", "cancelled": "bold yellow"}


def audit_command(audit_db: Path, *, spec: str, data: str, target: str, positive: str) -> list[str]:
    """The `mlgate audit` command line for the form's values (a spec, or quick mode with data and target), with
    its progress as JSON Lines on stderr."""
    command = [sys.executable, "-m", "cli", "audit", "--progress", "jsonl", "--audit-db", str(audit_db)]
    if spec:
        command += ["--spec", spec]
    if data:
        command += ["--data", data]
    if target:
        command += ["--target", target]
    if positive:
        command += ["--positive", positive]
    return command


class AuditScreen(MlgateScreen):
    """A form to start `mlgate audit`, and the log of its progress."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "start", "Start audit", id="audit.start"),
        Binding("ctrl+c", "cancel", "Cancel audit", id="audit.cancel", priority=True),
        Binding("escape", "app.pop_screen", "Back", id="audit.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.process: subprocess.Popen[str] | None = None
        self.cancelled = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="audit-form"):
            yield Label("Spec file (JSON or TOML), or leave empty and give a data file and its target")
            yield Input(placeholder="examples/adult/audit.toml", id="spec")
            with Horizontal(classes="quick"):
                yield Input(placeholder="data file (CSV/Parquet)", id="data")
                yield Input(placeholder="target column", id="target")
                yield Input(placeholder="positive label", id="positive")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start audit", id="start", variant="primary")
                yield Button("Cancel audit", id="cancel", disabled=True)
        yield Static(Text("no audit running"), id="audit-status", classes="crumb")
        yield Log(id="audit-log", highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "run an audit"
        self.query_one("#spec", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def value(self, input_id: str) -> str:
        return self.query_one(f"#{input_id}", Input).value.strip()

    def action_start(self) -> None:
        if self.process is not None:
            self.notify("an audit is already running", severity="warning")
            return
        if not self.value("spec") and not (self.value("data") and self.value("target")):
            self.set_status(literal("give a spec file, or a data file and its target column", style="bold red"))
            return
        command = audit_command(self.audit_db, spec=self.value("spec"), data=self.value("data"),
                                target=self.value("target"), positive=self.value("positive"))
        self.query_one("#audit-log", Log).clear()
        self.cancelled = False
        self.query_one("#start", Button).disabled = True
        self.query_one("#cancel", Button).disabled = False
        self.set_status(literal("auditing… (Ctrl+C or the button cancels)", style="bold"))
        self.run_audit(command)

    def action_cancel(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.cancelled = True
            self.process.terminate()

    def set_status(self, text: Text) -> None:
        self.query_one("#audit-status", Static).update(text)

    def log_line(self, line: str) -> None:
        self.query_one("#audit-log", Log).write_line(visible(line))

    def run_audit(self, command: list[str]) -> None:
        self.load(self.finished, lambda: self.follow(command), group="audit")

    def follow(self, command: list[str]) -> Ending:
        """Run the audit (in the worker's thread): its progress stream read line by line, its stdout logged."""
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        try:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                            env=env, cwd=Path.cwd())
        except OSError as exc:
            raise MlgateError(f"cannot start the audit: {exc.strerror}") from None
        assert self.process.stdout is not None and self.process.stderr is not None
        printed = threading.Thread(target=self.log_stream, args=(self.process.stdout,), daemon=True)
        printed.start()
        events: list[StreamEvent] = []
        for raw in self.process.stderr:
            event = parse_line(raw)
            events.append(event)
            self.app.call_from_thread(self.show_event, event)
        code = self.process.wait()
        printed.join()
        return ending(events, code, cancelled=self.cancelled)

    def log_stream(self, stream: IO[str]) -> None:
        """The child's stdout (the leaderboard), line by line into the log, as printed."""
        for raw in stream:
            self.app.call_from_thread(self.log_line, raw.rstrip("\n"))

    def show_event(self, event: StreamEvent) -> None:
        line = log_line(event)
        if line is not None:
            self.log_line(line)
        if isinstance(event, Failure):
            self.set_status(literal(event.line(), "bold red"))

    def finished(self, end: Ending) -> None:
        self.process = None
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        self.set_status(literal(end.line, STYLES[end.kind]))
        self.post_message(AuditFinished(end.exit_code, end.run_id))

    def show_failure(self, line: str) -> None:
        """The audit could not be followed (it did not start, or reading it failed): say so; start again."""
        self.finished(Ending(line, "failed", 2, None))
