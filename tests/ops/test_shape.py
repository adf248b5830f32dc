"""Shape primitives: reshape, transposes, broadcasting and its adjoint, concat/stack and basic
indexing; values against NumPy and first and second derivatives."""

import numpy as np
import pytest
from conftest import assert_namespace, check_op, rand

from refimpl import ops
from refimpl.autodiff import grad
from refimpl.backend import to_numpy

# name -> (input shape, op, the same in NumPy)
UNARY = {
    "reshape": ((3, 4), lambda x: ops.reshape(x, shape=(2, 6)), lambda x: x.reshape(2, 6)),
    "reshape_infer": ((2, 3, 4), lambda x: ops.reshape(x, shape=(4, -1)),
                      lambda x: x.reshape(4, -1)),
    "permute_dims": ((2, 3, 4), lambda x: ops.permute_dims(x, axes=(2, 0, 1)),
                     lambda x: x.transpose(2, 0, 1)),
    "transpose": ((2, 3, 4), ops.transpose, np.transpose),
    "transpose_axes": ((2, 3, 4), lambda x: ops.transpose(x, (1, 2, 0)),
                       lambda x: x.transpose(1, 2, 0)),
    "matrix_transpose": ((2, 3, 4), ops.matrix_transpose, lambda x: np.swapaxes(x, -1, -2)),
    "mT": ((2, 3, 4), lambda x: x.mT if isinstance(x, ops.Tensor) else ops.matrix_transpose(x),
           lambda x: np.swapaxes(x, -1, -2)),
    "expand_dims_0": ((3, 4), lambda x: ops.expand_dims(x, 0), lambda x: x[None]),
    "expand_dims_1": ((3, 4), lambda x: ops.expand_dims(x, 1), lambda x: x[:, None]),
    "expand_dims_last": ((3, 4), lambda x: ops.expand_dims(x, -1), lambda x: x[..., None]),
    "squeeze": ((3, 1, 4, 1), lambda x: ops.squeeze(x, (1, -1)), lambda x: x[:, 0, :, 0]),
    "squeeze_int": ((1, 4), lambda x: ops.squeeze(x, 0), lambda x: x[0]),
    "broadcast_to": ((3, 1), lambda x: ops.broadcast_to(x, shape=(2, 3, 4)),
                     lambda x: np.broadcast_to(x, (2, 3, 4))),
    "broadcast_to_0d": ((), lambda x: ops.broadcast_to(x, shape=(2, 3)),
                        lambda x: np.broadcast_to(x, (2, 3))),
    "sum_to_shape_lead": ((2, 3, 4), lambda x: ops.sum_to_shape(x, shape=(4,)),
                          lambda x: x.sum(axis=(0, 1))),
    "sum_to_shape_keep": ((2, 3, 4), lambda x: ops.sum_to_shape(x, shape=(3, 1)),
                          lambda x: x.sum(axis=(0, 2))[:, None]),
    "sum_to_shape_0d": ((2, 3), lambda x: ops.sum_to_shape(x, shape=()), np.sum),
    "sum_to_shape_same": ((2, 3), lambda x: ops.sum_to_shape(x, shape=(2, 3)), lambda x: x),
    "flatten": ((2, 3, 4, 5), ops.flatten, lambda x: x.reshape(2, -1)),
    "unbroadcast": ((2, 3, 4), lambda g: ops.unbroadcast(g, (3, 1)),
                    lambda g: g.sum(axis=(0, 2))[:, None]),
    "unbroadcast_same": ((3, 4), lambda g: ops.unbroadcast(g, (3, 4)), lambda g: g),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_shape_op(xp, name):
    shape, op, formula = UNARY[name]
    x = rand(xp, np.random.default_rng(0), shape)
    check_op(xp, op, (x,), formula(to_numpy(x)), rtol=0, atol=1e-14)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(xp, axis):
    rng = np.random.default_rng(1)
    shapes = {0: [(1, 3, 2), (2, 3, 2), (3, 3, 2)], 1: [(2, 1, 2), (2, 3, 2), (2, 2, 2)],
              -1: [(2, 3, 1), (2, 3, 3), (2, 3, 2)]}[axis]
    a, b, c = (rand(xp, rng, s) for s in shapes)
    expected = np.concatenate([to_numpy(a), to_numpy(b), to_numpy(c)], axis=axis)
    check_op(xp, lambda a, b, c: ops.concat([a, b, c], axis=axis), (a, b, c), expected)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack(xp, axis):
    rng = np.random.default_rng(2)
    a, b = rand(xp, rng, (3, 4)), rand(xp, rng, (3, 4))
    expected = np.stack([to_numpy(a), to_numpy(b)], axis=axis)
    check_op(xp, lambda a, b: ops.stack([a, b], axis=axis), (a, b), expected)


def test_concat_reuses_one_array(xp):
    x = rand(xp, np.random.default_rng(3), (2, 3))
    g = grad(lambda x: ops.sum(ops.concat([x, x, x], axis=0) * 2.0))(x)
    np.testing.assert_array_equal(to_numpy(g), np.full((2, 3), 6.0))


KEYS = {
    "int": 1,
    "negative_int": -1,
    "slice": slice(1, 3),
    "strided_slice": slice(None, None, 2),
    "tuple_int": (1,),
    "slice_int": (slice(None), 2),
    "ints": (0, 2, 1),
    "ellipsis_int": (Ellipsis, 1),
    "none_slice_ellipsis": (None, slice(0, 2), Ellipsis),
    "mixed": (slice(0, 3, 2), None, 1, slice(1, None)),
    "none_last": (Ellipsis, None),
    "everything": (slice(None), slice(None), slice(None)),
}


@pytest.mark.parametrize("name", list(KEYS))
def test_getitem(xp, name):
    key = KEYS[name]
    x = rand(xp, np.random.default_rng(4), (3, 4, 5))
    expected = to_numpy(x)[key]
    check_op(xp, lambda x: ops.getitem(x, key), (x,), expected, rtol=0, atol=0)
    check_op(xp, lambda x: x[key] if isinstance(x, ops.Tensor) else ops.getitem(x, key), (x,),
             expected, rtol=0, atol=0)


def test_getitem_gradient_places_into_zeros(xp):
    x = rand(xp, np.random.default_rng(5), (3, 4))
    g = grad(lambda x: ops.sum(ops.getitem(x, (slice(1, 3), None, 2))))(x)
    assert_namespace(g, xp)
    expected = np.zeros((3, 4))
    expected[1:3, 2] = 1.0
    np.testing.assert_array_equal(to_numpy(g), expected)


def test_squeeze_rejects_an_axis_longer_than_one(xp):
    with pytest.raises(ValueError, match="not of length 1"):
        ops.squeeze(rand(xp, np.random.default_rng(6), (2, 3)), 0)
