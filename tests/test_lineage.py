"""engine.lineage: git commit and dirty tree from real repositories, library versions as package metadata has them
(torch never imported to read one), CPU and GPU, the run's inputs and seeds, and `missing_fields`."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from engine.audit import runs
from engine.lineage import LIBRARIES, candidate_lineage, lineage, missing_fields, run_lineage
from engine.policy.rules_release import lineage_complete


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args], cwd=cwd,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _complete(environment: dict[str, object]) -> dict[str, object]:
    run = run_lineage(environment, spec_sha256="a" * 64, policies=[{"name": "default", "sha256": "b" * 64}],
                      data_sha256="c" * 64, seed=3)
    return candidate_lineage(run, family="lightgbm", params={"n_estimators": 10}, seed=3)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("print('model')\n", encoding="utf-8")
    _git(tmp_path, "add", "train.py")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_commit_and_clean_tree_of_a_real_repository(repository: Path) -> None:
    recorded = lineage(cwd=repository)
    assert recorded["git_commit"] == _git(repository, "rev-parse", "HEAD")
    assert recorded["git_dirty"] is False
    assert missing_fields(_complete(recorded)) == []


def test_an_uncommitted_change_makes_the_tree_dirty(repository: Path) -> None:
    (repository / "train.py").write_text("print('changed')\n", encoding="utf-8")
    recorded = _complete(lineage(cwd=repository))
    assert recorded["git_dirty"] is True
    assert lineage_complete({"lineage": recorded}, {}).status == "pass"
    assert lineage_complete({"lineage": recorded}, {"allow_dirty": False}).status == "fail"


def test_outside_a_repository_the_commit_is_missing(tmp_path: Path) -> None:
    recorded = _complete(lineage(cwd=tmp_path))
    assert recorded["git_commit"] is None and recorded["git_dirty"] is None
    assert missing_fields(recorded) == ["git_commit", "git_dirty"]
    finding = lineage_complete({"lineage": recorded}, {})
    assert finding.status == "fail" and finding.message == "2 lineage fields missing: git_commit, git_dirty"


def test_library_versions_are_what_package_metadata_says() -> None:
    recorded = lineage(cwd=ROOT)["libraries"]
    assert set(recorded) == set(LIBRARIES)
    for name, version in recorded.items():
        try:
            assert version == metadata.version(name)
        except metadata.PackageNotFoundError:
            assert version is None


def test_reading_versions_imports_neither_torch_nor_lightgbm() -> None:
    code = ("import sys; from pathlib import Path; from engine.lineage import lineage; lineage(cwd=Path('.')); "
            "print(sorted(m for m in ('torch', 'lightgbm') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_cpu_gpu_python_and_platform_are_recorded() -> None:
    recorded = lineage(cwd=ROOT)
    assert recorded["python"] == sys.version.split()[0]
    assert recorded["cpu"]["count"] >= 1 and recorded["cpu"]["model"]
    devices = recorded["gpu"]["devices"]
    assert devices is not None  # a list: empty on a machine without an NVIDIA driver
    try:
        listed = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                text=True, check=True).stdout.split("\n")
    except FileNotFoundError:
        listed = []
    assert devices == [line.strip() for line in listed if line.strip()]


def test_the_run_part_names_its_inputs_and_seeds() -> None:
    recorded = _complete(lineage(cwd=ROOT))
    assert recorded["inputs"] == {"spec_sha256": "a" * 64, "policies_sha256": [{"name": "default",
                                                                                 "sha256": "b" * 64}],
                                  "data_sha256": "c" * 64}
    assert recorded["seeds"] == {"split": 3, "training": 3, "bootstrap": 3}
    assert recorded["candidate"]["family"] == "lightgbm"
    assert missing_fields({**recorded, "seeds": {"split": 3}}) == ["seeds.training", "seeds.bootstrap"]


@pytest.mark.slow
def test_an_audit_records_the_commit_of_the_spec_files_repository(repository: Path, adult_csv: Path,
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    spec = repository / "audit.toml"
    spec.write_text(SPEC.format(data=adult_csv.as_posix()), encoding="utf-8")
    _git(repository, "add", "audit.toml")
    _git(repository, "commit", "-q", "-m", "spec")
    db = tmp_path_factory.mktemp("trail") / "audit.duckdb"
    done = run_cli("audit", "--spec", spec, "--audit-db", db, "--cards-dir", db.parent / "cards", "--format", "json")
    assert done.returncode in (0, 1), done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    recorded = runs.load_run(db, run_id).started.data["lineage"]
    assert recorded["git_commit"] == _git(repository, "rev-parse", "HEAD") != _git(ROOT, "rev-parse", "HEAD")
    assert recorded["git_dirty"] is False


SPEC = """
name = "lineage-test"
[data]
path = "{data}"
target = "income"
positive = ">50K"
[evaluation]
bootstrap = 0
reproducibility = false
[[candidates]]
name = "logistic"
family = "logistic"
"""
