"""A candidate's model card, as the audit wrote it, rendered with Textual's Markdown widget."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Markdown

from tui.screens.base import MlgateScreen


def card_text(path: Path | None) -> str:
    """The card's Markdown, or a sentence saying why there is none to show."""
    if path is None:
        return "No card was written for this candidate."
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"The card `{path.name}` cannot be read: {exc.strerror}."


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
        self.load(self.show_card, lambda: card_text(self.path), group="card")
        self.query_one("#card-scroll", VerticalScroll).focus()

    def show_card(self, text: str) -> None:
        self.query_one("#card", Markdown).update(text)

    def show_failure(self, line: str) -> None:
        self.show_card(line)
