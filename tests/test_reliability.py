"""The reliability suite: what an attacker or a careless operator tries, each with its exit code and the trail after.

A hostile skops file, a trail held busy before and during a command, escapes in every output, an I/O error at the
N-th write, and the smaller refusals. Kept small (a few seconds each) so it runs in CI with the rest.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from conftest import run_cli
from sklearn.datasets import dump_svmlight_file
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from engine.candidates.external_formats import load_skops
from engine.errors import ModelError

TARGET, POSITIVE = "income", ">50K"
NUMERIC = ["age", "education-num", "hours-per-week"]
WRITER = "sklearn.datasets._svmlight_format_io.dump_svmlight_file"


def _fitted(adult_sample: pd.DataFrame) -> Pipeline:
    """A fitted pipeline whose first step is, for now, the identity."""
    frame = adult_sample[NUMERIC].astype(float).fillna(0.0)
    y = (adult_sample[TARGET].astype(str).str.strip() == POSITIVE).astype(int)
    return Pipeline([("pre", FunctionTransformer()), ("model", LogisticRegression(max_iter=500))]).fit(frame, y)


def _hostile(adult_sample: pd.DataFrame, folder: Path, name: str, **step: object) -> Path:
    """The fitted pipeline with its first step turned into a library function of the file author's choice."""
    pipeline = _fitted(adult_sample)
    for key, value in step.items():
        setattr(pipeline.steps[0][1], key, value)
    path = folder / f"{name}.skops"
    skops.io.dump(pipeline, path)
    return path


def test_a_skops_file_holding_a_function_is_refused_naming_it(adult_sample: pd.DataFrame, tmp_path: Path) -> None:
    victim = tmp_path / "audit.duckdb"
    victim.write_bytes(b"the trail")
    labels = np.zeros(len(adult_sample))
    files = {
        WRITER: _hostile(adult_sample, tmp_path, "writer", func=dump_svmlight_file,
                         kw_args={"y": labels, "f": str(victim)}),
        "numpy.fromfile": _hostile(adult_sample, tmp_path, "reader", func=np.fromfile),
        "functools.partial": _hostile(adult_sample, tmp_path, "partial",
                                      func=functools.partial(dump_svmlight_file, y=labels, f=str(victim))),
        "numpy.absolute": _hostile(adult_sample, tmp_path, "ufunc", func=np.abs),  # a function skops trusts
        "numpy.save": _hostile(adult_sample, tmp_path, "inverse", inverse_func=np.save),
    }
    for name, path in files.items():
        with pytest.raises(ModelError, match="outside mlgate's allow-list") as refused:
            load_skops(path)
        assert name in refused.value.one_line() and str(path) in refused.value.one_line()
    assert victim.read_bytes() == b"the trail"

    identity = tmp_path / "identity.skops"  # a FunctionTransformer without a function is a listed transformer
    skops.io.dump(_fitted(adult_sample), identity)
    assert load_skops(identity).facts["estimator"] == "Pipeline"


def test_the_audit_refuses_a_hostile_skops_file_with_exit_2(adult_sample: pd.DataFrame, tmp_path: Path) -> None:
    victim = tmp_path / "audit.duckdb"
    data = tmp_path / "data.csv"
    adult_sample.to_csv(data, index=False)
    path = _hostile(adult_sample, tmp_path, "writer", func=dump_svmlight_file,
                    kw_args={"y": np.zeros(len(adult_sample)), "f": str(victim)})
    done = run_cli("audit", "--model", path, "--data", data, "--target", TARGET, "--positive", POSITIVE,
                   "--audit-db", victim, "--cards-dir", tmp_path / "cards")
    assert done.returncode == 2, done.stderr
    assert WRITER in done.stderr and "Traceback" not in done.stderr
    assert not victim.exists()
