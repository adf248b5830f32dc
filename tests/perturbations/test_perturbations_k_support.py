"""The k-support norm, its dual and its steepest ascent: properties on every backend, the
l1 / l2 end points, sparse vectors, Hoelder, and an independent scipy computation."""

import math

import numpy as np
import pytest
from conftest import assert_namespace
from hypothesis import given
from hypothesis import strategies as st
from pert_helpers import PROPERTY
from scipy.optimize import brentq

from refimpl.backend import to_numpy
from refimpl.perturbations import k_support, lp
from refimpl.testing import (check_hoelder, check_steepest_ascent, entries, gradient_batches,
                             radii)


def _ks(d):
    """k drawn as a count in 1..d or a fraction in (0, 1]."""
    return st.one_of(st.integers(1, d), st.sampled_from([0.25, 0.5, 0.75, 1.0]))


@PROPERTY
@given(data=st.data())
def test_steepest_ascent_properties(xp, data):
    grad = data.draw(gradient_batches(xp))
    d = math.prod(grad.shape[1:])
    k = data.draw(_ks(d))
    radius = data.draw(radii(grad.shape[0], xp=xp))
    check_steepest_ascent(k_support.steepest_ascent, k_support.norm, k_support.dual_norm, grad,
                          radius, k=k)


@PROPERTY
@given(data=st.data())
def test_k_one_is_l1_and_k_d_is_l2(xp, data):
    grad = data.draw(gradient_batches(xp))
    d = math.prod(grad.shape[1:])
    pairs = [(1, 1.0), (d, 2.0)]
    for k, p in pairs:
        np.testing.assert_allclose(to_numpy(k_support.norm(grad, k)), to_numpy(lp.norm(grad, p)),
                                   rtol=1e-12)
        np.testing.assert_allclose(to_numpy(k_support.dual_norm(grad, k)),
                                   to_numpy(lp.dual_norm(grad, p)), rtol=1e-12)
        np.testing.assert_allclose(to_numpy(k_support.steepest_ascent(grad, 1.5, k)),
                                   to_numpy(lp.steepest_ascent(grad, 1.5, p)), rtol=1e-12,
                                   atol=1e-15)


@PROPERTY
@given(data=st.data())
def test_norm_of_a_k_sparse_vector_is_its_l2_norm(xp, data):
    w = data.draw(gradient_batches(xp, images=False, max_dim=10))
    d = w.shape[1]
    k = data.draw(st.integers(1, d))
    keep = xp.asarray(np.arange(d) < k)
    sparse = xp.where(keep, w, 0.0)  # at most k nonzeros per row
    for kk in range(k, d + 1):
        np.testing.assert_allclose(to_numpy(k_support.norm(sparse, kk)),
                                   to_numpy(lp.norm(sparse, 2)), rtol=1e-12)


@PROPERTY
@given(data=st.data())
def test_hoelder_with_equality_at_the_steepest_ascent_point(xp, data):
    shape = (3, 6)
    w = data.draw(gradient_batches(xp, shape=shape))
    g = data.draw(gradient_batches(xp, shape=shape))
    k = data.draw(_ks(6))
    check_hoelder(k_support.norm, k_support.dual_norm, w, g, k=k)
    delta = k_support.steepest_ascent(g, 1.0, k)
    value = to_numpy(xp.sum(delta * g, axis=1))
    bound = to_numpy(k_support.norm(delta, k) * k_support.dual_norm(g, k))
    np.testing.assert_allclose(value, bound, rtol=1e-10, atol=1e-300)


def _variational_norm(w, k):
    """||w||_k^2 = min { sum_i w_i^2 / theta_i : 0 < theta_i <= 1, sum theta <= k }
    (McDonald, Pontil and Stamos 2016), independent of the sorted-r closed form.

    Its optimality conditions give theta_i = min(1, |w_i| / lam) with sum theta = k; lam is
    found by scipy's brentq (root finding is reliable where SLSQP stalls on wide ranges).
    """
    a = np.abs(w) / np.max(np.abs(w))
    a = a[a > 0]
    if a.size <= k:  # theta = 1 on the support is feasible and optimal
        return np.max(np.abs(w)) * np.sqrt(np.sum(a ** 2))
    lam = brentq(lambda lam: np.sum(np.minimum(1.0, a / lam)) - k, 1e-300, 2 * np.sum(a),
                 xtol=1e-300, rtol=1e-15, maxiter=2000)
    theta = np.minimum(1.0, a / lam)
    return np.max(np.abs(w)) * np.sqrt(np.sum(a ** 2 / theta))


@pytest.mark.parametrize("seed", range(4))
def test_norm_agrees_with_its_variational_form(xp, seed):
    """Random vectors with ties, zeros and a wide dynamic range."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(6, 7))
    w[0, :4] = [1.0, -1.0, 1.0, 0.5]  # ties
    w[1, 2:] = 0.0  # zeros
    w[2] = np.round(w[2])  # ties among small integers and zeros
    w[3] = 10.0 ** rng.integers(-5, 5, size=7) * rng.choice([-1, 1], size=7)  # wide range
    for k in range(1, 8):
        got = to_numpy(k_support.norm(xp.asarray(w), k))
        expected = [_variational_norm(row, k) if np.any(row) else 0.0 for row in w]
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_closed_form_by_hand_and_namespace(xp):
    w = xp.asarray([[3.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]], dtype=xp.float64)
    got = k_support.norm(w, 2)
    assert_namespace(got, xp)
    # sorted 3, 1, 1, 0: r = 0 since 3 > (1 + 1 + 0) / 1 >= 1, so sqrt(3^2 + 2^2).
    np.testing.assert_allclose(to_numpy(got), [math.sqrt(13.0), 0.0], rtol=1e-15)
    np.testing.assert_allclose(to_numpy(k_support.dual_norm(w, 2)), [math.sqrt(10.0), 0.0])


def test_ties_keep_the_first_entries_in_c_order(xp):
    grad = xp.asarray([[1.0, -2.0, 2.0, 2.0, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]], dtype=xp.float64)
    delta = to_numpy(k_support.steepest_ascent(grad, 3.0, 2))
    np.testing.assert_allclose(delta, [[0, -3 / math.sqrt(2), 3 / math.sqrt(2), 0, 0],
                                       [0, 0, 0, 0, 0]], rtol=1e-15)


def test_fractions_and_bad_k():
    assert k_support.resolve_k(0.5, 784) == 392
    assert k_support.resolve_k(1.0, 10) == 10
    assert k_support.resolve_k(0.01, 10) == 1
    assert k_support.resolve_k(3, 10) == 3
    grad = np.ones((2, 4))
    for bad in [0, 5, -1]:
        with pytest.raises(ValueError, match=r"k: expected an int in 1\.\.4"):
            k_support.steepest_ascent(grad, 1.0, bad)
    for bad in [0.0, 1.5, float("nan")]:
        with pytest.raises(ValueError, match=r"k: expected a fraction in \(0, 1\]"):
            k_support.norm(grad, bad)
    for bad in ["half", True, None]:
        with pytest.raises(ValueError, match="k: expected"):
            k_support.dual_norm(grad, bad)
    with pytest.raises(ValueError, match="radius: expected"):
        k_support.steepest_ascent(grad, -0.1, 2)
    with pytest.raises(ValueError, match="grad: expected finite values"):
        k_support.steepest_ascent(np.array([[np.inf, 1.0]]), 1.0, 1)


@PROPERTY
@given(w=st.lists(entries(max_exponent=8), min_size=2, max_size=9))
def test_float32_and_float64_agree(xp, w):
    w = np.array([w])
    w[np.abs(w) < 1e-30] = 0.0  # inputs representable as normal float32 numbers
    w64 = xp.asarray(w.astype(np.float32).astype(np.float64))
    w32 = xp.asarray(w, dtype=xp.float32)
    for k in [1, 2, len(w)]:
        n32 = k_support.norm(w32, k)
        assert n32.dtype == xp.float32
        np.testing.assert_allclose(to_numpy(n32), to_numpy(k_support.norm(w64, k)), rtol=1e-5)
