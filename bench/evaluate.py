"""mlgate's evaluation against the reference stack, on the same synthetic data in the same process.

Run `.venv/bin/python bench/evaluate.py` (100k and 1M rows) or `--quick` (100k only). For each size it prints
one line per part: mlgate's time, the reference stack's time, the ratio, and whether the numbers agree.

  slices      `slice_evidence` per grouping        vs fairlearn `MetricFrame` (5 metrics) + DP/EO gap functions
  bootstrap   `bootstrap` (1000 Poisson resamples) vs `roc_auc_score` in a loop over the same resamples (scaled)
  calibration `reliability` (10 equal-width bins)  vs `calibration_curve`
  evidence    `evaluate` of one candidate, 7 groupings, 1000 resamples: seconds and peak memory (subprocess)

Then the evidence beyond metrics on the real Adult data (`bench/beyond.py`; `--beyond` runs only these): conformal
coverage vs MAPIE, LightGBM contributions vs shap's TreeExplainer, the model-agnostic explainer and robustness.

A benchmark, not a test: nothing here is collected by pytest, and nothing fails on a slow machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_score, roc_auc_score

from engine.evaluation.bootstrap import bootstrap, percentile_interval, resample_weights
from engine.evaluation.calibration import reliability
from engine.evaluation.groups import Grouping, column_grouping, cross, sensitive_groupings
from engine.evaluation.performance import EvidenceSettings, evaluate, group_cells
from engine.evaluation.segments import descending_order
from engine.evaluation.slices import confusion_by_group, rates, slice_evidence
from engine.evaluation.slices import gaps as gap_measures

SEED = 20240603
THRESHOLD = 0.5
RESAMPLES = 1000
CONFIDENCE = 0.95
MIN_SUPPORT = 30
SLOW_S = 5.0  # a part slower than this runs once
TOLERANCE = 1e-9  # "agree" means every compared number is within this of the reference's
SENSITIVE = {"sex": 2, "race": 5, "region": 20}  # column -> number of groups
GAP_MEASURES = {"demographic_parity_difference": demographic_parity_difference,
                "equalized_odds_difference": equalized_odds_difference}
FAIRLEARN_METRICS: dict[str, Callable[..., float]] = {
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "ppv": partial(precision_score, zero_division=0),
}
TARGETS_AT_1M = {"slices": 200.0, "bootstrap": 100.0}  # ratio the issue asks for at 1,000,000 rows
EVIDENCE_TARGET_S = 10.0
MEMORY_TARGET_GB = 4.0


# --- data -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    frame: pd.DataFrame  # the sensitive columns, as text
    y: np.ndarray  # bool labels
    proba: np.ndarray  # float64 scores, rounded to 1e-5 so that ties occur (as with real models)

    @property
    def rows(self) -> int:
        return int(self.y.size)


def synthetic(rows: int, seed: int = SEED) -> Data:
    """Labels, scores correlated with them, and sensitive columns whose groups differ in base rate and skill."""
    rng = np.random.default_rng(seed)
    columns, shift = {}, np.zeros(rows)
    for name, groups in SENSITIVE.items():
        share = rng.dirichlet(np.full(groups, 5.0))  # unequal group sizes, none tiny
        codes = rng.choice(groups, size=rows, p=share)
        columns[name] = np.array([f"{name}{g:02d}" for g in range(groups)])[codes]
        shift += rng.normal(0.0, 0.3, groups)[codes]
    y = rng.random(rows) < 1 / (1 + np.exp(-(shift - 0.8)))
    logit = 1.6 * (y - 0.5) + 0.5 * shift + rng.normal(0.0, 1.0, rows)
    proba = np.round(1 / (1 + np.exp(-logit)), 5)
    return Data(frame=pd.DataFrame(columns), y=y, proba=proba)


def single_groupings(data: Data) -> list[Grouping]:
    return [column_grouping(data.frame[c], c) for c in SENSITIVE]


# --- timing and agreement -------------------------------------------------------------------------------------


def best_times(run: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """The best wall time and the best CPU time (every thread of the process) of up to `repeats` runs (one only
    if it is slow), and the last run's result. CPU time is what a loaded machine inflates least."""
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run()
        best, best_cpu = min(best, time.perf_counter() - start), min(best_cpu, time.process_time() - start_cpu)
        if best > SLOW_S:
            break
    return best, best_cpu, result


def best_time(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The best wall time of up to `repeats` runs (one only if it is slow), and the last run's result."""
    best, _, result = best_times(run, repeats)
    return best, result


def max_abs_diff(ours: Any, reference: Any) -> float:
    """Largest absolute difference; None/NaN on both sides count as equal, on one side as infinitely far."""
    a = np.array(ours, dtype=np.float64).ravel()
    b = np.array(reference, dtype=np.float64).ravel()
    both_missing = np.isnan(a) & np.isnan(b)
    diff = np.where(both_missing, 0.0, np.abs(a - b))
    return float(np.nan_to_num(diff, nan=np.inf).max(initial=0.0))


@dataclass
class Result:
    ours_s: float
    reference_s: float | None  # None: no reference (the whole evidence)
    diff: float | None  # max abs difference from the reference's numbers
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.reference_s / self.ours_s if self.reference_s is not None else float("nan")


# --- part 1: slices and gaps ----------------------------------------------------------------------------------


def mlgate_slices(data: Data, groupings: list[Grouping]) -> list[dict[str, Any]]:
    order = descending_order(data.proba)  # as `evaluate` sorts
    return [slice_evidence(g, data.y, data.proba, threshold=THRESHOLD, order=order, min_support=MIN_SUPPORT)
            for g in groupings]


def mlgate_rates_and_gaps(data: Data, groupings: list[Grouping]) -> list[Any]:
    """Like for like with the reference: counts, the 5 rates and the gaps per grouping, nothing else."""
    predicted = data.proba >= THRESHOLD
    out = []
    for grouping in groupings:
        counts = confusion_by_group(grouping.codes, grouping.size, data.y, predicted)
        group_rates = rates(counts)
        out.append(gap_measures(group_rates, counts.sum(axis=1) >= MIN_SUPPORT))
    return out


def fairlearn_slices(data: Data) -> dict[str, Any]:
    predicted = data.proba >= THRESHOLD
    out: dict[str, Any] = {}
    for column in SENSITIVE:
        frame = MetricFrame(metrics=FAIRLEARN_METRICS, y_true=data.y, y_pred=predicted,
                            sensitive_features=data.frame[column])
        gaps = {name: f(data.y, predicted, sensitive_features=data.frame[column]) for name, f in GAP_MEASURES.items()}
        out[column] = (frame.by_group, gaps)
    joint = MetricFrame(metrics=FAIRLEARN_METRICS, y_true=data.y, y_pred=predicted,
                        sensitive_features=data.frame[list(SENSITIVE)])
    out["joint"] = (joint.by_group, joint_gaps(joint))
    return out


def joint_gaps(frame: MetricFrame) -> dict[str, float]:
    """DP and EO difference of the intersection, from the MetricFrame already computed (no second pass)."""
    spread = frame.difference(method="between_groups")
    return {"demographic_parity_difference": spread["selection_rate"],
            "equalized_odds_difference": max(spread["tpr"], spread["fpr"])}


def judged_gaps(by_group: pd.DataFrame, support: pd.Series, gaps: dict[str, float]) -> dict[str, float]:
    """The reference gaps over the groups mlgate judges (support >= MIN_SUPPORT): fairlearn's own when all are."""
    eligible = by_group[support.reindex(by_group.index).to_numpy() >= MIN_SUPPORT]
    if len(eligible) == len(by_group):
        return gaps
    spread = eligible.max() - eligible.min()
    return {"demographic_parity_difference": spread["selection_rate"],
            "equalized_odds_difference": max(spread["tpr"], spread["fpr"])}


def slice_diff(data: Data, ours: list[dict[str, Any]], reference: dict[str, Any]) -> float:
    worst = 0.0
    for evidence, (by_group, gaps) in zip(ours, reference.values(), strict=True):
        labels = [" × ".join(k) if isinstance(k, tuple) else str(k) for k in by_group.index]
        mine = {g["group"]: g["metrics"] for g in evidence["groups"]}
        if sorted(labels) != sorted(mine):
            return float("inf")
        for name in FAIRLEARN_METRICS:
            worst = max(worst, max_abs_diff([mine[label][name] for label in labels], by_group[name].to_numpy()))
        support = data.frame.groupby(evidence["columns"]).size()
        expected = judged_gaps(by_group, support, gaps)
        worst = max(worst, max_abs_diff([evidence["gaps"][name] for name in GAP_MEASURES], list(expected.values())))
    return worst


def part_slices(data: Data, options: argparse.Namespace) -> Result:
    build_s, singles = best_time(lambda: single_groupings(data), options.repeats)
    groupings = [*singles, cross(singles)]
    ours_s, ours = best_time(lambda: mlgate_slices(data, groupings), options.repeats)
    counts_s, _ = best_time(lambda: mlgate_rates_and_gaps(data, groupings), options.repeats)
    reference_s, reference = best_time(lambda: fairlearn_slices(data), 1)
    note = (f"{len(groupings)} groupings, {sum(g.size for g in groupings)} groups; mlgate also computes per-group "
            f"ROC/PR AUC (with DeLong intervals), log loss, Brier; the same 5 metrics and gaps alone: "
            f"{counts_s:.3f} s = {reference_s / counts_s:.1f}x; grouping codes built once per audit: "
            f"{build_s:.3f} s, not counted")
    return Result(ours_s, reference_s, slice_diff(data, ours, reference), note)


# --- part 2: bootstrap of ROC AUC -----------------------------------------------------------------------------


def mlgate_bootstrap(data: Data, groupings: list[Grouping]) -> np.ndarray:
    cells, n_cells = group_cells(groupings, data.y, data.proba >= THRESHOLD)
    samples = bootstrap(data.y, data.proba, threshold=THRESHOLD, cells=cells, n_cells=n_cells, seed=SEED,
                        resamples=RESAMPLES)
    return samples.metric("roc_auc")


def sklearn_loop(data: Data, resamples: int) -> list[float]:
    """The plain way: materialise each resample (the same Poisson weights as mlgate's) and call scikit-learn."""
    aucs = []
    for b in range(resamples):
        rows = np.repeat(np.arange(data.rows), resample_weights(data.rows, SEED, b))
        aucs.append(roc_auc_score(data.y[rows], data.proba[rows]))
    return aucs


def delong_interval(y: np.ndarray, proba: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """ROC AUC and its DeLong (1988) normal interval, from midranks as in Sun & Xu (2014)."""
    positives, negatives = proba[y], proba[~y]
    m, n = positives.size, negatives.size
    overall = midranks(np.concatenate([positives, negatives]))
    placement_pos = (overall[:m] - midranks(positives)) / n  # share of negatives below each positive
    placement_neg = 1.0 - (overall[m:] - midranks(negatives)) / m  # share of positives above each negative
    auc = float(placement_pos.mean())
    se = float(np.sqrt(placement_pos.var(ddof=1) / m + placement_neg.var(ddof=1) / n))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return auc, auc - z * se, auc + z * se


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given the mean of the ranks they span."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse]


def part_bootstrap(data: Data, options: argparse.Namespace) -> Result:
    groupings = single_groupings(data)
    ours_s, ours_cpu, aucs = best_times(lambda: mlgate_bootstrap(data, groupings), options.repeats)
    headline_s, headline_aucs = best_time(lambda: mlgate_bootstrap(data, []), options.repeats)
    looped = options.reference_resamples
    loop_s, loop_cpu, reference = best_times(lambda: sklearn_loop(data, looped), 1)
    reference_s, reference_cpu = loop_s * RESAMPLES / looped, loop_cpu * RESAMPLES / looped
    auc, low, high = delong_interval(data.y, data.proba, CONFIDENCE)
    percentile = percentile_interval(aucs, CONFIDENCE)
    note = (f"mlgate with the confusion counts, log loss and Brier of every group of {len(groupings)} groupings; "
            f"headline metrics only (no groups): {headline_s:.3f} s = {reference_s / headline_s:.1f}x; "
            f"loop timed on {looped} resamples x {RESAMPLES // looped}; in CPU time (mlgate's threads summed) "
            f"{ours_cpu:.3f} s vs {reference_cpu:.1f} s = {reference_cpu / ours_cpu:.1f}x\n"
            f"{'':14} AUC {auc:.5f}, 95% CI: "
            f"bootstrap percentile [{percentile[0]:.5f}, {percentile[1]:.5f}], DeLong [{low:.5f}, {high:.5f}]")
    diff = max(max_abs_diff(aucs[:looped], reference), max_abs_diff(headline_aucs, aucs))
    return Result(ours_s, reference_s, diff, note, {"interval": percentile.tolist()})


# --- part 3: calibration --------------------------------------------------------------------------------------


def part_calibration(data: Data, options: argparse.Namespace) -> Result:
    ours_s, ours = best_time(lambda: reliability(data.y, data.proba, bins=10, strategy="uniform"), options.repeats)
    reference_s, (fraction, predicted) = best_time(
        lambda: calibration_curve(data.y, data.proba, n_bins=10, strategy="uniform"), options.repeats)
    mine = [(b["fraction_positive"], b["mean_predicted"]) for b in ours["diagram"]]
    diff = max_abs_diff(mine, np.column_stack([fraction, predicted])) if len(mine) == fraction.size else np.inf
    return Result(ours_s, reference_s, diff, f"{len(mine)} bins; mlgate also computes ECE, MCE, Brier")


# --- part 4: the whole evidence of one candidate, in a subprocess for its peak memory ---------------------------


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process (Linux), so the next peak is evaluate()'s own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    """Peak resident memory of this process: VmHWM where /proc has it, else getrusage's ru_maxrss."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss if sys.platform == "darwin" else rss * 1024
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kilobytes) * 1024


def current_rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1]) if Path("/proc/self/statm").exists() else 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def evidence_child(rows: int) -> dict[str, Any]:
    """Run in a fresh process: build the data, then time `evaluate` and read the process's peak RSS."""
    warm_up()
    data = synthetic(rows)
    settings = EvidenceSettings(resamples=RESAMPLES, seed=SEED, threshold=THRESHOLD, min_group_size=MIN_SUPPORT)
    start = time.perf_counter()
    groupings = sensitive_groupings(data.frame, list(SENSITIVE), {})
    build_s = time.perf_counter() - start
    reset = reset_peak_rss()
    before = current_rss_bytes()
    start = time.perf_counter()
    evidence, _ = evaluate(data.y, data.proba, groupings=groupings, settings=settings)
    return {"build_s": build_s, "evaluate_s": time.perf_counter() - start, "rss_before": before,
            "rss_peak": peak_rss_bytes(), "peak_is_evaluates": reset,
            "interval": evidence["intervals"]["metrics"]["roc_auc"],
            "groupings": len(groupings), "groups": sum(g.size for g in groupings)}


def part_evidence(data: Data, options: argparse.Namespace) -> Result:
    command = [sys.executable, __file__, "--evidence-child", str(data.rows)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    peak_gb, grown_gb = child["rss_peak"] / 1e9, (child["rss_peak"] - child["rss_before"]) / 1e9
    during = "during evaluate" if child["peak_is_evaluates"] else "whole process"
    note = (f"{child['groupings']} groupings, {child['groups']} groups, {RESAMPLES} resamples; evaluate "
            f"{child['evaluate_s']:.2f} s + groupings {child['build_s']:.2f} s; peak RSS {peak_gb:.2f} GB "
            f"({during}; +{grown_gb:.2f} GB over the {child['rss_before'] / 1e9:.2f} GB held before); "
            f"agree = its AUC CI vs the bootstrap part's")
    total = child["evaluate_s"] + child["build_s"]
    diff = max_abs_diff(child["interval"], options.auc_interval) if options.auc_interval is not None else None
    return Result(total, None, diff, note, {"peak_gb": peak_gb})


# --- driver ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    name: str
    run: Callable[[Data, argparse.Namespace], Result]
    target: str = ""  # the target at 1,000,000 rows
    meets: Callable[[Result], bool] | None = None


PARTS = (
    Part("slices+gaps", part_slices, ">=200x", lambda r: r.ratio >= 200),
    Part("bootstrap AUC", part_bootstrap, ">=100x", lambda r: r.ratio >= 100),
    Part("calibration", part_calibration),
    Part("evidence", part_evidence, "<10 s, <4 GB", lambda r: r.ours_s < 10 and r.extra["peak_gb"] < 4),
)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel, and call each reference once, before timing."""
    small = synthetic(2_000, seed=1)
    groupings = sensitive_groupings(small.frame, list(SENSITIVE), {})
    with warnings.catch_warnings():  # tiny groups without positives: all-NaN intervals, expected here
        warnings.simplefilter("ignore", RuntimeWarning)
        evaluate(small.y, small.proba, groupings=groupings, settings=EvidenceSettings(resamples=4))
        mlgate_bootstrap(small, groupings[:3])
        fairlearn_slices(small)
    sklearn_loop(small, 1)
    calibration_curve(small.y, small.proba, n_bins=10)


def agreement(diff: float | None) -> str:
    if diff is None:
        return "agree: n/a"
    shown = "0" if diff == 0 else f"{diff:.0e}"
    return f"agree: {'yes' if diff <= TOLERANCE else 'NO'} (max abs diff {shown})"


def line(part: Part, result: Result, rows: int) -> str:
    reference = "" if result.reference_s is None else f"reference {result.reference_s:9.3f} s"
    ratio = "" if result.reference_s is None else f"{result.ratio:.1f}x"
    target = ""
    if part.meets is not None and rows == 1_000_000:  # the issue states its targets at 1M rows
        target = f"  target {part.target}: {'met' if part.meets(result) else 'MISSED'}"
    return (f"{part.name:<14} mlgate {result.ours_s:8.3f} s   {reference:<21} {ratio:>8}   "
            f"{agreement(result.diff)}{target}\n{'':14} {result.note}")


def run_size(rows: int, options: argparse.Namespace) -> None:
    data = synthetic(rows)
    print(f"\n{rows:,} rows, {int(data.y.sum()):,} positives; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores", flush=True)
    options.reference_resamples = options.loop_resamples or (5 if rows >= 1_000_000 or options.quick else 20)
    options.auc_interval = None
    for part in PARTS:
        result = part.run(data, options)
        options.auc_interval = result.extra.get("interval", options.auc_interval)
        print(line(part, result, rows), flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument("--quick", action="store_true", help="100k rows only, 5 reference resamples")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each mlgate part; the best is shown")
    parser.add_argument("--loop-resamples", type=int, default=0, help="resamples the scikit-learn loop times")
    parser.add_argument("--beyond", action="store_true", help="only conformal, explanations and robustness (Adult)")
    parser.add_argument("--evidence-child", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)
    if options.evidence_child:
        print(json.dumps(evidence_child(options.evidence_child)))
        return
    sizes = [100_000] if options.quick else [int(s) for s in options.sizes.split(",")]
    if not options.beyond:
        warm_up()
        for rows in sizes:
            run_size(rows, options)
    import beyond  # bench/beyond.py, beside this file

    beyond.run()


if __name__ == "__main__":
    main()
