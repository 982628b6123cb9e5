"""The split-integrity certificate and the data-quality profile at scale: what they add to an audit.

Builds N rows x 50 feature columns from the real Adult data (its rows resampled with replacement, so exact
duplicates and label conflicts occur as in real data; numbers jittered so they are not all repeats; 14 of its
columns plus copies to reach 50, a third of them text), splits them as an audit does (stratified 60/20/20), then
times what `prepare` adds (`engine.evaluation.data_checks`): reading the feature columns once (`read_columns`),
`split_integrity()` and `data_quality()` over them, the best of `--repeats`, and the three together. As a ratio it
also times one `pandas.DataFrame.duplicated()` over the same columns, the plain way to look for repeated rows, in the
same process. The load average is printed before and after: the machine may be shared.

    .venv/bin/python bench/integrity.py                 # 1,000,000 rows x 50 columns
    .venv/bin/python bench/integrity.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.candidates import Features  # noqa: E402
from engine.evaluation.columns import read_columns  # noqa: E402
from engine.evaluation.data_quality import data_quality  # noqa: E402
from engine.evaluation.integrity import SplitRows, split_integrity  # noqa: E402
from engine.spec import SplitSpec  # noqa: E402
from engine.split import split_rows  # noqa: E402

ADULT = ROOT / "examples" / "adult" / "adult.parquet"
COLUMNS = 50


def frame_of(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, Features]:
    """`rows` resampled Adult rows widened to COLUMNS feature columns, with boolean labels."""
    con = duckdb.connect()
    adult = con.execute("SELECT * FROM read_parquet(?)", [str(ADULT)]).df()
    con.close()
    rng = np.random.default_rng(seed)
    base = adult.iloc[rng.integers(0, len(adult), rows)].reset_index(drop=True)
    y = (base.pop("income") == ">50K").to_numpy()
    numeric = [c for c in base.columns if pd.api.types.is_numeric_dtype(base[c])]
    text = [c for c in base.columns if c not in numeric]
    columns: dict[str, pd.Series] = {}
    for i in range(COLUMNS):
        if i % 3 == 2:
            name = text[i % len(text)]
            columns[f"{name}_{i}"] = base[name]
        else:
            name = numeric[i % len(numeric)]
            columns[f"{name}_{i}"] = base[name] + rng.normal(0, 1, rows).round(1) * (i > len(numeric))
    frame = pd.DataFrame(columns)
    names = list(frame.columns)
    features = Features(numeric=tuple(n for n in names if pd.api.types.is_numeric_dtype(frame[n])),
                        categorical=tuple(n for n in names if not pd.api.types.is_numeric_dtype(frame[n])))
    return frame, y, features


def best(repeats: int, work: object) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f}; building {args.rows:,} rows x {COLUMNS} columns from Adult")
    frame, y, features = frame_of(args.rows, seed=7)
    splits = split_rows(y, SplitSpec(test=0.2, validation=0.2, seed=42))
    parts = SplitRows(splits.train, splits.validation, splits.test)
    by_name = {"train": splits.train, "validation": splits.validation, "test": splits.test}

    columns = read_columns(frame, features)

    def read() -> None:
        read_columns(frame, features)

    def certify() -> None:
        split_integrity(frame, y, parts, features, data_sha256=None, seed=42, columns=columns)

    def profile() -> None:
        data_quality(frame, y, by_name, features, seed=42, data_schema=[], columns=columns)

    def together() -> None:
        both = read_columns(frame, features)
        split_integrity(frame, y, parts, features, data_sha256=None, seed=42, columns=both)
        data_quality(frame, y, by_name, features, seed=42, data_schema=[], columns=both)

    certificate = split_integrity(frame, y, parts, features, data_sha256=None, seed=42, columns=columns)
    read_s = best(args.repeats, read)
    integrity_s = best(args.repeats, certify)
    quality_s = best(args.repeats, profile)
    together_s = best(args.repeats, together)
    reference_s = best(1, lambda: frame[features.all].duplicated())
    print(f"read_columns     {read_s:6.2f} s  (each feature column once: numbers, or codes of the text)")
    print(f"split_integrity  {integrity_s:6.2f} s  (duplicates across the split: {certificate['duplicates']['rows']:,};"
          f" conflicting labels: {certificate['conflicting_labels']['rows']:,}; flagged leaks: "
          f"{len(certificate['leakage']['flagged'])}; identifiers: {len(certificate['identifiers'])})")
    print(f"data_quality     {quality_s:6.2f} s")
    print(f"together         {together_s:6.2f} s  (target: under 3 s at 1,000,000 x 50)")
    print(f"pandas duplicated() alone on the same columns: {reference_s:.2f} s "
          f"(certificate and its read / duplicated = {(read_s + integrity_s) / reference_s:.2f}x)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
