"""Rows laid out by group, computed once by counting: a stable order that lists each group's rows together.

`counting_order(codes, size)` is a counting sort (two passes over the rows, no comparison sort): the rows of
group 0 in their original order, then those of group 1, and so on, with each group's bounds. The compiled
bootstrap kernels visit rows in such an order, so consecutive rows add to the same cell (it stays in cache),
and the slices cut each group's rows out of it. `first_rows` gives each group's first row in one pass.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray


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
