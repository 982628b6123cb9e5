"""Exact TreeSHAP on the served tree ensemble: the ONNX `TreeEnsembleClassifier` read back into trees, and each
row's Shapley values against a reference row computed leaf by leaf.

With one reference row r (a single-row background), the interventional TreeSHAP value of a tree has a closed
form per leaf: along the leaf's path, a feature whose conditions x meets and r does not must be taken from x (set
U), one that r meets and x does not must be taken from r (set V), and the leaf's weight w is reached by exactly
the coalitions containing U and avoiding V. Its Shapley values are w(|U|-1)!|V|!/(|U|+|V|)! for each feature of U
and -w|U|!(|V|-1)!/(|U|+|V|)! for each of V; they sum to w when x reaches the leaf and r does not, to -w in the
reverse case and to 0 otherwise, so the values of every row add up to F(x) - F(r) exactly, on the served trees.
Each node's test is evaluated once for all rows (float32, as onnxruntime compares), so the work is vectorised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import factorial
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
Test = Callable[[NDArray[np.float32], np.float32], BoolArray]
TESTS: dict[str, Test] = {
    "BRANCH_LEQ": lambda x, v: np.less_equal(x, v),
    "BRANCH_LT": lambda x, v: np.less(x, v),
    "BRANCH_GTE": lambda x, v: np.greater_equal(x, v),
    "BRANCH_GT": lambda x, v: np.greater(x, v),
    "BRANCH_EQ": lambda x, v: np.equal(x, v),
    "BRANCH_NEQ": lambda x, v: np.not_equal(x, v),
}


@dataclass(frozen=True)
class Node:
    feature: int
    mode: str
    value: np.float32
    missing_true: bool


@dataclass(frozen=True)
class Leaf:
    """One leaf: its weight and its path, as (node index, whether the path takes the node's true branch)."""

    weight: float
    path: tuple[tuple[int, bool], ...]


@dataclass(frozen=True)
class Ensemble:
    nodes: tuple[Node, ...]
    leaves: tuple[Leaf, ...]
    inputs: int


def _attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def read_ensemble(node: Any, *, inputs: int) -> Ensemble:
    """The trees of an ONNX tree-ensemble node (binary: the weights of one class, summed in log-odds)."""
    a = _attributes(node)
    if a.get("post_transform", b"NONE") not in (b"LOGISTIC", b"NONE"):
        raise ValueError(f"tree ensemble with post_transform {a['post_transform']!r}")
    keys = list(zip(a["nodes_treeids"], a["nodes_nodeids"], strict=True))
    index = {key: i for i, key in enumerate(keys)}
    modes = [m.decode() for m in a["nodes_modes"]]
    missing = a.get("nodes_missing_value_tracks_true") or [0] * len(keys)
    values = np.asarray(a["nodes_values"], dtype=np.float32)
    nodes = tuple(Node(int(f), m, values[i], bool(missing[i])) for i, (f, m) in enumerate(zip(
        a["nodes_featureids"], modes, strict=True)))
    weights: dict[tuple[int, int], float] = {}
    class_ids = list(a.get("class_ids", []))
    positive = max(class_ids) if class_ids else 0
    for tree, leaf, cls, w in zip(a["class_treeids"], a["class_nodeids"], class_ids, a["class_weights"], strict=True):
        if cls == positive:
            weights[(tree, leaf)] = weights.get((tree, leaf), 0.0) + float(w)
    children = {i: (index[(t, a["nodes_truenodeids"][i])], index[(t, a["nodes_falsenodeids"][i])])
                for i, (t, _) in enumerate(keys) if modes[i] != "LEAF"}
    leaves: list[Leaf] = []
    referenced = {child for pair in children.values() for child in pair}
    for root in (i for i in range(len(keys)) if i not in referenced):
        stack: list[tuple[int, tuple[tuple[int, bool], ...]]] = [(root, ())]
        while stack:
            i, path = stack.pop()
            if i in children:
                yes, no = children[i]
                stack.extend(((yes, (*path, (i, True))), (no, (*path, (i, False)))))
            else:
                leaves.append(Leaf(weights.get(keys[i], 0.0), path))
    return Ensemble(nodes, tuple(leaves), inputs)


def node_tests(ensemble: Ensemble, x: NDArray[np.float32]) -> BoolArray:
    """(nodes, rows): whether each row takes each node's true branch (missing values as the node says)."""
    out = np.zeros((len(ensemble.nodes), len(x)), dtype=bool)
    for i, node in enumerate(ensemble.nodes):
        if node.mode == "LEAF":
            continue
        column = x[:, node.feature]
        taken = TESTS[node.mode](column, node.value)
        out[i] = np.where(np.isnan(column), node.missing_true, taken)
    return out


def raw_output(ensemble: Ensemble, tests: BoolArray) -> FloatArray:
    """Each row's summed leaf weights (log-odds), from its node tests."""
    total = np.zeros(tests.shape[1])
    for leaf in ensemble.leaves:
        reach = np.ones(tests.shape[1], dtype=bool)
        for i, branch in leaf.path:
            reach &= tests[i] == branch
        total += leaf.weight * reach
    return total


def _meets(tests: BoolArray, path: tuple[tuple[int, bool], ...], nodes: tuple[Node, ...]
           ) -> dict[int, BoolArray]:
    """Per feature on the path: the rows that meet every condition the path puts on it."""
    met: dict[int, BoolArray] = {}
    for i, branch in path:
        ok = tests[i] == branch
        feature = nodes[i].feature
        met[feature] = met[feature] & ok if feature in met else ok
    return met


def shapley(ensemble: Ensemble, x: NDArray[np.float32], reference: NDArray[np.float32]) -> tuple[FloatArray, float]:
    """(rows, inputs) exact Shapley values of every row against the one reference row, and F(reference)."""
    n = len(x)
    tests, ref_tests = node_tests(ensemble, x), node_tests(ensemble, reference.reshape(1, -1))
    depth = max((len(leaf.path) for leaf in ensemble.leaves), default=0) + 1
    fact = np.asarray([float(factorial(k)) for k in range(depth + 1)])
    phi = np.zeros((n, ensemble.inputs))
    base = 0.0
    for leaf in ensemble.leaves:
        if leaf.weight == 0.0:
            continue
        met, ref_met = _meets(tests, leaf.path, ensemble.nodes), _meets(ref_tests, leaf.path, ensemble.nodes)
        if all(bool(r[0]) for r in ref_met.values()):
            base += leaf.weight
        dead = np.zeros(n, dtype=bool)
        u_count, v_count = np.zeros(n, dtype=np.intp), np.zeros(n, dtype=np.intp)
        for feature, ok in met.items():
            r_ok = bool(ref_met[feature][0])
            dead |= ~ok & (not r_ok)
            u_count += ok & (not r_ok)
            v_count += ~ok & r_ok
        total = fact[u_count + v_count]
        plus = leaf.weight * fact[np.maximum(u_count - 1, 0)] * fact[v_count] / total
        minus = leaf.weight * fact[u_count] * fact[np.maximum(v_count - 1, 0)] / total
        live = ~dead
        for feature, ok in met.items():
            r_ok = bool(ref_met[feature][0])
            if r_ok:
                phi[:, feature] -= np.where(live & ~ok, minus, 0.0)
            else:
                phi[:, feature] += np.where(live & ok, plus, 0.0)
    return phi, base
