"""The figures of the HTML card, written directly as inline SVG from the card document's recorded numbers.

Each figure is a pure function of recorded numbers (no model, no data file), so a regenerated card draws the
same picture, byte for byte. The SVG is written here element by element, with no plotting stack: text stays text
(sharp when printed, searchable), coordinates are the recorded values mapped linearly onto the axes and rounded
to 0.01 px, and drawing a card's figures takes milliseconds. Recorded text is made inert and escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.canonical import sha256_text
from engine.safe_text import html_text, inert, one_line

INK, ACCENT, MUTED, GRID = "#1f2933", "#1f6feb", "#9aa5b1", "#e4e7eb"
FONT_PX = 11
CHAR_PX = 6.2  # an average glyph's width at FONT_PX, to size the label margin
DPI = 72  # figure sizes are given in inches, as before


def label(text: object) -> str:
    """Recorded text as SVG text: on one line, control characters made visible, markup characters escaped."""
    return html_text(one_line(text))


def num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values between `low` and `high` (steps of 1, 2 or 5 times a power of ten)."""
    span = max(high - low, 1e-12)
    raw = span / count
    step = min((m * 10 ** math.floor(math.log10(raw)) for m in (1, 2, 5, 10)
                if m * 10 ** math.floor(math.log10(raw)) >= raw), default=raw)
    first = math.ceil(low / step - 1e-9)
    return [round(k * step, 10) for k in range(first, math.floor(high / step + 1e-9) + 1)]


@dataclass(frozen=True)
class Axes:
    """A plot area inside a figure of `width` × `height` px, mapping data (xlim, ylim) onto it."""

    width: float
    height: float
    left: float
    bottom: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    top: float = 24.0
    right: float = 12.0

    def x(self, value: float) -> float:
        x0, x1 = self.xlim
        return self.left + (value - x0) / (x1 - x0) * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        y0, y1 = self.ylim
        return self.height - self.bottom - (value - y0) / (y1 - y0) * (self.height - self.top - self.bottom)

    def points(self, xs: Sequence[float], ys: Sequence[float]) -> str:
        return " ".join(f"{num(self.x(a))},{num(self.y(b))}" for a, b in zip(xs, ys, strict=True))


def svg_text(x: float, y: float, text: str, *, anchor: str = "middle", size: float = FONT_PX, weight: str = "normal",
          rotate: bool = False) -> str:
    turn = f' transform="rotate(-90 {num(x)} {num(y)})"' if rotate else ""
    bold = ' font-weight="bold"' if weight == "bold" else ""
    return (f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}" font-size="{num(size)}"{bold}{turn} '
            f'fill="{INK}">{text}</text>')


def svg_line(x1: float, y1: float, x2: float, y2: float, *, color: str, width: float = 1.0,
             dashed: bool = False) -> str:
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    return (f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{color}" '
            f'stroke-width="{num(width)}"{dash}/>')


def svg_document(width: float, height: float, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(width)}pt" height="{num(height)}pt" '
            f'viewBox="0 0 {num(width)} {num(height)}" font-family="DejaVu Sans, Arial, sans-serif" role="img">'
            f"<title>{title}</title>" + "".join(body) + "</svg>")


def frame(ax: Axes, *, title: str, xlabel: str, ylabel: str | None, yticks: bool = True) -> list[str]:
    """Grid, tick labels, axis lines, axis labels and the title of a numeric plot."""
    parts: list[str] = []
    for value in ticks(*ax.xlim):
        parts.append(svg_line(ax.x(value), ax.y(ax.ylim[0]), ax.x(value), ax.y(ax.ylim[1]), color=GRID, width=0.8))
        parts.append(svg_text(ax.x(value), ax.y(ax.ylim[0]) + 13, num(value)))
    if yticks:
        for value in ticks(*ax.ylim):
            parts.append(svg_line(ax.x(ax.xlim[0]), ax.y(value), ax.x(ax.xlim[1]), ax.y(value), color=GRID, width=0.8))
            parts.append(svg_text(ax.x(ax.xlim[0]) - 4, ax.y(value) + 4, num(value), anchor="end"))
    parts.append(svg_line(ax.x(ax.xlim[0]), ax.y(ax.ylim[0]), ax.x(ax.xlim[1]), ax.y(ax.ylim[0]), color=MUTED))
    parts.append(svg_line(ax.x(ax.xlim[0]), ax.y(ax.ylim[0]), ax.x(ax.xlim[0]), ax.y(ax.ylim[1]), color=MUTED))
    parts.append(svg_text((ax.x(ax.xlim[0]) + ax.x(ax.xlim[1])) / 2, ax.height - 6, xlabel))
    if ylabel is not None:
        parts.append(svg_text(12, (ax.y(ax.ylim[0]) + ax.y(ax.ylim[1])) / 2, ylabel, rotate=True))
    parts.append(svg_text(ax.width / 2, 15, title, size=FONT_PX + 1))
    return parts


def legend(ax: Axes, entries: Sequence[tuple[str, str, bool]], *, corner: str) -> list[str]:
    """(label, colour, dashed) entries stacked in a corner of the plot area."""
    parts: list[str] = []
    x = ax.x(ax.xlim[0]) + 8
    low = corner.startswith("lower")
    for index, (text, color, dashed) in enumerate(entries):
        offset = (len(entries) - index) * 14 if low else (index + 1) * 14
        y = ax.y(ax.ylim[0]) - offset + 4 if low else ax.y(ax.ylim[1]) + offset
        if corner.endswith("right"):
            x = ax.x(ax.xlim[1]) - 8 - 24 - CHAR_PX * len(text)
        parts.append(svg_line(x, y - 4, x + 18, y - 4, color=color, width=1.8, dashed=dashed))
        parts.append(svg_text(x + 24, y, text, anchor="start", size=FONT_PX - 1))
    return parts


def _unit_axes(width: float = 4.2, height: float = 3.2) -> Axes:
    return Axes(width * DPI, height * DPI, left=44, bottom=34, xlim=(0.0, 1.0), ylim=(0.0, 1.02))


def roc_curve(curves: dict[str, Any], auc: float | None) -> str:
    ax = _unit_axes()
    name = "ROC" if auc is None else f"ROC (AUC {auc:.3f})"
    title = "ROC curve (test split)"
    body = frame(ax, title=title, xlabel="false positive rate", ylabel="true positive rate")
    body.append(f'<polyline fill="none" stroke="{MUTED}" stroke-width="1" stroke-dasharray="4 3" '
                f'points="{ax.points([0, 1], [0, 1])}"/>')
    body.append(f'<polyline fill="none" stroke="{ACCENT}" stroke-width="1.8" '
                f'points="{ax.points(curves["roc"]["fpr"], curves["roc"]["tpr"])}"/>')
    body += legend(ax, [("chance", MUTED, True), (name, ACCENT, False)], corner="lower right")
    return svg_document(ax.width, ax.height, title, body)


def _steps(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    """A post-step line through the points: each value held until the next x."""
    step_x, step_y = [], []
    for index, (x, y) in enumerate(zip(xs, ys, strict=True)):
        step_x.append(x)
        step_y.append(y)
        if index + 1 < len(xs):
            step_x.append(xs[index + 1])
            step_y.append(y)
    return step_x, step_y


def pr_curve(curves: dict[str, Any], prevalence: float) -> str:
    ax = _unit_axes()
    title = "Precision-recall curve (test split)"
    body = frame(ax, title=title, xlabel="recall", ylabel="precision")
    body.append(svg_line(ax.x(0), ax.y(prevalence), ax.x(1), ax.y(prevalence), color=MUTED, dashed=True))
    xs, ys = _steps(curves["pr"]["recall"], curves["pr"]["precision"])
    body.append(f'<polyline fill="none" stroke="{ACCENT}" stroke-width="1.8" points="{ax.points(xs, ys)}"/>')
    body += legend(ax, [(f"prevalence {prevalence:.3f}", MUTED, True), ("precision-recall", ACCENT, False)],
                    corner="lower left")
    return svg_document(ax.width, ax.height, title, body)


def circle(x: float, y: float, radius: float) -> str:
    return (f'<path d="M{num(x - radius)},{num(y)} a{num(radius)},{num(radius)} 0 1,0 {num(2 * radius)},0 '
            f'a{num(radius)},{num(radius)} 0 1,0 {num(-2 * radius)},0z"/>')


def reliability(diagram: Sequence[dict[str, Any]], ece: float) -> str:
    ax = _unit_axes()
    title = "Reliability diagram (equal-width bins)"
    body = frame(ax, title=title, xlabel="mean predicted probability", ylabel="observed positive rate")
    body.append(svg_line(ax.x(0), ax.y(0), ax.x(1), ax.y(1), color=MUTED, dashed=True))
    xs = [float(b["mean_predicted"]) for b in diagram]
    ys = [float(b["fraction_positive"]) for b in diagram]
    largest = max((d["count"] for d in diagram), default=1) or 1
    body.append(f'<polyline fill="none" stroke="{ACCENT}" stroke-width="1.5" points="{ax.points(xs, ys)}"/>')
    markers = [circle(ax.x(x), ax.y(y), math.sqrt((12 + 120 * b["count"] / largest) / math.pi))
               for x, y, b in zip(xs, ys, diagram, strict=True)]  # area ~ rows, as a scatter's marker size
    body.append(f'<g id="reliability-bins" fill="{ACCENT}">' + "".join(markers) + "</g>")
    body += legend(ax, [("perfectly calibrated", MUTED, True), (f"bins (area ~ rows); ECE {ece:.4f}", ACCENT,
                                                                   False)], corner="upper left")
    return svg_document(ax.width, ax.height, title, body)


def _bar_axes(names: Sequence[str], high: float, *, width: float, height: float) -> Axes:
    left = min(12 + CHAR_PX * max((len(n) for n in names), default=4), width * DPI * 0.45)
    return Axes(width * DPI, height * DPI, left=left, bottom=34, xlim=(0.0, high), ylim=(len(names) - 0.4, -0.6))


def _bars(ax: Axes, names: Sequence[str], values: Sequence[float], *, fills: Sequence[str], gid: str) -> list[str]:
    """Horizontal bars, the first at the top, with their names as tick labels."""
    parts = [f'<g id="{gid}">']
    for position, (value, fill) in enumerate(zip(values, fills, strict=True)):
        top, bottom = ax.y(position - 0.3), ax.y(position + 0.3)
        y_low, y_high = min(top, bottom), max(top, bottom)
        parts.append(f'<rect x="{num(ax.x(0))}" y="{num(y_low)}" width="{num(ax.x(value) - ax.x(0))}" '
                     f'height="{num(y_high - y_low)}" {fill}/>')
    parts.append("</g>")
    parts += [svg_text(ax.left - 4, ax.y(position) + 4, name, anchor="end") for position, name in enumerate(names)]
    return parts


def group_bars(grouping: dict[str, Any], metric: str, metric_label: str) -> str:
    """One bar per group with its bootstrap interval as a whisker; too-small groups hatched and labelled."""
    groups = grouping["groups"]
    names = [label(g["group"]) + (" (too small)" if g["too_small"] else "") for g in groups]
    values = [g["metrics"][metric] if g["metrics"][metric] is not None else 0.0 for g in groups]
    ax = _bar_axes([inert(g["group"]) + (" (too small)" if g["too_small"] else "") for g in groups], 1.0,
                   width=5.6, height=0.9 + 0.32 * len(groups))
    title = f"{label(metric_label)} by {label(grouping['by'])} (whiskers: interval)"
    hatch = "hatch-" + sha256_text(f"{grouping['by']}\x00{metric}")[:12]
    body = [f'<defs><pattern id="{hatch}" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="white"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{MUTED}" stroke-width="1.5"/></pattern></defs>']
    body += frame(ax, title=title, xlabel=label(metric_label), ylabel=None, yticks=False)
    fills = [f'fill="url(#{hatch})" stroke="{MUTED}"' if g["too_small"] else f'fill="{ACCENT}"' for g in groups]
    body += _bars(ax, names, values, fills=fills, gid=f"bars-{metric}")
    for position, (value, g) in enumerate(zip(values, groups, strict=True)):
        low, high = g["intervals"][metric]
        if low is None or high is None:
            continue
        x_low, x_high, y = ax.x(min(low, value)), ax.x(max(high, value)), ax.y(position)
        body.append(svg_line(x_low, y, x_high, y, color=INK))
        body += [svg_line(x, y - 3, x, y + 3, color=INK) for x in (x_low, x_high)]
    return svg_document(ax.width, ax.height, title, body)


def top_features(features: Sequence[tuple[str, float]], title: str) -> str:
    names = [label(name) for name, _ in features]
    values = [float(value) for _, value in features]
    high = max(max(values, default=0.0) * 1.05, 1e-12)
    ax = _bar_axes([inert(name) for name, _ in features], high, width=5.6, height=0.9 + 0.3 * len(features))
    body = frame(ax, title=label(title), xlabel="mean |SHAP value|", ylabel=None, yticks=False)
    body += _bars(ax, names, values, fills=[f'fill="{ACCENT}"'] * len(values), gid="top-features")
    return svg_document(ax.width, ax.height, label(title), body)


def learning_curve(points: Sequence[dict[str, Any]], metric: str) -> str:
    """The metric on the training rows and on the validation rows against the number of training rows."""
    drawn = [p for p in points if p["train"] is not None and p["validation"] is not None]
    values = [float(p[key]) for p in drawn for key in ("train", "validation")] or [0.0, 1.0]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.15, 0.01)
    rows = [float(p["rows"]) for p in drawn] or [1.0]
    ax = Axes(4.2 * DPI, 3.2 * DPI, left=48, bottom=34, xlim=(0.0, max(rows) * 1.05), ylim=(low - pad, high + pad))
    title = f"Learning curve ({label(metric)})"
    body = frame(ax, title=title, xlabel="training rows", ylabel=label(metric))
    for key, color, dashed in (("train", MUTED, True), ("validation", ACCENT, False)):
        ys = [float(p[key]) for p in drawn]
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        body.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8"{dash} '
                    f'points="{ax.points(rows, ys)}"/>')
        body.append(f'<g fill="{color}">' + "".join(circle(ax.x(x), ax.y(y), 2.5) for x, y in zip(rows, ys,
                                                                                                   strict=True))
                    + "</g>")
    body += legend(ax, [("on the training rows", MUTED, True), ("on the validation rows", ACCENT, False)],
                    corner="lower right")
    return svg_document(ax.width, ax.height, title, body)
