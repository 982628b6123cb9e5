"""Time reason codes on the served artifact: N rows explained per family (exact additive for the linear family,
exact TreeSHAP on the served trees for LightGBM), with the faithfulness error on the same rows.

    python -m bench.reasons ARTIFACTS_RUN_FOLDER DATA.csv [--rows 10000]

ARTIFACTS_RUN_FOLDER is `artifacts/RUN_ID` of an audit (for instance of examples/hmda/audit.toml); the data's
rows are repeated up to N. Prints seconds per family; the issue's bound is 5 s for 10,000 rows on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from engine.reasons import attribution, served
from engine.reasons.batch import as_served

FAMILIES = {"logistic": "logistic", "lightgbm": "lightgbm"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("artifacts", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    frame = pd.read_csv(args.data)
    frame = pd.concat([frame] * (args.rows // len(frame) + 1), ignore_index=True).iloc[:args.rows]
    for name, family in FAMILIES.items():
        folder = args.artifacts / name
        if not folder.is_dir():
            continue
        schema = json.loads((folder / "input_schema.json").read_text())
        model = served.open_bytes((folder / "model.onnx").read_bytes(), schema, family)
        x = as_served(frame[model.features], schema, args.data)
        reference = attribution.reference_row(x, schema)
        started = time.perf_counter()
        found = attribution.attribute(model, x, reference)
        seconds = time.perf_counter() - started
        print(f"{name}: {len(x)} rows explained in {seconds:.2f} s ({found.method}); "
              f"max |sum + base - served| {found.error.max():.2e}")


if __name__ == "__main__":
    main()
