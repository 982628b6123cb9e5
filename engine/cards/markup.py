"""Markdown text of a model card from recorded values: escaping, numbers, intervals, tables.

Every recorded string is escaped for Markdown (`md`) or shown as an inert code span (`code`); a number that was
not computed reads "not evaluated" or "undefined", never `None`. Shared by the card's section modules
(`markdown.py`, `markdown_beyond.py`) and the HTML card.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from engine.cards.document import NOT_EVALUATED
from engine.evaluation.task_metrics import ALL_METRICS
from engine.safe_text import markdown_code, markdown_text

METRIC_LABELS = {name: metric.label for name, metric in ALL_METRICS.items()}  # every task's

UNDEFINED = "undefined"


def md(text: object) -> str:
    """Untrusted text made inert in Markdown (and kept on one line, for table cells)."""
    return markdown_text(text)


def code(text: object) -> str:
    """An identifier (column, parameter, rule id) as an inline code span: inert, and read as a name."""
    return markdown_code(text)


def number(value: float | None, missing: str = NOT_EVALUATED) -> str:
    return missing if value is None else f"{value:.4f}"


def interval(pair: Sequence[float | None] | None) -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return NOT_EVALUATED
    return f"[{pair[0]:.4f}, {pair[1]:.4f}]"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def missing(section: Any) -> str | None:
    """The "not evaluated: why" line of a section that was not evaluated, else None."""
    if isinstance(section, dict) and section.get("status") == NOT_EVALUATED:
        return f"{NOT_EVALUATED}: {md(section['reason'])}"
    return None


def names(items: Sequence[str]) -> str:
    """Identifiers as code spans, comma-separated; "none" for none."""
    return ", ".join(code(name) for name in items) or "none"
