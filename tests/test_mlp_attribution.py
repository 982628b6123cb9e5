"""engine.candidates.mlp_attribution: DeepLIFT's rescale rule sums exactly to the output difference, and reduces
to the exact answer where there is one (a single linear layer)."""

from __future__ import annotations

import itertools

import numpy as np

from engine.candidates.mlp_attribution import rescale_attributions


def _net(rng: np.random.Generator, widths: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(rng.normal(size=(out, inp)), rng.normal(size=out)) for inp, out in itertools.pairwise(widths)]


def _proba(layers: list[tuple[np.ndarray, np.ndarray]], a: np.ndarray) -> np.ndarray:
    for index, (weight, bias) in enumerate(layers):
        a = a @ weight.T + bias
        if index < len(layers) - 1:
            a = np.maximum(a, 0.0)
    return 1.0 / (1.0 + np.exp(-a[:, 0]))


def test_attributions_plus_the_background_mean_equal_the_output() -> None:
    rng = np.random.default_rng(0)
    layers = _net(rng, [7, 16, 8, 1])
    x, background = rng.normal(size=(20, 7)), rng.normal(size=(9, 7))
    x[3] = background[2]  # a row equal to a reference: ties everywhere on that pair
    values, reference_out = rescale_attributions(layers, x, background)
    assert values.shape == (20, 7)
    np.testing.assert_allclose(reference_out, _proba(layers, background), atol=1e-15)
    np.testing.assert_allclose(values.sum(axis=1) + reference_out.mean(), _proba(layers, x), atol=1e-12)


def test_a_single_linear_layer_gets_the_rescaled_linear_attribution() -> None:
    rng = np.random.default_rng(1)
    (weight, bias), = layers = _net(rng, [4, 1])
    x, reference = rng.normal(size=(3, 4)), rng.normal(size=(1, 4))
    values, _ = rescale_attributions(layers, x, reference)
    z, z_ref = x @ weight[0] + bias[0], reference @ weight[0] + bias[0]
    ratio = (_proba(layers, x) - _proba(layers, reference)) / (z - z_ref)
    np.testing.assert_allclose(values, (x - reference) * weight[0] * ratio[:, None], atol=1e-14)


def test_no_rows_to_explain_still_gives_the_background_outputs() -> None:
    rng = np.random.default_rng(2)
    layers = _net(rng, [3, 5, 1])
    background = rng.normal(size=(4, 3))
    values, reference_out = rescale_attributions(layers, np.zeros((0, 3)), background)
    assert values.shape == (0, 3)
    np.testing.assert_allclose(reference_out, _proba(layers, background), atol=1e-15)
