"""Evidence values as a reviewer reads them: with their unit and a precision that fits the quantity.

The recorded evidence is plain JSON, its units implied by the key (`p99_ms`, `model_bytes`, `rows_per_second`,
`violation_rate`). `quantity(key, value)` is the one rule every evidence view uses: the unit is read from the key
by the table `UNITS` (suffix -> how to write it), counts are written as whole numbers ("2", never "2.0000"),
very small differences in scientific notation (a faithfulness error of 2.7e-14 is not "0.0000"), large values
with thousands separators. A key the table does not know is written as a plain number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tui.text import NONE, visible

Writer = Callable[[float], str]


def plain(value: float) -> str:
    """A unitless number: 4 decimals, scientific when tiny, separators when large."""
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        return f"{value:.2e}"
    if abs(value) >= 1e5:
        return f"{value:,.0f}"
    return f"{value:.4f}"


def whole(value: float) -> str:
    return f"{round(value):,}"


def millis(value: float) -> str:
    return f"{value:.3g} ms" if value else "0 ms"


def seconds(value: float) -> str:
    return f"{value:.3g} s" if value else "0 s"


def percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def size_bytes(value: float) -> str:
    number = float(value)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if abs(number) < 1024 or unit == "GiB":
            return f"{round(number):,} bytes" if unit == "bytes" else f"{number:.1f} {unit} ({round(value):,} bytes)"
        number /= 1024
    return whole(value)  # pragma: no cover - the loop always returns


def megabytes(value: float) -> str:
    return f"{value:.3g} MB" if value else "0 MB"


def per_second(value: float) -> str:
    return f"{value:,.0f} rows/s" if value >= 100 else f"{value:.3g} rows/s"


def tiny(value: float) -> str:
    """A difference that may be minute (an ONNX parity gap, a SHAP faithfulness error): never rounded to 0."""
    return "0" if value == 0 else f"{value:.2e}" if abs(value) < 1e-3 else f"{value:.4f}"


# key suffix (or whole key) -> writer; the first that matches wins, so longer suffixes come first.
UNITS: tuple[tuple[str, Writer], ...] = (
    ("rows_per_second", per_second),
    ("_ms", millis),
    ("_mb", megabytes),
    ("bytes", size_bytes),
    ("seconds_median", seconds),
    ("seconds", seconds),
    ("_rate", percent),
    ("share_of_errors", percent),
    ("coverage", percent),
    ("label_disagreement", percent),
    ("abs_diff", tiny),
    ("abs_error", tiny),
    ("abs_change", tiny),
    ("worst_change", tiny),
    ("mean_change", tiny),
)
COUNTS = frozenset({"count", "rows", "support", "positives", "calls", "warmup_calls", "repeats", "bins", "threads",
                    "batch_rows", "batch_size", "calibration_rows", "background_rows", "labels_disagreeing",
                    "non_finite", "resamples", "onnx_opset", "min_group_size", "min_support", "groups_judged"})


def writer(key: str) -> Writer | None:
    """How values of `key` are written, or None for a plain number."""
    name = key.rsplit(".", 1)[-1]
    if name in COUNTS:
        return whole
    return next((write for suffix, write in UNITS if name == suffix or name.endswith(suffix)), None)


def quantity(key: str, value: Any) -> str:
    """`value` of evidence key `key` with its unit: '0.0911 ms', '6.7 KiB (6,838 bytes)', '88.0 %', '2', '2.66e-14'."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        write = writer(key)
        if write is not None:
            return write(float(value))
        return str(value) if isinstance(value, int) else plain(value)
    return visible(value)
