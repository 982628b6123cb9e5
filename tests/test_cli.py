"""The real `mlgate` command in a subprocess: exit codes, stdout/stderr contracts, JSON output, the trail it leaves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import DEFAULT_POLICY, ROOT, run_cli
from sklearn.datasets import load_breast_cancer

from engine.audit.runs import list_runs, load_run

pytestmark = pytest.mark.slow

CANDIDATES = [
    {"name": "baseline", "family": "baseline"},
    {"name": "logistic", "family": "logistic"},
    {"name": "lightgbm", "family": "lightgbm", "params": {"n_estimators": 40, "learning_rate": 0.2}},
]
RULE_FIELDS = {"id", "kind", "severity", "status", "observed", "threshold", "message", "checklist"}
CANDIDATE_FIELDS = {"name", "family", "is_baseline", "verdict", "metrics", "rules"}
POLICY_IDS = [rule["id"] for rule in json.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))["rules"]]
IMPOSSIBLE_POLICY = {
    "name": "impossible", "version": "1.0.0",
    "rules": [{"id": "auc-perfect", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.999,
               "severity": "block", "checklist": "optimizing_metric"}],
}


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def trail_args(base: Path) -> list[str]:
    return ["--audit-db", str(base / "audit.duckdb"), "--cards-dir", str(base / "cards")]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def spec_file(adult_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JSON spec for the Adult sample whose data path is relative to the spec file."""
    folder = tmp_path_factory.mktemp("spec")
    shutil.copy(adult_parquet, folder / "adult.parquet")
    return write_json(folder / "audit.json", {
        "name": "adult-cli",
        "data": {"path": "adult.parquet", "target": "income", "positive": ">50K", "sensitive": ["sex", "race"]},
        "split": {"seed": 3},
        "candidates": CANDIDATES,
    })


@dataclass
class TwoRuns:
    base: Path
    db: Path
    text: subprocess.CompletedProcess[str]
    json: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def two_runs(spec_file: Path, tmp_path_factory: pytest.TempPathFactory) -> TwoRuns:
    """The same spec audited twice into one trail: first with text output, then with JSON output."""
    base = tmp_path_factory.mktemp("two-runs")
    text = run_cli("audit", "--spec", spec_file, *trail_args(base))
    as_json = run_cli("audit", "--spec", spec_file, *trail_args(base), "--format", "json")
    assert (text.returncode, as_json.returncode) == (0, 0), text.stderr + as_json.stderr
    return TwoRuns(base, base / "audit.duckdb", text, as_json)


@pytest.fixture
def trail_copy(two_runs: TwoRuns, tmp_path: Path) -> Path:
    """A private copy of a trail with two complete runs, for tests that try to change it."""
    copy = tmp_path / "trail" / "audit.duckdb"
    copy.parent.mkdir()
    shutil.copy(two_runs.db, copy)
    return copy


def test_audit_with_a_spec_prints_a_table_naming_the_recommended_candidate(two_runs: TwoRuns) -> None:
    done = two_runs.text
    assert done.returncode == 0, done.stderr
    first = list_runs(two_runs.db)[-1]
    assert first["recommended"] in ("logistic", "lightgbm")
    assert first["run_id"] in done.stdout
    assert f"recommended: {first['recommended']}" in done.stdout
    for name in ("baseline", "logistic", "lightgbm"):
        assert name in done.stdout
    assert "Traceback" not in done.stderr
    progress = [line for line in done.stderr.splitlines() if line.startswith("•")]
    assert any("logistic" in line for line in progress), "progress goes to stderr"
    assert "•" not in done.stdout


def test_audit_json_is_one_document_with_every_candidate_and_rule(two_runs: TwoRuns) -> None:
    done = two_runs.json
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert {"run_id", "verdict", "recommended", "audit_db", "chain_head", "candidates"} <= set(document)
    assert document["verdict"] == "pass"
    assert Path(document["audit_db"]) == two_runs.db
    assert re.fullmatch(r"[0-9a-f]{64}", document["chain_head"])
    assert [c["name"] for c in document["candidates"]] == ["baseline", "logistic", "lightgbm"]
    for candidate in document["candidates"]:
        assert set(candidate) >= CANDIDATE_FIELDS
        assert candidate["is_baseline"] == (candidate["family"] == "baseline")
        assert candidate["verdict"] in ("pass", "fail")
        assert 0.0 <= candidate["metrics"]["roc_auc"] <= 1.0
        assert [rule["id"] for rule in candidate["rules"]] == POLICY_IDS
        for rule in candidate["rules"]:
            assert set(rule) >= RULE_FIELDS
            assert rule["status"] in ("pass", "fail", "unknown", "error")
            assert rule["severity"] in ("block", "warn")
            assert rule["message"]
    passing = [c for c in document["candidates"] if c["verdict"] == "pass" and not c["is_baseline"]]
    assert document["recommended"] == max(passing, key=lambda c: c["metrics"]["roc_auc"])["name"]
    assert list_runs(two_runs.db)[0]["run_id"] == document["run_id"]


def test_the_json_chain_head_is_the_head_that_verify_reports(two_runs: TwoRuns) -> None:
    done = run_cli("verify", "--audit-db", two_runs.db, "--format", "json")
    assert done.returncode == 0, done.stderr
    verified = json.loads(done.stdout)
    assert verified["intact"] is True
    assert verified["head_hash"] == json.loads(two_runs.json.stdout)["chain_head"]
    assert verified["events"] == 1 + 2 * 11


def test_runs_lists_both_runs_newest_first(two_runs: TwoRuns) -> None:
    done = run_cli("runs", "--audit-db", two_runs.db, "--format", "json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert len(listed) == 2
    assert listed[0]["run_id"] == json.loads(two_runs.json.stdout)["run_id"]
    assert listed[1]["run_id"] in two_runs.text.stdout
    assert listed[0]["started_at"] > listed[1]["started_at"]
    assert all(r["complete"] and r["name"] == "adult-cli" for r in listed)


def test_quick_mode_audits_a_csv_from_flags(adult_csv: Path, tmp_path: Path) -> None:
    done = run_cli("audit", "--data", adult_csv, "--target", "income", "--positive", ">50K",
                   "--sensitive", "sex,race", *trail_args(tmp_path), "--format", "json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert [c["family"] for c in document["candidates"]] == ["baseline", "logistic", "lightgbm", "torch_mlp"]
    assert document["recommended"] in ("logistic", "lightgbm", "torch_mlp")
    started = load_run(tmp_path / "audit.duckdb", document["run_id"]).started.data
    assert started["data"]["sensitive"] == ["sex", "race"]
    assert started["data"]["target"] == "income"
    assert started["spec_source"] == "command-line flags"


@pytest.fixture(scope="module")
def breast_cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV nobody on the project prepared: text labels, blanked cells, a binned text column, a 'site' column."""
    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame["diagnosis"] = np.where(bunch.target == 0, "malignant", "benign")
    rng = np.random.default_rng(5)
    for column in ("mean radius", "worst texture", "mean smoothness"):
        frame.loc[rng.random(len(frame)) < 0.1, column] = np.nan
    bands = pd.cut(frame["mean area"], bins=[0, 400, 700, 1000, np.inf], labels=["small", "medium", "large", "huge"])
    frame["size band"] = bands.astype(str).where(rng.random(len(frame)) >= 0.05, "")
    frame["site"] = rng.choice(["north", "south", "east"], size=len(frame))
    path = tmp_path_factory.mktemp("breast-cancer") / "breast_cancer.csv"
    frame.to_csv(path, index=False)
    return path


def test_quick_mode_on_a_csv_nobody_prepared(breast_cancer_csv: Path, tmp_path: Path) -> None:
    done = run_cli("audit", "--data", breast_cancer_csv, "--target", "diagnosis", "--positive", "malignant",
                   "--sensitive", "site", *trail_args(tmp_path), "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    document = json.loads(done.stdout)
    assert document["verdict"] == ("pass" if done.returncode == 0 else "fail")
    logistic = next(c for c in document["candidates"] if c["name"] == "logistic")
    assert logistic["metrics"]["roc_auc"] > 0.9, "the breast-cancer features separate the classes well"
    data = load_run(tmp_path / "audit.duckdb", document["run_id"]).started.data["data"]
    assert data["positive_label"] == "malignant"
    assert "size band" in data["features"]["categorical"]
    assert "site" not in data["features"]["numeric"] + data["features"]["categorical"]
    assert run_cli("verify", "--audit-db", tmp_path / "audit.duckdb").returncode == 0


def test_text_labels_without_positive_are_refused_listing_the_labels(breast_cancer_csv: Path, tmp_path: Path) -> None:
    done = run_cli("audit", "--data", breast_cancer_csv, "--target", "diagnosis", *trail_args(tmp_path))
    assert done.returncode == 2
    [line] = [line for line in error_lines(done.stderr) if line.startswith("mlgate: error:")]
    assert "benign" in line and "malignant" in line
    assert "--positive" in line
    assert not (tmp_path / "audit.duckdb").exists()


def test_a_policy_no_candidate_can_pass_exits_1(spec_file: Path, tmp_path: Path) -> None:
    policy = write_json(tmp_path / "impossible.json", IMPOSSIBLE_POLICY)
    done = run_cli("audit", "--spec", spec_file, "--policy", policy, *trail_args(tmp_path), "--format", "json")
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert (document["verdict"], document["recommended"]) == ("fail", None)
    assert all(c["verdict"] == "fail" for c in document["candidates"])
    assert all([r["id"] for r in c["rules"]] == ["auc-perfect"] for c in document["candidates"])


# Bad inputs: each builder writes what it needs under tmp_path and returns (argv, strings the error must name).
BadInput = Callable[[Path, Path, Path], tuple[list[str], list[str]]]


def _malformed_toml(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    path = tmp / "broken.toml"
    path.write_text('name = "unterminated\n[data]\n', encoding="utf-8")
    return ["--spec", str(path)], [path.name]


def _malformed_json_spec(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    path = tmp / "broken.json"
    path.write_text('{"data": {"path": "x.csv",', encoding="utf-8")
    return ["--spec", str(path)], [path.name]


def _unknown_spec_key(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    path = write_json(tmp / "extra.json", {"data": {"path": str(csv), "target": "income"}, "colour": "blue"})
    return ["--spec", str(path)], [path.name, "colour"]


def _malformed_policy(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    path = tmp / "broken-policy.json"
    path.write_text('{"name": "p", "version": "1", "rules": [', encoding="utf-8")
    return ["--spec", str(spec), "--policy", str(path)], [path.name]


def _invalid_policy(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    rule = {**IMPOSSIBLE_POLICY["rules"][0], "op": "=="}
    path = write_json(tmp / "invalid-policy.json", {**IMPOSSIBLE_POLICY, "rules": [rule]})
    return ["--spec", str(spec), "--policy", str(path)], [path.name, "/rules/0"]


def _missing_data(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    return ["--data", str(tmp / "nowhere.csv"), "--target", "income"], ["nowhere.csv"]


def _unknown_target(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    return ["--data", str(csv), "--target", "salary", "--positive", ">50K"], [csv.name, "salary"]


def _three_classes(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    frame = pd.read_csv(csv)
    frame.loc[frame.index[:20], "income"] = "unknown"
    path = tmp / "three_classes.csv"
    frame.to_csv(path, index=False)
    return ["--data", str(path), "--target", "income", "--positive", ">50K"], [path.name, "3"]


def _empty_csv(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    path = tmp / "empty.csv"
    path.write_bytes(b"")
    return ["--data", str(path), "--target", "income"], [path.name]


def _header_only_csv(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    path = tmp / "header_only.csv"
    path.write_text(csv.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    return ["--data", str(path), "--target", "income"], [path.name]


def _unknown_flag(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    return ["--data", str(csv), "--target", "income", "--colour", "blue"], ["--colour"]


def _negative_seed(tmp: Path, csv: Path, spec: Path) -> tuple[list[str], list[str]]:
    return ["--data", str(csv), "--target", "income", "--positive", ">50K", "--seed", "-1"], ["--seed"]


BAD_INPUTS = [
    pytest.param(_malformed_toml, id="malformed-toml-spec"),
    pytest.param(_malformed_json_spec, id="malformed-json-spec"),
    pytest.param(_unknown_spec_key, id="spec-with-unknown-key"),
    pytest.param(_malformed_policy, id="malformed-policy-json"),
    pytest.param(_invalid_policy, id="schema-invalid-policy"),
    pytest.param(_missing_data, id="missing-data-file"),
    pytest.param(_unknown_target, id="unknown-target-column"),
    pytest.param(_three_classes, id="three-class-target"),
    pytest.param(_empty_csv, id="empty-csv"),
    pytest.param(_header_only_csv, id="header-only-csv"),
    pytest.param(_unknown_flag, id="unknown-flag"),
    pytest.param(_negative_seed, id="negative-seed"),
]


@pytest.mark.parametrize("make", BAD_INPUTS)
def test_a_bad_input_is_one_error_line_exit_2_and_no_write(
    make: BadInput, tmp_path: Path, adult_csv: Path, spec_file: Path, trail_copy: Path
) -> None:
    argv, named = make(tmp_path, adult_csv, spec_file)
    before = trail_copy.read_bytes()
    cards = tmp_path / "cards"
    done = run_cli("audit", *argv, "--audit-db", trail_copy, "--cards-dir", cards)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1, f"expected exactly one line on stderr, got:\n{done.stderr}"
    assert lines[0].startswith("mlgate: error:")
    for text in named:
        assert text in lines[0]
    assert done.stdout == ""
    assert trail_copy.read_bytes() == before, "a bad input must not touch the trail"
    assert not cards.exists()


def test_policy_validate_accepts_the_shipped_policies() -> None:
    shipped = sorted((ROOT / "policies").glob("*.json"))
    assert shipped
    done = run_cli("policy", "validate", *shipped)
    assert done.returncode == 0, done.stderr
    for path in shipped:
        assert f"{path}: valid" in done.stdout


def test_policy_validate_lists_every_error_with_file_and_json_path(tmp_path: Path) -> None:
    good_rule = IMPOSSIBLE_POLICY["rules"][0]
    invalid = write_json(tmp_path / "invalid.json", {
        "name": "bad name with spaces", "version": "1",
        "rules": [
            good_rule,
            {**good_rule, "id": "r1", "metric": "auc"},
            {**good_rule, "id": "r2", "severity": "fatal"},
            {**good_rule, "id": "r3", "checklist": "vibes"},
        ],
    })
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"name": "p",\n  "rules": [}', encoding="utf-8")
    done = run_cli("policy", "validate", DEFAULT_POLICY, invalid, malformed)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = error_lines(done.stderr)
    expected = [(invalid, "/name"), (invalid, "/rules/1/metric"), (invalid, "/rules/2/severity"),
                (invalid, "/rules/3/checklist"), (malformed, "line 2")]
    for path, where in expected:
        assert any(line.startswith(f"{path}: {where}") for line in lines), (path, where, done.stderr)
    assert all(line.startswith((str(invalid), str(malformed))) for line in lines), "one whole line per error"
    assert f"{DEFAULT_POLICY}: valid" in done.stdout, "a valid file among bad ones is still reported valid"


def test_policy_validate_reports_only_real_errors(tmp_path: Path) -> None:
    """One wrong value gives one error; the rule's other, valid properties are not reported as unexpected."""
    rule = {**IMPOSSIBLE_POLICY["rules"][0], "op": "=="}
    path = write_json(tmp_path / "one-error.json", {**IMPOSSIBLE_POLICY, "rules": [rule]})
    done = run_cli("policy", "validate", path)
    assert done.returncode == 2
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert "/rules/0/op" in lines[0]


def test_verify_is_0_on_an_intact_trail_and_1_naming_the_changed_event(trail_copy: Path) -> None:
    intact = run_cli("verify", "--audit-db", trail_copy)
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout
    con = duckdb.connect(str(trail_copy))
    [(seq,)] = con.execute(
        "SELECT min(seq) FROM events WHERE kind = 'rules_checked' AND body LIKE '%\"candidate\":\"logistic\"%'"
    ).fetchall()
    con.execute("UPDATE events SET body = replace(body, '\"status\":\"pass\"', '\"status\":\"fail\"') "
                "WHERE seq = ?", [seq])
    changed = con.execute("SELECT count(*) FROM events WHERE body LIKE '%\"status\":\"fail\"%' AND seq = ?",
                          [seq]).fetchone()
    con.close()
    assert changed == (1,), "a rule outcome of the first run's logistic candidate was turned from pass to fail"
    broken = run_cli("verify", "--audit-db", trail_copy)
    assert broken.returncode == 1
    assert re.search(rf"\b{seq}\b", broken.stdout), broken.stdout
    assert "intact" not in broken.stdout


MARKUP_COLUMN = "[bold red]x[/]"


def test_rich_markup_in_untrusted_names_is_shown_literally(adult_sample: pd.DataFrame, tmp_path: Path) -> None:
    adult_sample.rename(columns={"sex": MARKUP_COLUMN}).to_csv(tmp_path / "[red]loans.csv", index=False)
    spec = write_json(tmp_path / "spec.json", {
        "data": {"path": "[red]loans.csv", "target": "income", "positive": ">50K"},
        "candidates": CANDIDATES[:2],
    })
    done = run_cli("audit", "--spec", spec, "--sensitive", MARKUP_COLUMN, *trail_args(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "mlgate audit [red]loans" in done.stdout, "the spec name (the file's stem) is printed as text"
    card = next((tmp_path / "cards").glob("*/logistic.md")).read_text(encoding="utf-8")
    assert MARKUP_COLUMN in card

    missing = "[bold red]y[/]"
    refused = run_cli("audit", "--spec", spec, "--sensitive", missing, *trail_args(tmp_path))
    assert refused.returncode == 2
    assert f"'{missing}'" in refused.stderr
    assert MARKUP_COLUMN in refused.stderr, "the list of columns shows the real name"
