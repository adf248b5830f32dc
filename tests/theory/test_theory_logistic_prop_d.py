"""theory.logistic: Prop. D's Hessian and uniqueness condition, the margin with a bias,
Goodfellow's mixed objective, and the refusal of bad p and radii."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit
from theory_strategies import FAST

from theory import logistic


def _fd_hessian(w, X, y, radius, p, step=1e-6):
    cols = []
    for e in np.eye(len(w)) * step:
        plus = logistic.adversarial_loss_grad(w + e, X, y, radius, p)[0]
        minus = logistic.adversarial_loss_grad(w - e, X, y, radius, p)[0]
        cols.append((plus - minus) / (2 * step))
    return np.array(cols).T


def _papers_hessian(w, X, y, radius):
    """Prop. D's H as printed (l2 case): e^Q / (1 + e^Q)^2 on BOTH terms."""
    length = np.linalg.norm(w)
    q = -y * (X @ w) + radius * length
    grad_q = -y[:, None] * X + radius * (w / length)[None, :]
    coefficient = np.exp(q) / (1 + np.exp(q)) ** 2
    hess_q = radius * (np.eye(len(w)) - np.outer(w, w) / length ** 2) / length
    return ((grad_q * coefficient[:, None]).T @ grad_q + coefficient.sum() * hess_q) / len(y)


@FAST
@given(seed=st.integers(0, 2**31), p=st.sampled_from([1.5, 2.0, 3.0]),
       radius=st.floats(0.1, 2.0))
def test_robust_hessian_matches_finite_differences(seed, p, radius):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(6, 3)), rng.choice([-1.0, 1.0], size=6)
    w = rng.uniform(0.3, 1.5, size=3) * rng.choice([-1.0, 1.0], size=3)  # no zero coordinate
    hessian = logistic.robust_hessian(w, X, y, radius, p)
    np.testing.assert_allclose(hessian, _fd_hessian(w, X, y, radius, p), rtol=1e-5, atol=1e-7)
    assert np.all(np.linalg.eigvalsh(hessian) > -1e-12)  # Prop. B: convex


def test_the_papers_hessian_coefficient_is_wrong():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(6, 3)), rng.choice([-1.0, 1.0], size=6)
    w, radius = np.array([0.8, -0.5, 1.2]), 1.0
    fd = _fd_hessian(w, X, y, radius, 2.0)
    np.testing.assert_allclose(logistic.robust_hessian(w, X, y, radius, 2.0), fd, rtol=1e-5)
    assert not np.allclose(_papers_hessian(w, X, y, radius), fd, rtol=1e-2)
    q = -y * (X @ w) + radius * np.linalg.norm(w)
    assert np.all(expit(q) > np.exp(q) / (1 + np.exp(q)) ** 2)  # sigma(Q) vs sigma'(Q)


def _data_with_a_duplicated_feature(rng):
    X = rng.normal(size=(40, 2))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=40) > 0, 1.0, -1.0)  # not separable
    return np.c_[X[:, :1], X], y  # columns 0 and 1 identical


def test_uniqueness_condition_fails_and_minimisers_differ_with_an_l1_dual_norm():
    """Linf adversary (dual norm l1) and two identical features: X w and ||w||_1 depend on
    w_0 + w_1 only while w_0, w_1 share a sign, so every such split is a minimiser."""
    X, y = _data_with_a_duplicated_feature(np.random.default_rng(0))
    radius = 0.2
    w, _, result = logistic.fit_adversarial_logistic(X, y, radius, math.inf)
    assert result.success and w[0] * w[1] >= 0
    other = w.copy()
    other[0], other[1] = w[0] + w[1], 0.0  # the same sum, all on one feature
    np.testing.assert_allclose(logistic.adversarial_loss(other, X, y, radius, math.inf),
                               logistic.adversarial_loss(w, X, y, radius, math.inf), rtol=1e-12)
    assert abs(w[0] - other[0]) > 1e-3 or abs(w[1] - other[1]) > 1e-3
    assert logistic.prop_d_condition(w, X, y, radius, math.inf) < 1e-10


def test_the_condition_is_sufficient_not_necessary_with_an_l2_dual_norm():
    """Same data, l2 adversary: the grad Q_i share their first two components, so the
    condition fails, yet the l2 norm's curvature makes the Hessian positive definite and the
    minimiser unique (it splits the weight evenly)."""
    X, y = _data_with_a_duplicated_feature(np.random.default_rng(0))
    radius = 0.2
    fits = [logistic.fit_adversarial_logistic(X, y, radius, 2.0, w0=w0)[0]
            for w0 in ([0.0, 0.0, 0.0], [3.0, -2.0, 1.0])]
    np.testing.assert_allclose(fits[0], fits[1], atol=1e-5)
    np.testing.assert_allclose(fits[0][0], fits[0][1], atol=1e-5)
    assert logistic.prop_d_condition(fits[0], X, y, radius, 2.0) < 1e-10
    assert np.linalg.eigvalsh(logistic.robust_hessian(fits[0], X, y, radius, 2.0))[0] > 1e-4


def test_the_condition_holds_on_generic_data_and_starts_agree():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    y = np.where(X @ np.array([1.0, -0.5, 0.3]) + 0.5 * rng.normal(size=40) > 0, 1.0, -1.0)
    radius = 0.3
    fits = [logistic.fit_adversarial_logistic(X, y, radius, 2.0, w0=w0)[0]
            for w0 in ([0.0, 0.0, 0.0], [3.0, -2.0, 1.0])]
    np.testing.assert_allclose(fits[0], fits[1], atol=1e-5)
    assert logistic.prop_d_condition(fits[0], X, y, radius, 2.0) > 1e-2
    assert np.linalg.eigvalsh(logistic.robust_hessian(fits[0], X, y, radius, 2.0))[0] > 0


@pytest.mark.parametrize("p", [1.0, math.inf])
def test_half_margin_with_a_bias_is_the_best_over_biases(p):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 2)) + np.array([3.0, 3.0])  # far from 0: a bias matters
    y = np.where(X[:, 0] - X[:, 1] + 0.2 * rng.normal(size=12) > 0, 1.0, -1.0)
    with_bias = logistic.separation_half_margin(X, y, p, fit_bias=True)
    without = logistic.separation_half_margin(X, y, p)
    assert with_bias >= without - 1e-9
    # brute force over biases b: the margin of the data (y, X) for the hyperplane w.x + b
    best = -np.inf
    for b in np.linspace(-6, 6, 241):
        shifted = logistic.separation_half_margin(np.c_[X, np.full(12, b)], y, p)
        best = max(best, shifted)  # a bias feature inside the norm only lowers gamma
    assert with_bias >= best - 1e-9 and with_bias > without + 1e-3


def test_fit_bias_changes_the_half_margin_on_an_offset_slab():
    X = np.array([[2.0, 0.0], [3.0, 0.0], [5.0, 0.0], [6.0, 0.0]])
    y = np.array([-1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(logistic.separation_half_margin(X, y, 2.0, fit_bias=True), 1.0,
                               atol=1e-6)  # the hyperplane x_0 = 4
    assert logistic.separation_half_margin(X, y, 2.0) < 1e-6  # through 0: no positive margin


@settings(FAST, max_examples=12)  # each example runs 10 scipy programs
@given(seed=st.integers(0, 2**31), radius=st.floats(0.05, 1.0), alpha=st.floats(0.0, 1.0))
def test_goodfellow_mixed_objective(seed, radius, alpha):
    rng = np.random.default_rng(seed)
    X, y, w = rng.normal(size=(5, 3)), rng.choice([-1.0, 1.0], size=5), rng.normal(size=3)
    rows = [alpha * logistic.inner_max_numerical(w, X[i], y[i], 0.0, math.inf)
            + (1 - alpha) * logistic.inner_max_numerical(w, X[i], y[i], radius, math.inf)
            for i in range(5)]
    mixed = logistic.goodfellow_mixed_loss(w, X, y, radius, alpha)
    np.testing.assert_allclose(mixed, np.mean(rows), rtol=1e-6)
    plain = logistic.adversarial_loss(w, X, y, 0.0, math.inf)
    np.testing.assert_allclose(mixed, plain + (1 - alpha)
                               * logistic.induced_regulariser(w, X, y, radius, math.inf))
    if 0.01 < alpha < 0.99:  # the adversarial term alone is not Goodfellow's objective
        assert not np.isclose(mixed, logistic.goodfellow_loss(w, X, y, radius))


@pytest.mark.parametrize("bad", [0.5, -1.0, float("nan")])
def test_p_below_one_or_nan_is_refused(bad):
    X, y, w = np.ones((2, 2)), np.array([1.0, -1.0]), np.ones(2)
    for call in (lambda: logistic.adversarial_loss(w, X, y, 0.1, bad),
                 lambda: logistic.separation_half_margin(X, y, bad)):
        with pytest.raises(ValueError, match="p must be a number in"):
            call()


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_negative_or_nan_radius_is_refused(bad):
    X, y, w = np.ones((2, 2)), np.array([1.0, -1.0]), np.ones(2)
    with pytest.raises(ValueError, match="radius must be"):
        logistic.adversarial_loss(w, X, y, bad, 2.0)
    with pytest.raises(ValueError, match="radius must be"):
        logistic.robust_hessian(w, X, y, bad, 2.0)
