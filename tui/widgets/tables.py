"""A `DataTable` that sorts by any column (press `s` on it, or click its header) and takes only `Text` cells.

Plain strings in a `DataTable` are parsed as markup, so every cell goes in as `Text`; sorting compares numbers
as numbers and the dash of a missing value last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from tui.text import NONE, literal


def cell(value: Any) -> Text:
    return value if isinstance(value, Text) else literal(value)


def sort_key(value: Any) -> tuple[int, float, str]:
    plain = value.plain if isinstance(value, Text) else str(value)
    stripped = plain.strip().lstrip("★ ").split(" ")[0]
    if plain.strip() in ("", NONE):
        return (2, 0.0, "")
    try:
        return (0, float(stripped.strip("[],+")), plain)
    except ValueError:
        return (1, 0.0, plain.casefold())


class SortableTable(DataTable[Text]):
    """A read-only table of `Text` cells that sorts by the column under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort_column", "Sort", id="table.sort"),
    ]

    def __init__(self, headers: Sequence[str], rows: Iterable[Sequence[Any]] = (), **kwargs: Any) -> None:
        super().__init__(cursor_type=kwargs.pop("cursor_type", "row"), zebra_stripes=True, **kwargs)
        self._headers = list(headers)
        self._rows = [list(row) for row in rows]
        self._sorted: tuple[int, bool] | None = None

    def on_mount(self) -> None:
        self.set_headers(self._headers)
        self.fill(self._rows)

    def set_headers(self, headers: Sequence[str]) -> None:
        """Replace the columns (and drop the rows)."""
        self.clear(columns=True)
        self._headers = list(headers)
        for index, header in enumerate(self._headers):
            self.add_column(Text(header), key=str(index))

    def fill(self, rows: Iterable[Sequence[Any]], keys: Sequence[str] | None = None) -> None:
        """Replace the rows (keeping the columns), each row keyed by `keys` when given."""
        self.clear()
        for index, row in enumerate(rows):
            self.add_row(*(cell(v) for v in row), key=keys[index] if keys else None)

    def action_sort_column(self) -> None:
        self.sort_by(self.cursor_column)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(event.column_index)

    def sort_by(self, column: int) -> None:
        reverse = self._sorted == (column, False)
        self._sorted = (column, reverse)
        self.sort(str(column), key=sort_key, reverse=reverse)
