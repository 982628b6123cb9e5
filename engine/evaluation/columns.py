"""The audit's feature columns read once as plain arrays, shared by the split-integrity certificate and the
data-quality profile.

Reading a text column (factorising a million strings) is the costly part of both; `Columns` does it once per
column: a number becomes a float64 array (missing: NaN), anything else integer codes (0 is missing, 1.. the
levels, with the level names kept). From these the checks take missing rates, per-row hashes, leakage bins,
constant levels and unseen categories with numpy alone (`bench/integrity.py` times it at 1M x 50).

`row_hashes` gives each row one 64-bit hash of its feature values: a filter, never a verdict. Every pair of rows it
calls equal is compared value by value (`same_values`) before it is reported, so a hash collision can never
make a finding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from engine.candidates import Features

Rows = NDArray[np.intp]
MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constants of splitmix64
MIX_1, MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class Columns:
    """Each feature column as an array over every row of the frame: numbers, or codes with their levels."""

    numbers: dict[str, NDArray[np.float64]]
    codes: dict[str, NDArray[np.int64]]
    levels: dict[str, NDArray[np.object_]]  # the level names of each coded column (code c is levels[c - 1])

    @property
    def names(self) -> list[str]:
        return [*self.numbers, *self.codes]

    def missing(self, name: str) -> NDArray[np.bool_]:
        return np.isnan(self.numbers[name]) if name in self.numbers else self.codes[name] == 0


def read_columns(frame: pd.DataFrame, features: Features) -> Columns:
    """The features of `frame` as arrays (numeric features as numbers, the others as codes)."""
    numbers = {name: frame[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in features.numeric}
    codes, levels = {}, {}
    for name in features.categorical:
        found, uniques = pd.factorize(frame[name], use_na_sentinel=True)
        codes[name] = np.asarray(found, dtype=np.int64) + 1
        levels[name] = np.asarray(uniques, dtype=object)
    return Columns(numbers, codes, levels)


def _mixed(values: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64's finaliser, in place: every input bit moves every output bit."""
    values ^= values >> np.uint64(30)
    values *= MIX_1
    values ^= values >> np.uint64(27)
    values *= MIX_2
    values ^= values >> np.uint64(31)
    return values


def row_hashes(columns: Columns, rows: int) -> NDArray[np.uint64]:
    """One 64-bit hash of each row's feature values (a missing number is NaN, a missing category code 0, so
    missing values hash alike): four passes over each column (its bits folded onto themselves and multiplied
    in), then one finaliser over the hashes."""
    hashes = np.zeros(rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for values in columns.numbers.values():
            bits = values.view(np.uint64)
            folded = bits >> np.uint64(29)
            folded ^= bits
            hashes *= MULTIPLIER
            hashes += folded
        for codes in columns.codes.values():
            hashes *= MULTIPLIER
            hashes += codes.view(np.uint64)
        return _mixed(hashes)


def same_values(columns: Columns, left: Rows, right: Rows) -> NDArray[np.bool_]:
    """For each pair (left[i], right[i]), whether the two rows hold the same feature values (NaN equals NaN)."""
    same = np.ones(left.size, dtype=bool)
    for values in columns.numbers.values():
        a, b = values[left], values[right]
        same &= (a == b) | (np.isnan(a) & np.isnan(b))
    for codes in columns.codes.values():
        same &= codes[left] == codes[right]
    return same


def development_rows(train: Rows, validation: Rows) -> Rows:
    """The training and validation rows, in order (marked, not sorted: linear in the rows)."""
    top = max(int(train.max(initial=-1)), int(validation.max(initial=-1))) + 1
    marked = np.zeros(top, dtype=bool)
    marked[train] = True
    marked[validation] = True
    return np.flatnonzero(marked).astype(np.intp)
