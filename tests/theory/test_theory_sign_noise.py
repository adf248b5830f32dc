"""theory.sign_noise: Jacobian 1 + eps l and the curvature factor, numerically away from 0."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from theory_strategies import FAST

from refimpl import ops
from refimpl.autodiff import jacobian
from theory import sign_noise

epsilons = st.floats(0.01, 0.9)
away_from_zero = st.floats(0.2, 3.0).flatmap(lambda a: st.sampled_from([a, -a]))


@FAST
@given(seed=st.integers(0, 2**31), eps=epsilons, p=st.floats(0.0, 1.0))
def test_jacobian_is_diagonal_one_plus_eps_l(seed, eps, p):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 2.0, size=5) * rng.choice([-1.0, 1.0], size=5)
    signs = sign_noise.draw_signs(x, p, rng)
    assert set(np.abs(signs)) == {1.0}
    g = lambda z: ops.reshape(z + eps * z * signs[None, :], shape=(1, -1))  # noqa: E731
    jac = np.asarray(jacobian(g)(x[None]))[0]  # refimpl reverse mode, (5, 5)
    np.testing.assert_allclose(jac, np.diag(sign_noise.jacobian_diagonal(eps, signs)), atol=1e-15)
    step = 1e-6  # finite differences of the map itself, valid since |x| >> step
    fd = [(sign_noise.sign_noise_map(x + step * e, eps, signs)
           - sign_noise.sign_noise_map(x - step * e, eps, signs)) / (2 * step) for e in np.eye(5)]
    np.testing.assert_allclose(np.array(fd).T, jac, atol=1e-8)
    if p == 1.0:  # l = sign(x): the paper's 1 + eps sign(x)
        np.testing.assert_allclose(np.diag(jac), 1 + eps * np.sign(x))


def test_zero_stays_zero():
    x = np.array([0.0, 1.0, -2.0])
    signs = sign_noise.draw_signs(x, 0.5, np.random.default_rng(0))
    assert signs[0] == 0 and sign_noise.sign_noise_map(x, 0.3, signs)[0] == 0


@FAST
@given(x0=away_from_zero, eps=epsilons, l=st.sampled_from([-1.0, 1.0]), curv=st.floats(0.5, 3))
def test_curvature_factor_at_a_critical_point(x0, eps, l, curv):
    signs = np.array([l * np.sign(x0)])
    u0 = sign_noise.sign_noise_map(np.array([x0]), eps, signs)[0]
    f = lambda u: curv * (1 - np.cos(u - u0))  # f'(u0) = 0, f''(u0) = curv  # noqa: E731
    composed = lambda x: f(sign_noise.sign_noise_map(np.array([x]), eps, signs)[0])  # noqa: E731
    measured = sign_noise.second_derivative_fd(composed, x0)
    np.testing.assert_allclose(measured, curv * sign_noise.curvature_factor(eps, signs)[0],
                               rtol=1e-5)


def test_papers_factor_is_the_expectation_not_the_fixed_sign_value():
    eps, x0 = 0.1, 1.0
    fixed = sign_noise.curvature_factor(eps, np.array([1.0]))[0]
    assert np.isclose(fixed, 1.21) and not np.isclose(fixed, 1 + eps ** 2)  # paper's 1.01
    rng = np.random.default_rng(0)
    x = np.full(200_000, x0)
    draws = sign_noise.curvature_factor(eps, sign_noise.draw_signs(x, 0.5, rng))
    np.testing.assert_allclose(draws.mean(), 1 + eps ** 2, atol=2e-3)  # 4 standard errors
    for p in (0.2, 0.5, 0.9):
        draws = sign_noise.curvature_factor(eps, sign_noise.draw_signs(x, p, rng))
        np.testing.assert_allclose(draws.mean(),
                                   sign_noise.expected_curvature_factor(eps, p, x0), atol=2e-3)  # 4 standard errors


@FAST
@given(seed=st.integers(0, 2**31), eps=epsilons)
def test_composed_hessian_in_several_dimensions(seed, eps):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0.3, 2.0, size=3) * rng.choice([-1.0, 1.0], size=3)
    signs = sign_noise.draw_signs(x0, 0.5, rng)
    u0 = sign_noise.sign_noise_map(x0, eps, signs)
    a = rng.normal(size=(3, 3))
    hess_f = a @ a.T + np.eye(3)
    f = lambda u: 0.5 * (u - u0) @ hess_f @ (u - u0) + np.sum((u - u0) ** 3)  # noqa: E731
    composed = lambda x: f(sign_noise.sign_noise_map(x, eps, signs))  # noqa: E731
    np.testing.assert_allclose(sign_noise.hessian_fd(composed, x0, step=1e-4),
                               sign_noise.composed_hessian(hess_f, eps, signs), atol=1e-5)


def _exact_expectation(values_of_signs, x, p):
    """E over every sign pattern l in {+-1}^D (l_i = sign(x_i) w.p. p) of values_of_signs(l)."""
    total = 0.0
    for flips in itertools.product([1.0, -1.0], repeat=len(x)):
        flips = np.array(flips)
        weight = np.prod(np.where(flips > 0, p, 1.0 - p))
        total = total + weight * values_of_signs(flips * np.sign(x))
    return total


@FAST
@given(eps=epsilons, p=st.floats(0.0, 1.0), x0=away_from_zero)
def test_expected_factor_keeps_the_sign_of_x(eps, p, x0):
    """E[(1 + eps l)^2] = 1 + 2 eps (2p - 1) sign(x) + eps^2, by exact enumeration; the old
    docstring's |sign(x)| would give the x > 0 value for x < 0 too."""
    x = np.array([x0])
    exact = _exact_expectation(lambda l: sign_noise.curvature_factor(eps, l), x, p)[0]
    np.testing.assert_allclose(sign_noise.expected_curvature_factor(eps, p, x)[0], exact,
                               rtol=1e-12)
    with_abs = 1 + 2 * eps * (2 * p - 1) * abs(np.sign(x0)) + eps ** 2
    if x0 < 0 and abs(2 * p - 1) > 0.05:
        assert not np.isclose(exact, with_abs)


def test_the_issues_numbers_and_the_fixed_map_shrinks_curvature_for_negative_x():
    values = sign_noise.expected_curvature_factor(0.3, 0.8, np.array([1.0, -1.0]))
    np.testing.assert_allclose(values, [1.45, 0.73])
    for eps in (0.1, 0.3, 0.9):  # the paper's fixed map (p = 1): (1 - eps)^2 < 1 for x < 0
        assert sign_noise.expected_curvature_factor(eps, 1.0, np.array([-2.0]))[0] < 1
        np.testing.assert_allclose(sign_noise.expected_curvature_factor(eps, 1.0, -2.0),
                                   (1 - eps) ** 2)
    for eps in (0.1, 0.3):  # below 1 exactly when p > 1/2 + eps / 4
        threshold = 0.5 + eps / 4
        assert sign_noise.expected_curvature_factor(eps, threshold + 1e-3, -1.0) < 1
        assert sign_noise.expected_curvature_factor(eps, threshold - 1e-3, -1.0) > 1


@FAST
@given(seed=st.integers(0, 2**31), eps=epsilons, p=st.floats(0.0, 1.0))
def test_expected_composed_hessian_by_enumeration(seed, eps, p):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.3, 2.0, size=3) * rng.choice([-1.0, 1.0], size=3)
    a = rng.normal(size=(3, 3))
    hess_f = a @ a.T
    exact = _exact_expectation(lambda l: sign_noise.composed_hessian(hess_f, eps, l), x, p)
    np.testing.assert_allclose(sign_noise.expected_composed_hessian(hess_f, eps, p, x), exact,
                               rtol=1e-12, atol=1e-12)
    at_half = sign_noise.expected_composed_hessian(hess_f, eps, 0.5, x)
    np.testing.assert_allclose(at_half, hess_f + eps ** 2 * np.diag(np.diag(hess_f)),
                               rtol=1e-12, atol=1e-12)
    # not every direction's curvature is multiplied by 1 + eps^2: only the coordinate axes
    # along u = (1, 1, 1)/sqrt(3) the curvature grows by eps^2 tr(H)/3, not by eps^2 u'Hu
    u = np.ones(3) / np.sqrt(3)
    np.testing.assert_allclose(u @ at_half @ u - u @ hess_f @ u, eps ** 2 * np.trace(hess_f) / 3,
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_probabilities_outside_zero_one_are_refused(p):
    with pytest.raises(ValueError, match="p must be a probability"):
        sign_noise.draw_signs(np.ones(3), p, np.random.default_rng(0))
    with pytest.raises(ValueError, match="p must be a probability"):
        sign_noise.expected_curvature_factor(0.1, p, np.ones(3))


def test_negative_eps_is_refused():
    with pytest.raises(ValueError, match="eps"):
        sign_noise.expected_curvature_factor(-0.1, 0.5, np.ones(3))
