"""lp norms, steepest ascent and projections: properties on every backend, closed forms,
numerical extremes, scipy references and clear errors."""

import math

import numpy as np
import pytest
from conftest import assert_namespace
from hypothesis import given
from hypothesis import strategies as st
from pert_helpers import PROPERTY
from scipy.optimize import minimize

from refimpl.backend import to_numpy
from refimpl.perturbations import lp
from refimpl.testing import (check_hoelder, check_projection, check_steepest_ascent,
                             gradient_batches, norm_exponents, radii)

NAMED_P = [1.0, 2.0, math.inf, 1.0001, 1e6, 3.0]


@PROPERTY
@given(data=st.data(), p=norm_exponents())
def test_steepest_ascent_properties(xp, data, p):
    grad = data.draw(gradient_batches(xp))
    radius = data.draw(radii(grad.shape[0], xp=xp))
    check_steepest_ascent(lp.steepest_ascent, lp.norm, lp.dual_norm, grad, radius, p=p)


@pytest.mark.parametrize("p", NAMED_P)
def test_named_exponents_with_scalar_and_batch_radius(xp, p):
    rng = np.random.default_rng(1)
    grad = xp.asarray(rng.normal(size=(4, 2, 3)) * 10.0 ** rng.integers(-8, 8, size=(4, 2, 3)))
    check_steepest_ascent(lp.steepest_ascent, lp.norm, lp.dual_norm, grad, 0.7, p=p)
    check_steepest_ascent(lp.steepest_ascent, lp.norm, lp.dual_norm, grad,
                          xp.asarray([0.0, 1.0, 2.5, 1e-3]), p=p)


def test_closed_forms_of_the_named_cases(xp):
    g_np = np.array([[0.5, -2.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 3.0, 0.0, 1.0]])
    grad = xp.asarray(g_np)
    fgsm = lp.steepest_ascent(grad, 0.3, math.inf)
    assert_namespace(fgsm, xp)
    np.testing.assert_array_equal(to_numpy(fgsm), 0.3 * np.sign(g_np))
    l2 = to_numpy(lp.steepest_ascent(grad, 2.0, 2))
    norms = np.linalg.norm(g_np, axis=1, keepdims=True)
    np.testing.assert_allclose(l2, 2.0 * np.divide(g_np, norms, where=norms > 0,
                                                   out=np.zeros_like(g_np)), rtol=1e-14)
    # p = 1: the whole radius on the FIRST coordinate of largest |g| (here a tie at 1 and 2).
    single = to_numpy(lp.steepest_ascent(grad, 1.5, 1))
    np.testing.assert_array_equal(single, [[0, -1.5, 0, 0], [0, 0, 0, 0], [0, 1.5, 0, 0]])


def test_single_pixel_is_not_the_l1_normalised_gradient():
    grad = np.array([[3.0, 1.0]])
    delta = lp.steepest_ascent(grad, 1.0, 1)
    assert float(np.sum(grad * delta)) == 3.0  # radius * ||g||_inf
    assert float(np.sum(grad * grad / np.abs(grad).sum())) < 3.0  # the known bug is worse


@pytest.mark.parametrize("p", [1 + 2 ** -52, 1.0001, 1.001, 1e4, 1e6, 1e12])
def test_no_nan_or_inf_at_extreme_exponents(xp, p):
    grad = xp.asarray([[1e300, -1e-300, 3.0, 0.0], [1e-300, 2e-300, 0.0, -1e-310],
                       [1.0, 1.0, -1.0, 1.0]], dtype=xp.float64)  # torch's default is float32
    delta = lp.steepest_ascent(grad, 1.0, p)
    assert np.all(np.isfinite(to_numpy(delta)))
    np.testing.assert_allclose(to_numpy(lp.norm(delta, p)), 1.0, rtol=1e-9)
    assert np.all(np.isfinite(to_numpy(lp.norm(grad, p))))


def test_norm_matches_numpy_and_is_stable(xp):
    rng = np.random.default_rng(2)
    x_np = rng.normal(size=(3, 2, 4))
    x = xp.asarray(x_np)
    for p in [1.0, 1.5, 2.0, 3.0, math.inf]:
        expected = np.linalg.norm(x_np.reshape(3, -1), ord=p, axis=1)
        np.testing.assert_allclose(to_numpy(lp.norm(x, p)), expected, rtol=1e-13)
        np.testing.assert_allclose(to_numpy(lp.dual_norm(x, p)),
                                   np.linalg.norm(x_np.reshape(3, -1), ord=lp.dual_exponent(p),
                                                  axis=1), rtol=1e-13)
    huge = xp.asarray([[1e200, 1e200], [1e-200, 0.0]], dtype=xp.float64)
    np.testing.assert_allclose(to_numpy(lp.norm(huge, 2)), [math.sqrt(2) * 1e200, 1e-200])
    np.testing.assert_allclose(to_numpy(lp.norm(huge, 1e6)), [1e200, 1e-200], rtol=1e-5)


@PROPERTY
@given(data=st.data(), p=norm_exponents())
def test_hoelder(xp, data, p):
    shape = (3, 4)
    w = data.draw(gradient_batches(xp, shape=shape))
    g = data.draw(gradient_batches(xp, shape=shape))
    check_hoelder(lp.norm, lp.dual_norm, w, g, p=p)


def test_float32_keeps_its_dtype(xp):
    grad = xp.asarray(np.random.default_rng(3).normal(size=(2, 5)), dtype=xp.float32)
    for p in NAMED_P:
        delta = lp.steepest_ascent(grad, 0.5, p)
        assert delta.dtype == xp.float32
        assert lp.norm(delta, p).dtype == xp.float32
    for p in [1, 2, math.inf]:
        assert lp.project(grad, 0.5, p).dtype == xp.float32


@PROPERTY
@given(data=st.data(), p=st.sampled_from([1.0, 2.0, math.inf]))
def test_projection_properties(xp, data, p):
    delta = data.draw(gradient_batches(xp, max_exponent=6))
    radius = data.draw(radii(delta.shape[0], xp=xp))
    check_projection(lp.project, lp.norm, delta, radius, p=p)


def _scipy_projection(v, radius, p):
    """argmin ||z - v||^2 s.t. ||z||_p <= radius, by SLSQP (l1 and linf split z = z+ - z-)."""
    d = v.size
    if p == 2:
        cons = [{"type": "ineq", "fun": lambda z: radius ** 2 - z @ z, "jac": lambda z: -2 * z}]
        res = minimize(lambda z: np.sum((z - v) ** 2), np.zeros(d), jac=lambda z: 2 * (z - v),
                       constraints=cons, method="SLSQP", options={"ftol": 1e-14, "maxiter": 500})
        return res.x
    if p == math.inf:
        return np.clip(v, -radius, radius)  # separable: the box projection is exact
    # l1: z = a - b with a, b >= 0 and sum(a + b) <= radius.
    def objective(ab):
        return np.sum((ab[:d] - ab[d:] - v) ** 2)

    def jac(ab):
        residual = ab[:d] - ab[d:] - v
        return np.concatenate([2 * residual, -2 * residual])

    cons = [{"type": "ineq", "fun": lambda ab: radius - np.sum(ab),
             "jac": lambda ab: -np.ones(2 * d)}]
    res = minimize(objective, np.zeros(2 * d), jac=jac, bounds=[(0, None)] * (2 * d),
                   constraints=cons, method="SLSQP", options={"ftol": 1e-15, "maxiter": 500})
    return res.x[:d] - res.x[d:]


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_projection_equals_scipy_qp(xp, p):
    rng = np.random.default_rng(4)
    v = rng.normal(size=(5, 6)) * 2
    v[1, :3] = [1.5, -1.5, 1.5]  # ties
    v[2] = 0.0
    radius = np.array([1.0, 0.5, 1.0, 20.0, 0.3])
    out = to_numpy(lp.project(xp.asarray(v), xp.asarray(radius), p))
    for i in range(v.shape[0]):
        np.testing.assert_allclose(out[i], _scipy_projection(v[i], radius[i], p), atol=1e-6)


def test_bad_inputs_name_the_argument():
    grad = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"p: expected a norm exponent in \[1, inf\].*0.5"):
        lp.steepest_ascent(grad, 1.0, 0.5)
    with pytest.raises(ValueError, match="p: expected"):
        lp.norm(grad, float("nan"))
    with pytest.raises(ValueError, match="radius: expected a finite number >= 0, got -1"):
        lp.steepest_ascent(grad, -1.0, 2)
    with pytest.raises(ValueError, match=r"radius: expected .* shape \(2,\)"):
        lp.steepest_ascent(grad, np.ones(3), 2)
    with pytest.raises(ValueError, match="radius: expected finite values >= 0"):
        lp.steepest_ascent(grad, np.array([1.0, -2.0]), 2)
    with pytest.raises(ValueError, match="grad: expected finite values, got NaN"):
        lp.steepest_ascent(np.array([[1.0, np.nan]]), 1.0, 2)
    with pytest.raises(TypeError, match="grad: expected a floating array"):
        lp.steepest_ascent(np.ones((2, 3), dtype=np.int64), 1.0, 2)
    with pytest.raises(ValueError, match=r"p: project supports p in \{1, 2, inf\}"):
        lp.project(grad, 1.0, 3)
