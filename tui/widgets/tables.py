"""A `DataTable` that sorts by any column, shows which, and drops its least important columns when narrow.

Plain strings in a `DataTable` are parsed as markup, so every cell goes in as `Text`; sorting compares numbers
as numbers and the dash of a missing value last, and the sorted column's header carries ▲ or ▼. Each column may
have a priority (0 = always shown; higher = dropped first): when the table is narrower than its columns, the
columns of the highest priority go first, so at 80 columns a list keeps what a reviewer decides by (name,
verdict, decision) and loses what only helps (a data hash). The table keeps every row whole (`rows_of`), and
`hidden` says which columns were dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from tui.text import NONE, literal

ARROWS = {False: " ▲", True: " ▼"}
PADDING = 2  # a DataTable cell's padding, left and right together


def cell(value: Any) -> Text:
    return value if isinstance(value, Text) else literal(value)


def sort_key(value: Any) -> tuple[int, float, str]:
    plain = value.plain if isinstance(value, Text) else str(value)
    stripped = plain.strip().lstrip("★ ").split(" ")[0]
    if plain.strip() in ("", NONE):
        return (2, 0.0, "")
    try:
        return (0, float(stripped.strip("[],+%").replace(",", "")), plain)
    except ValueError:
        return (1, 0.0, plain.casefold())


class SortableTable(DataTable[Text]):
    """A read-only table of `Text` cells that sorts by the column under the cursor (`s`, or a header click)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort_column", "Sort", id="table.sort"),
    ]

    def __init__(self, headers: Sequence[str], rows: Iterable[Sequence[Any]] = (), *,
                 priorities: Sequence[int] | None = None, **kwargs: Any) -> None:
        super().__init__(cursor_type=kwargs.pop("cursor_type", "row"), zebra_stripes=True, **kwargs)
        self._headers = list(headers)
        self._priorities = list(priorities) if priorities is not None else [0] * len(self._headers)
        self._all_rows: list[list[Text]] = [[cell(v) for v in row] for row in rows]
        self._keys: list[str] | None = None
        self._sorted: tuple[int, bool] | None = None
        self._shown: list[int] = list(range(len(self._headers)))
        self._ready = False  # columns are drawn once mounted

    def on_mount(self) -> None:
        self._ready = True
        self._draw()

    @property
    def hidden(self) -> list[str]:
        """The headers of the columns dropped for want of width."""
        return [h for i, h in enumerate(self._headers) if i not in self._shown]

    def rows_of(self) -> list[list[str]]:
        """Every row with every column (shown or not), as plain text, in the order shown."""
        return [[c.plain for c in row] for row in self._ordered()[0]]

    def set_headers(self, headers: Sequence[str], *, priorities: Sequence[int] | None = None) -> None:
        """Replace the columns (and drop the rows)."""
        self._headers = list(headers)
        self._priorities = list(priorities) if priorities is not None else [0] * len(self._headers)
        self._all_rows, self._keys, self._sorted = [], None, None
        self._draw()

    def fill(self, rows: Iterable[Sequence[Any]], keys: Sequence[str] | None = None) -> None:
        """Replace the rows (keeping the columns and the sort), each row keyed by `keys` when given."""
        self._all_rows = [[cell(v) for v in row] for row in rows]
        self._keys = list(keys) if keys else None
        self._draw()

    def header_text(self, index: int) -> str:
        return self._headers[index]

    def fitting(self, width: int) -> list[int]:
        """The columns shown at `width`: all that fit, dropping the highest priority numbers first."""
        widths = [max([len(h) + 2, *(c.cell_len for row in self._all_rows for c in row[i:i + 1])]) + PADDING
                  for i, h in enumerate(self._headers)]
        shown = list(range(len(self._headers)))
        for index in sorted(shown, key=lambda i: (-self._priorities[i], -i)):
            if sum(widths[i] for i in shown) <= width or self._priorities[index] == 0:
                break
            shown.remove(index)
        return shown

    def on_resize(self, event: events.Resize) -> None:
        if self.fitting(self.size.width) != self._shown:
            self._draw()

    def _ordered(self) -> tuple[list[list[Text]], list[str] | None]:
        rows = self._all_rows
        order = list(range(len(rows)))
        if self._sorted is not None:
            column, reverse = self._sorted
            order.sort(key=lambda r: sort_key(rows[r][column]) if column < len(rows[r]) else (3, 0.0, ""),
                       reverse=reverse)
        keys = [self._keys[r] for r in order] if self._keys else None
        return [self._all_rows[r] for r in order], keys

    def _draw(self) -> None:
        """Draw the columns that fit and the rows in their order, keeping the cursor on the same row."""
        if not self._ready:
            return
        selected = self.cursor_row
        old_key = self._keys[selected] if self._keys and 0 <= selected < self.row_count else None
        self._shown = self.fitting(self.size.width) if self.size.width else list(range(len(self._headers)))
        self.clear(columns=True)
        # Each column is given the width of its widest cell at once: left to itself, a DataTable measures new
        # cells only on its next idle, and draws them cut to the header's width until then.
        for index in self._shown:
            arrow = ARROWS[self._sorted[1]] if self._sorted and self._sorted[0] == index else ""
            label = Text(self._headers[index] + arrow)
            width = max([label.cell_len, *(row[index].cell_len for row in self._all_rows if index < len(row))])
            self.add_column(label, key=str(index), width=width)
        rows, keys = self._ordered()
        for number, row in enumerate(rows):
            self.add_row(*(row[i] if i < len(row) else Text("") for i in self._shown),
                         key=keys[number] if keys else None)
        if old_key is not None and keys and old_key in keys:
            self.move_cursor(row=keys.index(old_key))
        elif rows:
            self.move_cursor(row=min(max(selected, 0), len(rows) - 1))

    def action_sort_column(self) -> None:
        if self._shown:
            self.sort_by(self._shown[min(self.cursor_column, len(self._shown) - 1)])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(int(str(event.column_key.value)))

    def sort_by(self, column: int) -> None:
        """Sort by column `column` (of all the columns), ascending, or descending when it already was."""
        reverse = self._sorted == (column, False)
        self._sorted = (column, reverse)
        self._draw()


class OpenableTable(SortableTable):
    """A sortable table whose rows open something: Enter is shown in the footer as `Open`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="table.open"),
        *SortableTable.BINDINGS,
    ]
