"""engine.cards: every format of the cards of a real audit of every family (Markdown, HTML, JSON; Model Card
Toolkit, Hugging Face, CycloneDX checked by their own validators), regenerated from the trail by `mlgate card`."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from card_validators import cyclonedx_problem, hf_card, hf_file, mct_problems
from conftest import run_cli

from engine.audit.export import export, verify_export
from engine.audit.runs import load_run
from engine.audit.trail import current_head
from engine.cards import FORMATS, render_card
from engine.cards.document import card_document
from engine.cards.files import card_path
from engine.cards.mct import mct_document, mct_errors
from engine.jsonfiles import load_schema, schema_errors
from engine.service import AuditResult, run_audit
from engine.spec import build_spec

pytestmark = pytest.mark.slow
HOSTILE_COLUMN = "<img src=x onerror=alert(1)> *cap|gain*"
# One candidate of every family, small enough to train in seconds: every card format is checked for each.
CANDIDATES = [
    {"name": "baseline", "family": "baseline"},
    {"name": "logistic", "family": "logistic"},
    {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 20}},
    {"name": "mlp", "family": "torch_mlp", "params": {"hidden_sizes": [8], "epochs": 2, "batch_size": 256}},
]
NAMES = [c["name"] for c in CANDIDATES]


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
        "evaluation": {"bootstrap": 50, "shap_rows": 10, "shap_background": 10, "robustness_rows": 200},
        "candidates": CANDIDATES,
    }, source="test_cards")
    return run_audit(spec, audit_db=folder / "audit.duckdb", cards_dir=folder / "cards")


def files(result: AuditResult, candidate: str) -> dict[str, Path]:
    written = load_run(result.audit_db, result.run_id).cards[candidate].data["files"]
    return {fmt: Path(entry["path"]) for fmt, entry in written.items()}


def test_every_candidate_gets_md_html_and_json_recorded_with_their_hashes(audited: AuditResult) -> None:
    import hashlib

    record = load_run(audited.audit_db, audited.run_id)
    for candidate in NAMES:
        written = record.cards[candidate].data
        assert set(written["files"]) == {"md", "html", "json"} | {"mct", "hf", "cyclonedx"}
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


# The cards other tools read: Model Card Toolkit JSON, the Hugging Face README, the CycloneDX 1.6 ML BOM.


def recorded_overall(audited: AuditResult, candidate: str) -> dict[str, Any]:
    return load_run(audited.audit_db, audited.run_id).candidates[candidate].data["evidence"]


def test_every_format_lives_in_its_own_place_and_the_cli_offers_them_all(audited: AuditResult) -> None:
    from cli.author import CARD_FORMATS

    assert CARD_FORMATS == FORMATS
    paths = files(audited, "lightgbm")
    run = paths["md"].parent
    assert {fmt: str(path.relative_to(run)) for fmt, path in paths.items()} == {
        "md": "lightgbm.md", "html": "lightgbm.html", "json": "lightgbm.json", "mct": "mct/lightgbm.json",
        "hf": "hf/lightgbm/README.md", "cyclonedx": "cyclonedx/lightgbm.cdx.json"}
    with pytest.raises(ValueError):
        card_path(run.parent, audited.run_id, "../x", "hf")


@pytest.mark.parametrize("candidate", NAMES)
def test_mct_card_of_every_family_validates_against_the_published_schema(audited: AuditResult,
                                                                         candidate: str) -> None:
    card = json.loads(files(audited, candidate)["mct"].read_text(encoding="utf-8"))
    assert mct_problems(card) == [] and mct_errors(card) == []
    evidence = recorded_overall(audited, candidate)
    overall = {m["type"]: m for m in card["quantitative_analysis"]["performance_metrics"] if m["slice"] == "overall"}
    for name, value in evidence["metrics"].items():
        if value is None:
            continue
        assert isinstance(overall[name]["value"], str) and float(overall[name]["value"]) == value
        low, high = evidence["intervals"]["metrics"][name]
        assert float(overall[name]["confidence_interval"]["lower_bound"]) == low
        assert float(overall[name]["confidence_interval"]["upper_bound"]) == high
    record = load_run(audited.audit_db, audited.run_id)
    sha256 = record.started.data["data"]["fingerprint"]["sha256"]
    assert [d["name"].endswith(("split of the data)", "(test split)")) for d in card["model_parameters"]["data"]] \
        == [True, True]
    assert all(sha256 in d["description"] for d in card["model_parameters"]["data"])
    documentation = card["model_details"]["documentation"]
    head = record.cards[candidate].data["trail_head"]
    assert f"Verdict: {card_document(record, candidate, trail_head=head)['mlgate']['verdict']['status']}" \
        in documentation
    assert head["hash"] in documentation and f"{candidate}.json" in documentation
    assert {"key": HOSTILE_COLUMN, "value": "numeric"} in card["model_parameters"]["input_format_map"]


def test_a_broken_mct_card_fails_the_schema_and_so_does_mlgates_own_json_card(audited: AuditResult) -> None:
    card = json.loads(files(audited, "logistic")["mct"].read_text(encoding="utf-8"))
    metrics = card["quantitative_analysis"]["performance_metrics"]
    numbers = {**card, "quantitative_analysis": {"performance_metrics": [{**metrics[0], "value": 0.9}]}}
    extra = {**card, "mlgate": {"verdict": "pass"}}
    keyed = {**card, "model_parameters": {**card["model_parameters"], "data": {"train": {}}}}
    bad_date = {**card, "model_details": {**card["model_details"], "version": {"name": "1", "date": "someday"}}}
    for broken in (numbers, extra, keyed, bad_date):
        assert mct_problems(broken) and mct_errors(broken)
    own = json.loads(files(audited, "logistic")["json"].read_text(encoding="utf-8"))
    assert mct_problems(own), "the issue's finding: mlgate's own JSON card is not an MCT card"


@pytest.mark.parametrize("candidate", NAMES)
def test_hf_card_of_every_family_loads_and_validates_with_huggingface_hub(
        audited: AuditResult, candidate: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = files(audited, candidate)["hf"]
    card = hf_file(path)
    assert card.data.model_name == candidate
    assert card.data.license == "mit" and "mlgate" in card.data.tags  # the spec's "MIT" is a Hub license id
    assert card.data.pipeline_tag == "tabular-classification"
    evidence = recorded_overall(audited, candidate)
    expected = {k: v for k, v in evidence["metrics"].items() if v is not None}
    results = {r.metric_type: r for r in card.data.eval_results}
    assert {k: r.metric_value for k, r in results.items()} == expected
    low, high = evidence["intervals"]["metrics"]["roc_auc"]
    assert (results["roc_auc"].metric_args["lower_bound"], results["roc_auc"].metric_args["upper_bound"]) == (low, high)
    assert f"{low:.4f} to {high:.4f}" in results["roc_auc"].metric_name
    assert results["roc_auc"].dataset_split == "test" and results["roc_auc"].task_type == "tabular-classification"
    text = path.read_text(encoding="utf-8")
    assert card.text.lstrip().startswith(f"# Model card: {candidate}")
    assert card.text.lstrip() == render_card(load_run(audited.audit_db, audited.run_id), candidate, "md",
                                             trail_head=load_run(audited.audit_db, audited.run_id)
                                             .cards[candidate].data["trail_head"])
    front = yaml.safe_load(text.split("---\n")[1])
    assert hf_card(card.content).data.to_dict()["model-index"] == front["model-index"], "round-trips through the hub"


def test_a_broken_hf_card_fails_to_load(audited: AuditResult) -> None:
    import yaml

    text = files(audited, "logistic")["hf"].read_text(encoding="utf-8")
    assert hf_card(text).data.eval_results
    broken_value = re.sub(r"(?m)^      value: .*\n", "", text, count=1)
    broken_list = "---\n- license: mit\n- tags: [mlgate]\n---\n\n# Model card\n"
    for broken in (broken_value, broken_list):
        with pytest.raises(ValueError):
            hf_card(broken)
    with pytest.raises(yaml.YAMLError):
        hf_card(text.replace("license:", "license: [", 1))


def test_recorded_text_cannot_end_the_hf_front_matter(audited: AuditResult) -> None:
    from engine.cards.hf import render_hf

    record = load_run(audited.audit_db, audited.run_id)
    document = card_document(record, "logistic", trail_head={"seq": 1, "hash": "0" * 64})
    evil = "x\n---\nlicense: mit\n# owned"
    for part in ("train", "eval"):
        document["model_parameters"]["data"][part]["link"] = evil
    document["model_details"]["licenses"] = [{"custom_text": "Model: MIT.\n---\nData: CC BY 4.0."}]
    card = hf_card(render_hf(document))
    assert card.data.license == "other" and card.data.datasets == [evil.replace("\n", "\ufffd")]
    assert card.text.lstrip().startswith("# Model card: logistic")


@pytest.mark.parametrize("candidate", NAMES)
def test_cyclonedx_bom_of_every_family_is_valid_and_names_the_artifact_and_data_by_hash(
        audited: AuditResult, candidate: str) -> None:
    text = files(audited, candidate)["cyclonedx"].read_text(encoding="utf-8")
    assert cyclonedx_problem(text) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6" and bom["bomFormat"] == "CycloneDX"
    model, train, test = bom["components"]
    evidence = recorded_overall(audited, candidate)
    onnx = evidence["serving"]["artifact"]["files"]["model.onnx"]["sha256"]
    assert model["type"] == "machine-learning-model" and model["hashes"] == [{"alg": "SHA-256", "content": onnx}]
    assert {c["name"] for c in model["components"]} == set(evidence["serving"]["artifact"]["files"])
    sha256 = load_run(audited.audit_db, audited.run_id).started.data["data"]["fingerprint"]["sha256"]
    assert train["type"] == test["type"] == "data" and train["hashes"][0]["content"] == sha256
    analysis = {(m["type"], m["slice"]): m for m in model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]}
    assert float(analysis[("roc_auc", "overall")]["value"]) == evidence["metrics"]["roc_auc"]
    assert float(analysis[("roc_auc", "overall")]["confidenceInterval"]["lowerBound"]) == \
        evidence["intervals"]["metrics"]["roc_auc"][0]
    properties = {p["name"]: p["value"] for p in model["properties"]}
    written = load_run(audited.audit_db, audited.run_id).cards[candidate].data
    assert properties["mlgate:trail:head_hash"] == written["trail_head"]["hash"]
    assert properties["mlgate:verdict"] in ("pass", "fail", "warn")
    refs = [c["bom-ref"] for c in bom["components"]] + [c["bom-ref"] for c in model["components"]]
    assert len(refs) == len(set(refs)), "bom-refs are unique"
    assert {d["ref"] for d in bom["dependencies"]} <= {*refs, bom["metadata"]["component"]["bom-ref"]}


def test_a_broken_bom_fails_the_cyclonedx_validator(audited: AuditResult) -> None:
    bom = json.loads(files(audited, "logistic")["cyclonedx"].read_text(encoding="utf-8"))
    model = bom["components"][0]
    metrics = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    numeric = json.loads(json.dumps(bom))
    numeric["components"][0]["modelCard"]["quantitativeAnalysis"]["performanceMetrics"] = [
        {**metrics[0], "value": 0.9}]
    unknown_type = json.loads(json.dumps(bom))
    unknown_type["components"][0]["type"] = "ml-model"
    bad_hash = json.loads(json.dumps(bom))
    bad_hash["components"][0]["hashes"] = [{"alg": "SHA-256", "content": "not a hash"}]
    for broken in (numeric, unknown_type, bad_hash):
        assert cyclonedx_problem(json.dumps(broken)) is not None


def test_cards_of_a_failed_candidate_are_still_valid_in_every_format(audited: AuditResult) -> None:
    record = load_run(audited.audit_db, audited.run_id)
    failed = dataclasses.replace(record.candidates["mlp"], data={
        **record.candidates["mlp"].data, "evidence": None, "error": "RuntimeError: out of memory"})
    broken = dataclasses.replace(record, candidates={**record.candidates, "mlp": failed}, rules={})
    head = {"seq": 1, "hash": "0" * 64}
    assert mct_problems(mct_document(card_document(broken, "mlp", trail_head=head))) == []
    assert hf_card(render_card(broken, "mlp", "hf", trail_head=head)).data.eval_results is None
    assert cyclonedx_problem(render_card(broken, "mlp", "cyclonedx", trail_head=head)) is None


def test_the_card_command_makes_every_new_format_again_from_the_trail(audited: AuditResult, tmp_path: Path) -> None:
    record = load_run(audited.audit_db, audited.run_id)
    recorded_head = record.cards["lightgbm"].data["trail_head"]
    for fmt in ("mct", "hf", "cyclonedx"):
        original = files(audited, "lightgbm")[fmt].read_text(encoding="utf-8")
        assert render_card(record, "lightgbm", fmt, trail_head=recorded_head) == original, fmt
        out = tmp_path / f"card.{fmt}"
        done = run_cli("card", audited.run_id, "lightgbm", "--format", fmt, "--out", out,
                       "--audit-db", audited.audit_db)
        assert done.returncode == 0, done.stderr
        now = current_head(audited.audit_db)
        assert out.read_text(encoding="utf-8") == render_card(record, "lightgbm", fmt, trail_head=now)


def test_the_export_manifest_lists_every_card_file_with_its_hash(audited: AuditResult, tmp_path: Path) -> None:
    import hashlib

    manifest = export(audited.audit_db, tmp_path / "export", fmt="jsonl")
    assert verify_export(tmp_path / "export") == []
    listed = {(c["run_id"], c["candidate"]): c for c in manifest["cards"]}
    assert set(listed) == {(audited.run_id, name) for name in NAMES}
    for name in NAMES:
        assert set(listed[(audited.run_id, name)]["files"]) == set(FORMATS)
        for fmt, path in files(audited, name).items():
            entry = listed[(audited.run_id, name)]["files"][fmt]
            assert entry["path"] == str(path)
            assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_trail_written_before_the_evidence_contract_gives_valid_cards_in_every_new_format(tmp_path: Path) -> None:
    import shutil

    from conftest import ROOT

    trail = tmp_path / "audit.duckdb"
    shutil.copyfile(ROOT / "tests" / "fixtures" / "trail_v0" / "audit.duckdb", trail)
    record = load_run(trail, "20261204T163008Z-942e4d")
    head = current_head(trail)
    for name in record.candidates:
        assert mct_problems(json.loads(render_card(record, name, "mct", trail_head=head))) == [], name
        assert hf_card(render_card(record, name, "hf", trail_head=head)).data.model_name == name
        assert cyclonedx_problem(render_card(record, name, "cyclonedx", trail_head=head)) is None, name
