"""Charts drawn with text: a reliability diagram and horizontal bars, as Rich `Text` in Textual widgets.

Drawn from the recorded numbers only (no plotting library), so they look the same in every terminal and in
snapshot tests. Each chart also states its numbers in words or a table beside it: the picture is a help,
never the only record.
"""

from __future__ import annotations

import itertools
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


def square(width: int, height: int, *, diagonal: bool) -> list[list[str]]:
    """An empty unit square of `width` x `height` cells (plus the edges), with the `·` diagonal if asked."""
    grid = [[" "] * (width + 1) for _ in range(height + 1)]
    if diagonal:
        for i in range(width + 1):
            grid[height - round(i / width * height)][i] = "·"
    return grid


def framed(grid: Sequence[Sequence[str]], mark: str, caption: str) -> Text:
    """The unit square drawn: the y axis labelled at 0, 0.5 and 1, the x axis from 0.0 to 1.0, `mark` cells
    bold, and the caption naming both axes."""
    height, width = len(grid) - 1, len(grid[0]) - 1
    text = Text()
    for row_index, row in enumerate(grid):
        label = f"{1 - row_index / height:.1f}" if row_index % (height // 2 or 1) == 0 else "   "
        text.append(f"{label:>4} │")
        for cell in row:
            text.append(cell, style="bold cyan" if cell == mark else "dim")
        text.append("\n")
    text.append("     └" + "─" * (width + 1) + "\n")
    text.append("      0.0" + " " * (width - 7) + "1.0\n")
    text.append(f"      {caption}", style="dim")
    return text


def reliability(diagram: Sequence[dict[str, Any]], *, size: int = 10) -> Text:
    """A reliability diagram: predicted probability (x) against observed frequency (y), `·` the diagonal.

    Each bin with rows is a `●` at (mean predicted, fraction positive); a perfectly calibrated model has every
    point on the diagonal.
    """
    width = size * 2
    grid = square(width, size, diagonal=True)
    for entry in diagram:
        if not entry.get("count") or entry.get("mean_predicted") is None or entry.get("fraction_positive") is None:
            continue
        x = round(float(entry["mean_predicted"]) * width)
        y = round(float(entry["fraction_positive"]) * size)
        grid[size - min(max(y, 0), size)][min(max(x, 0), width)] = "●"
    return framed(grid, "●", "predicted probability (x) · observed frequency (y)")


def curve(xs: Sequence[float], ys: Sequence[float], *, width: int = 40, height: int = 12, x_label: str = "x",
          y_label: str = "y", diagonal: bool = False) -> Text:
    """A curve on the unit square (ROC, precision-recall) drawn with `•` cells, `·` the chance diagonal."""
    grid = square(width, height, diagonal=diagonal)
    points = [(float(x), float(y)) for x, y in zip(xs, ys, strict=False) if x is not None and y is not None]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):  # each segment, sampled cell by cell
        steps = max(1, round(max(abs(x1 - x0) * width, abs(y1 - y0) * height)))
        for step in range(steps + 1):
            x, y = x0 + (x1 - x0) * step / steps, y0 + (y1 - y0) * step / steps
            grid[height - min(max(round(y * height), 0), height)][min(max(round(x * width), 0), width)] = "•"
    return framed(grid, "•", f"{x_label} (x) · {y_label} (y)")
