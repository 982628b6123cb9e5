"""The HTML card's figures of a regression or multiclass candidate, as inline SVG from the recorded numbers.

Regression: the residuals against the predictions (per equal-mass prediction bucket: the residual's median, its
25–75 % and 10–90 % bands, and the mean residual, from `error_analysis.by_prediction`) and the residual histogram.
Multiclass: the confusion matrix (counts, each cell shaded by its share of the true class's rows) and the
reliability of each class's probability (one-vs-rest, equal-width bins). Drawn with the helpers of `figures.py`,
so the same rules hold: pure functions of recorded numbers, text kept as text and escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine.cards.figures import (
    ACCENT,
    CHAR_PX,
    DPI,
    FONT_PX,
    GRID,
    INK,
    MUTED,
    Axes,
    circle,
    frame,
    label,
    legend,
    num,
    svg_document,
    svg_line,
    svg_text,
)

BAND_OUTER, BAND_INNER = "#c9dcfb", "#8fb6f5"
PALETTE = ("#1f6feb", "#d9480f", "#2b8a3e", "#9c36b5", "#e8590c", "#0b7285", "#c2255c", "#5c940d", "#495057",
           "#1864ab")


def _padded(values: Sequence[float], share: float = 0.08) -> tuple[float, float]:
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max((high - low) * share, 1e-9)
    return low - pad, high + pad


def _band(ax: Axes, xs: Sequence[float], low: Sequence[float], high: Sequence[float], color: str) -> str:
    points = ax.points([*xs, *reversed(xs)], [*low, *reversed(high)])
    return f'<polygon fill="{color}" stroke="none" points="{points}"/>'


def residuals_by_prediction(buckets: Sequence[dict[str, Any]]) -> str:
    """The residual (target − prediction) against the mean prediction of each bucket: median, bands, mean."""
    drawn = [b for b in buckets if b.get("residual_quantiles")]
    xs = [float(b["mean_prediction"]) for b in drawn]
    q = {key: [float(b["residual_quantiles"][key]) for b in drawn] for key in ("p10", "p25", "p50", "p75", "p90")}
    means = [float(b["mean_residual"]) for b in drawn]
    ax = Axes(5.2 * DPI, 3.4 * DPI, left=52, bottom=34, xlim=_padded(xs or [0.0, 1.0], 0.03),
              ylim=_padded([*q["p10"], *q["p90"], *means, 0.0]))
    title = "Residuals against predictions (test split)"
    body = frame(ax, title=title, xlabel="mean prediction of the bucket", ylabel="residual (target − prediction)")
    body.append(svg_line(ax.x(ax.xlim[0]), ax.y(0), ax.x(ax.xlim[1]), ax.y(0), color=MUTED, dashed=True))
    if drawn:
        body.append('<g id="residual-bands">' + _band(ax, xs, q["p10"], q["p90"], BAND_OUTER)
                    + _band(ax, xs, q["p25"], q["p75"], BAND_INNER) + "</g>")
        body.append(f'<polyline id="residual-median" fill="none" stroke="{ACCENT}" stroke-width="1.8" '
                    f'points="{ax.points(xs, q["p50"])}"/>')
        body.append(f'<g id="residual-means" fill="{INK}">'
                    + "".join(circle(ax.x(x), ax.y(y), 2.2) for x, y in zip(xs, means, strict=True)) + "</g>")
    body += legend(ax, [("median residual", ACCENT, False), ("zero", MUTED, True)], corner="upper right")
    return svg_document(ax.width, ax.height, title, body)


def residual_histogram(histogram: dict[str, Any]) -> str:
    """The recorded residual histogram: one bar per bin, the bin's row count as its height."""
    edges = [float(e) for e in histogram.get("edges", [])]
    counts = [int(c) for c in histogram.get("counts", [])]
    ax = Axes(5.2 * DPI, 3.0 * DPI, left=52, bottom=34, xlim=(edges[0], edges[-1]) if len(edges) > 1 else (0, 1),
              ylim=(0.0, max(max(counts, default=0) * 1.08, 1.0)))
    title = "Residual histogram (test split)"
    body = frame(ax, title=title, xlabel="residual (target − prediction)", ylabel="rows")
    bars = [f'<rect x="{num(ax.x(low))}" y="{num(ax.y(count))}" width="{num(max(ax.x(high) - ax.x(low) - 0.6, 0.3))}" '
            f'height="{num(ax.y(0) - ax.y(count))}"/>'
            for low, high, count in zip(edges, edges[1:], counts, strict=False)]
    body.append(f'<g id="residual-histogram" fill="{ACCENT}">' + "".join(bars) + "</g>")
    if len(edges) > 1 and edges[0] <= 0 <= edges[-1]:
        body.append(svg_line(ax.x(0), ax.y(0), ax.x(0), ax.y(ax.ylim[1]), color=INK, dashed=True))
    return svg_document(ax.width, ax.height, title, body)


def _shade(share: float) -> str:
    """White to the accent colour as a share grows from 0 to 1."""
    start, end = (255, 255, 255), (31, 111, 235)
    r, g, b = (round(s + (e - s) * min(max(share, 0.0), 1.0)) for s, e in zip(start, end, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def confusion_matrix(classes: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """Rows: the true class; columns: the predicted class; each cell's count, shaded by its share of the row."""
    k = len(classes)
    names = [label(c) for c in classes]
    cell = max(22.0, min(48.0, 360.0 / max(k, 1)))
    left = min(14 + CHAR_PX * max((len(str(c)) for c in classes), default=4), 200)
    top, bottom = 34.0, 30.0 + min(CHAR_PX * max((len(str(c)) for c in classes), default=4), 160)
    width, height = left + cell * k + 16, top + cell * k + bottom
    title = "Confusion matrix (rows: true class; columns: predicted)"
    body = [svg_text(width / 2, 15, title, size=FONT_PX + 1), '<g id="confusion-cells">']
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            share = count / total
            x, y = left + j * cell, top + i * cell
            body.append(f'<rect x="{num(x)}" y="{num(y)}" width="{num(cell)}" height="{num(cell)}" '
                        f'fill="{_shade(share)}" stroke="{GRID}"/>')
            color = "white" if share > 0.55 else INK
            body.append(f'<text x="{num(x + cell / 2)}" y="{num(y + cell / 2 + 4)}" text-anchor="middle" '
                        f'font-size="{num(FONT_PX - 1)}" fill="{color}">{count}</text>')
    body.append("</g>")
    body += [svg_text(left - 4, top + (i + 0.5) * cell + 4, name, anchor="end") for i, name in enumerate(names)]
    for j, name in enumerate(names):
        x, y = left + (j + 0.5) * cell, top + k * cell + 8
        body.append(f'<text x="{num(x)}" y="{num(y)}" text-anchor="end" font-size="{num(FONT_PX)}" fill="{INK}" '
                    f'transform="rotate(-60 {num(x)} {num(y)})">{name}</text>')
    return svg_document(width, height, title, body)


def class_reliability(per_class: Sequence[dict[str, Any]]) -> str:
    """Each class's observed rate against its mean predicted probability per bin, one line per class."""
    height = 3.4 + 0.2 * max(len(per_class) - 4, 0)
    ax = Axes(5.2 * DPI, height * DPI, left=44, bottom=34, xlim=(0.0, 1.0), ylim=(0.0, 1.02))
    title = "Reliability of each class (one-vs-rest, equal-width bins)"
    body = frame(ax, title=title, xlabel="mean predicted probability", ylabel="observed rate of the class")
    body.append(svg_line(ax.x(0), ax.y(0), ax.x(1), ax.y(1), color=MUTED, dashed=True))
    entries: list[tuple[str, str, bool]] = []
    for index, entry in enumerate(per_class):
        color = PALETTE[index % len(PALETTE)]
        diagram = [b for b in entry.get("diagram", []) if b.get("mean_predicted") is not None]
        xs = [float(b["mean_predicted"]) for b in diagram]
        ys = [float(b["fraction_positive"]) for b in diagram]
        body.append(f'<g class="class-reliability" stroke="{color}" fill="{color}">'
                    f'<polyline fill="none" stroke-width="1.5" points="{ax.points(xs, ys)}"/>'
                    + "".join(circle(ax.x(x), ax.y(y), math.sqrt(6 / math.pi) * 1.4) for x, y in zip(xs, ys,
                                                                                                   strict=True))
                    + "</g>")
        ece = entry.get("ece")
        entries.append((label(entry.get("class", index)) + (f" (ECE {float(ece):.3f})" if ece is not None else ""),
                        color, False))
    body += legend(ax, entries, corner="upper left")
    return svg_document(ax.width, ax.height, title, body)


def task_figures(card: dict[str, Any]) -> list[tuple[str, str]]:
    """(SVG, caption) of each figure of a card's `task_analysis` (none for a binary card or missing evidence)."""
    analysis = card["mlgate"].get("task_analysis")
    if not isinstance(analysis, dict) or analysis.get("status") != "evaluated":
        return []
    if analysis["task"] == "regression":
        buckets = analysis["by_prediction"]
        rows = sum(int(b["count"]) for b in buckets)
        found = [(residuals_by_prediction(buckets),
                  f"Residual median (line), 25–75 % and 10–90 % bands and mean (dots) in {len(buckets)} equal-mass "
                  f"prediction buckets of the {rows} test rows.")]
        if analysis.get("residual_histogram"):
            found.append((residual_histogram(analysis["residual_histogram"]),
                          "Residuals of the test rows (target − prediction); the dashed line is zero."))
        return found
    found = [(confusion_matrix(analysis["classes"], analysis["confusion_matrix"]),
              "Test rows by true class (rows) and predicted class (columns); shading: the share of the true class.")]
    if analysis.get("reliability"):
        found.append((class_reliability(analysis["reliability"]),
                      "Each class's observed rate against its mean predicted probability per bin (dashed: perfect)."))
    return found
