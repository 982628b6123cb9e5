"""engine.cards: the Markdown, HTML and JSON cards of a real audit, regenerated from the trail by `mlgate card`."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

from engine.audit.runs import load_run
from engine.audit.trail import current_head
from engine.cards import render_card
from engine.cards.document import card_document
from engine.jsonfiles import load_schema, schema_errors
from engine.service import AuditResult, run_audit
from engine.spec import build_spec

pytestmark = pytest.mark.slow
HOSTILE_COLUMN = "<img src=x onerror=alert(1)> *cap|gain*"


@pytest.fixture(scope="module")
def audited(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    folder = tmp_path_factory.mktemp("cards")
    data = adult_sample.rename(columns={"capital-gain": HOSTILE_COLUMN})
    data.to_parquet(folder / "adult.parquet", index=False)
    spec = build_spec({
        "name": "adult cards",
        "card": {"owners": ["Risk team"], "license": "MIT", "version": "2.1.0",
                 "intended_use": "Teaching.", "out_of_scope_uses": "Decisions about people."},
        "data": {"path": str(folder / "adult.parquet"), "target": "income", "positive": ">50K",
                 "sensitive": ["sex", "race"]},
        "evaluation": {"bootstrap": 200},
        "candidates": [{"name": "baseline", "family": "baseline"}, {"name": "logistic", "family": "logistic"}],
    }, source="test_cards")
    return run_audit(spec, audit_db=folder / "audit.duckdb", cards_dir=folder / "cards")


def files(result: AuditResult, candidate: str) -> dict[str, Path]:
    written = load_run(result.audit_db, result.run_id).cards[candidate].data["files"]
    return {fmt: Path(entry["path"]) for fmt, entry in written.items()}


def test_every_candidate_gets_md_html_and_json_recorded_with_their_hashes(audited: AuditResult) -> None:
    import hashlib

    record = load_run(audited.audit_db, audited.run_id)
    for candidate in ("baseline", "logistic"):
        written = record.cards[candidate].data
        assert set(written["files"]) == {"md", "html", "json"}
        for entry in written["files"].values():
            assert hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
        assert written["trail_head"]["seq"] < record.cards[candidate].seq


def test_json_card_validates_against_the_shipped_schema_and_uses_model_card_toolkit_names(
        audited: AuditResult) -> None:
    schema = load_schema("engine.cards", "model-card-v1.schema.json")
    card = json.loads(files(audited, "logistic")["json"].read_text(encoding="utf-8"))
    assert schema_errors(card, schema) == []
    assert card["model_details"]["owners"] == [{"name": "Risk team"}]
    assert card["model_details"]["version"]["name"] == "2.1.0"
    assert card["model_details"]["licenses"] == [{"custom_text": "MIT"}]
    assert card["considerations"]["use_cases"] == [{"description": "Teaching."}]
    broken = {**card, "model_details": {**card["model_details"], "owners": "Risk team"}}
    assert schema_errors(broken, schema)  # the schema does check something


def test_json_card_numbers_are_the_recorded_evidence(audited: AuditResult) -> None:
    record = load_run(audited.audit_db, audited.run_id)
    evidence = record.candidates["logistic"].data["evidence"]
    card = json.loads(files(audited, "logistic")["json"].read_text(encoding="utf-8"))
    overall = {m["type"]: m for m in card["quantitative_analysis"]["performance_metrics"] if m["slice"] == "overall"}
    for name, value in evidence["metrics"].items():
        assert overall[name]["value"] == value
        low, high = evidence["intervals"]["metrics"][name]
        assert overall[name]["confidence_interval"] == {"lower_bound": low, "upper_bound": high}
    sex = next(s for s in evidence["slices"] if s["name"] == "sex")
    female = next(g for g in sex["groups"] if g["group"] == "Female")
    by_slice = {(m["type"], m["slice"]): m["value"] for m in card["quantitative_analysis"]["performance_metrics"]}
    assert by_slice[("tpr", "sex=Female")] == female["metrics"]["tpr"]
    table = {m["metric"]: m for m in card["mlgate"]["evaluation"]["metrics"]}
    assert table["roc_auc"]["lift"] == evidence["comparisons"]["baseline"]["roc_auc"]["lift"]
    statuses = {r["id"]: r["status"] for r in card["mlgate"]["verdict"]["rules"]}
    outcomes = {o["id"]: o["status"] for o in record.rules["logistic"].data["outcomes"]}
    assert statuses == outcomes
    checklist = {item["id"]: item for item in card["mlgate"]["checklist"]}
    assert checklist["optimizing_metric"]["rules"] and checklist["fairness"]["status"] == "not covered"


def test_the_card_command_regenerates_the_same_card_from_the_trail(audited: AuditResult, tmp_path: Path) -> None:
    for fmt in ("md", "json", "html"):
        out = tmp_path / f"card.{fmt}"
        done = run_cli("card", audited.run_id, "logistic", "--format", fmt, "--out", out,
                       "--audit-db", audited.audit_db)
        assert done.returncode == 0, done.stderr
        original = files(audited, "logistic")[fmt].read_text(encoding="utf-8")
        regenerated = out.read_text(encoding="utf-8")
        head = load_run(audited.audit_db, audited.run_id).cards["logistic"].data["trail_head"]
        now = current_head(audited.audit_db)
        assert regenerated.replace(now["hash"], head["hash"]).replace(
            f"event {now['seq']}", f"event {head['seq']}").replace(
            f'"head_seq": {now["seq"]}', f'"head_seq": {head["seq"]}') == original
    printed = run_cli("card", audited.run_id, "logistic", "--audit-db", audited.audit_db)
    assert printed.returncode == 0 and printed.stdout.startswith("# Model card: logistic")


@pytest.mark.parametrize(("args", "message"), [
    (["20990101T000000Z-abcdef", "logistic"], "20990101T000000Z-abcdef"),
    (["RUN", "nobody"], "has no candidate 'nobody'"),
])
def test_the_card_command_refuses_unknown_runs_and_candidates_with_exit_2(
        audited: AuditResult, args: list[str], message: str) -> None:
    argv = [audited.run_id if a == "RUN" else a for a in args]
    done = run_cli("card", *argv, "--audit-db", audited.audit_db)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_html_card_is_self_contained_with_figures_of_the_recorded_numbers(audited: AuditResult) -> None:
    page = files(audited, "logistic")["html"].read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert page.count("<svg") >= 6  # ROC, PR, reliability, two bar charts per sensitive column
    card = json.loads(files(audited, "logistic")["json"].read_text(encoding="utf-8"))
    bins = card["mlgate"]["calibration"]["uniform"]["diagram"]
    reliability = page[page.index('id="reliability-bins"'):]
    reliability = reliability[:reliability.index("</g>")]
    assert reliability.count("<path") == len(bins)  # one marker per non-empty bin
    for group in ("Female", "Male", "White"):
        assert f">{group}<" in page  # bar labels are text in the SVG
    assert "ROC (AUC " in page and f"{card['mlgate']['evaluation']['metrics'][0]['value']:.3f}" in page


def test_untrusted_column_names_are_inert_in_every_format(audited: AuditResult) -> None:
    paths = files(audited, "logistic")
    page = paths["html"].read_text(encoding="utf-8")
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    markdown = paths["md"].read_text(encoding="utf-8")
    assert "<img" not in markdown.replace("`<img", "")  # only inside an inert code span
    card = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert HOSTILE_COLUMN in card["model_parameters"]["features"]["numeric"]  # JSON keeps the exact name


def test_cards_never_print_none_and_say_why_evidence_is_missing(audited: AuditResult) -> None:
    record = load_run(audited.audit_db, audited.run_id)
    for candidate in ("baseline", "logistic"):
        for fmt in ("md", "html"):
            text = render_card(record, candidate, fmt, trail_head=current_head(audited.audit_db))
            assert not re.search(r"\bNone\b|\bnan\b|Traceback", text)
    failed = dataclasses.replace(record.candidates["logistic"], data={
        **record.candidates["logistic"].data, "evidence": None, "error": "ValueError: solver did not converge"})
    broken = dataclasses.replace(record, candidates={**record.candidates, "logistic": failed}, rules={})
    document = card_document(broken, "logistic", trail_head={"seq": 1, "hash": "0" * 64})
    assert document["mlgate"]["evaluation"] == {
        "status": "not evaluated",
        "reason": "the candidate failed before evaluation: ValueError: solver did not converge"}
    assert schema_errors(document, load_schema("engine.cards", "model-card-v1.schema.json")) == []
    markdown = render_card(broken, "logistic", "md", trail_head={"seq": 1, "hash": "0" * 64})
    assert "not evaluated: the candidate failed before evaluation" in markdown
    assert not re.search(r"\bNone\b", markdown)


def test_figure_labels_show_recorded_text_literally() -> None:
    import warnings

    from engine.cards import figures

    grouping = {"by": "$x$", "groups": [
        {"group": name, "too_small": False, "metrics": {"tpr": 0.5}, "intervals": {"tpr": [0.4, 0.6]}}
        for name in ("a\x1b[31mred", "$\\frac{1}{0}$", "plain")]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph or a mathtext error would raise here
        svg = figures.group_bars(grouping, "tpr", "true positive rate")
    assert "a\ufffd[31mred" in svg and "$\\frac{1}{0}$" in svg and ">plain<" in svg


def test_cards_show_coverage_per_group_top_drivers_and_robustness(audited: AuditResult) -> None:
    record = load_run(audited.audit_db, audited.run_id)
    evidence = record.candidates["logistic"].data["evidence"]
    paths = files(audited, "logistic")
    card = json.loads(paths["json"].read_text(encoding="utf-8"))
    level = evidence["conformal"]["levels"][0]
    assert card["mlgate"]["conformal"]["levels"][0]["coverage"] == level["coverage"]
    markdown = paths["md"].read_text(encoding="utf-8")
    female = next(g for s in level["by_group"] if s["name"] == "sex" for g in s["groups"] if g["group"] == "Female")
    assert f"| Female | {female['support']} | {female['coverage']:.4f} |" in markdown
    top = evidence["explanations"]["ranking"][0]
    assert f"| 1 | `{top['feature']}` | {top['mean_abs']:.4f} |" in markdown
    drop = evidence["robustness"]["perturbations"]["gaussian_noise"]["drop"]["roc_auc"]
    assert f"| gaussian noise | {drop:.4f} |" in markdown
    page = paths["html"].read_text(encoding="utf-8")
    assert "Top drivers (mean |SHAP|" in page


def test_cards_show_the_artifact_latency_reproducibility_and_lineage(audited: AuditResult) -> None:
    record = load_run(audited.audit_db, audited.run_id)
    evidence = record.candidates["logistic"].data["evidence"]
    markdown = files(audited, "logistic")["md"].read_text(encoding="utf-8")
    serving = evidence["serving"]
    assert f"SHA-256 `{serving['artifact']['files']['model.onnx']['sha256']}`" in markdown
    assert f"p99 {serving['latency']['p99_ms']:.3f} ms" in markdown
    assert f"largest probability difference {serving['skew']['max_abs_diff']:.2e}" in markdown
    assert "- Retrain with the same data, parameters and seed on cpu: identical" in markdown
    assert "none promoted yet" in markdown
    assert f"CPU {evidence['lineage']['cpu']['model']}" in markdown
