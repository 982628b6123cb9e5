"""The cards of a regression and a multiclass candidate: their own section and figures (residuals against
predictions and the residual histogram; the confusion matrix and per-class reliability), every number drawn being
the recorded evidence's, recorded text inert, and every format valid as the binary cards are."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from card_validators import cyclonedx_problem, hf_card, mct_problems
from task_runs import ESCAPED_GROUP, MARKUP_COLUMN, TaskRuns

from engine.audit.runs import load_run
from engine.cards.figures_tasks import class_reliability, confusion_matrix
from engine.cards.mct import mct_document
from engine.jsonfiles import load_schema, schema_errors

pytestmark = pytest.mark.slow
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module", params=["regression", "multiclass"])
def runs(request: pytest.FixtureRequest) -> TaskRuns:
    return request.getfixturevalue(f"{request.param}_runs")  # type: ignore[no-any-return]


def _files(runs: TaskRuns, name: str = "logistic") -> dict[str, Path]:
    written = load_run(runs.db, runs.second).cards[name].data["files"]
    return {fmt: Path(entry["path"]) for fmt, entry in written.items()}


def _svgs(page: str) -> dict[str, ET.Element]:
    """Every inline SVG of the page, parsed as XML (so each is well formed), by its title."""
    found = {}
    for text in re.findall(r"<svg .*?</svg>", page, flags=re.S):
        root = ET.fromstring(text)
        found[str(root.find(f"{SVG}title").text)] = root  # type: ignore[union-attr]
    return found


def _group(root: ET.Element, gid: str) -> ET.Element:
    return next(g for g in root.iter(f"{SVG}g") if g.get("id") == gid)


def test_the_html_card_is_self_contained_and_every_figure_is_well_formed(runs: TaskRuns) -> None:
    page = _files(runs)["html"].read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    titles = set(_svgs(page))
    own = {"regression": {"Residuals against predictions (test split)", "Residual histogram (test split)"},
           "multiclass": {"Confusion matrix (rows: true class; columns: predicted)",
                          "Reliability of each class (one-vs-rest, equal-width bins)"}}[runs.task]
    assert own <= titles
    assert not re.search(r"\bNone\b|\bnan\b|Traceback", page)


def test_the_figures_draw_the_recorded_numbers(runs: TaskRuns) -> None:
    evidence = load_run(runs.db, runs.second).evidence("logistic")
    svgs = _svgs(_files(runs)["html"].read_text(encoding="utf-8"))
    if runs.task == "regression":
        buckets = evidence["error_analysis"]["by_prediction"]
        median = next(p for p in svgs["Residuals against predictions (test split)"].iter(f"{SVG}polyline")
                      if p.get("id") == "residual-median")
        assert len(str(median.get("points")).split()) == len(buckets)
        means = _group(svgs["Residuals against predictions (test split)"], "residual-means")
        assert len(list(means)) == len(buckets)
        histogram = evidence["error_analysis"]["residual_histogram"]
        bars = list(_group(svgs["Residual histogram (test split)"], "residual-histogram"))
        assert len(bars) == len(histogram["counts"])
        heights = [float(str(b.get("height"))) for b in bars]  # proportional to the recorded counts
        tallest = max(histogram["counts"])
        for count, height in zip(histogram["counts"], heights, strict=True):
            assert height == pytest.approx(count / tallest * max(heights), abs=0.02)
    else:
        root = svgs["Confusion matrix (rows: true class; columns: predicted)"]
        cells = [t.text for t in _group(root, "confusion-cells").iter(f"{SVG}text")]
        assert cells == [str(v) for row in evidence["confusion_matrix"] for v in row]
        lines = [g for g in svgs["Reliability of each class (one-vs-rest, equal-width bins)"].iter(f"{SVG}g")
                 if g.get("class") == "class-reliability"]
        per_class = evidence["calibration"]["per_class"]
        assert len(lines) == len(per_class) == len(evidence["classes"])
        for line, entry in zip(lines, per_class, strict=True):
            assert len(list(line)) - 1 == len(entry["diagram"])  # a marker per non-empty bin
        page = _files(runs)["html"].read_text(encoding="utf-8")
        assert f"{per_class[0]['ece']:.3f}" in page


def test_the_markdown_section_holds_the_recorded_numbers(runs: TaskRuns) -> None:
    evidence = load_run(runs.db, runs.second).evidence("logistic")
    markdown = _files(runs)["md"].read_text(encoding="utf-8")
    if runs.task == "regression":
        assert "## Residuals" in markdown
        for bucket in evidence["error_analysis"]["by_prediction"]:
            assert f"| {bucket['count']} | {bucket['mean_prediction']:.4f} |" in markdown
            assert f"{bucket['residual_quantiles']['p90']:.4f}" in markdown
    else:
        assert "## Classes" in markdown
        for entry in evidence["per_class"]:
            precision = "undefined" if entry["precision"] is None else f"{entry['precision']:.4f}"  # never predicted
            assert f"| {entry['support']} | {entry['predicted']} | {precision} |" in markdown
        row = " | ".join(str(v) for v in evidence["confusion_matrix"][0])
        assert row in markdown
        assert f"Class-wise ECE {evidence['calibration']['classwise_ece']:.4f}" in markdown


def test_the_robustness_table_speaks_the_tasks_metrics(runs: TaskRuns) -> None:
    robust = load_run(runs.db, runs.second).evidence("logistic")["robustness"]
    markdown = _files(runs)["md"].read_text(encoding="utf-8")
    section = markdown.split("## Robustness", 1)[1].split("\n## ", 1)[0]
    metrics = {"regression": ["rmse", "mae"], "multiclass": ["accuracy", "f1_macro"]}[runs.task]
    assert set(robust["clean"]) == set(metrics) and robust["metric"] == metrics[0]
    assert "ROC AUC" not in section and "not evaluated" not in section
    assert ("decisions flipped" in section) == (runs.task == "multiclass")  # a regression has no decision
    for name, perturbation in robust["perturbations"].items():
        cells = [f"{perturbation['drop'][m]:.4f}" for m in metrics]
        assert f"| {name.replace('_', ' ')} | {' | '.join(cells)} |" in section


def test_the_champion_comparison_is_in_the_card(runs: TaskRuns) -> None:
    card = json.loads(_files(runs, "strong")["json"].read_text(encoding="utf-8"))
    evidence = load_run(runs.db, runs.second).evidence("strong")
    assert card["mlgate"]["champion"]["comparison"] == evidence["comparisons"]["champion"]
    markdown = _files(runs, "strong")["md"].read_text(encoding="utf-8")
    assert "lift over the champion" in markdown


def test_every_format_validates(runs: TaskRuns) -> None:
    paths = _files(runs)
    card: dict[str, Any] = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert schema_errors(card, load_schema("engine.cards", "model-card-v1.schema.json")) == []
    assert card["mlgate"]["task_analysis"]["task"] == runs.task
    assert mct_problems(mct_document(card)) == []
    hub = hf_card(paths["hf"].read_text(encoding="utf-8"))
    assert hub.data.pipeline_tag == {"regression": "tabular-regression",
                                     "multiclass": "tabular-classification"}[runs.task]
    assert cyclonedx_problem(paths["cyclonedx"].read_text(encoding="utf-8")) is None
    bom = json.loads(paths["cyclonedx"].read_text(encoding="utf-8"))
    tasks = [c["modelCard"]["modelParameters"]["task"] for c in bom["components"] if "modelCard" in c]
    assert tasks == [{"regression": "regression", "multiclass": "multiclass classification"}[runs.task]]


def test_recorded_text_is_inert_in_the_figures_and_the_markdown(runs: TaskRuns) -> None:
    page = _files(runs)["html"].read_text(encoding="utf-8")
    assert "\x1b" not in page and ESCAPED_GROUP.replace("\x1b", "\ufffd") in page
    assert "[bold red]race[/bold red]" in page  # literal, not markup
    markdown = _files(runs)["md"].read_text(encoding="utf-8")
    assert "\x1b" not in markdown
    assert MARKUP_COLUMN.split("]")[1].split("[")[0] in markdown


def test_hostile_class_names_are_escaped_in_the_figures() -> None:
    classes = ["<b>bold</b>", "a\x1b[31mred", "plain & simple"]
    svg = confusion_matrix(classes, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert "<b>" not in svg and "&lt;b&gt;bold&lt;/b&gt;" in svg and "\x1b" not in svg and "&amp; simple" in svg
    ET.fromstring(svg)
    reliability = class_reliability([{"class": c, "ece": 0.1, "diagram": [
        {"mean_predicted": 0.2, "fraction_positive": 0.25, "count": 3}]} for c in classes])
    assert "<b>" not in reliability and "\x1b" not in reliability
    ET.fromstring(reliability)
