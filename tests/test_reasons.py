"""Reason codes and recourse on the served artifact, on the real Boston HMDA mortgage data (AER, GPL-2 | GPL-3):
one audit (logistic and LightGBM), then `mlgate reasons` in a subprocess, checked against onnxruntime."""

from __future__ import annotations

import itertools
import json
from math import comb
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from engine.policy.rules_reasons import reason_codes, recourse_parity
from engine.reasons import attribution, codes, served
from engine.reasons.batch import as_served
from engine.reasons.recourse import apply
from tests.conftest import run_cli

HMDA = Path("/work/shared/datasets/hmda/hmda.csv")
ROOT = Path(__file__).resolve().parents[1]
SPEC = (ROOT / "examples" / "hmda" / "audit.toml").read_text()
pytestmark = pytest.mark.skipif(not HMDA.is_file(), reason="the HMDA data set is not on this machine")


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    folder = tmp_path_factory.mktemp("hmda")
    (folder / "hmda.csv").write_bytes(HMDA.read_bytes())
    spec = SPEC.replace("../../policies/", f"{ROOT}/policies/").replace("bootstrap = 200", "bootstrap = 50")
    spec = spec.split("[[candidates]]\nname = \"mlp\"")[0].replace("n_estimators = 200", "n_estimators = 60")
    (folder / "audit.toml").write_text(spec)
    done = run_cli("audit", "--spec", folder / "audit.toml", "--audit-db", folder / "a.duckdb", "--cards-dir",
                   folder / "cards", "--format", "json", cwd=folder)
    assert done.returncode in (0, 1), done.stderr
    rows = folder / "rows.csv"
    pd.read_csv(HMDA).iloc[::7].to_csv(rows, index=False)
    return folder, json.loads(done.stdout)["run_id"], rows


def _model(folder: Path, run_id: str, name: str, family: str) -> served.Served:
    artifact = folder / "artifacts" / run_id / name
    return served.open_bytes((artifact / "model.onnx").read_bytes(),
                             json.loads((artifact / "input_schema.json").read_text()), family)


@pytest.mark.slow
@pytest.mark.parametrize("candidate", ["logistic", "lightgbm"])
def test_reasons_sum_to_the_served_output_and_recourse_flips(audited: tuple[Path, str, Path], candidate: str) -> None:
    folder, run_id, rows = audited
    done = run_cli("reasons", run_id, candidate, "--data", rows, "--audit-db", folder / "a.duckdb", "--format",
                   "json", cwd=folder)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    model = _model(folder, run_id, candidate, candidate)
    x = as_served(pd.read_csv(rows)[model.features], model.schema, rows)
    proba = model.proba(x)  # onnxruntime, apart from the command
    assert document["attribution"]["exact"] and document["attribution"]["max_abs_error"] < 1e-2
    assert document["adverse_rows"] == int((proba >= 0.5).sum()) > 0
    immutable = set(model.features) - {"pirat", "hirat", "lvrat"}
    flipped = 0
    for decision in document["decisions"]:
        assert decision["score"] == pytest.approx(proba[decision["row"]], abs=1e-6)
        assert all(r["feature"] != "afam" for r in decision["reasons"])
        assert [r["rank"] for r in decision["reasons"]] == list(range(1, len(decision["reasons"]) + 1))
        assert all(r["contribution"] > 0 for r in decision["reasons"])  # pushed towards the denial
        option = decision.get("recourse")
        if option:
            assert not {c["feature"] for c in option["changes"]} & immutable
            again = model.proba(apply(x, decision["row"], option))[0]
            assert again < 0.5 and again == pytest.approx(option["score"], abs=1e-6)
            flipped += 1
    assert flipped > 0
    with duckdb.connect(str(folder / "a.duckdb"), read_only=True) as con:
        bodies = [json.loads(b) for (b,) in con.execute("SELECT body FROM events WHERE kind = 'reasons_explained'")
                  .fetchall()]
    assert any(b["data"]["candidate"] == candidate and len(b["data"]["batch_sha256"]) == 64 for b in bodies)


@pytest.mark.slow
def test_tree_shap_on_the_served_trees_is_the_exact_shapley_value(audited: tuple[Path, str, Path]) -> None:
    folder, run_id, rows = audited
    model = _model(folder, run_id, "lightgbm", "lightgbm")
    x = as_served(pd.read_csv(rows)[model.features], model.schema, rows).iloc[:3].reset_index(drop=True)
    reference = attribution.reference_row(x, model.schema)
    found = attribution.attribute(model, x, reference)
    d = len(model.features)
    masks = np.asarray(list(itertools.product([False, True], repeat=d)), dtype=bool)
    for i in range(len(x)):  # brute force: every coalition scored by onnxruntime
        values = model.logit(attribution.mix(x.iloc[[i]].reset_index(drop=True), reference, masks,
                                             np.zeros(len(masks), dtype=np.intp)))
        index = {tuple(m): v for m, v in zip(masks.tolist(), values, strict=True)}
        for j in range(d):
            exact = 0.0
            for m in masks.tolist():
                if m[j]:
                    continue
                size = sum(m)
                with_j = list(m)
                with_j[j] = True
                exact += (index[tuple(with_j)] - index[tuple(m)]) / (d * comb(d - 1, size))
            assert found.values[i, j] == pytest.approx(exact, abs=1e-4)


@pytest.mark.slow
def test_a_changed_artifact_or_a_missing_file_is_refused(audited: tuple[Path, str, Path], tmp_path: Path) -> None:
    folder, run_id, rows = audited
    done = run_cli("reasons", run_id, "logistic", "--data", tmp_path / "none.csv", "--audit-db",
                   folder / "a.duckdb", cwd=folder)
    assert done.returncode == 2 and "cannot read the rows" in done.stderr and "Traceback" not in done.stderr
    bad = tmp_path / "bad.csv"
    pd.read_csv(rows).assign(insurance="maybe").to_csv(bad, index=False)
    done = run_cli("reasons", run_id, "logistic", "--data", bad, "--audit-db", folder / "a.duckdb", cwd=folder)
    assert done.returncode == 2 and "'insurance'" in done.stderr
    onnx = folder / "artifacts" / run_id / "baseline" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    done = run_cli("reasons", run_id, "baseline", "--data", rows, "--audit-db", folder / "a.duckdb", cwd=folder)
    assert done.returncode == 2 and "was changed" in done.stderr


@pytest.mark.slow
def test_the_audit_records_decisions_evidence_and_its_rules(audited: tuple[Path, str, Path]) -> None:
    folder, run_id, _ = audited
    done = run_cli("show", run_id, "--audit-db", folder / "a.duckdb", "--format", "json", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "reason-codes" in done.stdout and "recourse-parity" in done.stdout
    card = run_cli("card", run_id, "lightgbm", "--audit-db", folder / "a.duckdb", "--format", "md", cwd=folder)
    assert card.returncode == 0, card.stderr
    assert "## Decisions explained" in card.stdout and "Recourse by afam" in card.stdout
    assert "`afam` (a sensitive column)" in card.stdout


def test_protected_columns_and_proxies_are_withheld_with_why() -> None:
    explanations = {"proxy_threshold": 0.2, "ranking": [
        {"feature": "zip", "sensitive": False, "associations": {"race": 0.35}},
        {"feature": "income", "sensitive": False, "associations": {"race": 0.01}},
        {"feature": "age", "sensitive": True, "associations": {}}]}
    screened = codes.screen(explanations, ["age"])
    found = codes.row_reasons(np.asarray([0.9, 0.5, 0.7]), ["10001", 30000, 70], features=["zip", "income", "age"],
                              catalog={"income": "Income is low"}, screened=screened, top=4, sign=1.0)
    assert [r["feature"] for r in found["reasons"]] == ["income"]
    assert found["reasons"][0]["text"] == "Income is low"
    why = {w["feature"]: w["why"] for w in found["withheld"]}
    assert why["age"] == "a sensitive column" and "proxy of race" in why["zip"] and "0.350" in why["zip"]


def test_rule_kinds_read_the_decisions_evidence() -> None:
    part = {"attribution": {"max_abs_error": 1e-6, "method": "exact"}, "withheld_share": 0.0, "explained_rows": 9,
            "summary": {"withheld": []},
            "recourse": {"by_group": {"afam": {"share_gap": 0.3, "share_gap_interval": [0.1, 0.5]}}}}
    assert reason_codes({"decisions": part}, {}).status == "pass"
    assert reason_codes({"decisions": {**part, "withheld_share": 0.2}}, {}).status == "fail"
    assert reason_codes({}, {}).status == "unknown"
    assert recourse_parity({"decisions": part}, {"by": "afam", "max_gap": 0.2}).status == "fail"
    assert recourse_parity({"decisions": part}, {"by": "afam", "max_gap": 0.4}).status == "pass"
    assert recourse_parity({"decisions": part}, {"by": "single", "max_gap": 0.4}).status == "unknown"
