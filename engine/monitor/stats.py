"""The drift tests on binned data: PSI, the two-sample Kolmogorov–Smirnov test, chi-squared, and the
Benjamini–Hochberg and Holm corrections for testing many features at once.

Every test takes counts (a reference's and a batch's, over the same bins or categories), never rows, so the
reference stored in the trail is enough. The KS test on bins equals `scipy.stats.ks_2samp` on the bin indices
(same statistic, same p-value: exact below 10,000 rows per side, Smirnov's asymptotic distribution above, as
scipy's `method="auto"` does); chi-squared is `scipy.stats.chi2_contingency` on the 2 x k table.

Smirnov's distribution (`kstwo_sf`) is scipy's `kstwo.sf`, with one branch summed faster: where scipy computes
the exact one-sided Smirnov probability (`scipy.special.smirnov`, about a second per feature at a million rows:
one scalar loop over up to n terms), the same sum is taken vectorised as binomial probabilities, which agrees
with scipy to about 1e-13 relative.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import stats

PSI_FLOOR = 1e-4  # an empty bin's share, so the logarithm stays finite (the usual convention)
EXACT_KS_ROWS = 10_000  # scipy's MAX_AUTO_N: at most this many rows per side, the exact distribution
SLOW_SMIRNOV_ROWS = 140  # above it scipy's kstwo.sf loops over the exact Smirnov sum (see `kstwo_sf`)

Counts = NDArray[np.float64]


def psi(reference: Counts, batch: Counts, *, floor: float = PSI_FLOOR) -> float | None:
    """Population Stability Index: sum over bins of (batch share - reference share) * ln(batch / reference)."""
    ref, cur = np.asarray(reference, float), np.asarray(batch, float)
    if ref.sum() <= 0 or cur.sum() <= 0:
        return None
    p = np.maximum(ref / ref.sum(), floor)
    q = np.maximum(cur / cur.sum(), floor)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_binned(reference: Counts, batch: Counts) -> tuple[float, float] | None:
    """(statistic, p-value) of the two-sided two-sample KS test on binned samples (counts per ordered bin)."""
    ref, cur = np.asarray(reference, np.int64), np.asarray(batch, np.int64)
    n1, n2 = int(ref.sum()), int(cur.sum())
    if n1 == 0 or n2 == 0:
        return None
    if max(n1, n2) <= EXACT_KS_ROWS:  # small samples: scipy's exact distribution on the same (binned) values
        index = np.arange(len(ref))
        exact = stats.ks_2samp(np.repeat(index, ref), np.repeat(index, cur))
        return float(exact.statistic), float(exact.pvalue)
    d = float(np.max(np.abs(np.cumsum(ref) / n1 - np.cumsum(cur) / n2)))
    m, n = sorted((float(n1), float(n2)), reverse=True)
    return d, kstwo_sf(d, int(np.round(m * n / (m + n))))


def smirnov(n: int, d: float) -> float:
    """The exact one-sided Smirnov probability P(D+ >= d) for n rows, as `scipy.special.smirnov(n, d)`:
    d * sum over j <= n(1 - d) of C(n, j) (d + j/n)^(j-1) (1 - d - j/n)^(n-j), each term a binomial probability
    of j successes at p = d + j/n, divided by p."""
    j = np.arange(int(np.floor(n * (1 - d))) + 1)
    p = d + j / n
    return float(d * np.sum(stats.binom.pmf(j, n, p) / p))


def kstwo_sf(d: float, n: int) -> float:
    """`scipy.stats.kstwo.sf(d, n)`, the two-sided KS survival function: scipy itself, except in the branch where
    scipy takes twice the exact Smirnov probability (n > 140, 2.2 <= n d^2 < 370, 1 < n d < n - 1, d < 0.5),
    which `smirnov` sums vectorised."""
    t = n * d
    if n > SLOW_SMIRNOV_ROWS and 1.0 < t < n - 1 and d < 0.5 and 2.2 <= t * d < 370.0:
        return float(np.clip(2 * smirnov(n, d), 0.0, 1.0))
    return float(np.clip(stats.kstwo.sf(d, n), 0.0, 1.0))


def chi_squared(reference: Counts, batch: Counts) -> tuple[float, float, float, int] | None:
    """(statistic, p-value, Cramér's V, degrees of freedom) of the 2 x k contingency test over the categories."""
    table = np.vstack([np.asarray(reference, float), np.asarray(batch, float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return None
    result = stats.chi2_contingency(table)
    statistic, dof = float(result.statistic), int(result.dof)
    cramers_v = float(np.sqrt(statistic / table.sum()))  # min(rows, columns) - 1 is 1 for two samples
    return statistic, float(result.pvalue), cramers_v, dof


def adjust(p_values: list[float | None], *, method: str) -> list[float | None]:
    """Adjusted p-values for testing many features at once: `bh` (Benjamini–Hochberg, false discovery rate) or
    `holm` (Holm–Bonferroni, family-wise error); None (no test) stays None and does not count."""
    present = [i for i, p in enumerate(p_values) if p is not None]
    out: list[float | None] = [None] * len(p_values)
    if not present:
        return out
    values = np.array([p_values[i] for i in present], float)
    adjusted = stats.false_discovery_control(values, method="bh") if method == "bh" else _holm(values)
    for i, value in zip(present, adjusted, strict=True):
        out[i] = float(value)
    return out


def _holm(p: NDArray[np.float64]) -> NDArray[np.float64]:
    order = np.argsort(p)
    m = len(p)
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted
