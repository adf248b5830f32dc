"""Reductions and the softmax family: values against NumPy, stability for large logits, and
first and second derivatives."""

import numpy as np
import pytest
from conftest import assert_namespace, check_op, distinct, rand

from refimpl import ops
from refimpl.autodiff import check_grads, grad
from refimpl.backend import to_numpy

AXES = [None, 0, -1, (0, 2), (1,)]


def _np_logsumexp(x, axis, keepdims=False):
    shift = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_log_softmax(x, axis=-1):
    return x - _np_logsumexp(x, axis, keepdims=True)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("op, formula", [(ops.sum, np.sum), (ops.mean, np.mean),
                                         (ops.max, np.max), (ops.min, np.min)],
                         ids=["sum", "mean", "max", "min"])
def test_reduction(xp, op, formula, axis, keepdims):
    x = distinct(xp, np.random.default_rng(0), (2, 3, 4))  # no ties for max and min
    f = lambda x: op(x, axis=axis, keepdims=keepdims)  # noqa: E731
    check_op(xp, f, (x,), formula(to_numpy(x), axis=axis, keepdims=keepdims))


def test_max_shares_the_gradient_among_ties(xp):
    x = xp.asarray([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    g = grad(lambda x: ops.sum(ops.max(x, axis=1)))(x)
    np.testing.assert_array_equal(to_numpy(g), [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [-1, 0, (0, 1)], ids=str)
def test_logsumexp(xp, axis, keepdims):
    x = rand(xp, np.random.default_rng(1), (3, 4, 2), -2.0, 2.0)
    f = lambda x: ops.logsumexp(x, axis=axis, keepdims=keepdims)  # noqa: E731
    check_op(xp, f, (x,), _np_logsumexp(to_numpy(x), axis, keepdims))


@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_and_softmax(xp, axis):
    x = rand(xp, np.random.default_rng(2), (3, 4), -2.0, 2.0)
    expected = _np_log_softmax(to_numpy(x), axis)
    check_op(xp, lambda x: ops.log_softmax(x, axis=axis), (x,), expected)
    check_op(xp, lambda x: ops.softmax(x, axis=axis), (x,), np.exp(expected))
    np.testing.assert_allclose(np.sum(to_numpy(ops.softmax(x, axis=axis)), axis=axis), 1.0)


def _labels(xp, rng, n, k):
    return xp.asarray(rng.integers(0, k, size=n), dtype=xp.int64)


def test_softmax_cross_entropy_with_integer_labels(xp):
    rng = np.random.default_rng(3)
    logits, labels = rand(xp, rng, (5, 4), -2.0, 2.0), _labels(xp, rng, 5, 4)
    at_label = _np_log_softmax(to_numpy(logits))[np.arange(5), to_numpy(labels)]
    check_op(xp, lambda z: ops.softmax_cross_entropy(z, labels), (logits,), -at_label)
    check_op(xp, lambda z: ops.mean(ops.softmax_cross_entropy(z, labels)), (logits,),
             -np.mean(at_label))


def test_softmax_cross_entropy_with_soft_targets(xp):
    rng = np.random.default_rng(4)
    logits = rand(xp, rng, (5, 4), -2.0, 2.0)
    targets = xp.asarray(rng.dirichlet(np.ones(4), size=5))
    expected = -np.sum(to_numpy(targets) * _np_log_softmax(to_numpy(logits)), axis=-1)
    check_op(xp, lambda z: ops.softmax_cross_entropy(z, targets), (logits,), expected)


def test_softmax_cross_entropy_gradient_is_softmax_minus_target(xp):
    rng = np.random.default_rng(5)
    logits, labels = rand(xp, rng, (5, 4)), _labels(xp, rng, 5, 4)
    g = grad(lambda z: ops.sum(ops.softmax_cross_entropy(z, labels)))(logits)
    expected = np.exp(_np_log_softmax(to_numpy(logits))) - np.eye(4)[to_numpy(labels)]
    np.testing.assert_allclose(to_numpy(g), expected, rtol=1e-12, atol=1e-14)


def test_softmax_family_is_stable_for_huge_logits(xp):
    logits = xp.asarray([[1e4, 1e4 - 1.0, 1e4 - 2.0], [-1e4, -1e4 - 1.0, -1e4 - 2.0]],
                        dtype=xp.float64)  # torch's default float is float32
    base = np.log(1 + np.exp(-1.0) + np.exp(-2.0))
    lse = ops.logsumexp(logits)
    assert_namespace(lse, xp)
    np.testing.assert_allclose(to_numpy(lse), [1e4 + base, -1e4 + base], rtol=1e-15)
    log_probs = [-base, -1.0 - base, -2.0 - base]
    np.testing.assert_allclose(to_numpy(ops.log_softmax(logits)), [log_probs] * 2, atol=1e-12)
    np.testing.assert_allclose(to_numpy(ops.softmax(logits)), np.exp([log_probs] * 2), atol=1e-15)
    loss = ops.softmax_cross_entropy(logits, xp.asarray([2, 0]))
    np.testing.assert_allclose(to_numpy(loss), [2.0 + base, base], atol=1e-12)
    for f in (ops.logsumexp, lambda z: ops.softmax_cross_entropy(z, xp.asarray([2, 0]))):
        g = grad(lambda z: ops.sum(f(z)))(logits)
        assert np.all(np.isfinite(to_numpy(g)))
    check_grads(lambda z: ops.softmax_cross_entropy(z, xp.asarray([2, 0])), (logits,), order=2)


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_one_hot(xp, dtype):
    labels = xp.asarray([2, 0, 1, 2], dtype=xp.int64)
    out = ops.one_hot(labels, 3, dtype=None if dtype is None else getattr(xp, dtype))
    assert_namespace(out, xp)
    assert out.dtype == (xp.float32 if dtype is None else xp.float64)
    assert tuple(out.shape) == (4, 3)
    np.testing.assert_array_equal(to_numpy(out), np.eye(3)[[2, 0, 1, 2]])
