"""A candidate's model card, as the audit wrote it: a table of contents of its sections (left) and the chosen
section rendered with Textual's Markdown widget (right).

A whole card is some 250 lines of Markdown (60 screens at 80x24), and the Markdown widget mounts a widget per
block: rendering it whole took seconds. Only the chosen section is rendered, so the card opens as fast as its
first section draws, and moving through the contents draws each section as it is chosen. The sections are the
card's `#` and `##` headings (outside code blocks); joined again they are the file, byte for byte.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from tui.screens.base import MlgateScreen
from tui.text import literal, visible


@dataclass(frozen=True)
class Section:
    """One part of a card: its heading as plain words, and its Markdown (the heading line included)."""

    title: str
    text: str


def card_text(path: Path | None) -> str:
    """The card's Markdown, or a sentence saying why there is none to show."""
    if path is None:
        return "No card was written for this candidate."
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"The card `{path.name}` cannot be read: {exc.strerror}."


def heading(line: str) -> str | None:
    """The words of a `#` or `##` heading line (emphasis and code marks dropped), else None."""
    for mark in ("# ", "## "):
        if line.startswith(mark):
            return " ".join(line[len(mark):].replace("**", "").replace("`", "").split())
    return None


def sections(markdown: str) -> list[Section]:
    """The card cut before each `#`/`##` heading outside a fenced code block; what precedes the first heading
    (if anything) is a section of its own."""
    found: list[Section] = []
    title, lines, fenced = "(start)", list[str](), False
    for line in markdown.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        words = None if fenced else heading(line)
        if words is not None and lines:
            found.append(Section(title, "".join(lines)))
            lines = []
        if words is not None:
            title = words
        lines.append(line)
    if lines or not found:
        found.append(Section(title, "".join(lines)))
    return found


class CardScreen(MlgateScreen):
    """A candidate's model card: its table of contents (left; moving through it shows each section) and the
    section chosen (right). Tab moves between them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="card.back"),
        Binding("tab", "app.focus_next", "Contents/section", id="card.focus"),
        Binding("n", "step(1)", "Next section", id="card.next"),
        Binding("p", "step(-1)", "Previous section", id="card.previous"),
    ]

    def __init__(self, candidate: str, path: Path | None) -> None:
        super().__init__()
        self.candidate, self.path = candidate, path
        self.sections: list[Section] = []
        self.shown: int | None = None  # the index of the section drawn
        self.started = time.perf_counter()
        self.opened_seconds: float | None = None  # from mounting to the first section drawn

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(literal(f"model card of {self.candidate} · loading…"), id="card-summary", classes="crumb")
        with Horizontal(id="card-view"):
            yield OptionList(id="card-toc")
            with VerticalScroll(id="card-scroll"):
                yield Markdown(id="card")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"model card · {self.candidate}"
        self.started = time.perf_counter()
        path = self.path
        self.load(self.show_card, lambda: sections(card_text(path)), group="card")
        self.query_one("#card-toc", OptionList).focus()

    async def show_card(self, found: list[Section]) -> None:
        self.sections = found
        toc = self.query_one("#card-toc", OptionList)
        toc.clear_options()
        toc.add_options([Option(literal(s.title), id=str(i)) for i, s in enumerate(found)])
        where = visible(self.path.name) if self.path is not None else "no file"
        self.query_one("#card-summary", Static).update(literal(
            f"model card of {self.candidate} · {where} · {len(found)} sections · Tab to read one, n/p next/previous"))
        toc.highlighted = 0
        await self.show_section(0)
        if self.opened_seconds is None:
            self.opened_seconds = time.perf_counter() - self.started

    async def show_section(self, index: int) -> None:
        """Draw section `index` alone (the one Markdown widget holds only it)."""
        if not 0 <= index < len(self.sections) or index == self.shown:
            return
        self.shown = index
        await self.query_one("#card", Markdown).update(self.sections[index].text)
        self.query_one("#card-scroll", VerticalScroll).scroll_home(animate=False)

    async def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            await self.show_section(int(event.option.id))

    def action_step(self, by: int) -> None:
        toc = self.query_one("#card-toc", OptionList)
        if self.sections:
            toc.highlighted = max(0, min(len(self.sections) - 1, (toc.highlighted or 0) + by))

    def show_failure(self, line: str) -> None:
        self.query_one("#card-summary", Static).update(literal(line))
