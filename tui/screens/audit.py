"""Starting an audit from the TUI: a spec (or data file + target), progress streamed in, cancellable.

The audit runs out of process, as `python -m engine audit ...`, exactly the command a CI job runs: it can be
cancelled by terminating the process (the trail stays verifiable; the run shows as incomplete), and the TUI's
own read-only connections never meet the audit's read-write one inside one process. Progress lines come from
the child's stderr as it prints them; a failure shows the one line the CLI prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Footer, Header, Input, Label, Log, Static

from tui.screens.base import MlgateScreen
from tui.text import literal, visible

ERROR_PREFIX = "mlgate: error:"


def audit_command(audit_db: Path, *, spec: str, data: str, target: str, positive: str) -> list[str]:
    """The `mlgate audit` command line for the form's values (a spec, or quick mode with data and target)."""
    command = [sys.executable, "-m", "engine", "audit", "--audit-db", str(audit_db)]
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
        command = audit_command(self.mlgate.audit_db, spec=self.value("spec"), data=self.value("data"),
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

    @work(thread=True, exclusive=True, group="audit", exit_on_error=False)
    def run_audit(self, command: list[str]) -> None:
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
        try:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                            env=env, cwd=Path.cwd())
        except OSError as exc:
            self.app.call_from_thread(self.finished, 2, [f"{ERROR_PREFIX} cannot start the audit: {exc.strerror}"])
            return
        errors: list[str] = []
        assert self.process.stdout is not None
        for raw in self.process.stdout:  # progress (stderr) and results (stdout), in the order printed
            line = raw.rstrip("\n")
            if line.startswith(ERROR_PREFIX):
                errors.append(line)
            self.app.call_from_thread(self.log_line, line)
        code = self.process.wait()
        self.app.call_from_thread(self.finished, code, errors)

    def finished(self, code: int, errors: list[str]) -> None:
        self.process = None
        self.query_one("#start", Button).disabled = False
        self.query_one("#cancel", Button).disabled = True
        if self.cancelled:
            text = literal("CANCELLED: the audit was stopped; its run (if started) shows as incomplete", "bold yellow")
        elif errors or code == 2:
            text = literal(errors[-1] if errors else f"{ERROR_PREFIX} the audit stopped (exit {code})", "bold red")
        else:
            word = "PASS: a candidate is ready" if code == 0 else "FAIL: no candidate passed its blocking rules"
            text = literal(f"finished: {word} (exit {code}); the new run is on the runs screen", "bold")
        self.set_status(text)
        self.mlgate.trail_changed()
