"""Rows laid out by group, computed once by counting: a stable order that lists each group's rows together.

`counting_order(codes, size)` is a counting sort (two passes over the rows, no comparison sort): the rows of
group 0 in their original order, then those of group 1, and so on, with each group's bounds. The compiled
bootstrap kernels visit rows in such an order, so consecutive rows add to the same cell (it stays in cache),
and the slices cut each group's rows out of it. `first_rows` gives each group's first row in one pass.
`descending_order(scores)` is the same idea applied to the scores' bits, 16 at a time (a radix sort): the order
every ranking metric walks, equal to `np.argsort(-scores, kind="mergesort")` (ties in row order) at a quarter of
its time. `grouped(codes, bounds, values)` lays any column out in such a grouped order in one pass.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from numba import njit
from numpy.typing import NDArray

Value = TypeVar("Value", bound=np.generic)


@njit(cache=True)
def _counting_order(codes: NDArray[np.int64], size: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    bounds = np.zeros(size + 1, dtype=np.int64)
    for i in range(codes.size):
        bounds[codes[i] + 1] += 1
    for g in range(size):
        bounds[g + 1] += bounds[g]
    cursor = bounds[:-1].copy()
    order = np.empty(codes.size, dtype=np.int64)
    for i in range(codes.size):
        g = codes[i]
        order[cursor[g]] = i
        cursor[g] += 1
    return order, bounds


def counting_order(codes: NDArray[np.integer], size: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The stable order of rows by `codes` (each in 0..size-1), and the (size + 1) bounds of each group in it:
    group g's rows are `order[bounds[g]:bounds[g + 1]]` (the same as `np.argsort(codes, kind="stable")`)."""
    return _counting_order(np.ascontiguousarray(codes, dtype=np.int64), int(size))


@njit(cache=True)
def _first_rows(codes: NDArray[np.int64], size: int) -> NDArray[np.int64]:
    first = np.full(size, -1, dtype=np.int64)
    for i in range(codes.size - 1, -1, -1):
        first[codes[i]] = i
    return first


def first_rows(codes: NDArray[np.integer], size: int) -> NDArray[np.int64]:
    """Each group's first row (-1 for a group without rows): `np.unique(codes, return_index=True)[1]` for groups
    that occur."""
    return _first_rows(np.ascontiguousarray(codes, dtype=np.int64), int(size))


_RADIX_BITS = 16
_DIGITS = 1 << _RADIX_BITS


@njit(cache=True)
def _descending_order(scores: NDArray[np.float64]) -> NDArray[np.int64]:
    n = scores.size
    keys = (scores + 0.0).view(np.uint64)  # + 0.0: -0.0 ties with 0.0, as in a comparison sort
    top = np.uint64(1) << np.uint64(63)
    last = ~np.uint64(0)
    for i in range(n):  # a key that sorts ascending as the score descends: the float's bits made monotonic, inverted
        if np.isnan(scores[i]):
            keys[i] = last  # NaN after every number, as numpy sorts it, whatever its sign bit
        else:
            keys[i] = keys[i] if keys[i] & top else ~(keys[i] | top)
    counts = np.zeros((4, _DIGITS + 1), dtype=np.int64)
    for i in range(n):
        for d in range(4):
            counts[d, ((keys[i] >> np.uint64(_RADIX_BITS * d)) & np.uint64(_DIGITS - 1)) + 1] += 1
    order = np.arange(n)
    spare_order = np.empty(n, dtype=np.int64)
    spare_keys = np.empty(n, dtype=np.uint64)
    for d in range(4):  # least significant digit first; each pass is stable, so ties stay in row order
        if counts[d].max() == n:
            continue  # every key has the same digit here: this pass would change nothing
        cursor = np.cumsum(counts[d])
        shift = np.uint64(_RADIX_BITS * d)
        for i in range(n):
            digit = (keys[i] >> shift) & np.uint64(_DIGITS - 1)
            spare_order[cursor[digit]] = order[i]
            spare_keys[cursor[digit]] = keys[i]
            cursor[digit] += 1
        order, spare_order = spare_order, order
        keys, spare_keys = spare_keys, keys
    return order


def descending_order(scores: NDArray[np.floating]) -> NDArray[np.int64]:
    """Rows by descending score, ties in row order, NaN last: `np.argsort(-scores, kind="mergesort")`, by a radix
    sort of the scores' bits."""
    return _descending_order(np.ascontiguousarray(scores, dtype=np.float64))


@njit(cache=True)
def _grouped(codes: NDArray[np.int64], bounds: NDArray[np.int64], values: NDArray[Any]) -> NDArray[Any]:
    out = np.empty_like(values)
    cursor = bounds[:-1].copy()
    for i in range(codes.size):
        out[cursor[codes[i]]] = values[i]
        cursor[codes[i]] += 1
    return out


def grouped(codes: NDArray[np.integer], bounds: NDArray[np.int64], values: NDArray[Value]) -> NDArray[Value]:
    """`values` laid out group by group, each group's in their order here: `values[counting_order(codes)[0]]`
    given the groups' `bounds`, without the order."""
    out: NDArray[Value] = _grouped(np.ascontiguousarray(codes, dtype=np.int64), bounds, np.ascontiguousarray(values))
    return out
