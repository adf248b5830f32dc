"""Initialisers (statistics of large draws, bounds, dtypes, fans of dense and conv layers) and
losses (values against NumPy formulas, stability at large scores, closed-form gradients)."""

import math

import numpy as np
import pytest
from conftest import assert_namespace, rand
from hypothesis import given, settings
from hypothesis import strategies as st

from refimpl import nn
from refimpl.autodiff import check_grads, grad
from refimpl.backend import make_rng, to_numpy

# ---- initialisers ----------------------------------------------------------------------------


def _variance_close(w, expected, rtol=0.05):
    """Sample variance within 5 %: for >= 10^4 draws its relative standard error is < 1.5 %."""
    assert abs(np.mean(w)) < 5 * math.sqrt(expected / w.size) + 1e-12
    assert abs(np.var(w) / expected - 1) < rtol, (np.var(w), expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_he_normal(xp, dtype):
    w = nn.he_normal(make_rng(0, xp), (500, 400), 500, 400, getattr(xp, dtype))
    assert_namespace(w, xp)
    assert w.dtype == getattr(xp, dtype) and tuple(w.shape) == (500, 400)
    w = to_numpy(w).astype(np.float64)
    _variance_close(w, 2.0 / 500)
    # a normal, not a uniform: about 4.55 % of the draws lie beyond two standard deviations
    assert abs(np.mean(np.abs(w) > 2 * math.sqrt(2.0 / 500)) - 0.0455) < 0.003


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_glorot_uniform(xp, dtype):
    fan_in, fan_out = 300, 500
    w = nn.glorot_uniform(make_rng(1, xp), (fan_in, fan_out), fan_in, fan_out, getattr(xp, dtype))
    assert_namespace(w, xp)
    assert w.dtype == getattr(xp, dtype) and tuple(w.shape) == (fan_in, fan_out)
    w = to_numpy(w).astype(np.float64)
    a = math.sqrt(6.0 / (fan_in + fan_out))
    assert np.all(np.abs(w) <= a) and np.max(w) > 0.99 * a and np.min(w) < -0.99 * a
    _variance_close(w, 2.0 / (fan_in + fan_out))


@pytest.mark.parametrize("a", [0.07, 1.5])
def test_uniform(xp, a):
    init = nn.uniform(a)
    w = init(make_rng(2, xp), (200, 300), 7, 11, xp.float32)  # the fans play no part
    assert_namespace(w, xp)
    assert w.dtype == xp.float32 and tuple(w.shape) == (200, 300)
    w = to_numpy(w).astype(np.float64)
    assert np.all(np.abs(w) <= a) and np.max(w) > 0.99 * a and np.min(w) < -0.99 * a
    _variance_close(w, a * a / 3)


@pytest.mark.parametrize("a", [0.0, -0.1])
def test_uniform_needs_a_positive_bound(a):
    with pytest.raises(ValueError, match="a must be > 0"):
        nn.uniform(a)


def test_zeros(xp):
    z = nn.zeros(make_rng(0, xp), (3, 4), 3, 4, xp.float64)
    assert_namespace(z, xp)
    assert z.dtype == xp.float64 and np.array_equal(to_numpy(z), np.zeros((3, 4)))


def test_draws_follow_the_seed(xp):
    first = to_numpy(nn.he_normal(make_rng(3, xp), (10, 10), 10, 10, xp.float32))
    assert np.array_equal(first, to_numpy(nn.he_normal(make_rng(3, xp), (10, 10), 10, 10,
                                                       xp.float32)))
    assert not np.array_equal(first, to_numpy(nn.he_normal(make_rng(4, xp), (10, 10), 10, 10,
                                                           xp.float32)))


def test_get_initializer():
    assert nn.get_initializer("he") is nn.he_normal
    assert nn.get_initializer("glorot") is nn.glorot_uniform
    assert nn.get_initializer("zeros") is nn.zeros
    assert nn.get_initializer(nn.he_normal) is nn.he_normal
    w = nn.get_initializer(("uniform", 0.25))(make_rng(0), (1000,), 1, 1, np.float64)
    assert np.all(np.abs(w) <= 0.25) and np.max(np.abs(w)) > 0.24
    for bad in ("kaiming", ("uniform",), 3):
        with pytest.raises(ValueError, match="init"):
            nn.get_initializer(bad)


def test_dense_layer_fans(xp):
    """A dense layer (in, out) draws He with fan_in = in, Glorot with fan_in + fan_out."""
    w = to_numpy(nn.Dense(300, init="he").init(make_rng(5, xp), (400,), xp.float32)[0]["weight"])
    _variance_close(w.astype(np.float64), 2.0 / 400)
    params, _ = nn.Dense(300, init="glorot").init(make_rng(5, xp), (100,), xp.float32)
    w = to_numpy(params["weight"])
    assert np.max(np.abs(w)) <= math.sqrt(6.0 / 400)
    _variance_close(w.astype(np.float64), 2.0 / 400)


def test_conv_layer_fans(xp):
    """A conv layer's fan_in is C * KH * KW and its fan_out O * KH * KW."""
    params, _ = nn.Conv2d(128, 3, init="he").init(make_rng(6, xp), (32, 8, 8), xp.float32)
    _variance_close(to_numpy(params["weight"]).astype(np.float64), 2.0 / (32 * 9))
    params, _ = nn.Conv2d(64, (3, 5), init="glorot").init(make_rng(6, xp), (16, 8, 8), xp.float32)
    w = to_numpy(params["weight"]).astype(np.float64)
    a = math.sqrt(6.0 / (16 * 15 + 64 * 15))
    assert np.max(np.abs(w)) <= a and np.max(np.abs(w)) > 0.99 * a
    _variance_close(w, a * a / 3)


# ---- losses ----------------------------------------------------------------------------------


def np_log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_cross_entropy_with_labels(xp, scale):
    rng = np.random.default_rng(0)
    logits = rand(xp, rng, (6, 4), -scale, scale)
    labels = rng.integers(0, 4, size=6)
    loss = nn.cross_entropy(logits, xp.asarray(labels))
    assert_namespace(loss, xp)
    assert loss.dtype == xp.float64 and tuple(loss.shape) == ()
    expected = -np.mean(np_log_softmax(to_numpy(logits))[np.arange(6), labels])
    assert np.isfinite(float(loss))
    np.testing.assert_allclose(float(loss), expected, rtol=1e-12)


def test_cross_entropy_with_soft_targets(xp):
    rng = np.random.default_rng(1)
    logits = rand(xp, rng, (5, 3), -3, 3)
    targets = np_softmax(rng.normal(size=(5, 3)))
    loss = nn.cross_entropy(logits, xp.asarray(targets))
    expected = -np.mean(np.sum(targets * np_log_softmax(to_numpy(logits)), axis=1))
    np.testing.assert_allclose(float(loss), expected, rtol=1e-12)


def test_cross_entropy_gradient(xp):
    """d/dlogits mean(-log softmax(z)[y]) = (softmax(z) - onehot(y)) / N, and a FD check."""
    rng = np.random.default_rng(2)
    logits, labels = rand(xp, rng, (6, 5), -3, 3), rng.integers(0, 5, size=6)
    g = grad(nn.cross_entropy)(logits, xp.asarray(labels))
    assert_namespace(g, xp)
    expected = (np_softmax(to_numpy(logits)) - np.eye(5)[labels]) / 6
    np.testing.assert_allclose(to_numpy(g), expected, rtol=1e-10, atol=1e-14)
    check_grads(lambda z: nn.cross_entropy(z, xp.asarray(labels)), (logits,), order=2)


def test_logistic_values(xp):
    rng = np.random.default_rng(3)
    scores = rand(xp, rng, (8,), -4, 4)
    labels = rng.choice([-1.0, 1.0], size=8)
    loss = nn.logistic(scores, xp.asarray(labels))
    assert_namespace(loss, xp)
    assert loss.dtype == xp.float64 and tuple(loss.shape) == ()
    expected = np.mean(np.log(1.0 + np.exp(-labels * to_numpy(scores))))
    np.testing.assert_allclose(float(loss), expected, rtol=1e-12)


def test_logistic_is_finite_at_large_scores(xp):
    scores = xp.asarray([1000.0, -1000.0, 1000.0, -1000.0])
    labels = xp.asarray([1.0, 1.0, -1.0, -1.0])
    # log(1 + e^-1000) = 0 (to double precision) and log(1 + e^1000) = 1000 (+ e^-1000)
    np.testing.assert_allclose(float(nn.logistic(scores, labels)), (0 + 1000 + 1000 + 0) / 4,
                               rtol=1e-15)
    g = to_numpy(grad(nn.logistic)(scores, labels))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [0.0, -0.25, 0.25, 0.0], atol=1e-15)


def test_logistic_gradient(xp):
    """d/ds mean(log(1 + exp(-y s))) = -y sigmoid(-y s) / N, and a FD check to order 2."""
    rng = np.random.default_rng(4)
    scores, labels = rand(xp, rng, (7,), -3, 3), rng.choice([-1.0, 1.0], size=7)
    g = grad(nn.logistic)(scores, xp.asarray(labels))
    z = -labels * to_numpy(scores)
    np.testing.assert_allclose(to_numpy(g), -labels / (1 + np.exp(-z)) / 7, rtol=1e-12)
    check_grads(lambda s: nn.logistic(s, xp.asarray(labels)), (scores,), order=2)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=6), st.data())
def test_logistic_property(scores, data):
    """For any scores, the loss is finite and equals log(1 + e^{-ys}) computed by logaddexp."""
    labels = np.asarray(data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=len(scores),
                                           max_size=len(scores))))
    s = np.asarray(scores)
    loss = float(nn.logistic(s, labels))
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, np.mean(np.logaddexp(0.0, -labels * s)), rtol=1e-12,
                               atol=1e-300)


def test_softplus(xp):
    z = xp.asarray([-1000.0, -30.0, -1.0, 0.0, 0.5, 30.0, 1000.0])
    out = nn.softplus(z)
    assert_namespace(out, xp)
    np.testing.assert_allclose(to_numpy(out), np.logaddexp(0.0, to_numpy(z)), rtol=1e-14)


def test_logistic_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        nn.logistic(np.zeros(3), np.ones((3, 1)))
