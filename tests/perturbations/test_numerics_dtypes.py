"""Closed forms in low precision (issue 16, item 5): the k-support norm in float16 with many
entries, and radii that the inputs' dtype cannot hold."""

import math

import numpy as np
import pytest

from refimpl.perturbations import k_support, lp


@pytest.mark.parametrize("k", [1, 12, 300, 600])
def test_k_support_norm_in_float16_matches_float64(k):
    # D = 600 entries: float16 sums of that many terms are too coarse (the slack 1 - 4 k eps
    # was negative for k > 256 and the norm came out percents low)
    w = np.random.default_rng(0).normal(size=(4, 600)).astype(np.float16)
    got = k_support.norm(w, k)
    want = k_support.norm(w.astype(np.float64), k)
    assert got.dtype == np.float16 and got.shape == (4,)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3)


def test_k_support_norm_in_float32_is_unchanged():
    w = np.random.default_rng(1).normal(size=(3, 784)).astype(np.float32)
    got = k_support.norm(w, 392)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, k_support.norm(w.astype(np.float64), 392), rtol=1e-5)


@pytest.mark.parametrize("dtype, radius", [(np.float32, 1e39), (np.float16, 7e4)])
@pytest.mark.parametrize("family", ["lp-inf", "lp-2", "lp-1", "lp-3", "k-support"])
def test_a_radius_that_overflows_the_dtype_is_refused(dtype, radius, family):
    grad = np.random.default_rng(2).normal(size=(2, 5)).astype(dtype)
    call = {"lp-inf": lambda: lp.steepest_ascent(grad, radius, math.inf),
            "lp-2": lambda: lp.steepest_ascent(grad, radius, 2),
            "lp-1": lambda: lp.steepest_ascent(grad, radius, 1),
            "lp-3": lambda: lp.steepest_ascent(grad, radius, 3.0),
            "k-support": lambda: k_support.steepest_ascent(grad, radius, 2)}[family]
    with pytest.raises(ValueError, match=f"radius: .*overflows the inputs' dtype {np.dtype(dtype)}"):
        call()


def test_the_largest_radius_the_dtype_holds_is_accepted():
    grad = np.ones((1, 3), np.float32)
    delta = lp.steepest_ascent(grad, 1e38, math.inf)
    assert np.isfinite(delta).all() and delta.dtype == np.float32
