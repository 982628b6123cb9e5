"""`?` (or F1): the help page of the screen in front, made from that screen's own `BINDINGS` and docstring and
the app's `BINDINGS`, so it lists exactly the keys that work there and can never drift from them."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from tui.text import literal
from tui.widgets.tables import SortableTable

KEY_NAMES = {"question_mark": "?", "colon": ":", "slash": "/", "escape": "Esc", "enter": "Enter", "tab": "Tab",
             "right_square_bracket": "]", "left_square_bracket": "["}


def key_name(key: str) -> str:
    """A binding's keys as printed on the keyboard: `question_mark,f1` → `? / F1`, `ctrl+s` → `Ctrl+S`."""
    def one(name: str) -> str:
        *modifiers, last = name.split("+")
        shown = KEY_NAMES.get(last, last.upper() if modifiers or len(last) > 1 else last)
        return "+".join([*(m.capitalize() for m in modifiers), shown])
    return " / ".join(one(k.strip()) for k in key.split(","))


def key_rows(bindings: Iterable[BindingType]) -> list[list[str]]:
    """(key, what it does) for every binding, the hidden ones too, in the order they are declared."""
    declared = [b if isinstance(b, Binding) else Binding(*b) for b in bindings]  # a key list stays one row
    return [[key_name(b.key), b.description or b.action] for b in declared]


def purpose(screen: Screen[Any]) -> str:
    """What the screen is for: its class's docstring (one paragraph)."""
    return " ".join((inspect.getdoc(type(screen)) or type(screen).__name__).split())


class HelpScreen(ModalScreen[None]):
    """This page: what the screen behind it is for and every key it takes; Esc or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1", "app.pop_screen", "Close help", id="help.close"),
    ]

    def __init__(self, screen: Screen[Any], app_bindings: Iterable[BindingType]) -> None:
        super().__init__()
        self.described = screen
        self.screen_keys = key_rows(type(screen).BINDINGS)
        self.app_keys = key_rows(app_bindings)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Static(literal(f"Help · {self.described.title or type(self.described).__name__}"),
                         classes="dialog-title")
            yield Static(literal(purpose(self.described)), id="help-purpose")
            yield Static(Text("Keys of this screen", style="bold"), classes="evidence-heading")
            yield SortableTable(["key", "what it does"], self.screen_keys, id="help-screen-keys", classes="evidence")
            yield Static(Text("Keys everywhere", style="bold"), classes="evidence-heading")
            yield SortableTable(["key", "what it does"], self.app_keys, id="help-app-keys", classes="evidence")
            yield Static(Text("Ctrl+P lists every action; Esc or ? closes this page.", style="dim"))
        yield Footer()
