"""theory.sign_noise: Jacobian 1 + eps l and the curvature factor, numerically away from 0."""

import numpy as np
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
