"""Evidence drawn without a view of its own: tables, never trees, every value with its unit.

A section that no view draws (or a part of one, such as a serving measurement) is flattened: scalars become
`key · value` rows with dotted paths (`latency.p99_ms`), a list of records becomes one table, a list of numbers
is summarised by its length and range. Every value goes through `tui.units.quantity`, so units and precision are
the same here as in the dedicated views.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from tui.text import literal
from tui.units import quantity
from tui.widgets.tables import SortableTable

SCALAR = (str, int, float, bool, type(None))
MAX_TEXT = 160  # a long string (a method's description) is cut in a table cell, shown whole in a note


def heading(text: str) -> Static:
    return Static(Text(text, style="bold"), classes="evidence-heading")


def note(text: str | Text) -> Static:
    return Static(text if isinstance(text, Text) else literal(text), classes="evidence-note")


def records(value: Any) -> bool:
    """A non-empty list of objects: drawn as one table."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def numbers(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, int | float) for v in value)


def cell(key: str, value: Any) -> str:
    if isinstance(value, SCALAR):
        text = quantity(key, value)
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
    if numbers(value):
        return summary_of_numbers(key, value)
    if isinstance(value, list) and all(isinstance(v, SCALAR) for v in value):
        return ", ".join(quantity(key, v) for v in value) or "none"
    if isinstance(value, Mapping) and all(isinstance(v, SCALAR) for v in value.values()):
        return ", ".join(f"{k} {quantity(str(k), v)}" for k, v in value.items()) or "none"
    return f"{len(value)} entries" if isinstance(value, list | Mapping) else quantity(key, value)


def summary_of_numbers(key: str, value: list[Any]) -> str:
    if len(value) <= 4:
        return ", ".join(quantity(key, v) for v in value)
    return f"{len(value)} values, {quantity(key, min(value))} to {quantity(key, max(value))}"


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) pairs down to scalars, lists of numbers and lists of records (kept whole)."""
    if isinstance(value, Mapping):
        pairs: list[tuple[str, Any]] = []
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(child, Mapping) and child:
                pairs.extend(flatten(child, path))
            else:
                pairs.append((path, child))
        return pairs
    return [(prefix or "value", value)]


def record_table(rows: list[Mapping[str, Any]], *, columns: list[str] | None = None) -> SortableTable:
    """A list of records as one table (nested values summarised in their cell)."""
    shown = columns or list(dict.fromkeys(k for row in rows for k in row))
    return SortableTable(shown, [[cell(c, row.get(c)) for c in shown] for row in rows], classes="evidence")


def key_values(pairs: list[tuple[str, Any]]) -> SortableTable:
    return SortableTable(["key", "value"], [[key, cell(key, value)] for key, value in pairs], classes="evidence")


def generic(value: Any) -> list[Widget]:
    """Any evidence: scalars as key/value rows, each list of records as its own table under its key."""
    if records(value):
        return [record_table(value)]
    if isinstance(value, SCALAR):
        return [note(quantity("value", value))]
    pairs = flatten(value)
    widgets: list[Widget] = []
    simple = [(k, v) for k, v in pairs if not records(v)]
    if simple:
        widgets.append(key_values(simple))
    for key, rows in pairs:
        if records(rows):
            widgets.extend([note(Text(key, style="bold")), record_table(rows)])
    return widgets or [note("(empty)")]
