"""Charts drawn with text: a reliability diagram and horizontal bars, as Rich `Text` in Textual widgets.

Drawn from the recorded numbers only (no plotting library), so they look the same in every terminal and in
snapshot tests. Each chart also states its numbers in words or a table beside it: the picture is a help,
never the only record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from tui.text import visible

BAR = "█"
PARTIAL = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """A bar `fraction` (0..1) of `width` cells long, with eighth-cell precision."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, rest = divmod(eighths, 8)
    return (BAR * full + (PARTIAL[rest] if rest else "")).ljust(width)


def bars(rows: Sequence[tuple[str, float | None]], *, width: int = 30, digits: int = 4) -> Text:
    """One labelled bar per (label, value), scaled to the largest absolute value."""
    scale = max((abs(v) for _, v in rows if v is not None), default=0.0) or 1.0
    label_width = min(max((len(visible(label)) for label, _ in rows), default=0), 40)
    text = Text()
    for label, value in rows:
        shown = visible(label)[:label_width].ljust(label_width)
        text.append(f"{shown} ")
        if value is None:
            text.append("(not computed)\n", style="dim")
            continue
        text.append(bar(abs(value) / scale, width), style="cyan")
        text.append(f" {value:.{digits}f}\n")
    return text


def reliability(diagram: Sequence[dict[str, Any]], *, size: int = 10) -> Text:
    """A reliability diagram: predicted probability (x) against observed frequency (y), `·` the diagonal.

    Each bin with rows is a `●` at (mean predicted, fraction positive); a perfectly calibrated model has every
    point on the diagonal.
    """
    width = size * 2
    grid = [[" "] * (width + 1) for _ in range(size + 1)]
    for i in range(width + 1):
        grid[size - round(i / width * size)][i] = "·"
    for entry in diagram:
        if not entry.get("count") or entry.get("mean_predicted") is None or entry.get("fraction_positive") is None:
            continue
        x = round(float(entry["mean_predicted"]) * width)
        y = round(float(entry["fraction_positive"]) * size)
        grid[size - min(max(y, 0), size)][min(max(x, 0), width)] = "●"
    text = Text()
    for row_index, row in enumerate(grid):
        label = f"{1 - row_index / size:.1f}" if row_index % (size // 2 or 1) == 0 else "   "
        text.append(f"{label:>4} │")
        for cell in row:
            text.append(cell, style="bold cyan" if cell == "●" else "dim")
        text.append("\n")
    text.append("     └" + "─" * (width + 1) + "\n")
    text.append("      0.0" + " " * (width - 7) + "1.0\n")
    text.append("      predicted probability (x) · observed frequency (y)", style="dim")
    return text
