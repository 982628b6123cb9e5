"""Forms that record something: sign-off, waiver, export. Each says exactly what will be recorded before it is.

The screens open a form only for an action that can be recorded (`tui.refusals`), so a reason is never asked
for an impossible one. The preview lists every event the action appends and every file it writes (a sign-off
or waiver writes the candidate's card again, under the cards folder the audit recorded). Enter in the last
field records, as Ctrl+S and the button do; recording waits until the focused field has taken every key typed
before it (`Widget.call_later` runs after the keys already queued), so a reason typed just before Ctrl+S is
recorded whole. The recording goes through the engine (`engine.review.signoff` / `waive`,
`engine.audit.export.export`), the same code path as the CLI, in a thread worker; an error is shown as one line
and the form stays open. Once recorded, the form posts its event (`SignoffRecorded`, `WaiverRecorded`,
`ExportWritten`) for the app and closes.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from engine.audit.export import FORMATS, MANIFEST, TABLES, export
from engine.errors import MlgateError
from tui import reads
from tui.messages import ExportWritten, Recorded, SignoffRecorded, WaiverRecorded
from tui.text import literal, status
from tui.workers import error_line, run_in_worker


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class RecordDialog(ModalScreen[None]):
    """A form with a live preview of what will be recorded; Ctrl+S, Enter in the last field or the button
    records, Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("ctrl+s", "record", "Save", id="dialog.record"),
    ]
    title_text = ""
    button_label = "Record"
    EVENT: ClassVar[type[Recorded]] = Recorded  # what the form posts once its engine call succeeded

    def __init__(self, audit_db: Path) -> None:
        super().__init__()
        self.audit_db = audit_db
        self.cards: list[Path] = []  # the card files the action writes again, once read

    def fields(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self.title_text), classes="dialog-title")
            yield from self.fields()
            yield Static(id="preview", classes="preview")
            yield Static(id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.button_label, id="record", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.update_preview()

    def value(self, input_id: str) -> str:
        return self.query_one(f"#{input_id}", Input).value

    def preview(self) -> Text:
        return Text()

    def update_preview(self) -> None:
        self.query_one("#preview", Static).update(self.preview())

    def on_input_changed(self, event: Input.Changed) -> None:
        self.update_preview()
        self.query_one("#dialog-error", Static).update("")

    def on_select_changed(self, event: Select.Changed) -> None:
        self.update_preview()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter moves to the next field, and records from the last one."""
        inputs = list(self.query(Input))
        if inputs and event.input is inputs[-1]:
            self.action_record()
        else:
            self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "record":
            self.action_record()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_record(self) -> None:
        """Record once the focused field has taken every key typed before this one."""
        focused = self.focused
        if focused is not None:
            focused.call_later(self.record_now)
        else:
            self.record_now()

    def record_now(self) -> None:
        if self.query_one("#record", Button).disabled:
            return  # already recording
        try:
            job = self.job()
        except MlgateError as exc:
            self.show_failure(error_line(exc))
            return
        self.query_one("#record", Button).disabled = True
        run_in_worker(self, self.recorded_line, job, failed=self.show_failure, group="record")

    def writes(self, event: str) -> Text:
        """The list of what a review action writes: its event, and the card files written again."""
        text = Text.assemble("Will append ", (str(1 + bool(self.cards)), "bold"), " event(s) to the trail: ",
                             (event, "bold"))
        if self.cards:
            text.append_text(Text.assemble(" and ", ("card_written", "bold"), f"; and write {len(self.cards)} files "
                                           "(the card again, in the cards folder the audit recorded):"))
            base = self.audit_db.resolve().parent
            for path in self.cards:
                shown = path.relative_to(base) if path.is_relative_to(base) else path
                text.append_text(literal(f"\n  {shown}"))
        return text

    def load_cards(self, run_id: str, candidate: str) -> None:
        """Read which card files the action will write again (in a thread worker), then show them."""
        run_in_worker(self, self.show_cards, lambda: reads.card_targets(self.audit_db, run_id, candidate),
                      failed=lambda line: None, group="cards")

    def show_cards(self, cards: list[Path]) -> None:
        self.cards = cards
        self.update_preview()

    def job(self) -> Callable[[], str]:
        """The engine call to make (validating the form first); returns the line to tell the reviewer."""
        raise NotImplementedError

    def recorded_line(self, line: str) -> None:
        """The engine call succeeded: announce it (the app tells the reviewer and reloads) and close."""
        self.post_message(self.EVENT(line))
        self.dismiss()

    def show_failure(self, line: str) -> None:
        """The engine refused (or failed): its line under the form, which stays open to be corrected."""
        self.query_one("#record", Button).disabled = False
        self.query_one("#dialog-error", Static).update(literal(line, style="bold red"))


class SignoffDialog(RecordDialog):
    """Approve or reject one candidate of a run."""

    EVENT = SignoffRecorded

    def __init__(self, audit_db: Path, run_id: str, candidate: str, decision: str) -> None:
        super().__init__(audit_db)
        self.run_id, self.candidate, self.decision = run_id, candidate, decision
        self.title_text = f"{decision.capitalize()} {candidate} of run {run_id}"
        self.button_label = decision.capitalize()

    def fields(self) -> ComposeResult:
        yield Label("Reviewer")
        yield Input(default_reviewer(), id="reviewer", compact=True)
        yield Label("Reason")
        yield Input(placeholder="why (recorded as written)", id="reason", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.load_cards(self.run_id, self.candidate)

    def preview(self) -> Text:
        return Text.assemble(status(self.decision), literal(
            f" candidate {self.candidate!r} of run {self.run_id}, reviewer {self.value('reviewer')!r}, reason "
            f"{self.value('reason')!r}, with the evidence hash and policy versions of the recorded check.\n"),
            self.writes("signoff"))

    def job(self) -> Callable[[], str]:
        reviewer, reason = self.value("reviewer"), self.value("reason")

        def run() -> str:
            from engine.review import signoff  # lazily: it imports scikit-learn, which the first screen never needs

            signoff(self.audit_db, self.run_id, self.candidate, decision=self.decision, reviewer=reviewer,
                    reason=reason)
            return f"recorded: {self.decision} {self.candidate} of run {self.run_id} by {reviewer}"
        return run


class WaiverDialog(RecordDialog):
    """Waive one failed rule of one candidate, with a reason and an optional expiry."""

    EVENT = WaiverRecorded

    def __init__(self, audit_db: Path, run_id: str, candidate: str, outcome: Mapping[str, Any]) -> None:
        super().__init__(audit_db)
        self.run_id, self.candidate = run_id, candidate
        self.rule, self.policy = str(outcome["id"]), str(outcome["policy"])
        self.recorded = str(outcome.get("recorded_status", outcome["status"]))
        self.title_text = f"Waive rule {self.rule} ({self.policy}) for {candidate} of run {run_id}"
        self.button_label = "Waive"

    def fields(self) -> ComposeResult:
        yield Label("Reviewer")
        yield Input(default_reviewer(), id="reviewer", compact=True)
        yield Label("Reason")
        yield Input(placeholder="why this failure is acceptable (recorded as written)", id="reason", compact=True)
        yield Label("Until (YYYY-MM-DD, the last day it holds; empty = no expiry)")
        yield Input(placeholder="YYYY-MM-DD", id="until", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.load_cards(self.run_id, self.candidate)

    def until(self) -> date | None:
        text = self.value("until").strip()
        if not text:
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise MlgateError(f"until: {text!r} is not a date (YYYY-MM-DD)") from None
        if day < date.today():
            raise MlgateError(f"until: {text} is in the past (leave it empty for no expiry)")
        return day

    def preview(self) -> Text:
        until = self.value("until").strip() or "no expiry"
        return Text.assemble("Waive rule ", literal(f"{self.rule!r} of policy {self.policy!r} (recorded "),
                             status(self.recorded),
                             literal(f") for candidate {self.candidate!r} of run {self.run_id}, reviewer "
                                     f"{self.value('reviewer')!r}, reason {self.value('reason')!r}, until {until}. "
                                     "The rule then counts as WAIVED and no longer blocks.\n"),
                             self.writes("waiver"))

    def job(self) -> Callable[[], str]:
        reviewer, reason, until = self.value("reviewer"), self.value("reason"), self.until()

        def run() -> str:
            from engine.review import waive  # lazily, as signoff

            waive(self.audit_db, self.run_id, self.candidate, self.rule, reviewer=reviewer, reason=reason,
                  until=until, policy=self.policy)
            return f"recorded: waiver of {self.rule} for {self.candidate} of run {self.run_id}"
        return run


class ExportDialog(RecordDialog):
    """Export the trail (every table, with a manifest) in a format to a folder."""

    EVENT = ExportWritten
    title_text = "Export the audit trail"
    button_label = "Export"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("ctrl+s", "record", "Export", id="dialog.export"),
    ]

    def fields(self) -> ComposeResult:
        yield Label("Format")
        yield Select([(f, f) for f in FORMATS], value=FORMATS[0], allow_blank=False, id="format")
        yield Label("Folder")
        yield Input("audit_export", id="folder", compact=True)

    def fmt(self) -> str:
        return str(self.query_one("#format", Select).value)

    def targets(self) -> list[Path]:
        folder = Path(self.value("folder").strip() or ".")
        return [folder / f"{name}.{self.fmt()}" for name in TABLES] + [folder / MANIFEST]

    def preview(self) -> Text:
        targets = self.targets()
        files = ", ".join(path.name for path in targets)
        return literal(f"Will write {len(targets)} files as {self.fmt()} into {targets[0].parent}: {files} (the "
                       "manifest has row counts, SHA-256 of each file, chain head). No event is appended; existing "
                       "files are never overwritten.")

    def job(self) -> Callable[[], str]:
        folder, fmt = self.value("folder").strip(), self.fmt()
        if not folder:
            raise MlgateError("folder: give a folder to export into")
        existing = [path for path in self.targets() if path.exists()]
        if existing:
            raise MlgateError(f"{existing[0]} exists and is never overwritten: choose another folder")

        def run() -> str:
            manifest = export(self.audit_db, Path(folder), fmt=fmt)
            return f"exported {len(manifest.get('files', manifest))} files to {folder} (see manifest.json)"
        return run
