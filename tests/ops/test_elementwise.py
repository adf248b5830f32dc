"""Elementwise primitives: values against NumPy, namespace, dtype and shape, and first and
second derivatives (with broadcasting) against central differences."""

import numpy as np
import pytest
from conftest import assert_namespace, check_op, distinct, rand

from refimpl import ops
from refimpl.autodiff import check_grads, grad
from refimpl.backend import to_numpy
from refimpl.ops._util import times_mask
from refimpl.tracer import getval

SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
               ((), (3,)), ((5,), ())]
SHAPES = [(), (7,), (2, 3, 4)]


def _positive(xp, rng, shape):
    return rand(xp, rng, shape, 0.5, 2.0)


def _nonzero(xp, rng, shape):
    """Magnitudes in [0.5, 1.5) with random signs: safe denominators."""
    signs = rng.choice([-1.0, 1.0], size=shape)
    return xp.asarray(signs * rng.uniform(0.5, 1.5, size=shape))


def _distinct_pair(xp, rng, shape_x, shape_y):
    """x and y with no ties between any of their entries (for maximum and minimum)."""
    both = to_numpy(distinct(xp, rng, (np.prod(shape_x, dtype=int) + np.prod(shape_y, dtype=int),)))
    split = int(np.prod(shape_x, dtype=int))
    return xp.asarray(both[:split].reshape(shape_x)), xp.asarray(both[split:].reshape(shape_y))


# name -> (op, NumPy formula, how to draw x and y)
BINARY = {
    "add": (ops.add, np.add, (rand, rand)),
    "subtract": (ops.subtract, np.subtract, (rand, rand)),
    "multiply": (ops.multiply, np.multiply, (rand, rand)),
    "divide": (ops.divide, np.divide, (rand, _nonzero)),
    "power": (ops.power, np.power, (_positive, rand)),
}


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_op(xp, name, shapes):
    op, formula, (draw_x, draw_y) = BINARY[name]
    rng = np.random.default_rng(0)
    x, y = draw_x(xp, rng, shapes[0]), draw_y(xp, rng, shapes[1])
    check_op(xp, op, (x, y), formula(to_numpy(x), to_numpy(y)))


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("op, formula", [(ops.maximum, np.maximum), (ops.minimum, np.minimum)],
                         ids=["maximum", "minimum"])
def test_maximum_minimum(xp, op, formula, shapes):
    x, y = _distinct_pair(xp, np.random.default_rng(1), *shapes)
    check_op(xp, op, (x, y), formula(to_numpy(x), to_numpy(y)))


def test_maximum_splits_the_gradient_at_ties(xp):
    x = xp.asarray([1.0, 2.0, 3.0])
    y = xp.asarray([1.0, 0.0, 5.0])
    f = lambda x, y: ops.sum(ops.maximum(x, y))  # noqa: E731
    gx, gy = grad(f, argnum=0)(x, y), grad(f, argnum=1)(x, y)
    np.testing.assert_array_equal(to_numpy(gx), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(to_numpy(gy), [0.5, 0.0, 1.0])


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_where(xp, shapes):
    rng = np.random.default_rng(2)
    x, y = rand(xp, rng, shapes[0]), rand(xp, rng, shapes[1])
    condition = rng.uniform(size=np.broadcast_shapes(*shapes)) > 0.5
    f = lambda x, y: ops.where(xp.asarray(condition), x, y)  # noqa: E731
    check_op(xp, f, (x, y), np.where(condition, to_numpy(x), to_numpy(y)))


@pytest.mark.parametrize("exponent", [3.0, 2, 0.5, -1.5])
def test_power_with_scalar_exponent(xp, exponent):
    x = _positive(xp, np.random.default_rng(3), (3, 4))
    check_op(xp, lambda x: ops.power(x, exponent), (x,), to_numpy(x) ** exponent)


UNARY = {
    "negative": (ops.negative, np.negative, rand),
    "square": (ops.square, np.square, rand),
    "exp": (ops.exp, np.exp, rand),
    "log": (ops.log, np.log, _positive),
    "log1p": (ops.log1p, np.log1p, lambda xp, rng, shape: rand(xp, rng, shape, -0.5, 2.0)),
    "sqrt": (ops.sqrt, np.sqrt, _positive),
    "abs": (ops.abs, np.abs, distinct),
    "sign": (ops.sign, np.sign, distinct),
    "tanh": (ops.tanh, np.tanh, lambda xp, rng, shape: rand(xp, rng, shape, -2.0, 2.0)),
    "sigmoid": (ops.sigmoid, lambda x: 1 / (1 + np.exp(-x)),
                lambda xp, rng, shape: rand(xp, rng, shape, -3.0, 3.0)),
    "relu": (ops.relu, lambda x: np.maximum(x, 0.0), distinct),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op(xp, name, shape):
    op, formula, draw = UNARY[name]
    x = draw(xp, np.random.default_rng(4), shape)
    check_op(xp, op, (x,), formula(to_numpy(x)))


def test_piecewise_constant_and_linear_gradients(xp):
    x = distinct(xp, np.random.default_rng(5), (3, 4))
    g_sign = grad(lambda x: ops.sum(ops.sign(x)))(x)
    g_relu = grad(lambda x: ops.sum(ops.relu(x)))(x)
    g_abs = grad(lambda x: ops.sum(ops.abs(x)))(x)
    for g in (g_sign, g_relu, g_abs):
        assert_namespace(g, xp)
        assert g.dtype == xp.float64 and tuple(g.shape) == (3, 4)
    np.testing.assert_array_equal(to_numpy(g_sign), np.zeros((3, 4)))
    np.testing.assert_array_equal(to_numpy(g_relu), to_numpy(x) > 0)
    np.testing.assert_array_equal(to_numpy(g_abs), np.sign(to_numpy(x)))


def test_zeros_like_value_is_a_constant(xp):
    x = rand(xp, np.random.default_rng(10), (2, 3))
    zeros = ops.zeros_like_value(x)
    assert_namespace(zeros, xp)
    assert zeros.dtype == xp.float64 and tuple(zeros.shape) == (2, 3)
    np.testing.assert_array_equal(to_numpy(zeros), np.zeros((2, 3)))
    g = grad(lambda x: ops.sum(x * 2.0 + ops.zeros_like_value(x)))(x)  # no path through it
    np.testing.assert_array_equal(to_numpy(g), np.full((2, 3), 2.0))


def test_sign_of_zero_is_zero(xp):
    np.testing.assert_array_equal(to_numpy(ops.sign(xp.asarray([-2.0, 0.0, 3.0]))), [-1, 0, 1])


def test_sigmoid_never_overflows(xp):
    x = xp.asarray([-1000.0, 0.0, 1000.0])
    np.testing.assert_allclose(to_numpy(ops.sigmoid(x)), [0.0, 0.5, 1.0], atol=1e-300)
    g = grad(lambda x: ops.sum(ops.sigmoid(x)))(x)
    np.testing.assert_allclose(to_numpy(g), [0.0, 0.25, 0.0], atol=1e-300)


@pytest.mark.parametrize("bounds", ["both", "min", "max"])
def test_clip(xp, bounds):
    x = distinct(xp, np.random.default_rng(6), (3, 4))
    ordered = np.sort(to_numpy(x), axis=None)
    low = float(ordered[2] + ordered[3]) / 2  # half-way between entries: none sits on a bound
    high = float(ordered[8] + ordered[9]) / 2
    low, high = {"both": (low, high), "min": (low, None), "max": (None, high)}[bounds]
    f = lambda x: ops.clip(x, min=low, max=high)  # noqa: E731
    check_op(xp, f, (x,), np.clip(to_numpy(x), low, high))
    g = grad(lambda x: ops.sum(f(x)))(x)
    inside = (to_numpy(x) >= (-np.inf if low is None else low)) & \
        (to_numpy(x) <= (np.inf if high is None else high))
    np.testing.assert_array_equal(to_numpy(g), inside)


def test_operators_on_traced_values_are_the_primitives(xp):
    rng = np.random.default_rng(7)
    x, y = _positive(xp, rng, (3, 4)), _positive(xp, rng, (4,))

    def f(x, y):
        return (x + y) * x - y / x + (-x) ** 2.0 + 2.0 - x + 1.0 / y + x ** y + abs(-x) * 3.0

    def formula(x, y):
        return (x + y) * x - y / x + (-x) ** 2.0 + 2.0 - x + 1.0 / y + x ** y + abs(-x) * 3.0

    check_op(xp, f, (x, y), formula(to_numpy(x), to_numpy(y)))


def test_scalar_operands_keep_dtype_and_namespace(xp):
    x = rand(xp, np.random.default_rng(8), (2, 3))
    for out in (ops.add(x, 1.0), ops.multiply(2.0, x), ops.subtract(1.0, x), ops.divide(x, 4.0),
                ops.maximum(x, 0.0), ops.where(x > 0, x, 0.0)):
        assert_namespace(out, xp)
        assert out.dtype == xp.float64 and tuple(out.shape) == (2, 3)
    x = distinct(xp, np.random.default_rng(9), (2, 3))
    check_grads(lambda x: ops.maximum(ops.multiply(2.0, x), 0.0), (x,), order=2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_first_order_relu_gradient_equals_the_traced_path(xp, dtype):
    # at first order relu's VJP multiplies by the bool mask (times_mask); under an outer trace
    # by the mask cast to floats: the same values, -0.0 and NaN included
    g_np = np.array([[-2.0, 3.0, np.nan, -0.5], [1.0, -1.0, np.nan, 0.0]], dtype=dtype)
    x_np = np.array([[-1.0, 2.0, -3.0, 0.0], [4.0, 0.0, 5.0, -6.0]], dtype=dtype)
    g, x = xp.asarray(g_np), xp.asarray(x_np)
    plain = times_mask(g, x > 0)
    assert_namespace(plain, xp)
    assert plain.dtype == g.dtype
    want = g_np * (x_np > 0).astype(dtype)
    np.testing.assert_array_equal(to_numpy(plain), want)
    np.testing.assert_array_equal(np.signbit(to_numpy(plain)), np.signbit(want))

    def first(x):
        return grad(lambda a: ops.sum(ops.relu(a) * ops.sin(x)))(x)
    seen = {}

    def outer(x):
        g = first(x)
        seen["g"] = getval(g)
        return ops.sum(g)
    grad(outer)(x)
    np.testing.assert_array_equal(to_numpy(seen["g"]), to_numpy(first(x)))


def test_masked_products_written_into_a_view_and_mask_counts(xp):
    # times_mask_into writes g * mask into target[index] (in place where the library can),
    # count_masks counts the masks that hold; both as the plain float arithmetic
    from refimpl.ops._util import count_masks, times_mask_into
    rng = np.random.default_rng(3)
    g_np = rng.normal(size=(2, 3, 4)).astype(np.float32)
    g_np[0, 0, 0], g_np[1, 2, 3] = -1.5, np.nan
    masks_np = [rng.random((2, 3, 4)) < p for p in (0.3, 0.5, 0.7)]
    masks_np[2] |= ~(masks_np[0] | masks_np[1])  # every entry counted at least once, as in pooling
    g, masks = xp.asarray(g_np), [xp.asarray(m) for m in masks_np]
    target = xp.zeros((2, 6, 4), dtype=xp.float32)
    index = (slice(None), slice(1, 6, 2), slice(None))
    times_mask_into(target, index, g, masks[0])
    want = np.zeros((2, 6, 4), dtype=np.float32)
    want[index] = g_np * masks_np[0]
    np.testing.assert_array_equal(to_numpy(target), want)  # -0.0, NaN and the untouched rows
    assert np.array_equal(np.signbit(to_numpy(target)), np.signbit(want))
    want_count = np.sum(masks_np, axis=0)
    count = count_masks(masks, xp.float32)
    np.testing.assert_array_equal(to_numpy(count), want_count)
    shared = g / count  # what max-pooling's gradient does with it: g's dtype, g's values
    assert shared.dtype == xp.float32
    np.testing.assert_array_equal(to_numpy(shared), g_np / want_count.astype(np.float32))
    many = count_masks([masks[0]] * 130, xp.float32)  # past an int8's range
    np.testing.assert_array_equal(to_numpy(many), 130 * masks_np[0])
