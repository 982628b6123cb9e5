"""mlgate's regression and multiclass evidence against the reference stack, on the same data in the same process.

Run `PYTHONPATH=. .venv/bin/python bench/tasks.py` (1,000,000 rows; `--rows N` for another size, `--task
regression|multiclass` for one task). For each task it prints one line per part: mlgate's time, the reference's
time, the ratio and whether the numbers agree, then the load average it ran under.

  slices     the per-group measures and gaps of `sex`, `race`, `region` and their intersection (200 groups)
             vs fairlearn `MetricFrame` with the same measures, `difference` / `ratio` / `group_max` and (multiclass,
             one-vs-rest per class) `equalized_odds_difference` and `demographic_parity_difference`
  bootstrap  1000 Poisson resamples of every headline metric (and every finest cell's sums)
             vs scikit-learn's metrics in a loop over the same resamples, each materialised with `np.repeat`
             (timed on `--loop-resamples` resamples and scaled to 1000: said on the line)
  evidence   `evaluate_regression` / `evaluate_multiclass` of one candidate: 7 groupings, 1000 resamples, in a fresh
             subprocess for its peak memory; then again with the baseline's paired lift

A benchmark, not a test: nothing here is collected by pytest, and nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from evaluate import agreement, best_time, best_times, current_rss_bytes, max_abs_diff, peak_rss_bytes, reset_peak_rss
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn import metrics as skm

from engine.evaluation.bootstrap import resample_weights
from engine.evaluation.groups import Grouping, column_grouping, cross, sensitive_groupings
from engine.evaluation.multiclass import Scored, evaluate_multiclass, resampled_metrics
from engine.evaluation.multiclass_metrics import headline_names
from engine.evaluation.multiclass_slices import multiclass_slice
from engine.evaluation.performance import EvidenceSettings
from engine.evaluation.regression import evaluate_regression
from engine.evaluation.regression_kernel import HEADLINE, regression_bootstrap
from engine.evaluation.regression_slices import regression_slice, row_stats
from engine.evaluation.resampling import Finest

SEED = 20240615
RESAMPLES = 1000
MIN_SUPPORT = 30
CLASSES = 5
SENSITIVE = {"sex": 2, "race": 5, "region": 20}  # column -> number of groups
TOLERANCE = 1e-9
TARGETS_AT_1M = {"slices": 200.0, "bootstrap": 100.0}
EVIDENCE_TARGET_S, MEMORY_TARGET_GB = 10.0, 4.0


@dataclass(frozen=True)
class Data:
    frame: pd.DataFrame  # the sensitive columns, as text
    y: np.ndarray  # regression: float targets; multiclass: class codes
    output: np.ndarray  # predictions, or (rows, K) probabilities
    baseline: np.ndarray

    @property
    def rows(self) -> int:
        return int(self.y.size)


def _sensitive(rows: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    columns, shift = {}, np.zeros(rows)
    for name, groups in SENSITIVE.items():
        codes = rng.choice(groups, size=rows, p=rng.dirichlet(np.full(groups, 5.0)))
        columns[name] = np.array([f"{name}{g:02d}" for g in range(groups)])[codes]
        shift += rng.normal(0.0, 0.3, groups)[codes]
    return pd.DataFrame(columns), shift


def synthetic(task: str, rows: int, seed: int = SEED) -> Data:
    """Targets and outputs that differ by group in level and in error; rounded so that ties occur."""
    rng = np.random.default_rng(seed)
    frame, shift = _sensitive(rows, rng)
    if task == "regression":
        y = np.round(np.maximum(30 + 10 * shift + rng.gamma(2.0, 5.0, rows), 0), 1)
        y[rng.random(rows) < 0.01] = 0.0  # a few zero targets: MAPE leaves them out
        predicted = np.round(y + rng.normal(0.5 * shift, 3 + np.abs(shift)), 2)
        return Data(frame, y, predicted, np.full(rows, y.mean()))
    y = np.minimum((rng.random(rows) * CLASSES + shift).astype(np.intp) % CLASSES, CLASSES - 1)
    logits = rng.normal(0, 1, (rows, CLASSES))
    logits[np.arange(rows), y] += 1.2 + 0.5 * shift
    proba = np.exp(logits)
    proba = np.round(proba / proba.sum(axis=1, keepdims=True), 4)
    prior = np.bincount(y, minlength=CLASSES) / rows
    return Data(frame, y, proba, np.tile(prior, (rows, 1)))


def groupings_of(data: Data) -> list[Grouping]:
    singles = [column_grouping(data.frame[c], c) for c in SENSITIVE]
    return [*singles, cross(singles)]


@dataclass
class Result:
    ours_s: float
    reference_s: float | None
    diff: float | None
    note: str = ""
    extra: dict[str, Any] | None = None

    @property
    def ratio(self) -> float:
        return self.reference_s / self.ours_s if self.reference_s is not None else float("nan")


# --- slices ---------------------------------------------------------------------------------------------------

REGRESSION_FAIRLEARN: dict[str, Callable[..., float]] = {
    "rmse": skm.root_mean_squared_error, "mae": skm.mean_absolute_error, "mse": skm.mean_squared_error,
    "mean_residual": lambda y, p: float(np.mean(y - p)), "mean_prediction": lambda y, p: float(np.mean(p)),
}
REGRESSION_GAPS = {"rmse_difference": ("rmse", "difference"), "rmse_ratio": ("rmse", "ratio"),
                   "mae_difference": ("mae", "difference"), "max_group_mse": ("mse", "group_max"),
                   "mean_prediction_difference": ("mean_prediction", "difference")}


def _sensitive_of(data: Data, columns: tuple[str, ...]) -> Any:
    return data.frame[columns[0]] if len(columns) == 1 else data.frame[list(columns)]


def _labels(index: pd.Index) -> list[str]:
    return [" × ".join(k) if isinstance(k, tuple) else str(k) for k in index]


def regression_slices(data: Data, groupings: list[Grouping]) -> list[dict[str, Any]]:
    stats = row_stats(data.y, data.output, float(data.y.mean()))
    return [regression_slice(g, data.y, data.output, stats, shift=float(data.y.mean()), min_support=MIN_SUPPORT,
                             resampled=None, confidence=0.95) for g in groupings]


def fairlearn_regression(data: Data, groupings: list[Grouping]) -> list[tuple[pd.DataFrame, dict[str, float]]]:
    out = []
    for grouping in groupings:
        frame = MetricFrame(metrics=REGRESSION_FAIRLEARN, y_true=data.y, y_pred=data.output,
                            sensitive_features=_sensitive_of(data, grouping.columns))
        summary = {"difference": frame.difference(), "ratio": frame.ratio(), "group_max": frame.group_max()}
        out.append((frame.by_group, {name: float(summary[how][metric])
                                     for name, (metric, how) in REGRESSION_GAPS.items()}))
    return out


def _regression_diff(ours: list[dict[str, Any]], reference: list[tuple[pd.DataFrame, dict[str, float]]]) -> float:
    worst = 0.0
    for evidence, (by_group, gaps) in zip(ours, reference, strict=True):
        mine = {g["group"]: g["metrics"] for g in evidence["groups"]}
        labels = _labels(by_group.index)
        for name in REGRESSION_FAIRLEARN:
            worst = max(worst, max_abs_diff([mine[label][name] for label in labels], by_group[name].to_numpy()))
        if all(not g["too_small"] for g in evidence["groups"]):  # fairlearn judges every group
            worst = max(worst, max_abs_diff([evidence["gaps"][name] for name in gaps], list(gaps.values())))
    return worst


def multiclass_slices(data: Data, groupings: list[Grouping]) -> list[dict[str, Any]]:
    scored = Scored(data.y, data.output)
    classes = [f"class{c}" for c in range(CLASSES)]
    return [multiclass_slice(g, scored.y, scored.predicted, scored.nll, classes, min_support=MIN_SUPPORT,
                             resampled=None, confidence=0.95) for g in groupings]


def fairlearn_multiclass(data: Data, groupings: list[Grouping], classes: int = CLASSES) -> list[dict[str, Any]]:
    """What a fairlearn user writes: accuracy by group, then per class the one-vs-rest rates and gaps (for the
    first `classes` classes)."""
    predicted = np.argmax(data.output, axis=1)
    out = []
    for grouping in groupings:
        sensitive = _sensitive_of(data, grouping.columns)
        accuracy = MetricFrame(metrics=skm.accuracy_score, y_true=data.y, y_pred=predicted,
                               sensitive_features=sensitive)
        per_class = []
        for c in range(classes):
            truth, chosen = data.y == c, predicted == c
            frame = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate,
                                         "selection_rate": selection_rate},
                                y_true=truth, y_pred=chosen, sensitive_features=sensitive)
            per_class.append((frame.by_group, {
                "equalized_odds_difference": equalized_odds_difference(truth, chosen, sensitive_features=sensitive),
                "demographic_parity_difference": demographic_parity_difference(truth, chosen,
                                                                               sensitive_features=sensitive)}))
        out.append({"accuracy": accuracy.by_group, "per_class": per_class})
    return out


def _multiclass_diff(ours: list[dict[str, Any]], reference: list[dict[str, Any]]) -> float:
    worst = 0.0
    for evidence, expected in zip(ours, reference, strict=True):
        groups = {g["group"]: g for g in evidence["groups"]}
        labels = _labels(expected["accuracy"].index)
        worst = max(worst, max_abs_diff([groups[label]["metrics"]["accuracy"] for label in labels],
                                        expected["accuracy"].to_numpy()))
        for c, (by_group, gaps) in enumerate(expected["per_class"]):
            for name in ("tpr", "fpr", "selection_rate"):
                worst = max(worst, max_abs_diff([groups[label]["per_class"][name][c] for label in labels],
                                                by_group[name].to_numpy()))
            if all(not g["too_small"] for g in evidence["groups"]):
                worst = max(worst, max_abs_diff([evidence["class_gaps"][name][c] for name in gaps],
                                                list(gaps.values())))
    return worst


def part_slices(task: str, data: Data, options: argparse.Namespace) -> Result:
    groupings = groupings_of(data)
    ours_fn, diff_fn = ((regression_slices, _regression_diff) if task == "regression"
                        else (multiclass_slices, _multiclass_diff))
    ours_s, ours = best_time(lambda: ours_fn(data, groupings), options.repeats)
    timed = options.reference_classes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "regression":
            reference_s, reference = best_time(lambda: fairlearn_regression(data, groupings), 1)
        else:  # the per-class part timed on `timed` classes and scaled to all of them (said on the line)
            accuracy_s, _ = best_time(lambda: fairlearn_multiclass(data, groupings, 0), 1)
            all_s, reference = best_time(lambda: fairlearn_multiclass(data, groupings, timed), 1)
            reference_s = accuracy_s + (all_s - accuracy_s) * CLASSES / timed
    what = ("5 measures and 5 gaps" if task == "regression" else
            f"accuracy, and per class TPR/FPR/selection rate and EO/DP gaps (timed on {timed} of {CLASSES} classes, "
            f"scaled; numbers compared on those)")
    note = (f"{len(groupings)} groupings, {sum(g.size for g in groupings)} groups; reference: {what} per grouping; "
            f"mlgate computes more (mean target, R², balanced accuracy, log loss, every gap)")
    return Result(ours_s, reference_s, diff_fn(ours, reference), note)


# --- bootstrap ------------------------------------------------------------------------------------------------


def regression_reference(y: np.ndarray, p: np.ndarray) -> list[float]:
    kept = y != 0
    return [skm.root_mean_squared_error(y, p), skm.mean_absolute_error(y, p), skm.median_absolute_error(y, p),
            skm.mean_absolute_percentage_error(y[kept], p[kept]), skm.r2_score(y, p), float(np.mean(y - p))]


def multiclass_reference(y: np.ndarray, proba: np.ndarray) -> list[float]:
    labels = list(range(CLASSES))
    predicted = np.argmax(proba, axis=1)
    out = [skm.accuracy_score(y, predicted), skm.balanced_accuracy_score(y, predicted)]
    for function in (skm.f1_score, skm.precision_score, skm.recall_score):
        out += [function(y, predicted, labels=labels, average=a, zero_division=np.nan)
                for a in ("macro", "micro", "weighted")]
    out.append(float(np.mean([skm.roc_auc_score(y == c, proba[:, c]) for c in labels])))
    out.append(skm.log_loss(y, proba, labels=labels))
    out += [skm.top_k_accuracy_score(y, proba, k=k, labels=labels) for k in (2, 3) if k < CLASSES]
    return out


def sklearn_loop(task: str, data: Data, resamples: int) -> np.ndarray:
    """The plain way: materialise each resample (mlgate's Poisson weights) and call scikit-learn."""
    reference = regression_reference if task == "regression" else multiclass_reference
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for b in range(resamples):
            rows = np.repeat(np.arange(data.rows), resample_weights(data.rows, SEED, b))
            out.append(reference(data.y[rows], data.output[rows]))
    return np.asarray(out, dtype=np.float64)


def mlgate_bootstrap(task: str, data: Data, groupings: list[Grouping]) -> np.ndarray:
    finest = Finest.of(groupings, data.rows)
    if task == "regression":
        return regression_bootstrap(data.y, data.output, finest=finest.codes, n_cells=finest.size, seed=SEED,
                                    resamples=RESAMPLES).metrics
    scored = Scored(data.y, data.output)
    headline, _ = resampled_metrics(scored.bootstrap(finest, EvidenceSettings(resamples=RESAMPLES, seed=SEED)))
    names = [n for n in headline_names(CLASSES) if n not in ("top_5_accuracy",)]
    return np.column_stack([headline[n] for n in names])


def part_bootstrap(task: str, data: Data, options: argparse.Namespace) -> Result:
    singles = groupings_of(data)[:-1]
    ours_s, ours_cpu, ours = best_times(lambda: mlgate_bootstrap(task, data, singles), options.repeats)
    looped = options.loop_resamples
    loop_s, loop_cpu, reference = best_times(lambda: sklearn_loop(task, data, looped), 1)
    reference_s, reference_cpu = loop_s * RESAMPLES / looped, loop_cpu * RESAMPLES / looped
    metrics = HEADLINE if task == "regression" else headline_names(CLASSES)
    note = (f"{len(metrics)} metrics per resample; mlgate also sums every finest cell of the 3 columns (200 cells); "
            f"the loop timed on {looped} resamples ({loop_s:.1f} s) x {RESAMPLES // looped}; in CPU time (mlgate's "
            f"threads summed) {ours_cpu:.2f} s vs {reference_cpu:.1f} s = {reference_cpu / ours_cpu:.1f}x")
    return Result(ours_s, reference_s, max_abs_diff(ours[:looped], reference), note)


# --- the whole evidence of one candidate, in a subprocess -----------------------------------------------------


def evidence_child(task: str, rows: int) -> dict[str, Any]:
    warm_up(task)
    data = synthetic(task, rows)
    settings = EvidenceSettings(resamples=RESAMPLES, seed=SEED, min_group_size=MIN_SUPPORT)
    start = time.perf_counter()
    groupings = sensitive_groupings(data.frame, list(SENSITIVE), {})
    build_s = time.perf_counter() - start
    reset = reset_peak_rss()
    before = current_rss_bytes()

    def run(baseline: np.ndarray | None) -> dict[str, Any]:
        if task == "regression":
            return evaluate_regression(data.y, data.output, groupings=groupings, settings=settings, baseline=baseline)
        return evaluate_multiclass(data.y, data.output, [f"class{c}" for c in range(CLASSES)], groupings=groupings,
                                   settings=settings, baseline=baseline)

    start, start_cpu = time.perf_counter(), time.process_time()
    evidence = run(None)
    alone_s, alone_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    peak = peak_rss_bytes()
    start = time.perf_counter()
    compared = run(data.baseline)
    paired_s = time.perf_counter() - start
    return {"build_s": build_s, "evaluate_s": alone_s, "evaluate_cpu_s": alone_cpu, "with_baseline_s": paired_s,
            "rss_before": before,
            "rss_peak": peak, "rss_peak_with_baseline": peak_rss_bytes(), "peak_is_evaluates": reset,
            "groupings": len(groupings), "groups": sum(g.size for g in groupings),
            "same": compared["intervals"] == evidence["intervals"] and compared["slices"] == evidence["slices"]}


def part_evidence(task: str, data: Data, options: argparse.Namespace) -> Result:
    command = [sys.executable, __file__, "--evidence-child", task, "--rows", str(data.rows)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    peak_gb = child["rss_peak"] / 1e9
    note = (f"{child['groupings']} groupings, {child['groups']} groups, {RESAMPLES} resamples; evaluate "
            f"{child['evaluate_s']:.2f} s (CPU {child['evaluate_cpu_s']:.2f} s) + groupings {child['build_s']:.2f} s; "
            f"peak RSS {peak_gb:.2f} GB "
            f"({'during evaluate' if child['peak_is_evaluates'] else 'whole process'}); with the baseline's paired "
            f"lift: {child['with_baseline_s']:.2f} s, peak {child['rss_peak_with_baseline'] / 1e9:.2f} GB; agree = "
            f"the same intervals with and without the baseline")
    return Result(child["evaluate_s"] + child["build_s"], None, 0.0 if child["same"] else float("inf"), note,
                  {"peak_gb": peak_gb})


# --- driver ---------------------------------------------------------------------------------------------------


def warm_up(task: str) -> None:
    """Compile (or load from numba's cache) every kernel before timing."""
    small = synthetic(task, 3_000, seed=1)
    groupings = sensitive_groupings(small.frame, list(SENSITIVE), {})
    settings = EvidenceSettings(resamples=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "regression":
            evaluate_regression(small.y, small.output, groupings=groupings, settings=settings, baseline=small.baseline)
        else:
            evaluate_multiclass(small.y, small.output, [str(c) for c in range(CLASSES)], groupings=groupings,
                                settings=settings, baseline=small.baseline)


PARTS: dict[str, Callable[[str, Data, argparse.Namespace], Result]] = {
    "slices": part_slices, "bootstrap": part_bootstrap, "evidence": part_evidence}


def target(part: str, result: Result, rows: int) -> str:
    if rows != 1_000_000:
        return ""
    if part in TARGETS_AT_1M:
        return f"  target >={TARGETS_AT_1M[part]:.0f}x: {'met' if result.ratio >= TARGETS_AT_1M[part] else 'MISSED'}"
    met = result.ours_s < EVIDENCE_TARGET_S and (result.extra or {}).get("peak_gb", 99) < MEMORY_TARGET_GB
    return f"  target <{EVIDENCE_TARGET_S:.0f} s, <{MEMORY_TARGET_GB:.0f} GB: {'met' if met else 'MISSED'}"


def run_task(task: str, options: argparse.Namespace) -> None:
    warm_up(task)
    data = synthetic(task, options.rows)
    print(f"\n{task}: {data.rows:,} rows, 3 sensitive columns; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores", flush=True)
    for name, part in PARTS.items():
        result = part(task, data, options)
        reference = "" if result.reference_s is None else f"reference {result.reference_s:9.3f} s"
        ratio = "" if result.reference_s is None else f"{result.ratio:.1f}x"
        print(f"{name:<10} mlgate {result.ours_s:8.3f} s   {reference:<21} {ratio:>8}   "
              f"{agreement(result.diff)}{target(name, result, data.rows)}\n{'':10} {result.note}\n"
              f"{'':10} load average {os.getloadavg()[0]:.2f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--task", choices=("regression", "multiclass"), action="append")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each mlgate slice part; the best is shown")
    parser.add_argument("--loop-resamples", type=int, default=20, help="resamples the scikit-learn loop is timed on")
    parser.add_argument("--reference-classes", type=int, default=CLASSES,
                        help="classes fairlearn's per-class slices are timed on (scaled to all)")
    parser.add_argument("--evidence-child", default="", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.evidence_child:
        print(json.dumps(evidence_child(options.evidence_child, options.rows)))
        return
    for task in options.task or ("regression", "multiclass"):
        run_task(task, options)


if __name__ == "__main__":
    main()
