"""theory.logistic: the closed-form inner max, Props. B, C, D and Goodfellow's linf case."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from theory_strategies import FAST, SCIPY, radii, vectors

from theory import logistic
from theory.norms import lp_maximiser, lp_norm

p_values = st.sampled_from([1.0, 1.5, 2.0, 3.0, math.inf])


def wrong_adversarial_loss(w, X, y, radius, p, b=0.0):
    """The slip the closed form must not make: ||w||_p instead of the dual ||w||_q."""
    return float(np.mean(logistic.softplus(-y * (X @ w + b) + radius * lp_norm(w, p))))


def rowwise_matches_numerical(loss, w, X, y, radius, p, b):
    closed = [loss(w, X[i:i + 1], y[i:i + 1], radius, p, b) for i in range(len(y))]
    numerical = [logistic.inner_max_numerical(w, X[i], y[i], radius, p, b) for i in range(len(y))]
    return np.allclose(closed, numerical, rtol=1e-6, atol=1e-7)


@SCIPY
@given(w=vectors(max_dim=4), radius=radii, p=p_values, seed=st.integers(0, 2**31), b=radii)
def test_closed_form_inner_max_agrees_with_scipy(w, radius, p, seed, b):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, len(w)))
    y = rng.choice([-1.0, 1.0], size=3)
    assert rowwise_matches_numerical(logistic.adversarial_loss, w, X, y, radius, p, b)
    # the closed form is the mean of the rows, and the maximiser attains it
    rows = [logistic.adversarial_loss(w, X[i:i + 1], y[i:i + 1], radius, p, b) for i in range(3)]
    np.testing.assert_allclose(logistic.adversarial_loss(w, X, y, radius, p, b), np.mean(rows))
    x_adv = X + logistic.worst_perturbation(w, y, radius, p)
    np.testing.assert_allclose(np.mean(logistic.softplus(-y * (x_adv @ w + b))), np.mean(rows))


def test_wrong_norm_in_closed_form_is_detected():
    w, X, y = np.array([2.0, -0.5, 1.0]), np.array([[0.3, 1.0, -0.2]]), np.array([1.0])
    assert rowwise_matches_numerical(logistic.adversarial_loss, w, X, y, 0.5, 3.0, 0.0)
    assert not rowwise_matches_numerical(wrong_adversarial_loss, w, X, y, 0.5, 3.0, 0.0)


def test_stable_for_large_margins():
    w, X, y = np.array([1e3, 0.0]), np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([-1.0, 1.0])
    assert np.isfinite(logistic.adversarial_loss(w, X, y, 0.1, 2.0))  # exp(1000) overflows
    np.testing.assert_allclose(logistic.adversarial_loss(w, X, y, 0.0, 2.0), 1e3)


@FAST
@given(seed=st.integers(0, 2**31), p=p_values, radius=radii, t=st.floats(0.05, 0.95))
def test_prop_b_convex_on_random_chords(seed, p, radius, t):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(6, 3)), rng.choice([-1.0, 1.0], size=6)
    f = lambda w: logistic.adversarial_loss(w, X, y, radius, p)  # noqa: E731
    w1, w2 = rng.normal(size=3) * 3, rng.normal(size=3) * 3
    assert logistic.convexity_gap(f, w1, w2, t) >= -1e-12


def test_prop_c_regulariser_is_not_convex():
    w = np.array([0.0, 2.0, 40.0])
    r = logistic.prop_c_regulariser(w)
    np.testing.assert_allclose(r[0], 0.0, atol=1e-15)
    # the paper's w >= 0 formula, log(1 + e^{-0.5 w}) - log(1 + e^{-w})
    np.testing.assert_allclose(r, np.log1p(np.exp(-0.5 * w)) - np.log1p(np.exp(-w)))
    gap = logistic.convexity_gap(logistic.prop_c_regulariser, w[:1], w[2:], 0.95)
    assert gap < -0.1  # the chord from 0 to 40 passes below R(2)
    # it is the general induced regulariser for the data set {(1, 1)}
    one = np.array([[1.0]]), np.array([1.0])
    np.testing.assert_allclose(logistic.induced_regulariser(np.array([2.0]), *one, 0.5, 2.0), r[1])


@FAST
@given(seed=st.integers(0, 2**31), p=p_values, radius=radii)
def test_induced_regulariser_is_nonnegative(seed, p, radius):
    rng = np.random.default_rng(seed)
    X, y, w = rng.normal(size=(5, 3)), rng.choice([-1.0, 1.0], size=5), rng.normal(size=3)
    assert logistic.induced_regulariser(w, X, y, radius, p) >= 0


def test_plot_prop_c_writes_png(tmp_path):
    path = tmp_path / "prop_c.png"
    logistic.plot_prop_c(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def separable_data(rng, n=40):
    X = rng.normal(size=(n, 2))
    y = np.sign(X[:, 0] + 0.3 * X[:, 1] + 1e-9)
    return X + 0.3 * y[:, None] * np.array([1.0, 0.3]), y


@SCIPY
@given(seed=st.integers(0, 2**31), p=st.sampled_from([1.0, 2.0, math.inf]))
def test_robust_fit_is_bounded_only_above_the_half_margin(seed, p):
    X, y = separable_data(np.random.default_rng(seed))
    gamma = logistic.separation_half_margin(X, y, p)
    assert gamma > 0
    # a robust radius below gamma still separates the perturbed data: the robust loss
    # vanishes along the best direction, so the robust fit runs away; above gamma it is bounded
    w_far, _, _ = logistic.fit_adversarial_logistic(X, y, 0.5 * gamma, p)
    w_near, _, _ = logistic.fit_adversarial_logistic(X, y, 1.5 * gamma, p)
    assert np.linalg.norm(w_far) > 4 * np.linalg.norm(w_near)


def test_prop_d_bounded_and_unique_while_plain_diverges():
    rng = np.random.default_rng(0)
    X, y = separable_data(rng)
    radius = 1.5 * logistic.separation_half_margin(X, y, 2.0)  # margin 2 gamma < 2 radius
    fits = [logistic.fit_adversarial_logistic(X, y, radius, 2.0, w0=rng.normal(size=2) * 5)
            for _ in range(3)]
    for w, _, res in fits:
        assert res.success
        np.testing.assert_allclose(w, fits[0][0], atol=1e-5)
    assert np.linalg.norm(fits[0][0]) < 20
    # plain logistic regression: ||w|| keeps growing along gradient descent ...
    norms = logistic.plain_logistic_gd_norms(X, y, steps=3000)
    assert norms[2999] > norms[299] + 2.0 > norms[29] + 4.0
    # ... and as the l2 penalty vanishes (like log(1 / lambda))
    sizes = [np.linalg.norm(logistic.fit_adversarial_logistic(X, y, 0.0, 2.0, l2=lam)[0])
             for lam in (1e-2, 1e-4, 1e-6)]
    assert sizes[0] + 3 < sizes[1] < sizes[2] - 3
    # the robust fit with the same vanishing penalty stays where it was
    tiny = logistic.fit_adversarial_logistic(X, y, radius, 2.0, l2=1e-8)[0]
    np.testing.assert_allclose(tiny, fits[0][0], atol=1e-3)


@FAST
@given(seed=st.integers(0, 2**31), radius=radii)
def test_goodfellow_linf_case_uses_the_l1_norm(seed, radius):
    rng = np.random.default_rng(seed)
    X, y, w = rng.normal(size=(5, 4)), rng.choice([-1.0, 1.0], size=5), rng.normal(size=4)
    fgsm = X - radius * y[:, None] * np.sign(w)[None, :]  # the fast gradient sign point
    expected = np.mean(logistic.softplus(-y * (fgsm @ w)))
    np.testing.assert_allclose(logistic.goodfellow_loss(w, X, y, radius), expected, rtol=1e-12)
    np.testing.assert_allclose(np.mean(logistic.softplus(-y * (X @ w) + radius * np.abs(w).sum())),
                               expected, rtol=1e-12)
    np.testing.assert_allclose(lp_maximiser(w, radius, math.inf), radius * np.sign(w))


def test_fit_matches_gradient():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 3)), rng.choice([-1.0, 1.0], size=30)
    w, b, res = logistic.fit_adversarial_logistic(X, y, 0.3, 2.0, fit_bias=True)
    assert res.success
    grad_w, grad_b = logistic.adversarial_loss_grad(w, X, y, 0.3, 2.0, b)
    assert np.abs(grad_w).max() < 1e-6 and abs(grad_b) < 1e-6
    step = 1e-6 * np.eye(3)
    fd = [(logistic.adversarial_loss(w + e, X, y, 0.3, 2.0, b)
           - logistic.adversarial_loss(w - e, X, y, 0.3, 2.0, b)) / 2e-6 for e in step]
    np.testing.assert_allclose(fd, grad_w, atol=1e-8)
