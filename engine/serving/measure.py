"""What the served artifact does, measured with onnxruntime: skew against the native model, single-row
latency, batch throughput and the peak memory of scoring.

Latency is the wall time of `InferenceSession.run` for one row, over a fixed number of calls after a warm-up,
cycling through held-out rows prepared beforehand (so only scoring is timed); the session's thread count is
recorded with it. Peak memory is the rise of the process's resident-set high-water mark while scoring a batch,
read on Linux after resetting the mark (`/proc/self/clear_refs`); elsewhere it is reported as not measured.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def session(model_bytes: bytes, *, threads: int) -> Any:
    """An onnxruntime CPU session with a fixed thread count."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def output_name(sess: Any) -> str:
    """The artifact's one output: `probability` (classification) or `prediction` (regression)."""
    return str(sess.get_outputs()[0].name)


def score(sess: Any, inputs: dict[str, np.ndarray]) -> NDArray[np.float64]:
    """The artifact's output: [N] (binary, regression) or [N, k] (multiclass probabilities)."""
    out = np.asarray(sess.run([output_name(sess)], inputs)[0], dtype=np.float64)
    return out if out.ndim == 2 and out.shape[1] > 1 else out.reshape(-1)


def task_skew(served: NDArray[np.float64], native: NDArray[np.float64], threshold: float,
              task: str) -> dict[str, Any]:
    """Skew in the output's own units: the binary probabilities and labels at the threshold; a regression's
    absolute error of the prediction (no labels to disagree on); a multiclass task's largest probability difference
    per row and the rate at which the most probable class differs."""
    if task == "binary":
        return skew(served, native, threshold)
    if task == "regression":
        found = skew(served, native, threshold)
        return {**found, "label_disagreement": None, "labels_disagreeing": None, "threshold": None,
                "units": "the target's units (absolute error of the prediction)"}
    per_row = np.abs(served - native).max(axis=1) if served.size else np.zeros(0)
    disagree = served.argmax(axis=1) != native.argmax(axis=1)
    found = skew(per_row, np.zeros_like(per_row), threshold)
    return {**found, "label_disagreement": float(disagree.mean()) if disagree.size else None,
            "labels_disagreeing": int(disagree.sum()), "threshold": None,
            "units": "probability (largest difference over the classes); labels: the most probable class"}


def skew(served: NDArray[np.float64], native: NDArray[np.float64], threshold: float) -> dict[str, Any]:
    """How far the served probabilities are from the native model's on the same rows."""
    diff = np.abs(served - native)
    disagree = (served >= threshold) != (native >= threshold)
    return {
        "rows": int(diff.size),
        "max_abs_diff": float(diff.max()) if diff.size else None,
        "p99_abs_diff": float(np.quantile(diff, 0.99)) if diff.size else None,
        "mean_abs_diff": float(diff.mean()) if diff.size else None,
        "label_disagreement": float(disagree.mean()) if diff.size else None,
        "labels_disagreeing": int(disagree.sum()),
        "threshold": threshold,
    }


def _rows(inputs: dict[str, np.ndarray], count: int) -> list[dict[str, np.ndarray]]:
    n = len(next(iter(inputs.values())))
    return [{k: v[i % n: i % n + 1] for k, v in inputs.items()} for i in range(count)]


def latency(sess: Any, inputs: dict[str, np.ndarray], *, calls: int, warmup: int, threads: int) -> dict[str, Any]:
    """Single-row latency percentiles in milliseconds."""
    rows = _rows(inputs, calls + warmup)
    name = [output_name(sess)]
    for row in rows[:warmup]:
        sess.run(name, row)
    timings = np.empty(calls, dtype=np.float64)
    for i, row in enumerate(rows[warmup:]):
        start = time.perf_counter_ns()
        sess.run(name, row)
        timings[i] = (time.perf_counter_ns() - start) / 1e6
    p50, p95, p99 = np.percentile(timings, [50, 95, 99])
    return {"batch_size": 1, "calls": calls, "warmup_calls": warmup, "threads": threads,
            "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "max_ms": float(timings.max())}


def throughput(sess: Any, inputs: dict[str, np.ndarray], *, repeats: int) -> dict[str, Any]:
    """Rows scored per second on one batch (the median of `repeats` timed runs)."""
    rows = len(next(iter(inputs.values())))
    name = [output_name(sess)]
    sess.run(name, inputs)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        sess.run(name, inputs)
        seconds.append(time.perf_counter() - start)
    median = float(np.median(seconds))
    return {"batch_rows": rows, "repeats": repeats, "seconds_median": median,
            "rows_per_second": rows / median if median > 0 else None}


def _high_water_kb() -> int | None:
    for line in _STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def peak_memory(sess: Any, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """The rise of the resident-set high-water mark while scoring the batch, in MB (None where not measurable)."""
    try:
        _CLEAR_REFS.write_text("5")
        before = _high_water_kb()
        sess.run([output_name(sess)], inputs)
        after = _high_water_kb()
    except OSError:
        return {"peak_scoring_mb": None, "method": "not measured (no /proc/self/clear_refs on this platform)"}
    if before is None or after is None:
        return {"peak_scoring_mb": None, "method": "not measured (no VmHWM in /proc/self/status)"}
    return {"peak_scoring_mb": max(after - before, 0) / 1024, "batch_rows": len(next(iter(inputs.values()))),
            "method": "rise of the process's VmHWM while scoring the batch (reset through /proc/self/clear_refs)"}
