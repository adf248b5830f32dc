"""theory.norms: closed forms against scipy.optimize, limits, and a deliberately wrong variant."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from theory_strategies import FAST, SCIPY, batches, exponents, radii, vectors

from theory import norms


def wrong_lp_maximiser(g, radius, p):
    """The closed form with the exponent p - 1 in place of q - 1 (a plausible slip)."""
    q = norms.dual_exponent(p)
    u = np.abs(g) / norms.lp_norm(g, q)
    return radius * np.sign(g) * u ** (p - 1)


def maximiser_matches_scipy(maximiser, g, radius, p):
    """The check the tests run: feasible, and as good as scipy's maximiser (same point)."""
    d = maximiser(g, radius, p)
    d_num, value_num = norms.lp_maximiser_numerical(g, radius, p)
    feasible = norms.lp_norm(d, p) <= radius * (1 + 1e-9)
    return bool(feasible and abs(g @ d - value_num) <= 1e-6 * (1 + abs(value_num))
                and np.allclose(d, d_num, atol=2e-2 * radius))  # flat ball: loose


@SCIPY
@given(g=vectors(), radius=radii, p=exponents)
def test_lp_maximiser_agrees_with_scipy(g, radius, p):
    assert maximiser_matches_scipy(norms.lp_maximiser, g, radius, p)
    d = norms.lp_maximiser(g, radius, p)
    np.testing.assert_allclose(norms.lp_norm(d, p), radius, rtol=1e-10)
    np.testing.assert_allclose(g @ d, radius * norms.dual_lp_norm(g, p), rtol=1e-10)


def test_wrong_exponent_is_detected():
    g, p = np.array([3.0, -1.0, 0.5, 2.0]), 3.0
    assert maximiser_matches_scipy(norms.lp_maximiser, g, 1.0, p)
    assert not maximiser_matches_scipy(wrong_lp_maximiser, g, 1.0, p)


@FAST
@given(g=vectors(), radius=radii)
def test_p_one_and_inf_limits(g, radius):
    d_inf = norms.lp_maximiser(g, radius, math.inf)
    np.testing.assert_array_equal(d_inf, radius * np.sign(g))
    d_one = norms.lp_maximiser(g, radius, 1)
    first = np.argmax(np.abs(g))
    assert np.count_nonzero(d_one) == 1 and d_one[first] == radius * np.sign(g[first])
    for p, d in ((math.inf, d_inf), (1, d_one)):
        np.testing.assert_allclose(g @ d, radius * norms.dual_lp_norm(g, p), rtol=1e-12)
    # close to 1 and to inf, the general formula approaches the limits' optimal values
    for p, limit in ((1.0 + 1e-6, 1), (1e6, math.inf)):
        np.testing.assert_allclose(g @ norms.lp_maximiser(g, radius, p),
                                   radius * norms.dual_lp_norm(g, limit), rtol=1e-4)


@FAST
@given(x=batches(), p=st.sampled_from([1.0, 1.5, 2.0, 3.0, 1e6, math.inf]))
def test_zero_rows_and_extreme_scales(x, p):
    x[0] = 0.0
    d = norms.lp_maximiser(x, 1.0, p)
    assert np.all(d[0] == 0) and np.all(np.isfinite(d))
    for scale in (1e-200, 1e200):
        np.testing.assert_allclose(norms.lp_norm(x * scale, p), norms.lp_norm(x, p) * scale,
                                   rtol=1e-10)
        assert np.all(np.isfinite(norms.lp_maximiser(x * scale, 1.0, p)))


@SCIPY
@given(w=vectors(max_dim=5), p=exponents)
def test_dual_of_dual_lp(w, p):
    # max <w, g> over ||g||_q <= 1 is ||w||_p
    _, value = norms.lp_maximiser_numerical(w, 1.0, norms.dual_exponent(p))
    np.testing.assert_allclose(value, norms.lp_norm(w, p), rtol=1e-6)


@SCIPY
@given(w=vectors(max_dim=6), data=st.data())
def test_k_support_norm_is_the_dual_of_its_dual(w, data):
    k = data.draw(st.integers(1, len(w)))
    np.testing.assert_allclose(norms.k_support_norm(w, k), norms.k_support_norm_numerical(w, k),
                               rtol=1e-6)


def test_wrong_k_support_formula_is_detected():
    def r_always_zero(w, k):  # the l2 head with the tail summed as one term: wrong in general
        s = np.sort(np.abs(w))[::-1]
        return np.sqrt(np.sum(s[:k - 1] ** 2) + np.sum(s[k - 1:]) ** 2)
    w, k = np.array([1.0, 1.0, 1.0, 1.0]), 2
    expected = norms.k_support_norm_numerical(w, k)
    assert np.isclose(norms.k_support_norm(w, k), expected, rtol=1e-6)
    assert not np.isclose(r_always_zero(w, k), expected, rtol=1e-3)


@FAST
@given(x=batches())
def test_k_support_limits_and_batches(x):
    dim = x.shape[1]
    np.testing.assert_allclose(norms.k_support_norm(x, 1), norms.lp_norm(x, 1), rtol=1e-12)
    np.testing.assert_allclose(norms.k_support_norm(x, dim), norms.lp_norm(x, 2), rtol=1e-12)
    np.testing.assert_allclose(norms.k_support_dual_norm(x, 1), norms.lp_norm(x, math.inf))
    np.testing.assert_allclose(norms.k_support_dual_norm(x, dim), norms.lp_norm(x, 2))
    for k in range(1, dim + 1):
        rows = [norms.k_support_norm(row, k) for row in x]
        np.testing.assert_allclose(norms.k_support_norm(x, k), rows, rtol=1e-12)
        # lying between l2 and l1, growing with k toward... l2 is the smallest
        assert np.all(norms.k_support_norm(x, k) <= norms.lp_norm(x, 1) * (1 + 1e-12) + 1e-12)
        assert np.all(norms.k_support_norm(x, k) >= norms.lp_norm(x, 2) * (1 - 1e-12) - 1e-12)


@FAST
@given(x=batches(), radius=radii, data=st.data())
def test_k_support_maximiser(x, radius, data):
    dim = x.shape[1]
    k = data.draw(st.integers(1, dim))
    d = norms.k_support_maximiser(x, radius, k)
    nonzero = np.abs(x).max(axis=1) > 0
    assert np.all(np.count_nonzero(d, axis=1) <= k)
    assert np.all(d[~nonzero] == 0)
    np.testing.assert_allclose(norms.k_support_norm(d[nonzero], k), radius, rtol=1e-10)
    np.testing.assert_allclose(np.sum(x * d, axis=1), radius * norms.k_support_dual_norm(x, k),
                               rtol=1e-10, atol=1e-12)
    # Hoelder for the pair: <w, g> <= ||w||_k^sp ||g||_(k) for any other w
    w = data.draw(batches(max_rows=1, min_dim=dim, max_dim=dim))[0]
    assert np.all(x @ w <= norms.k_support_norm(w, k) * norms.k_support_dual_norm(x, k) + 1e-9)


def test_fraction_k():
    w = np.arange(1.0, 9.0)
    assert norms.resolve_k(0.5, 8) == 4 and norms.resolve_k(3, 8) == 3
    np.testing.assert_allclose(norms.k_support_norm(w, 0.5), norms.k_support_norm(w, 4))


def test_k_support_ties_under_rounding():
    # 3.3 + 3.3 + 3.3 rounds below 9.9: the strict interval test alone would miss every r
    np.testing.assert_allclose(norms.k_support_norm(np.array([4.0, 3.3, 3.3, 3.3]), 4),
                               np.sqrt(16 + 3 * 3.3 ** 2), rtol=1e-12)
    w = np.array([0.6, 0.7, 0.5, 0.3, 1.0, 1.0])
    np.testing.assert_allclose(norms.k_support_norm(w, 5), norms.k_support_norm_numerical(w, 5),
                               rtol=1e-7)


@pytest.mark.parametrize("bad", [0.5, 0.0, -2.0, float("nan"), "two"])
def test_p_below_one_or_not_a_number_is_refused_naming_p(bad):
    g = np.array([1.0, -2.0, 0.5])
    for call in (lambda: norms.dual_exponent(bad), lambda: norms.lp_norm(g, bad),
                 lambda: norms.dual_lp_norm(g, bad), lambda: norms.lp_maximiser(g, 1.0, bad),
                 lambda: norms.lp_maximiser_numerical(g, 1.0, bad)):
        with pytest.raises(ValueError, match="^p must be a number in"):
            call()


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_negative_or_nan_radius_is_refused_naming_radius(bad):
    g = np.array([1.0, -2.0, 0.5])
    for call in (lambda: norms.lp_maximiser(g, bad, 2.0),
                 lambda: norms.k_support_maximiser(g, bad, 2)):
        with pytest.raises(ValueError, match="^radius must be"):
            call()


def test_resolve_k_rounds_halves_to_even():
    assert norms.resolve_k(0.5, 5) == 2 and norms.resolve_k(0.5, 7) == 4
    assert norms.resolve_k(0.01, 5) == 1
