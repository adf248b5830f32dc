"""The gradient checker passes on correct derivatives and, above all, fails on wrong ones."""

import numpy as np
import pytest
from conftest import rand

from refimpl import ops
from refimpl.autodiff import check_grads
from refimpl.tracer import getval, primitive


@primitive
def triple_wrong(x):
    """3 x, with a VJP that claims the slope is 2."""
    return 3.0 * x


triple_wrong.defvjp(lambda g, out, x: ops.multiply(g, 2.0))


@primitive
def cube(x):
    """x^3 with a correct, differentiable VJP: 3 x^2 g."""
    return x * x * x


cube.defvjp(lambda g, out, x: ops.multiply(g, ops.multiply(3.0, ops.square(x))))


@primitive
def cube_stopped(x):
    """x^3 whose VJP has the right value but treats x as a constant (``getval``)."""
    return x * x * x


cube_stopped.defvjp(lambda g, out, x: ops.multiply(g, 3.0 * getval(x) ** 2))


def _mlp_loss(params, x):
    hidden = ops.tanh(ops.matmul(x, params["w1"]) + params["b1"])
    return ops.mean(ops.logsumexp(ops.matmul(hidden, params["w2"]), axis=-1))


@pytest.mark.parametrize("order", [1, 2])
def test_passes_on_correct_functions_of_arrays(xp, order):
    rng = np.random.default_rng(0)
    x, y = rand(xp, rng, (3, 4)), rand(xp, rng, (4,), 0.5, 1.5)
    check_grads(lambda x, y: ops.tanh(x) / y, (x, y), order=order)
    check_grads(cube, (x,), order=order)
    check_grads(lambda x: ops.sum(cube(x)), (x,), order=order)


@pytest.mark.parametrize("order", [1, 2])
def test_passes_on_correct_functions_of_dicts(xp, order):
    rng = np.random.default_rng(1)
    params = {"w1": rand(xp, rng, (4, 5)), "b1": rand(xp, rng, (5,)), "w2": rand(xp, rng, (5, 3))}
    x = rand(xp, rng, (6, 4))
    check_grads(_mlp_loss, (params, x), order=order)


def test_third_order(xp):
    x = rand(xp, np.random.default_rng(2), (4,))
    check_grads(lambda x: ops.sum(ops.exp(x) * x ** 3.0), (x,), order=3)


def test_casts_to_float64(xp):
    x = xp.asarray(np.random.default_rng(3).uniform(-1, 1, size=(3,)), dtype=xp.float32)
    check_grads(lambda x: ops.tanh(x) * x, (x,), order=2)


@pytest.mark.parametrize("order", [1, 2])
def test_fails_on_a_wrong_first_derivative(xp, order):
    x = rand(xp, np.random.default_rng(4), (3, 4))
    with pytest.raises(AssertionError, match="order 1"):
        check_grads(triple_wrong, (x,), order=order)
    with pytest.raises(AssertionError):
        check_grads(lambda x: ops.sum(ops.exp(triple_wrong(x))), (x,), order=order)


def test_fails_on_a_vjp_that_cannot_be_differentiated(xp):
    x = rand(xp, np.random.default_rng(5), (3, 4), 0.5, 1.5)
    check_grads(cube_stopped, (x,), order=1)  # the first derivative is right ...
    with pytest.raises(AssertionError, match="order 2"):  # ... its derivative is not
        check_grads(cube_stopped, (x,), order=2)
    check_grads(cube, (x,), order=2)  # the same with a differentiable VJP passes


def test_fails_in_one_entry_of_a_dict(xp):
    rng = np.random.default_rng(6)
    params = {"a": rand(xp, rng, (3,)), "b": rand(xp, rng, (3,))}
    with pytest.raises(AssertionError):
        check_grads(lambda p: ops.sum(p["a"] * triple_wrong(p["b"])), (params,), order=1)


def test_rejects_order_zero(xp):
    with pytest.raises(ValueError, match="order"):
        check_grads(ops.tanh, (rand(xp, np.random.default_rng(7), (2,)),), order=0)
