"""A candidate's model card, as the audit wrote it, rendered with Textual's Markdown widget."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Markdown

from tui.screens.base import MlgateScreen


class CardScreen(MlgateScreen):
    """The Markdown card of one candidate (read from the file the trail records)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="card.back"),
    ]

    def __init__(self, candidate: str, path: Path | None) -> None:
        super().__init__()
        self.candidate, self.path = candidate, path

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="card-scroll"):
            yield Markdown("*loading the card…*", id="card")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"model card · {self.candidate}"
        self.load_card()
        self.query_one("#card-scroll", VerticalScroll).focus()

    @work(thread=True, exclusive=True, group="card", exit_on_error=False)
    def load_card(self) -> None:
        if self.path is None:
            text = "No card was written for this candidate."
        else:
            try:
                text = self.path.read_text(encoding="utf-8")
            except OSError as exc:
                text = f"The card `{self.path.name}` cannot be read: {exc.strerror}."
        self.app.call_from_thread(self.query_one("#card", Markdown).update, text)
