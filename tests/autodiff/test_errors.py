"""Misuse gets a clear error that names the argument or the shapes involved."""

import array_api_strict
import numpy as np
import pytest
from conftest import rand

from refimpl import ops
from refimpl.autodiff import grad, jacobian, value_and_grad


def test_grad_of_a_non_scalar_output(xp):
    x = rand(xp, np.random.default_rng(0), (3, 2))
    with pytest.raises(TypeError, match=r"scalar.*\(3, 2\)"):
        grad(ops.tanh)(x)
    with pytest.raises(TypeError, match="scalar"):
        value_and_grad(lambda x: ops.sum(x, axis=0))(x)


@pytest.mark.parametrize("op", [ops.add, ops.subtract, ops.multiply, ops.divide, ops.maximum,
                                lambda a, b: ops.matmul(a, ops.matrix_transpose(b))],
                         ids=["add", "subtract", "multiply", "divide", "maximum", "matmul"])
def test_mixing_two_array_libraries(op):
    a, b = np.ones((2, 3)), array_api_strict.ones((2, 3), dtype=array_api_strict.float64)
    with pytest.raises(TypeError, match="mix"):
        op(a, b)
    with pytest.raises(TypeError, match="mix"):
        op(b, a)
    with pytest.raises(TypeError, match="mix"):  # the same when one side is traced
        grad(lambda a: ops.sum(op(a, b)))(a)


def test_differentiating_an_integer_array(xp):
    labels = xp.asarray([0, 1, 2])
    with pytest.raises(TypeError, match=r"argument 0 of .*floating"):
        grad(lambda z: ops.sum(z))(labels)
    with pytest.raises(TypeError, match=r"argument 1 .*\['labels'\].*floating"):
        grad(lambda x, p: ops.sum(p["w"]), argnum=1)(
            labels, {"w": xp.ones(3, dtype=xp.float64), "labels": labels})


def test_labels_have_no_derivative(xp):
    logits = rand(xp, np.random.default_rng(1), (3, 4))
    targets = xp.asarray(np.full((3, 4), 0.25))
    with pytest.raises(TypeError, match="not differentiable"):
        grad(lambda t: ops.sum(ops.softmax_cross_entropy(logits, t)))(targets)


def test_matmul_shape_mismatch(xp):
    rng = np.random.default_rng(2)
    a, b = rand(xp, rng, (3, 4)), rand(xp, rng, (5, 2))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        ops.matmul(a, b)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 2\)"):
        grad(lambda b: ops.sum(ops.matmul(a, b)))(b)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        ops.matmul(a, rand(xp, rng, ()))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5,\)"):
        ops.matmul(a, rand(xp, rng, (5,)))


def test_conv2d_bad_shapes(xp):
    rng = np.random.default_rng(3)
    x, weight = rand(xp, rng, (2, 3, 5, 5)), rand(xp, rng, (4, 3, 3, 3))
    with pytest.raises(ValueError, match="channels"):
        ops.conv2d(x, rand(xp, rng, (4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ops.conv2d(rand(xp, rng, (3, 5, 5)), weight)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ops.conv2d(x, rand(xp, rng, (4, 3, 3)))
    with pytest.raises(ValueError, match="bias"):
        ops.conv2d(x, weight, rand(xp, rng, (3,)))
    with pytest.raises(ValueError, match="does not fit"):
        ops.conv2d(x, rand(xp, rng, (4, 3, 7, 7)))


@pytest.mark.parametrize("key", ["mixed_int_array", "mixed_list", "float"])
def test_getitem_rejects_unsupported_keys(xp, key):
    x = rand(xp, np.random.default_rng(4), (3, 4))
    bad = {"mixed_int_array": (slice(None), xp.asarray([0, 2])), "mixed_list": (slice(None), [0, 2]),
           "float": 1.0}[key]
    with pytest.raises(TypeError, match="getitem"):
        ops.getitem(x, bad)
    with pytest.raises(TypeError, match="getitem"):
        grad(lambda x: ops.sum(x[(slice(None), bad)]))(x)


def test_softmax_cross_entropy_shape_mismatch(xp):
    logits = rand(xp, np.random.default_rng(5), (3, 4))
    with pytest.raises(ValueError, match="labels"):
        ops.softmax_cross_entropy(logits, xp.asarray([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        ops.softmax_cross_entropy(logits, xp.asarray(np.full((3, 5), 0.2)))


def test_maxout_pieces_must_divide(xp):
    with pytest.raises(ValueError, match="pieces"):
        ops.maxout(rand(xp, np.random.default_rng(6), (2, 5)), 2)


def test_batched_jacobian_needs_n_by_k_outputs(xp):
    x = rand(xp, np.random.default_rng(7), (4, 3))
    with pytest.raises(ValueError, match="batched=False"):
        jacobian(lambda x: ops.sum(x, axis=1))(x)
