"""im2col/col2im, conv2d, max_pool2d and maxout: values against direct loops in NumPy, and
first and second derivatives."""

import numpy as np
import pytest
from conftest import check_op, distinct, rand

from refimpl import ops
from refimpl.backend import to_numpy


def _pad(x, ph, pw):
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def naive_conv2d(x, weight, bias, stride, padding):
    """out[n, o, i, j] = bias[o] + sum_{c,a,b} weight[o, c, a, b] xpad[n, c, i sh + a, j sw + b]."""
    (sh, sw), (ph, pw) = stride, padding
    o, c, kh, kw = weight.shape
    xpad = _pad(x, ph, pw)
    oh, ow = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], o, oh, ow))
    for n in range(x.shape[0]):
        for k in range(o):
            for i in range(oh):
                for j in range(ow):
                    window = xpad[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, k, i, j] = np.sum(window * weight[k])
    return out if bias is None else out + bias[None, :, None, None]


def naive_max_pool2d(x, kernel, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xpad = _pad(x, ph, pw)  # zero padding, as documented
    oh, ow = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = xpad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.max(window, axis=(2, 3))
    return out


def naive_im2col(x, kernel, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xpad = _pad(x, ph, pw)
    oh, ow = (xpad.shape[2] - kh) // sh + 1, (xpad.shape[3] - kw) // sw + 1
    cols = np.zeros((x.shape[0], oh, ow, kh, kw, x.shape[1]))  # (N, OH, OW, KH, KW, C)
    for i in range(oh):
        for j in range(ow):
            window = xpad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]  # (N, C, KH, KW)
            cols[:, i, j] = np.transpose(window, (0, 2, 3, 1))
    return cols


IM2COL = [((2, 3, 5, 5), (3, 3), (1, 1), (0, 0)), ((1, 2, 5, 6), (2, 3), (2, 1), (1, 2)),
          ((2, 1, 4, 4), (2, 2), (2, 2), (0, 0))]


@pytest.mark.parametrize("shape, kernel, stride, padding", IM2COL)
def test_im2col_and_col2im(xp, shape, kernel, stride, padding):
    rng = np.random.default_rng(0)
    x = rand(xp, rng, shape)
    kw = dict(kernel_size=kernel, stride=stride, padding=padding)
    expected = naive_im2col(to_numpy(x), kernel, stride, padding)
    check_op(xp, lambda x: ops.im2col(x, **kw), (x,), expected, rtol=0, atol=0)
    cols = rand(xp, rng, expected.shape)
    back = ops.col2im(cols, shape=shape, **kw)
    # col2im is the adjoint of im2col: <im2col(x), cols> == <x, col2im(cols)>
    np.testing.assert_allclose(np.sum(expected * to_numpy(cols)),
                               np.sum(to_numpy(x) * to_numpy(back)), rtol=1e-12)
    check_op(xp, lambda c: ops.col2im(c, shape=shape, **kw), (cols,), to_numpy(back))


CONV = [  # x shape, weight shape, stride, padding, bias
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0, True),
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1, False),
    ((2, 3, 6, 5), (4, 3, 3, 3), 2, 1, True),
    ((1, 2, 5, 6), (3, 2, 2, 3), 1, 2, True),
    ((2, 2, 7, 6), (3, 2, 3, 2), (2, 1), (1, 0), False),
    ((2, 3, 4, 4), (2, 3, 1, 1), 2, 0, True),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, with_bias", CONV, ids=str)
def test_conv2d(xp, x_shape, w_shape, stride, padding, with_bias):
    rng = np.random.default_rng(1)
    x, weight = rand(xp, rng, x_shape), rand(xp, rng, w_shape)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    bias = rand(xp, rng, (w_shape[0],))
    expected = naive_conv2d(to_numpy(x), to_numpy(weight), to_numpy(bias) if with_bias else None,
                            pair(stride), pair(padding))
    if with_bias:
        f = lambda x, w, b: ops.conv2d(x, w, b, stride=stride, padding=padding)  # noqa: E731
        check_op(xp, f, (x, weight, bias), expected)
    else:
        f = lambda x, w: ops.conv2d(x, w, stride=stride, padding=padding)  # noqa: E731
        check_op(xp, f, (x, weight), expected)


POOL = [  # x shape, kernel, stride, padding
    ((2, 3, 4, 6), 2, None, 0),  # non-overlapping tiles: the reshape fast path
    ((2, 3, 7, 7), 3, 2, 0),
    ((2, 3, 5, 5), 2, 2, 1),
    ((1, 2, 6, 6), 3, 2, 1),
    ((1, 2, 4, 5), (2, 3), 1, 0),
    ((2, 1, 5, 5), 2, None, 0),  # 2 does not divide 5: the last row and column are dropped
]


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL, ids=str)
def test_max_pool2d(xp, shape, kernel, stride, padding):
    x = distinct(xp, np.random.default_rng(2), shape)  # no ties inside a window
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    stride_ = kernel if stride is None else stride
    expected = naive_max_pool2d(to_numpy(x), pair(kernel), pair(stride_), pair(padding))
    f = lambda x: ops.max_pool2d(x, kernel, stride, padding)  # noqa: E731
    check_op(xp, f, (x,), expected)


@pytest.mark.parametrize("shape, pieces, axis", [((4, 6), 2, 1), ((4, 6), 3, 1),
                                                 ((2, 6, 3, 3), 3, 1), ((2, 3, 4), 2, -1)],
                         ids=str)
def test_maxout(xp, shape, pieces, axis):
    x = distinct(xp, np.random.default_rng(3), shape)
    x_ = to_numpy(x)
    axis_ = axis % x_.ndim
    grouped = x_.reshape(shape[:axis_] + (shape[axis_] // pieces, pieces) + shape[axis_ + 1:])
    check_op(xp, lambda x: ops.maxout(x, pieces, axis), (x,), grouped.max(axis=axis_ + 1))


def test_conv_output_size():
    assert ops.conv_output_size(28, 5, 1, 0) == 24
    assert ops.conv_output_size(5, 3, 2, 1) == 3
    assert ops.conv_output_size(7, 3, 2, 0) == 3
