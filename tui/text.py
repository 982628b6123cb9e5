"""Turning untrusted and numeric values into Rich `Text` for the screens, never into markup.

Every model, column, group, reviewer name and reason shown by the TUI passes through `literal`: it becomes a
`Text` (which Textual never parses as markup) with control characters shown as visible escapes (the screen
variant of the engine's one rule set, `engine.safe_text.screen_text`), so a name like `[bold red]x[/]` or one
carrying a terminal escape sequence is displayed as the characters it is made of.
Statuses are always written as a word; colour only repeats what the word says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from engine.safe_text import screen_text

STATUS_STYLES = {"pass": "bold green", "fail": "bold red", "warn": "bold yellow", "unknown": "yellow",
                 "error": "bold magenta", "waived": "cyan", "incomplete": "yellow", "not covered": "dim",
                 "approve": "bold green", "reject": "bold red", "intact": "bold green", "broken": "bold red"}
NONE = "—"


def visible(value: object) -> str:
    """`value` as text with every control character written as an escape (`\\x1b`), so none reaches the terminal."""
    return screen_text(value)


def literal(value: object, style: str = "") -> Text:
    """Untrusted text shown exactly as written: never markup, control characters made visible."""
    return Text(screen_text(value), style=style)


def status(value: str) -> Text:
    """A status as an upper-case word, coloured by meaning."""
    return Text(value.upper(), style=STATUS_STYLES.get(value, ""))


def number(value: Any, digits: int = 4) -> str:
    if value is None:
        return NONE
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return visible(value)


def signed(value: Any, digits: int = 4) -> str:
    return NONE if value is None else f"{float(value):+.{digits}f}"


def interval(pair: Sequence[Any] | None, digits: int = 4) -> str:
    """A confidence interval as `[low, high]`, or a dash when it was not computed."""
    if not pair or len(pair) != 2 or pair[0] is None or pair[1] is None:
        return NONE
    return f"[{float(pair[0]):.{digits}f}, {float(pair[1]):.{digits}f}]"
