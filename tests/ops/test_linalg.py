"""matmul: values against NumPy, broadcasting batch axes, and first and second derivatives."""

import numpy as np
import pytest
from conftest import assert_namespace, check_op, rand

from refimpl import ops
from refimpl.autodiff import grad, vjp
from refimpl.backend import to_numpy
from refimpl.tracer import getval

SHAPE_PAIRS = [((3, 4), (4, 5)), ((1, 4), (4, 1)), ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)),
               ((1, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2))]


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_matmul(xp, shapes):
    rng = np.random.default_rng(0)
    a, b = rand(xp, rng, shapes[0]), rand(xp, rng, shapes[1])
    expected = np.matmul(to_numpy(a), to_numpy(b))
    check_op(xp, ops.matmul, (a, b), expected)
    check_op(xp, lambda a, b: a @ b if isinstance(a, ops.Tensor) else ops.matmul(a, b), (a, b),
             expected)


def test_matmul_vjp_is_the_closed_form(xp):
    rng = np.random.default_rng(1)
    a, b, g = rand(xp, rng, (1, 3, 4)), rand(xp, rng, (2, 4, 5)), rand(xp, rng, (2, 3, 5))
    out, vjp_fn = vjp(ops.matmul, a, b)
    ga, gb = vjp_fn(g)
    for grad_, like in ((ga, a), (gb, b)):
        assert_namespace(grad_, xp)
        assert grad_.dtype == xp.float64 and grad_.shape == like.shape
    a_, b_, g_ = to_numpy(a), to_numpy(b), to_numpy(g)
    # dL/da = g b^T summed over the broadcast batch axis; dL/db = a^T g
    np.testing.assert_allclose(to_numpy(ga), np.sum(g_ @ np.swapaxes(b_, -1, -2), axis=0,
                                                    keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(gb), np.swapaxes(a_, -1, -2) @ g_, rtol=1e-12)


@pytest.mark.parametrize("m, k, n", [(5, 4, 3), (1, 3, 2), (7, 1, 1)])
def test_linear_equals_matmul_plus_bias(xp, m, k, n):
    rng = np.random.default_rng(2)
    x, w, b = rand(xp, rng, (m, k)), rand(xp, rng, (k, n)), rand(xp, rng, (n,))
    expected = to_numpy(x) @ to_numpy(w) + to_numpy(b)
    check_op(xp, ops.linear, (x, w, b), expected)
    unfused = vjp(lambda x, w, b: ops.matmul(x, w) + b, x, w, b)[1]
    fused = vjp(ops.linear, x, w, b)[1]
    g = rand(xp, rng, (m, n))
    for a, b_ in zip(fused(g), unfused(g)):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b_), rtol=1e-12)


def test_linear_rejects_mismatched_shapes(xp):
    x, w = xp.ones((2, 3)), xp.ones((3, 4))
    with pytest.raises(ValueError, match="linear.*bias"):
        ops.linear(x, w, xp.ones((3,)))
    with pytest.raises(ValueError, match="matmul"):
        ops.linear(x, xp.ones((2, 4)), xp.ones((4,)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_first_order_linear_gradients_equal_the_traced_path(xp, dtype):
    # linear's VJPs call the namespace directly at first order and dispatch through
    # primitives under an outer trace (second derivatives); both give the same values
    rng = np.random.default_rng(5)
    x, w, b = (xp.asarray(rng.normal(size=s).astype(dtype)) for s in ((6, 4), (4, 3), (3,)))

    def loss(x, w, b):
        return ops.sum(ops.tanh(ops.linear(x, w, b)))
    first = grad(loss, argnum=(0, 1, 2))
    seen = {}

    def outer(w):
        grads = first(x, w, b)
        seen["grads"] = [getval(g) for g in grads]
        return ops.sum(grads[1] * grads[1]) + ops.sum(grads[0]) + ops.sum(grads[2])
    grad(outer)(w)
    for traced, plain in zip(seen["grads"], first(x, w, b)):
        assert_namespace(plain, xp)
        assert plain.dtype == traced.dtype and plain.shape == traced.shape
        np.testing.assert_array_equal(to_numpy(plain), to_numpy(traced))


@pytest.mark.parametrize("m, n", [(1, 3), (6, 4), (128, 10), (700, 33)])
def test_row_sum_is_the_column_sum_in_an_array_of_its_own(xp, m, n):
    from refimpl.ops.linalg import row_sum
    rng = np.random.default_rng(7)
    g = xp.asarray(rng.normal(size=(m, n)).astype(np.float32))
    got = row_sum(g)
    assert_namespace(got, xp)
    assert tuple(got.shape) == (n,) and got.dtype == g.dtype
    np.testing.assert_allclose(to_numpy(got), to_numpy(g).sum(axis=0), rtol=1e-5, atol=1e-5)
    if isinstance(got, np.ndarray):  # not a view: an SGD step may write into it
        assert got.flags.owndata
