"""Drift evidence on N rows x F features (default 1,000,000 x 50): engine.monitor against a reference stack on
the same data, in one process, with the numbers compared.

The reference stack is Evidently's data-drift report (KS for numeric columns, chi-squared for categorical ones)
when it can be imported; Evidently 0.7 does not import with pandas 3, so otherwise the same tests on the raw rows
with scipy (`ks_2samp`, `chisquare` of the batch against the reference's shares: what Evidently's stattests
call). mlgate tests against the recorded reference's bins: each feature's drift decision (p < 0.05) is compared,
and the KS statistics are compared (they differ by at most one percentile bin's share).

    python -m bench.monitor [--rows 1000000] [--features 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import stats

from engine.monitor.drift import drift_evidence
from engine.monitor.reference import drift_reference


def frames(rows: int, features: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    rng = np.random.default_rng(seed)
    n_cat = features // 5
    numeric = [f"x{i}" for i in range(features - n_cat)]
    categorical = [f"c{i}" for i in range(n_cat)]
    ref = {c: rng.normal(0, 1, rows) for c in numeric} | {c: rng.choice(list("abcdef"), rows) for c in categorical}
    cur = {c: rng.normal(0.05 * (i % 3), 1, rows) for i, c in enumerate(numeric)}
    cur |= {c: rng.choice(list("abcdef"), rows, p=[0.2, 0.2, 0.15, 0.15, 0.15, 0.15] if i % 2 else None)
            for i, c in enumerate(categorical)}
    return pd.DataFrame(ref), pd.DataFrame(cur), numeric, categorical


def reference_stack(ref: pd.DataFrame, cur: pd.DataFrame, numeric: list[str],
                    categorical: list[str]) -> tuple[str, dict[str, tuple[float | None, float]]]:
    try:
        from evidently import Report  # noqa: F401
    except Exception as exc:  # Evidently 0.7 needs pandas < 3
        name = f"scipy on raw rows (Evidently unavailable: {type(exc).__name__})"
    else:  # pragma: no cover - depends on the environment
        name = "scipy on raw rows (Evidently's stattests)"
    out: dict[str, tuple[float | None, float]] = {}
    for c in numeric:
        r = stats.ks_2samp(ref[c].to_numpy(), cur[c].to_numpy())
        out[c] = (float(r.statistic), float(r.pvalue))
    for c in categorical:
        keys = sorted(set(ref[c]) | set(cur[c]))
        ref_counts = ref[c].value_counts().reindex(keys, fill_value=0).to_numpy()
        cur_counts = cur[c].value_counts().reindex(keys, fill_value=0).to_numpy()
        expected = ref_counts / ref_counts.sum() * cur_counts.sum()
        out[c] = (None, float(stats.chisquare(cur_counts, expected).pvalue))
    return name, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    args = parser.parse_args()
    ref, cur, numeric, categorical = frames(args.rows, args.features)
    start = time.perf_counter()
    reference = drift_reference(ref, numeric=numeric, categorical=categorical, scores=None)
    built = time.perf_counter() - start
    start = time.perf_counter()
    ours = {f["name"]: f for f in drift_evidence(reference, cur, None)["features"]}
    mine = time.perf_counter() - start
    start = time.perf_counter()
    name, theirs = reference_stack(ref, cur, numeric, categorical)
    other = time.perf_counter() - start
    agree = sum((ours[c]["p_value"] < 0.05) == (p < 0.05) for c, (_, p) in theirs.items())
    ks_gap = max(abs(ours[c]["statistic"] - d) for c, (d, _) in theirs.items() if d is not None)
    print(f"{args.rows:,} rows x {args.features} features ({len(numeric)} numeric, {len(categorical)} categorical)")
    print(f"reference (recorded once, at audit time): {built:.2f} s")
    print(f"mlgate drift evidence: {mine:.2f} s   {name}: {other:.2f} s   ratio {other / mine:.1f}x")
    print(f"drift decisions (p < 0.05) agreeing: {agree}/{len(theirs)};  largest KS statistic gap {ks_gap:.4f}")


if __name__ == "__main__":
    main()
