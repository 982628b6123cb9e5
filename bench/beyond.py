"""The evidence beyond metrics against its references, on the real Adult data (examples/adult/adult.parquet).

Run through `bench/evaluate.py --beyond` (or `.venv/bin/python bench/beyond.py`). One line per part: mlgate's time,
the reference's time, the ratio, and whether the numbers agree.

  conformal    `conformal_evidence` (3 levels, per group of sex, race, sex × race) from the scores the audit already
               has  vs  MAPIE `SplitConformalClassifier` (prefit) on the candidate's pipeline + MAPIE's coverage and
               width metrics overall and per group
  contributions  `LightGBMCandidate.explain` (pred_contrib)  vs  shap `TreeExplainer` on the same booster and rows
  model-agnostic `explanation_evidence` of a calibrated variant (KernelExplainer, spec defaults): seconds only
  robustness   `robustness_evidence` (spec defaults, a directional test): seconds only (no reference installed)
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.candidates import FAMILIES, TrainingData
from engine.candidates.base import Features, categorical_frame
from engine.candidates.calibrated import CalibratedCandidate
from engine.evaluation.conformal import conformal_evidence
from engine.evaluation.explain import ExplainSettings, associations, explanation_evidence
from engine.evaluation.groups import sensitive_groupings
from engine.evaluation.robustness import Directional, RobustnessSettings, robustness_evidence

ROOT = Path(__file__).resolve().parents[1]

SEED = 42
LEVELS = [0.8, 0.9, 0.95]
NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
CATEGORICAL = ("workclass", "education", "marital-status", "occupation", "relationship", "native-country")
SENSITIVE = ["sex", "race"]
CONTRIBUTION_ROWS = 10_000


def _fitted(frame: pd.DataFrame, y: np.ndarray, train: np.ndarray, valid: np.ndarray) -> Any:
    features = Features(NUMERIC, CATEGORICAL)
    model = FAMILIES["lightgbm"].build({**FAMILIES["lightgbm"].default_params, "n_estimators": 100,
                                        "early_stopping_rounds": 1000})
    data = TrainingData(frame.iloc[train], y[train], frame.iloc[valid], y[valid], features, SEED)
    model.fit(data)
    return model, data


def _mapie(model: Any, frame: pd.DataFrame, y: np.ndarray, valid: np.ndarray, test: np.ndarray,
           masks: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    from mapie.classification import SplitConformalClassifier
    from mapie.metrics.classification import classification_coverage_score, classification_mean_width_score

    features = model.features
    mapie = SplitConformalClassifier(model.pipeline, confidence_level=LEVELS, conformity_score="lac", prefit=True)
    mapie.conformalize(categorical_frame(frame.iloc[valid], features), y[valid])
    _, sets = mapie.predict_set(categorical_frame(frame.iloc[test], features))
    truth = y[test].astype(int)
    overall = np.concatenate([classification_coverage_score(truth, sets), classification_mean_width_score(sets)])
    return overall, [classification_coverage_score(truth[m], sets[m]) for m in masks]


def _line(name: str, ours: float, reference: float | None, diff: float | None, note: str) -> str:
    ratio = f"{reference / ours:8.1f}x" if reference is not None else " " * 9
    ref = f"reference {reference:8.3f} s" if reference is not None else " " * 20
    agree = "agree: n/a" if diff is None else f"agree: {'yes' if diff <= 1e-6 else 'NO'} (max abs diff {diff:.0e})"
    return f"{name:<15} mlgate {ours:8.3f} s   {ref} {ratio}   {agree}\n{'':15} {note}"


def run() -> None:
    frame = pd.read_parquet(ROOT / "examples" / "adult" / "adult.parquet")
    y = (frame["income"] == ">50K").to_numpy()
    order = np.random.default_rng(SEED).permutation(len(frame))
    cut1, cut2 = int(0.6 * len(frame)), int(0.8 * len(frame))
    train, valid, test = np.sort(order[:cut1]), np.sort(order[cut1:cut2]), np.sort(order[cut2:])
    print(f"\nAdult: {len(frame):,} rows; train {train.size:,}, validation (conformal) {valid.size:,}, "
          f"test {test.size:,}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    model, data = _fitted(frame, y, train, valid)
    groupings = sensitive_groupings(frame.iloc[test], SENSITIVE, {})
    valid_proba, test_proba = model.predict_proba(frame.iloc[valid]), model.predict_proba(frame.iloc[test])
    conformal_evidence(y[valid], valid_proba, y[test], test_proba, levels=LEVELS, groupings=groupings,
                       min_group_size=30)  # warm up MAPIE's imports
    start = time.perf_counter()
    ours = conformal_evidence(y[valid], valid_proba, y[test], test_proba, levels=LEVELS, groupings=groupings,
                              min_group_size=30)
    ours_s = time.perf_counter() - start
    singles = [g for g in groupings if len(g.columns) == 1]
    masks = [g.codes == k for g in singles for k in range(g.size)]
    start = time.perf_counter()
    overall, by_group = _mapie(model, frame, y, valid, test, masks)
    reference_s = time.perf_counter() - start
    mine = [lv["coverage"] for lv in ours["levels"]] + [lv["mean_set_size"] for lv in ours["levels"]]
    mine_groups = [[lv["by_group"][j]["groups"][k]["coverage"] for lv in ours["levels"]]
                   for j, g in enumerate(singles) for k in range(g.size)]
    diff = max(float(np.max(np.abs(np.array(mine) - overall))),
               max(float(np.max(np.abs(np.array(a) - b))) for a, b in zip(mine_groups, by_group, strict=True)))
    coverage = ", ".join(f"{lv['confidence']}: {lv['coverage']:.4f} (size {lv['mean_set_size']:.3f})"
                         for lv in ours["levels"])
    print(_line("conformal", ours_s, reference_s, diff,
                f"{len(LEVELS)} levels, {len(groupings)} groupings; reference predicts through the pipeline, mlgate "
                f"reuses the audit's scores; coverage {coverage}"), flush=True)

    rows = frame.iloc[test].iloc[:CONTRIBUTION_ROWS]
    x, background = rows.loc[:, data.features.all], frame.iloc[train].iloc[:100].loc[:, data.features.all]
    model.explain(x.iloc[:10], background)
    start = time.perf_counter()
    contributions = model.explain(x, background)
    ours_s = time.perf_counter() - start
    import shap

    booster = model.pipeline.named_steps["model"].booster_
    z = model.pipeline.named_steps["preprocess"].transform(categorical_frame(x, data.features))
    start = time.perf_counter()
    explainer = shap.TreeExplainer(booster)
    with warnings.catch_warnings():  # shap notes that a binary LightGBM model's output format changed
        warnings.simplefilter("ignore", UserWarning)
        reference = np.asarray(explainer.shap_values(z))
    reference_s = time.perf_counter() - start
    faithful = float(np.max(np.abs(contributions.values.sum(1) + contributions.base - contributions.output)))
    print(_line("contributions", ours_s, reference_s, float(np.max(np.abs(contributions.values - reference))),
                f"{len(x):,} rows, {booster.num_trees()} trees; faithfulness error {faithful:.1e}; mlgate's time "
                f"includes preprocessing and the raw output; both run LightGBM's own TreeSHAP (`pred_contrib`: "
                f"shap's TreeExplainer calls it for a LightGBM booster), so about 1x is the ceiling"), flush=True)

    calibrated = CalibratedCandidate(model, "isotonic")
    calibrated.fit(data)
    association = associations(frame.iloc[test], data.features, groupings)
    start = time.perf_counter()
    explained = explanation_evidence(calibrated, frame.iloc[test], frame.iloc[train], features=data.features,
                                     association=association, sensitive=SENSITIVE, settings=ExplainSettings())
    print(_line("model-agnostic", time.perf_counter() - start, None, None,
                f"{explained['method']}, {explained['rows']} rows; faithfulness error "
                f"{explained['faithfulness']['max_abs_error']:.1e}"), flush=True)
    settings = RobustnessSettings(directional=(Directional("capital-gain", 5000, "non_decreasing", 0.01),))
    start = time.perf_counter()
    robust = robustness_evidence(model.predict_proba, frame.iloc[test], y[test], features=data.features,
                                 sensitive=SENSITIVE, settings=settings)
    drops = ", ".join(f"{k} {v['drop']['roc_auc']:.4f}" for k, v in robust["perturbations"].items())
    print(_line("robustness", time.perf_counter() - start, None, None,
                f"{robust['rows']} rows, 3 perturbations, {len(SENSITIVE)} invariance and 1 directional test; "
                f"ROC AUC drop: {drops}"), flush=True)


if __name__ == "__main__":
    run()
