"""softmax_cross_entropy: the stable input gradient on saturated logits, the loss for large
equal logits and -inf logits, label checks, and first and second derivatives."""

import math

import numpy as np
import pytest

from refimpl import ops
from refimpl.autodiff import check_grads, grad
from refimpl.backend import to_numpy
from refimpl.tracer import getval


def _gradient(logits, labels):
    return grad(lambda z: ops.sum(ops.softmax_cross_entropy(z, labels)))(logits)


def test_saturated_float32_gradient_matches_float64(xp):
    # p_y rounds to 1 in float32, so softmax - onehot would have a zero true-class entry.
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(64, 10)) * 3.0
    labels = rng.integers(0, 10, size=64)
    logits[np.arange(64), labels] += 25.0  # confident and right: 1 - p_y < float32 eps
    y = xp.asarray(labels)
    g32 = to_numpy(_gradient(xp.asarray(logits, dtype=xp.float32), y)).astype(np.float64)
    g64 = to_numpy(_gradient(xp.asarray(logits), y))
    assert np.all(g64[np.arange(64), labels] < 0)
    np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=0.0)  # relative, entry by entry
    cosine = np.sum(g32 * g64, axis=1) / np.linalg.norm(g32, axis=1) / np.linalg.norm(g64, axis=1)
    assert np.all(cosine > 1 - 1e-6)


def test_naive_gradient_loses_the_true_class_on_the_same_logits():
    # The reason for the test above: the textbook form is exactly 0 at the label here.
    logits = np.array([[40.0, 0.0, -1.0]], dtype=np.float32)
    p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert (p - np.eye(3, dtype=np.float32)[[0]])[0, 0] == 0.0
    assert to_numpy(_gradient(logits, np.array([0])))[0, 0] < 0


@pytest.mark.parametrize("dtype, value", [("float16", 1e4), ("float32", 1e6), ("float64", 1e15)])
def test_large_equal_logits_give_log_k(xp, dtype, value):
    if not hasattr(xp, dtype):
        pytest.skip(f"{xp.__name__} has no {dtype}")
    logits = xp.full((2, 3), value, dtype=getattr(xp, dtype))
    loss = to_numpy(ops.softmax_cross_entropy(logits, xp.asarray([0, 2])))
    np.testing.assert_allclose(loss.astype(np.float64), math.log(3), rtol=2e-3)
    np.testing.assert_allclose(to_numpy(ops.log_softmax(logits)).astype(np.float64),
                               -math.log(3), rtol=2e-3)


def test_minus_inf_logit_off_the_label_is_finite(xp):
    logits = xp.asarray([[1.0, -math.inf, 2.0]])
    y = xp.asarray([0])
    loss = to_numpy(ops.softmax_cross_entropy(logits, y))
    g = to_numpy(_gradient(logits, y))
    np.testing.assert_allclose(loss, [math.log1p(math.e)])
    assert np.all(np.isfinite(g)) and g[0, 1] == 0.0
    soft = xp.asarray([[0.5, 0.0, 0.5]])
    assert np.all(np.isfinite(to_numpy(ops.softmax_cross_entropy(logits, soft))))


def test_first_and_second_derivatives(xp):
    rng = np.random.default_rng(1)
    logits = xp.asarray(rng.normal(size=(4, 5)))
    y = xp.asarray([0, 4, 2, 2])
    check_grads(lambda z: ops.softmax_cross_entropy(z, y), (logits,), order=2)
    targets = xp.asarray(rng.dirichlet(np.ones(5), size=4))
    check_grads(lambda z: ops.softmax_cross_entropy(z, targets), (logits,), order=2)


def test_gradient_equals_softmax_minus_one_hot_when_not_saturated(xp):
    rng = np.random.default_rng(2)
    z = rng.normal(size=(3, 4))
    y = np.array([1, 0, 3])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(to_numpy(_gradient(xp.asarray(z), xp.asarray(y))),
                               p - np.eye(4)[y], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("labels, match", [
    ([0, 3], "labels \\(y\\).*range"), ([-1, 0], "labels \\(y\\).*range"),
    ([0.5, 1.0], "labels \\(y\\).*integer"), ([0, 1, 2], "labels \\(y\\).*2 labels")])
def test_bad_labels_are_refused_by_name(xp, labels, match):
    with pytest.raises(ValueError, match=match):
        ops.softmax_cross_entropy(xp.zeros((2, 3)), xp.asarray(labels))


def test_one_d_logits_and_empty_batches_are_refused(xp):
    with pytest.raises(ValueError, match="logits"):
        ops.softmax_cross_entropy(xp.zeros((3,)), xp.asarray([0, 1, 0]))
    with pytest.raises(ValueError, match="empty"):
        ops.softmax_cross_entropy(xp.zeros((0, 3)), xp.asarray([], dtype=xp.int64))


def test_unchecked_path_skips_only_the_range_check(xp):
    out = ops.softmax_cross_entropy(xp.zeros((1, 3)), xp.asarray([5]), check=False)
    np.testing.assert_allclose(to_numpy(out), [math.log(3)])  # a zero row: no label term
    with pytest.raises(ValueError, match="integer"):
        ops.softmax_cross_entropy(xp.zeros((1, 3)), xp.asarray([0.0]), check=False)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_first_order_gradient_equals_the_differentiable_vjp(xp, dtype):
    # integer labels take a plain-array VJP at first order and the differentiable one under an
    # outer trace (second derivatives): both must give the same values, saturated rows included
    rng = np.random.default_rng(4)
    z_np = (rng.normal(size=(9, 6)) * np.array([1, 1, 1, 30, 30, 30])).astype(dtype)
    y = xp.asarray(rng.integers(0, 6, 9))
    z = xp.asarray(z_np)

    def first(a):
        return grad(lambda b: ops.sum(ops.softmax_cross_entropy(b, y, check=False)))(a)
    seen = {}

    def outer(a):
        g = first(a)
        seen["g"] = getval(g)
        return ops.sum(g * g)
    grad(outer)(z)
    np.testing.assert_array_equal(to_numpy(seen["g"]), to_numpy(first(z)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["classes", "targets"])
def test_batch_mean_is_bitwise_the_mean_of_the_per_example_losses(xp, dtype, kind):
    # mean_softmax_cross_entropy is one recorded op for mean(softmax_cross_entropy): the same
    # loss and gradient bit for bit, saturated rows included, at first and second order
    rng = np.random.default_rng(5)
    z = xp.asarray((rng.normal(size=(7, 5)) * np.array([1, 1, 1, 40, 40])).astype(dtype))
    y = (xp.asarray(rng.integers(0, 5, 7)) if kind == "classes"
         else xp.asarray(rng.dirichlet(np.ones(5), size=7).astype(dtype)))
    fused = lambda v: ops.mean_softmax_cross_entropy(v, y)  # noqa: E731
    plain = lambda v: ops.mean(ops.softmax_cross_entropy(v, y))  # noqa: E731
    np.testing.assert_array_equal(to_numpy(fused(z)), to_numpy(plain(z)))
    np.testing.assert_array_equal(to_numpy(grad(fused)(z)), to_numpy(grad(plain)(z)))
    u = xp.asarray(rng.normal(size=(7, 5)).astype(dtype))  # a direction for Hessian products
    hvp = lambda f: grad(lambda v: ops.sum(grad(f)(v) * u))(z)  # noqa: E731
    np.testing.assert_allclose(to_numpy(hvp(fused)), to_numpy(hvp(plain)), rtol=1e-6, atol=0)


def test_batch_mean_derivatives_and_label_checks(xp):
    rng = np.random.default_rng(6)
    logits = xp.asarray(rng.normal(size=(4, 5)))
    check_grads(lambda z: ops.mean_softmax_cross_entropy(z, xp.asarray([0, 4, 2, 2])),
                (logits,), order=2)
    with pytest.raises(ValueError, match="labels \\(y\\).*range"):
        ops.mean_softmax_cross_entropy(xp.zeros((2, 3)), xp.asarray([0, 3]))
    with pytest.raises(ValueError, match="empty"):
        ops.mean_softmax_cross_entropy(xp.zeros((0, 3)), xp.asarray([], dtype=xp.int64))
    out = ops.mean_softmax_cross_entropy(xp.zeros((1, 3)), xp.asarray([5]), check=False)
    np.testing.assert_allclose(float(to_numpy(out)), math.log(3))
