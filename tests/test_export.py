"""`mlgate export` and `mlgate verify-export` through the real CLI, on a trail of two real audits.

An export must be exactly what the trail recorded (proved by its manifest), safe to open in a spreadsheet
(formula cells made inert in CSV, untouched in Parquet and JSON Lines), restricted by its filters, and never
written anywhere but the folder given, nor over an earlier export without --force.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from conftest import run_cli

import engine.audit.trail as trail_module
from engine import review
from engine.service import run_audit
from engine.spec import build_spec

pytestmark = pytest.mark.slow

FORMATS = ["csv", "parquet", "jsonl"]
TABLES = ["events", "runs", "outcomes", "decisions"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMN = '=HYPERLINK("http://x","y")'  # a sensitive column of the data set; also the first run's spec name
OLD_DAY = "2024-03-01"
SIGNOFF_TEXT = "=1+2"
WAIVER_REVIEWER = "@admin"
WAIVER_REASON = "+cmd|' /C calc'!A0"
REJECT_REASON = "-2+3"
SAMPLE_ROWS = 600


def policy(name: str) -> dict[str, Any]:
    return {"name": name, "version": "1.0.0", "rules": [
        {"id": "auc-any", "kind": "metric_threshold", "metric": "roc_auc", "op": ">=", "value": 0.5,
         "severity": "block", "checklist": "optimizing_metric"},
        {"id": "eo-gap", "kind": "fairness", "measure": "equalized_odds_difference", "by": COLUMN, "max": 0.0,
         "severity": "warn", "checklist": "fairness"},
    ]}


@dataclass
class Trail:
    db: Path
    old_run: str  # started on OLD_DAY, spec named COLUMN, candidates baseline + logistic, policy "easy"
    new_run: str  # started today, spec "second", candidates baseline + logit-b, policy "other"


@pytest.fixture(scope="module")
def trail(adult_sample: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Trail:
    base = tmp_path_factory.mktemp("export-trail")
    data = base / "adult.csv"
    adult_sample.head(SAMPLE_ROWS).rename(columns={"sex": COLUMN}).to_csv(data, index=False)
    db = base / "audit.duckdb"

    def audit(name: str, candidate: str, policy_name: str) -> str:
        path = base / f"{policy_name}.json"
        path.write_text(json.dumps(policy(policy_name)), encoding="utf-8")
        spec = build_spec({
            "name": name,
            "data": {"path": str(data), "target": "income", "positive": ">50K", "sensitive": [COLUMN]},
            "candidates": [{"name": "baseline", "family": "baseline"}, {"name": candidate, "family": "logistic"}],
            "evaluation": {"bootstrap": 50},
            "policies": [str(path)],
        }, source="test_export")
        result = run_audit(spec, audit_db=db, cards_dir=base / "cards")
        assert result.verdict == "pass"
        return result.run_id

    with pytest.MonkeyPatch.context() as patch:  # the first run is recorded as if on an earlier day
        patch.setattr(trail_module, "now_utc", lambda: f"{OLD_DAY}T10:00:00.000000Z")
        old_run = audit(COLUMN, "logistic", "easy")
    new_run = audit("second", "logit-b", "other")
    review.signoff(db, new_run, "logit-b", decision="approve", reviewer=SIGNOFF_TEXT, reason=SIGNOFF_TEXT)
    review.waive(db, old_run, "logistic", "eo-gap", reviewer=WAIVER_REVIEWER, reason=WAIVER_REASON)
    review.signoff(db, old_run, "logistic", decision="reject", reviewer=WAIVER_REVIEWER, reason=REJECT_REASON)
    return Trail(db, old_run, new_run)


def export(db: Path, out: Path, fmt: str, *args: str) -> dict[str, Any]:
    done = run_cli("export", "--audit-db", db, "--format", fmt, "--out", out, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def read_table(path: Path) -> pd.DataFrame:
    """A table as a reader gets it: CSV cells as text, exactly as written."""
    if path.suffix == ".csv":
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            return pd.DataFrame()
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pd.DataFrame(lines)


def tables(folder: Path, fmt: str) -> dict[str, pd.DataFrame]:
    return {name: read_table(folder / f"{name}.{fmt}") for name in TABLES}


def stored_rows(db: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT seq, hash, body FROM events ORDER BY seq").fetchall()
    finally:
        con.close()


def listing(folder: Path) -> dict[str, bytes | str]:
    """Every entry under `folder` (hidden ones included) with its content, or its target for a link."""
    entries: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            entries[key] = f"-> {path.readlink()}"
        elif path.is_file():
            entries[key] = path.read_bytes()
        else:
            entries[key] = "<dir>"
    return entries


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def assert_refused(done: Any, *named: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mlgate: error:")
    for text in named:
        assert text in lines[0], (text, lines[0])


@pytest.fixture(scope="module")
def exports(trail: Trail, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One unfiltered export of the trail per format, never changed (tests that edit work on a copy)."""
    base = tmp_path_factory.mktemp("exports")
    for fmt in FORMATS:
        export(trail.db, base / fmt, fmt)
    return {fmt: base / fmt for fmt in FORMATS}


# --- an export is what was recorded --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_verifies_against_its_manifest(fmt: str, exports: dict[str, Path], trail: Trail) -> None:
    folder = exports[fmt]
    done = run_cli("verify-export", folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every file matches" in done.stdout
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{t}.{fmt}" for t in TABLES] + ["manifest.json"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_manifest_has_rows_hashes_filter_and_head(fmt: str, exports: dict[str, Path], trail: Trail) -> None:
    folder = exports[fmt]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == fmt
    assert manifest["filter"] == {"since": None, "until": None, "run": None, "candidate": None, "policy": None}
    verified = run_cli("verify", "--audit-db", trail.db, "--format", "json")
    head = json.loads(verified.stdout)
    assert manifest["head"] == {"log_id": head["log_id"], "seq": head["head_seq"], "hash": head["head_hash"]}
    assert set(manifest["files"]) == {f"{t}.{fmt}" for t in TABLES}
    read = tables(folder, fmt)
    for name in TABLES:
        entry = manifest["files"][f"{name}.{fmt}"]
        assert entry["sha256"] == hashlib.sha256((folder / f"{name}.{fmt}").read_bytes()).hexdigest()
        assert entry["rows"] == len(read[name]), name
    assert manifest["files"][f"events.{fmt}"]["rows"] == head["events"]
    assert manifest["files"][f"runs.{fmt}"]["rows"] == 2
    assert manifest["files"][f"decisions.{fmt}"]["rows"] == 3
    assert manifest["files"][f"outcomes.{fmt}"]["rows"] == 2 * 2 * len(policy("x")["rules"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_exported_events_are_the_stored_events(fmt: str, exports: dict[str, Path], trail: Trail) -> None:
    events = read_table(exports[fmt] / f"events.{fmt}")
    stored = stored_rows(trail.db)
    assert [int(s) for s in events["seq"]] == [row[0] for row in stored]
    assert list(events["hash"]) == [row[1] for row in stored]
    assert [json.loads(d) for d in events["data"]] == [json.loads(row[2])["data"] for row in stored]


# --- tampering with an export is found -----------------------------------------------------------------------------


def _edit(path: Path, fmt: str) -> None:
    """Change one value of the file the way someone with a text editor or pandas would."""
    if fmt == "parquet":
        frame = pd.read_parquet(path)
        column = "run_id" if "run_id" in frame.columns else frame.columns[0]
        frame.loc[frame.index[-1], column] = "edited"
        frame.to_parquet(path, index=False)
        return
    text = path.read_text(encoding="utf-8")
    last = text.rstrip("\n").rsplit("\n", 1)[-1]
    edited = last.replace("2", "3", 1) if "2" in last else last + " "
    path.write_text(text.replace(last, edited), encoding="utf-8")


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_editing_any_exported_file_is_found_naming_it(
    fmt: str, table: str, exports: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(exports[fmt], folder)
    target = folder / f"{table}.{fmt}"
    before = target.read_bytes()
    _edit(target, fmt)
    assert target.read_bytes() != before
    done = run_cli("verify-export", folder)
    assert done.returncode == 1, done.stdout + done.stderr
    named = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(named) == 1 and named[0].startswith(target.name), done.stdout
    for other in TABLES:
        if other != table:
            assert f"{other}.{fmt}" not in done.stdout


def test_a_deleted_file_or_a_changed_manifest_hash_is_found(exports: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(exports["jsonl"], folder)
    (folder / "runs.jsonl").unlink()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["outcomes.jsonl"]["sha256"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    done = run_cli("verify-export", folder)
    assert done.returncode == 1
    assert "runs.jsonl: missing" in done.stdout
    assert "outcomes.jsonl" in done.stdout
    assert "events.jsonl" not in done.stdout and "decisions.jsonl" not in done.stdout


def test_a_manifest_naming_a_file_outside_the_folder_is_not_read(exports: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(exports["jsonl"], folder)
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"a": 1}\n', encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["../secret.jsonl"] = {"rows": 1, "sha256": hashlib.sha256(secret.read_bytes()).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    done = run_cli("verify-export", folder)
    assert done.returncode == 1
    assert "../secret.jsonl: missing" in done.stdout


def test_verify_export_of_a_folder_without_a_manifest_is_one_error_line(tmp_path: Path) -> None:
    assert_refused(run_cli("verify-export", tmp_path), "manifest.json")


# --- formula cells -------------------------------------------------------------------------------------------------


def csv_cells(folder: Path) -> list[str]:
    cells = []
    for name in TABLES:
        with (folder / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            cells += [cell for row in csv.reader(handle) for cell in row]
    return cells


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_no_csv_cell_would_run_as_a_formula(exports: dict[str, Path]) -> None:
    cells = csv_cells(exports["csv"])
    runnable = [c for c in cells if c.startswith(FORMULA_STARTS) and not is_number(c)]
    assert runnable == []
    assert any(COLUMN in c for c in cells), "the column name is exported (inside messages and event data)"


def test_formula_text_comes_out_in_csv_with_a_leading_apostrophe(exports: dict[str, Path], trail: Trail) -> None:
    read = tables(exports["csv"], "csv")
    decisions = read["decisions"].set_index("kind")
    signoffs = read["decisions"][read["decisions"]["kind"] == "signoff"]
    assert set(signoffs["reviewer"]) == {"'" + SIGNOFF_TEXT, "'" + WAIVER_REVIEWER}
    assert set(signoffs["reason"]) == {"'" + SIGNOFF_TEXT, "'" + REJECT_REASON}
    waiver = decisions.loc["waiver"]
    assert (waiver["reviewer"], waiver["reason"], waiver["rule"]) == (
        "'" + WAIVER_REVIEWER, "'" + WAIVER_REASON, "eo-gap")
    runs = read["runs"].set_index("run_id")
    assert runs.loc[trail.old_run, "spec"] == "'" + COLUMN
    messages = read["outcomes"]["message"]
    assert messages.str.contains(COLUMN, regex=False).any(), "the column name is kept inside the message"


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_formula_text_is_unchanged_in_parquet_and_jsonl(fmt: str, exports: dict[str, Path], trail: Trail) -> None:
    read = tables(exports[fmt], fmt)
    decisions = read["decisions"]
    assert set(decisions["reviewer"]) == {SIGNOFF_TEXT, WAIVER_REVIEWER}
    assert set(decisions["reason"]) == {SIGNOFF_TEXT, WAIVER_REASON, REJECT_REASON}
    assert read["runs"].set_index("run_id").loc[trail.old_run, "spec"] == COLUMN
    assert read["outcomes"]["message"].str.contains(COLUMN, regex=False).any()
    started = [json.loads(d) for d, kind in zip(read["events"]["data"], read["events"]["kind"], strict=True)
               if kind == "run_started"]
    assert all(s["data"]["sensitive"] == [COLUMN] for s in started)


# --- filters -------------------------------------------------------------------------------------------------------


def filtered(trail: Trail, tmp_path: Path, *args: str) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    out = tmp_path / "filtered"
    manifest = export(trail.db, out, "jsonl", *args)
    assert run_cli("verify-export", out).returncode == 0
    return manifest, tables(out, "jsonl")


def run_ids(read: dict[str, pd.DataFrame]) -> dict[str, set[Any]]:
    return {name: set(frame["run_id"]) if len(frame) else set() for name, frame in read.items()}


def test_the_run_filter_keeps_only_that_run(trail: Trail, tmp_path: Path) -> None:
    manifest, read = filtered(trail, tmp_path, "--run", trail.new_run)
    assert manifest["filter"]["run"] == trail.new_run
    assert run_ids(read) == {name: {trail.new_run} for name in TABLES}
    assert set(read["decisions"]["reviewer"]) == {SIGNOFF_TEXT}


@pytest.mark.parametrize(("args", "which"), [
    pytest.param(["--until", "2024-12-31"], "old", id="until"),
    pytest.param(["--since", "2025-01-01"], "new", id="since"),
    pytest.param(["--since", OLD_DAY, "--until", OLD_DAY], "old", id="one-day"),
    pytest.param(["--since", "2023-01-01"], "both", id="since-before-both"),
    pytest.param(["--since", "2999-01-01"], "none", id="future"),
    pytest.param(["--until", "2024-02-29"], "none", id="until-before-both"),
])
def test_date_filters_keep_runs_started_in_the_window(args: list[str], which: str, trail: Trail,
                                                      tmp_path: Path) -> None:
    manifest, read = filtered(trail, tmp_path, *args)
    expected = {"old": {trail.old_run}, "new": {trail.new_run}, "both": {trail.old_run, trail.new_run},
                "none": set()}[which]
    assert set(read["runs"]["run_id"] if len(read["runs"]) else []) == expected
    assert run_ids(read)["events"] == expected, "run-less events (the trail's creation) only in a full export"
    assert run_ids(read)["outcomes"] <= expected and run_ids(read)["decisions"] <= expected
    assert manifest["filter"]["since"] == (args[args.index("--since") + 1] if "--since" in args else None)
    if which == "none":
        assert all(entry["rows"] == 0 for entry in manifest["files"].values())


@pytest.mark.parametrize(("candidate", "which"), [("logit-b", "new"), ("logistic", "old"), ("nobody", "none")])
def test_the_candidate_filter_keeps_its_runs_and_only_its_outcomes_and_decisions(
    candidate: str, which: str, trail: Trail, tmp_path: Path
) -> None:
    _, read = filtered(trail, tmp_path, "--candidate", candidate)
    expected = {"old": {trail.old_run}, "new": {trail.new_run}, "none": set()}[which]
    assert run_ids(read)["runs"] == expected
    assert run_ids(read)["events"] == expected
    for name in ("outcomes", "decisions"):
        frame = read[name]
        found = set(frame["candidate"]) if len(frame) else set()
        assert found == ({candidate} if expected else set()), name
    if which != "none":
        assert len(read["outcomes"]) == len(policy("x")["rules"])


@pytest.mark.parametrize(("name", "which"), [("easy", "old"), ("other", "new"), ("missing", "none")])
def test_the_policy_filter_keeps_runs_checked_against_it(name: str, which: str, trail: Trail, tmp_path: Path) -> None:
    manifest, read = filtered(trail, tmp_path, "--policy", name)
    expected = {"old": {trail.old_run}, "new": {trail.new_run}, "none": set()}[which]
    assert manifest["filter"]["policy"] == name
    assert run_ids(read)["runs"] == expected
    assert run_ids(read)["events"] == expected
    policies = set(read["outcomes"]["policy"]) if len(read["outcomes"]) else set()
    assert policies == ({name} if expected else set())


# --- refusals: nothing is written ----------------------------------------------------------------------------------


def assert_refused_and_nothing_written(trail: Trail, root: Path, out: Path, *named: str,
                                       extra: tuple[str, ...] = ()) -> None:
    before = listing(root)
    done = run_cli("export", "--audit-db", trail.db, "--format", "csv", "--out", out, *extra)
    assert_refused(done, *named)
    assert done.stdout == ""
    assert listing(root) == before


def test_an_out_path_with_dotdot_is_refused(trail: Trail, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert_refused_and_nothing_written(trail, tmp_path, tmp_path / "a" / ".." / "out", "..")
    assert_refused_and_nothing_written(trail, tmp_path, tmp_path / "a" / ".." / "a", "..")


def test_an_out_path_that_is_a_symlink_is_refused(trail: Trail, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    assert_refused_and_nothing_written(trail, tmp_path, tmp_path / "link", "link")
    assert_refused_and_nothing_written(trail, tmp_path, tmp_path / "link", "link", extra=("--force",))


def test_an_out_path_through_a_symlinked_parent_is_refused(trail: Trail, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "parent").symlink_to(elsewhere, target_is_directory=True)
    assert_refused_and_nothing_written(trail, tmp_path, tmp_path / "parent" / "out", "parent")
    assert_refused_and_nothing_written(trail, tmp_path, tmp_path / "parent" / "deeper" / "out", "parent")


def test_an_out_path_that_is_a_regular_file_is_refused(trail: Trail, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("keep me\n", encoding="utf-8")
    assert_refused_and_nothing_written(trail, tmp_path, tmp_path / "out", "out")
    assert_refused_and_nothing_written(trail, tmp_path, tmp_path / "out", "out", extra=("--force",))


def test_an_earlier_export_is_kept_without_force_and_replaced_with_it(trail: Trail, tmp_path: Path) -> None:
    db = tmp_path / "trail" / "audit.duckdb"
    db.parent.mkdir()
    shutil.copy(trail.db, db)
    out = tmp_path / "out"
    first = export(db, out, "csv")
    trail_module.append(db, [trail_module.NewEvent("note", None, {"later": True})])

    before = listing(tmp_path)
    done = run_cli("export", "--audit-db", db, "--format", "csv", "--out", out)
    assert_refused(done, str(out / "events.csv"), "--force")
    assert listing(tmp_path) == before

    second = export(db, out, "csv", "--force")
    assert second["head"]["seq"] == first["head"]["seq"] + 1
    assert second["files"]["events.csv"]["rows"] == first["files"]["events.csv"]["rows"] + 1
    assert run_cli("verify-export", out).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{t}.csv" for t in TABLES] + ["manifest.json"])


@pytest.mark.parametrize("existing", ["runs.csv", "manifest.json"])
def test_any_one_existing_export_file_is_enough_to_refuse(existing: str, trail: Trail, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / existing).write_text("earlier\n", encoding="utf-8")
    assert_refused_and_nothing_written(trail, tmp_path, out, existing, "--force")


def test_force_replaces_a_symlinked_export_file_without_writing_through_it(trail: Trail, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "events.csv").symlink_to(outside)
    assert_refused_and_nothing_written(trail, tmp_path, out, "events.csv")
    export(trail.db, out, "csv", "--force")
    assert outside.read_text(encoding="utf-8") == "not yours\n"
    assert not (out / "events.csv").is_symlink()
    assert run_cli("verify-export", out).returncode == 0


@pytest.mark.parametrize("planted", [".events.csv.partial", ".manifest.json.partial"])
def test_a_planted_symlink_beside_the_export_is_not_written_through(
    planted: str, trail: Trail, tmp_path: Path
) -> None:
    """The export writes each file beside its final name first; a link planted there must not lead outside."""
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / planted).symlink_to(outside)
    done = run_cli("export", "--audit-db", trail.db, "--format", "csv", "--out", out)
    assert "Traceback" not in done.stderr
    assert outside.read_text(encoding="utf-8") == "not yours\n", "the export wrote through a symlink to outside"
    assert not any(p.is_symlink() for p in out.iterdir() if not p.name.startswith("."))


def test_a_broken_trail_is_not_exported(trail: Trail, tmp_path: Path) -> None:
    db = tmp_path / "trail" / "audit.duckdb"
    db.parent.mkdir()
    shutil.copy(trail.db, db)
    con = duckdb.connect(str(db))
    con.execute("UPDATE events SET body = replace(body, 'logit-b', 'logit-c') WHERE kind = 'signoff'")
    con.close()
    assert_refused_and_nothing_written(Trail(db, "", ""), tmp_path, tmp_path / "out", "broken")


@pytest.mark.parametrize("files", ['{"a.csv": 5}', "[]", '{"a.csv": {"rows": "x", "sha256": "y"}}'])
def test_a_malformed_manifest_is_one_error_line_exit_2(tmp_path: Path, files: str) -> None:
    (tmp_path / "manifest.json").write_text('{"format": "csv", "files": ' + files + "}", encoding="utf-8")
    done = run_cli("verify-export", tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("mlgate: error:") and "not an mlgate export manifest" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


# --- an export after a trusted head walks only what follows it -------------------------------------------------


def _grown(trail: Trail, folder: Path, *sign_key: str) -> tuple[Path, Path, dict[str, Any]]:
    """A copy of the trail, its head written (signed with `sign_key` when given), then one more decision."""
    db = folder / "trail" / "audit.duckdb"
    db.parent.mkdir(parents=True)
    shutil.copy(trail.db, db)
    head_file = folder / "head.json"
    done = run_cli("head", "--audit-db", db, "--out", head_file, *sign_key)
    assert done.returncode == 0, done.stderr
    review.waive(db, trail.new_run, "logit-b", "eo-gap", reviewer="later", reason="after the head")
    return db, head_file, json.loads(head_file.read_text(encoding="utf-8"))


def _tamper(db: Path, seq: int) -> None:
    con = duckdb.connect(str(db))
    con.execute("UPDATE events SET body = replace(body, '\"data\":{', '\"data\":{\"x\":1,') WHERE seq = ?", [seq])
    con.close()


def test_an_export_after_a_trusted_head_says_so_and_holds_every_event(trail: Trail, tmp_path: Path) -> None:
    db, head_file, head = _grown(trail, tmp_path)
    manifest = export(db, tmp_path / "out", "jsonl", "--trusted-head", str(head_file))
    assert manifest["verified"] == {"walked_from_seq": head["seq"] + 1, "trusted_head_signed": False,
                                    "trusted_head": {k: head[k] for k in ("log_id", "seq", "hash")}}
    verified = json.loads(run_cli("verify", "--audit-db", db, "--format", "json").stdout)
    assert manifest["head"] == {"log_id": verified["log_id"], "seq": verified["head_seq"],
                                "hash": verified["head_hash"]}
    assert manifest["files"]["events.jsonl"]["rows"] == verified["events"] > head["seq"]
    assert run_cli("verify-export", tmp_path / "out").returncode == 0
    whole = export(db, tmp_path / "whole", "jsonl")
    assert whole["verified"] == {"walked_from_seq": 1}
    assert whole["files"] == manifest["files"]  # the same bytes, however the chain was checked


def test_a_change_after_the_trusted_head_is_refused_and_one_before_it_is_trusted(trail: Trail,
                                                                                  tmp_path: Path) -> None:
    db, head_file, head = _grown(trail, tmp_path)
    _tamper(db, head["seq"] + 1)
    assert_refused_and_nothing_written(Trail(db, "", ""), tmp_path, tmp_path / "out", "broken at sequence",
                                       extra=("--trusted-head", str(head_file)))
    db2, head_file2, head2 = _grown(trail, tmp_path / "second")
    _tamper(db2, 2)  # covered by the head: trusted, not read again (a full export still finds it)
    assert export(db2, tmp_path / "second" / "out", "csv", "--trusted-head", str(head_file2))["verified"][
        "walked_from_seq"] == head2["seq"] + 1
    assert_refused_and_nothing_written(Trail(db2, "", ""), tmp_path / "second", tmp_path / "second" / "whole",
                                       "broken at sequence 2")


def test_a_head_no_longer_in_the_chain_or_badly_signed_is_refused(trail: Trail, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    assert run_cli("keygen", "--out", keys / "ana").returncode == 0
    assert run_cli("keygen", "--out", keys / "eve").returncode == 0
    db, head_file, head = _grown(trail, tmp_path / "t", "--sign-key", str(keys / "ana.key"))
    signed = export(db, tmp_path / "signed", "csv", "--trusted-head", str(head_file), "--pubkey",
                    str(keys / "ana.pub"))
    assert signed["verified"]["trusted_head_signed"] is True
    assert_refused_and_nothing_written(Trail(db, "", ""), tmp_path, tmp_path / "out", str(head_file),
                                       "signature does not match",
                                       extra=("--trusted-head", str(head_file), "--pubkey", str(keys / "eve.pub")))
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**head, "hash": "0" * 64}), encoding="utf-8")
    assert_refused_and_nothing_written(Trail(db, "", ""), tmp_path, tmp_path / "out", str(forged),
                                       "the trail was rewritten", extra=("--trusted-head", str(forged)))
    assert_refused_and_nothing_written(Trail(db, "", ""), tmp_path, tmp_path / "out", "--pubkey",
                                       extra=("--pubkey", str(keys / "ana.pub")))


def test_only_the_events_verified_are_exported(trail: Trail) -> None:
    """An event appended while an export runs (after its chain check) is not in it: the tables stop at the
    head that was verified, the one the manifest names."""
    from engine.audit.export import ExportFilter, _tables

    last = stored_rows(trail.db)[-1][0]
    through = last - 3
    tables_now = _tables(trail.db, ExportFilter(), through=through)
    assert [int(s) for s in tables_now["events"]["seq"]] == list(range(1, through + 1))
    assert len(_tables(trail.db, ExportFilter(), through=last)["events"]) == last
