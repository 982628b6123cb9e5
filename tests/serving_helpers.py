"""Real candidates on the Adult sample and their serving evidence, shared by the serving and rule tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from engine.candidates import FAMILIES, Candidate, TrainingData
from engine.candidates.calibrated import CalibratedCandidate
from engine.data import Dataset, load_dataset
from engine.serving.evidence import DEFAULT_SERVING, ServingSettings, serving_evidence
from engine.spec import DEFAULT_MISSING_VALUES, DataSpec, SplitSpec
from engine.split import Splits, split_rows

SEED = 42
QUICK_PARAMS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "logistic": {"C": 1.0},
    "lightgbm": {"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 15},
    "torch_mlp": {"hidden_sizes": [16], "epochs": 4, "batch_size": 256},
}
QUICK_SERVING = {**DEFAULT_SERVING, "latency_calls": 30, "warmup_calls": 5, "throughput_repeats": 2, "batch_rows": 300}


def adult_data(path: Path) -> tuple[Dataset, Splits]:
    spec = DataSpec(path=path, target="income", positive=">50K", sensitive=("sex", "race"), features=None,
                    include_sensitive=False, missing_values=DEFAULT_MISSING_VALUES)
    data = load_dataset(spec)
    return data, split_rows(data.y, SplitSpec(test=0.2, validation=0.2, seed=SEED))


def training(data: Dataset, splits: Splits) -> TrainingData:
    frame = data.frame
    return TrainingData(frame.iloc[splits.train], data.y[splits.train], frame.iloc[splits.validation],
                        data.y[splits.validation], data.features, SEED)


def fit(family: str, data: Dataset, splits: Splits, calibration: str | None = None, **params: Any) -> Candidate:
    candidate = FAMILIES[family].build({**FAMILIES[family].default_params, **QUICK_PARAMS[family], **params})
    candidate.fit(training(data, splits))
    if calibration is None:
        return candidate
    calibrated = CalibratedCandidate(candidate, calibration)
    calibrated.fit(training(data, splits))
    return calibrated


def settings(folder: Path, serving_features: tuple[str, ...] | None = None, run_id: str = "run-1") -> ServingSettings:
    return ServingSettings(run_id=run_id, artifacts_dir=folder, threshold=0.5, serving_features=serving_features,
                           measure=dict(QUICK_SERVING), provenance={"spec_sha256": "0" * 64})


def serve(candidate: Candidate, name: str, data: Dataset, splits: Splits, folder: Path,
          serving_features: tuple[str, ...] | None = None, run_id: str = "run-1") -> dict[str, Any]:
    """The serving evidence of a fitted candidate, its artifact written under `folder`."""
    frame: pd.DataFrame = data.frame
    return serving_evidence(candidate, name, data.features, frame.iloc[splits.train], frame.iloc[splits.test],
                            settings(folder, serving_features, run_id))
