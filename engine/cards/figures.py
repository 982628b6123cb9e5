"""The figures of the HTML card, drawn by matplotlib from the card document's numbers and embedded as SVG.

Each figure is a pure function of recorded numbers (no model, no data file), so a regenerated card draws the
same picture. SVG keeps text as text (sharp when printed, searchable) and is made reproducible: no timestamp,
a fixed id salt. matplotlib is imported here only, when an HTML card is drawn.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from engine.safe_text import figure_label

INK, ACCENT, MUTED, GRID = "#1f2933", "#1f6feb", "#9aa5b1", "#e4e7eb"


def label(text: object) -> str:
    """Recorded text as a figure label: control characters made visible, `$` never starting mathtext."""
    return figure_label(text)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({
        "svg.fonttype": "none", "svg.hashsalt": "mlgate", "font.size": 9, "axes.edgecolor": MUTED,
        "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK, "axes.grid": True, "grid.color": GRID,
        "axes.spines.top": False, "axes.spines.right": False,
    })
    import matplotlib.pyplot as plt

    return plt


def _svg(draw: Callable[[Any], None], *, width: float = 4.2, height: float = 3.2) -> str:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(width, height))
    try:
        draw(axes)
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    finally:
        plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def roc_curve(curves: dict[str, Any], auc: float | None) -> str:
    def draw(ax: Any) -> None:
        ax.plot([0, 1], [0, 1], color=MUTED, linestyle="--", linewidth=1, label="chance")
        legend = "ROC" if auc is None else f"ROC (AUC {auc:.3f})"
        ax.plot(curves["roc"]["fpr"], curves["roc"]["tpr"], color=ACCENT, linewidth=1.8, label=legend)
        ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02),
               title="ROC curve (test split)")
        ax.legend(loc="lower right", frameon=False)
    return _svg(draw)


def pr_curve(curves: dict[str, Any], prevalence: float) -> str:
    def draw(ax: Any) -> None:
        ax.axhline(prevalence, color=MUTED, linestyle="--", linewidth=1, label=f"prevalence {prevalence:.3f}")
        ax.step(curves["pr"]["recall"], curves["pr"]["precision"], where="post", color=ACCENT, linewidth=1.8,
                label="precision-recall")
        ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
               title="Precision-recall curve (test split)")
        ax.legend(loc="lower left", frameon=False)
    return _svg(draw)


def reliability(diagram: Sequence[dict[str, Any]], ece: float) -> str:
    def draw(ax: Any) -> None:
        ax.plot([0, 1], [0, 1], color=MUTED, linestyle="--", linewidth=1, label="perfectly calibrated")
        xs = [b["mean_predicted"] for b in diagram]
        ys = [b["fraction_positive"] for b in diagram]
        sizes = [12 + 120 * b["count"] / max(max(d["count"] for d in diagram), 1) for b in diagram]
        ax.plot(xs, ys, color=ACCENT, linewidth=1.5)
        ax.scatter(xs, ys, s=sizes, color=ACCENT, zorder=3, label=f"bins (area ~ rows); ECE {ece:.4f}",
                   gid="reliability-bins")
        ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", xlim=(0, 1), ylim=(0, 1.02),
               title="Reliability diagram (equal-width bins)")
        ax.legend(loc="upper left", frameon=False)
    return _svg(draw)


def group_bars(grouping: dict[str, Any], metric: str, metric_label: str) -> str:
    """One bar per group with its bootstrap interval as a whisker; too-small groups hatched and labelled."""
    groups = grouping["groups"]

    def draw(ax: Any) -> None:
        names = [label(g["group"]) + (" (too small)" if g["too_small"] else "") for g in groups]
        values = [g["metrics"][metric] if g["metrics"][metric] is not None else 0.0 for g in groups]
        lows = [max(v - lo, 0.0) if (lo := g["intervals"][metric][0]) is not None else 0.0
                for v, g in zip(values, groups, strict=True)]
        highs = [max(hi - v, 0.0) if (hi := g["intervals"][metric][1]) is not None else 0.0
                 for v, g in zip(values, groups, strict=True)]
        positions = list(range(len(groups)))
        bars = ax.barh(positions, values, xerr=[lows, highs], color=ACCENT, ecolor=INK, capsize=3, height=0.6,
                       gid=f"bars-{metric}")
        for bar, g in zip(bars, groups, strict=True):
            if g["too_small"]:
                bar.set(color="white", edgecolor=MUTED, hatch="///")
        ax.set_yticks(positions, names)
        ax.invert_yaxis()
        ax.set(xlabel=metric_label, xlim=(0, 1),
               title=f"{metric_label} by {label(grouping['by'])} (whiskers: interval)")
    return _svg(draw, width=5.6, height=0.9 + 0.32 * len(groups))


def top_features(features: Sequence[tuple[str, float]], title: str) -> str:
    def draw(ax: Any) -> None:
        positions = list(range(len(features)))
        ax.barh(positions, [value for _, value in features], color=ACCENT, height=0.6)
        ax.set_yticks(positions, [label(name) for name, _ in features])
        ax.invert_yaxis()
        ax.set(xlabel="mean |SHAP value|", title=title)
    return _svg(draw, width=5.6, height=0.9 + 0.3 * len(features))
