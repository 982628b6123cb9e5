"""The HTML model card: one self-contained file (inline CSS, figures as inline SVG) that also prints well.

The text is the Markdown card's, section by section, turned into HTML by markdown-it with raw HTML disabled
(so recorded strings, already escaped for Markdown, cannot inject markup); each section is followed by the
figures that fit it. Nothing is loaded from anywhere when the file is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markdown_it import MarkdownIt

import engine.cards.figures as figures
import engine.cards.figures_tasks as figures_tasks
from engine.cards.markdown import SECTIONS, summary
from engine.cards.markup import code, md, missing
from engine.safe_text import html_text

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933; max-width: 1100px;
       margin: 2rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.7rem; border-bottom: 3px solid #1f6feb; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #e4e7eb; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: 12.5px; }
th, td { border: 1px solid #cbd2d9; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
tr:nth-child(even) td { background: #fafbfc; }
td code { white-space: nowrap; }
code { font: 12px ui-monospace, Menlo, Consolas, monospace; background: #f0f4f8; padding: 0 .2rem; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; margin: .8rem 0; }
figure { margin: 0; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #52606d; }
@media print { body { margin: 0; max-width: none; font-size: 11px; } h2 { page-break-after: avoid; }
               table, figure { page-break-inside: avoid; } }
"""


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{html_text(caption)}</figcaption></figure>"


def _metric_figures(card: dict[str, Any]) -> list[str]:
    evaluation = card["mlgate"]["evaluation"]
    curves = evaluation.get("curves", {})
    if missing(evaluation) is not None or missing(curves) is not None:
        return []
    auc = next((m["value"] for m in evaluation["metrics"] if m["metric"] == "roc_auc"), None)
    prevalence = evaluation["positives"] / evaluation["rows"]
    return [
        _figure(figures.roc_curve(curves, auc), f"ROC curve on the {evaluation['rows']} test rows."),
        _figure(figures.pr_curve(curves, prevalence), "Precision-recall curve on the same rows."),
    ]


def _group_figures(card: dict[str, Any]) -> list[str]:
    groups = card["mlgate"]["groups"]
    if missing(groups) is not None:
        return []
    return [
        _figure(figures.group_bars(grouping, metric, label),
                f"{label} of each group of {grouping['by']}; hatched groups have too few rows to judge.")
        for grouping in groups for metric, label in _group_measures(card)
    ]


def _group_measures(card: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The two group measures drawn: TPR and selection rate (binary), else the task's first two."""
    task = card["mlgate"]["evaluation"].get("task", "binary")
    return {"regression": (("rmse", "RMSE"), ("mean_residual", "mean residual")),
            "multiclass": (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"))}.get(
        task, (("tpr", "true positive rate"), ("selection_rate", "selection rate")))


def _calibration_figures(card: dict[str, Any]) -> list[str]:
    calibration = card["mlgate"]["calibration"]
    if missing(calibration) is not None or "uniform" not in calibration:
        return []
    uniform = calibration["uniform"]
    return [_figure(figures.reliability(uniform["diagram"], uniform["ece"]),
                    "Observed positive rate against mean predicted probability per bin.")]


def _explanation_figures(card: dict[str, Any], top: int = 10) -> list[str]:
    explained = card["mlgate"]["explanations"]
    if missing(explained) is not None or not explained["ranking"]:
        return []
    features = [(f["feature"], f["mean_abs"]) for f in explained["ranking"][:top]]
    space = explained["output_space"].replace("_", " ")
    return [_figure(figures.top_features(features, f"Top drivers (mean |SHAP|, {space})"),
                    f"Mean absolute SHAP value of the top {len(features)} features on the explained test rows.")]


def _fit_figures(card: dict[str, Any]) -> list[str]:
    gap = (card["mlgate"].get("fit") or {}).get("generalization")
    if not gap or missing(gap) is not None or not gap.get("learning_curve"):
        return []
    curve = gap["learning_curve"]
    return [_figure(figures.learning_curve(curve["points"], curve["metric"]),
                    "The optimizing metric refitted on growing shares of the training rows: on those rows (dashed) "
                    "and on the validation rows. A wide gap that narrows with rows is variance; two low lines, bias.")]


FIGURES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "metrics": _metric_figures,
    "fit": _fit_figures,
    "groups": _group_figures,
    "task_analysis": lambda card: [_figure(svg, caption) for svg, caption in figures_tasks.task_figures(card)],
    "calibration": _calibration_figures,
    "explanations": _explanation_figures,
}


def render_html(card: dict[str, Any]) -> str:
    """The self-contained HTML model card of one card document."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    details = card["model_details"]
    title = f"Model card: {details['name']}" + (" (baseline)" if details["is_baseline"] else "")
    body = [parser.render(f"# {md(title)}\n\nAudit {code(card['mlgate']['audit'])}, run `{card['mlgate']['run_id']}`."
                          f"\n\n{summary(card)}")]
    for name, section in SECTIONS.items():
        body.append(parser.render("\n".join(section(card))))
        drawn = FIGURES[name](card) if name in FIGURES else []
        if drawn:
            body.append('<div class="figures">' + "".join(drawn) + "</div>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html_text(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body) + "\n</body></html>\n"
    )
