"""Drift evidence on N rows x F features (default 1,000,000 x 50): engine.monitor against Evidently's data-drift
report on the same data, in one process, with the numbers compared.

Evidently (`pip install -e .[bench]`, 0.7.23) runs its `DataDriftPreset` with the same tests mlgate records: KS
for the numeric columns and chi-squared for the categorical ones (`num_method="ks"`, `cat_method="chisquare"`),
on the raw rows; then a second report with `method="psi"` for the PSI values. Evidently 0.7.23 imports a pandas
helper that pandas 3 removed (`pandas.core.dtypes.common.infer_dtype_from_object`, used only by its data-integrity
tests, never by drift); `_shim_pandas` puts back the one line it was, before Evidently is imported.

mlgate tests against the reference recorded at audit time (bins and counts), so its p-values are on binned rows and
its chi-squared is the 2 x k contingency test where Evidently's is the goodness of fit against the reference's
shares: what must agree is each feature's drift decision (p < 0.05); the KS statistics are compared with the raw
rows' (at most one percentile bin's share apart); categorical PSI values are compared with Evidently's (the same
categories; they differ only where a share is floored); numeric PSI is over the reference's deciles in mlgate and
over Sturges bins of both samples in Evidently, so only the levels (0.1 warning, 0.25 action) are compared.

    python -m bench.monitor [--rows 1000000] [--features 50]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from engine.monitor.drift import drift_evidence, psi_level
from engine.monitor.reference import drift_reference

ALPHA = 0.05


def frames(rows: int, features: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    """A reference and a batch: every third numeric column shifted by 0.05, another third by 0.1, and every
    other categorical column with new shares."""
    rng = np.random.default_rng(seed)
    n_cat = features // 5
    numeric = [f"x{i}" for i in range(features - n_cat)]
    categorical = [f"c{i}" for i in range(n_cat)]
    ref = {c: rng.normal(0, 1, rows) for c in numeric} | {c: rng.choice(list("abcdef"), rows) for c in categorical}
    cur = {c: rng.normal(0.05 * (i % 3), 1, rows) for i, c in enumerate(numeric)}
    cur |= {c: rng.choice(list("abcdef"), rows, p=[0.2, 0.2, 0.15, 0.15, 0.15, 0.15] if i % 2 else None)
            for i, c in enumerate(categorical)}
    return pd.DataFrame(ref), pd.DataFrame(cur), numeric, categorical


def _shim_pandas() -> None:
    """Evidently 0.7.23 imports `infer_dtype_from_object`, which pandas 3 removed; its body was this line."""
    import pandas.core.dtypes.common as common

    if not hasattr(common, "infer_dtype_from_object"):
        common.infer_dtype_from_object = lambda dtype: np.dtype(dtype).type  # type: ignore[attr-defined]


def evidently_drift(ref: pd.DataFrame, cur: pd.DataFrame, numeric: list[str], categorical: list[str],
                    method: dict[str, Any]) -> dict[str, float]:
    """Each column's value in Evidently's data-drift report run with `method` (p-values, or PSI)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset(**method)]).run(Dataset.from_pandas(cur, data_definition=definition),
                                                       Dataset.from_pandas(ref, data_definition=definition))
    return {m["config"]["column"]: float(m["value"]) for m in snapshot.dict()["metrics"]
            if m["config"]["type"].endswith("ValueDrift")}


def raw_ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample KS statistic on the raw rows (scipy's definition, without its p-value)."""
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, both, side="right") / a.size
                               - np.searchsorted(b, both, side="right") / b.size)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    args = parser.parse_args()
    _shim_pandas()
    import evidently

    ref, cur, numeric, categorical = frames(args.rows, args.features)
    print(f"{args.rows:,} rows x {args.features} features ({len(numeric)} numeric, {len(categorical)} categorical); "
          f"evidently {evidently.__version__}, pandas {pd.__version__}; load average {os.getloadavg()[0]:.2f}")
    evidently_drift(ref.head(2000), cur.head(2000), numeric, categorical, {})  # imports and registries warmed up
    start = time.perf_counter()
    reference = drift_reference(ref, numeric=numeric, categorical=categorical, scores=None)
    built = time.perf_counter() - start
    start = time.perf_counter()
    ours = {f["name"]: f for f in drift_evidence(reference, cur, None)["features"]}
    mine = time.perf_counter() - start
    start = time.perf_counter()
    theirs = evidently_drift(ref, cur, numeric, categorical, {"num_method": "ks", "cat_method": "chisquare"})
    other = time.perf_counter() - start
    start = time.perf_counter()
    their_psi = evidently_drift(ref, cur, numeric, categorical, {"method": "psi"})
    other_psi = time.perf_counter() - start
    differ = {c: (p, ours[c]["p_value"]) for c, p in theirs.items() if (ours[c]["p_value"] < ALPHA) != (p < ALPHA)}
    agree = len(theirs) - len(differ)
    ks_gap = max(abs(ours[c]["statistic"] - raw_ks_statistic(ref[c].to_numpy(), cur[c].to_numpy())) for c in numeric)
    cat_psi_gap = max(abs(ours[c]["psi"] - their_psi[c]) for c in categorical)
    levels = sum(ours[c]["psi_level"] == psi_level(their_psi[c]) for c in numeric)
    print(f"reference (recorded once, at audit time): {built:.2f} s")
    print(f"mlgate drift evidence (PSI, KS / chi-squared, corrections, missing rates): {mine:.2f} s")
    print(f"Evidently DataDriftPreset(num_method='ks', cat_method='chisquare'): {other:.2f} s   "
          f"ratio {other / mine:.1f}x   (its PSI report: {other_psi:.2f} s, {(other + other_psi) / mine:.1f}x "
          "for both)")
    print(f"drift decisions (p < {ALPHA}) agreeing with Evidently's: {agree}/{len(theirs)}; largest KS statistic gap "
          f"to the raw rows {ks_gap:.4f}; categorical PSI largest gap {cat_psi_gap:.2e}; numeric PSI levels agreeing "
          f"{levels}/{len(numeric)}; load average {os.getloadavg()[0]:.2f}")
    for column, (p, q) in differ.items():
        print(f"  decisions differ on {column}: Evidently p {p:.4f} (raw rows), mlgate p {q:.4f} (binned reference)")


if __name__ == "__main__":
    main()
