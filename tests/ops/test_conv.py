"""im2col/col2im, conv2d, max_pool2d and maxout: values against direct loops in NumPy, and
first and second derivatives."""

import numpy as np
import pytest
from conftest import assert_namespace, check_op, distinct, rand

from refimpl import ops
from refimpl.autodiff import check_grads, grad, vjp
from refimpl.backend import sliding_window_view, to_numpy
from refimpl.ops import windows


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
    ((2, 5, 6, 5), (3, 5, 3, 2), (1, 2), 1, True),  # >= 4 channels: the strided path on NumPy
    ((2, 1, 7, 7), (3, 1, 3, 3), 2, 1, True),  # one channel, as a first layer
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


@pytest.mark.parametrize("ties", ["share", "first"])
@pytest.mark.parametrize("shape, kernel, stride, padding", POOL, ids=str)
def test_max_pool2d(xp, shape, kernel, stride, padding, ties):
    x = distinct(xp, np.random.default_rng(2), shape)  # no ties inside a window
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    stride_ = kernel if stride is None else stride
    expected = naive_max_pool2d(to_numpy(x), pair(kernel), pair(stride_), pair(padding))
    f = lambda x: ops.max_pool2d(x, kernel, stride, padding, ties=ties)  # noqa: E731
    check_op(xp, f, (x,), expected)


def naive_max_pool2d_grad(x, g, kernel, stride, ties):
    """d <g, max_pool2d(x)> / dx by loops: each window's g to its maxima (shared or the first)."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = g.shape[2:]
    out = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*g.shape):
        window = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
        rows, cols = np.nonzero(window == window.max())  # row-major order
        if ties == "first":
            rows, cols = rows[:1], cols[:1]
        out[n, c, i * sh + rows, j * sw + cols] += g[n, c, i, j] / len(rows)
    return out


def tied(rng, shape):
    """Images of few distinct values (many ties inside windows), float64."""
    return rng.integers(0, 3, size=shape).astype(np.float64)


@pytest.mark.parametrize("ties", ["share", "first"])
@pytest.mark.parametrize("shape, kernel, stride", [((2, 3, 4, 6), 2, 2), ((2, 2, 6, 6), 3, 1),
                                                    ((1, 2, 5, 7), (2, 3), (1, 2))], ids=str)
def test_max_pool2d_ties(xp, shape, kernel, stride, ties):
    rng = np.random.default_rng(5)
    x_np = tied(rng, shape)
    x = xp.asarray(x_np)
    out, vjp_fn = vjp(lambda x: ops.max_pool2d(x, kernel, stride, ties=ties), x)
    g_np = rng.uniform(-1.0, 1.0, size=tuple(out.shape))
    (grad_x,) = vjp_fn(xp.asarray(g_np))
    assert_namespace(grad_x, xp)
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    expected = naive_max_pool2d_grad(x_np, g_np, pair(kernel), pair(stride), ties)
    np.testing.assert_allclose(to_numpy(grad_x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, kernel, stride", [((2, 3, 6, 6), 2, 2), ((2, 2, 7, 7), 3, 2)],
                         ids=str)
def test_max_pool2d_first_matches_pytorch(shape, kernel, stride):
    """ties="first" is PyTorch's rule: on tied windows both send the gradient to the same entry."""
    torch = pytest.importorskip("torch")
    x_np = tied(np.random.default_rng(6), shape)
    x = torch.tensor(x_np, requires_grad=True)
    out = torch.nn.functional.max_pool2d(x, kernel, stride)
    g_np = np.random.default_rng(7).uniform(-1.0, 1.0, size=tuple(out.shape))
    out.backward(torch.tensor(g_np))
    _, vjp_fn = vjp(lambda x: ops.max_pool2d(x, kernel, stride, ties="first"), x_np)
    np.testing.assert_allclose(vjp_fn(g_np)[0], x.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool2d_ties_share_is_the_max_reduction_gradient():
    """"share" gives what the max reduction's VJP gives on non-overlapping tiles (the old code)."""
    x = tied(np.random.default_rng(8), (2, 3, 4, 4))
    tiles = lambda x: ops.reshape(ops.permute_dims(x, axes=(0, 2, 3, 1)),  # noqa: E731
                                  shape=(2, 2, 2, 2, 2, 3))
    old = grad(lambda x: ops.sum(ops.max(tiles(x), axis=(2, 4)) ** 2))(x)
    new = grad(lambda x: ops.sum(ops.max_pool2d(x, 2, ties="share") ** 2))(x)
    np.testing.assert_allclose(new, old, rtol=1e-12, atol=1e-12)


def naive_max_pool2d_ceil(x, kernel, stride, padding):
    """ceil_mode by loops: a window starts every stride until the previous one reached the
    end of the zero-padded image; one that runs past the end takes the max of what it covers."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xpad = _pad(x, ph, pw)
    starts = [[i for i in range(0, n + p, s) if i == 0 or i + k - s < n + 2 * p]
              for n, k, s, p in ((x.shape[2], kh, sh, ph), (x.shape[3], kw, sw, pw))]
    out = np.zeros(x.shape[:2] + (len(starts[0]), len(starts[1])))
    for i, top in enumerate(starts[0]):
        for j, left in enumerate(starts[1]):
            out[:, :, i, j] = xpad[:, :, top:top + kh, left:left + kw].max(axis=(2, 3))
    return out


POOL_CEIL = [  # x shape, kernel, stride, padding, output size
    ((2, 3, 21, 21), 4, 2, 0, (10, 10)),  # the maxout paper's first pool (floor mode: 9)
    ((1, 2, 9, 8), 4, 2, 0, (4, 3)),  # its second pool on 9 rows (floor mode: 3); 8 columns
    ((1, 2, 6, 7), 3, 2, 1, (4, 4)),  # zero padding, then the ragged last window
    ((1, 1, 5, 5), 2, 3, 0, (2, 2)),  # stride > kernel
    ((1, 1, 4, 4), 1, 2, 0, (2, 2)),  # a window past the end would start outside: dropped
    ((2, 1, 6, 6), 2, 2, 0, (3, 3)),  # windows tile exactly: the same as floor mode
]


@pytest.mark.parametrize("shape, kernel, stride, padding, out_size", POOL_CEIL, ids=str)
def test_max_pool2d_ceil_mode(xp, shape, kernel, stride, padding, out_size):
    x = distinct(xp, np.random.default_rng(3), shape)
    expected = naive_max_pool2d_ceil(to_numpy(x), (kernel,) * 2, (stride,) * 2, (padding,) * 2)
    assert expected.shape[2:] == out_size
    assert ops.pool_output_size(shape[2], kernel, stride, padding, True) == out_size[0]
    f = lambda x: ops.max_pool2d(x, kernel, stride, padding, ceil_mode=True)  # noqa: E731
    check_op(xp, f, (x,), expected)  # values, first and second derivatives


def test_max_pool2d_ceil_mode_gradient_reaches_the_ragged_edge():
    """The last row and column of a 21x21 image are covered only by the ragged windows."""
    x = np.zeros((1, 1, 21, 21))
    x[0, 0, 20, 20] = 1.0
    g = grad(lambda x: ops.sum(ops.max_pool2d(x, 4, 2, ceil_mode=True)))(x)
    assert g[0, 0, 20, 20] == 1.0 and g.sum() == 100.0  # 10x10 windows, each gives 1


def test_max_pool2d_rejects_bad_ties():
    with pytest.raises(ValueError, match="ties"):
        ops.max_pool2d(np.zeros((1, 1, 2, 2)), 2, ties="last")


@pytest.mark.parametrize("shape, kernel, stride, padding", IM2COL + [
    ((2, 8, 12, 12), (5, 5), (1, 1), (0, 0)), ((2, 6, 9, 8), (3, 2), (2, 3), (1, 2))], ids=str)
def test_im2col_strided_path_equals_standard_path(shape, kernel, stride, padding):
    """The strided-view fast path (NumPy) copies exactly what the array-API slices copy."""
    x = np.random.default_rng(9).uniform(-1.0, 1.0, size=shape)
    nhwc = windows.padded_nhwc(x, padding)
    out_size = windows.output_size(shape, kernel, stride, padding)
    fast = windows.im2col_strided(nhwc, kernel, stride, out_size)
    plain = windows.im2col_slices(nhwc, kernel, stride, out_size)
    assert fast.shape == plain.shape == (shape[0], *out_size, *kernel, shape[1])
    np.testing.assert_array_equal(fast, plain)
    np.testing.assert_array_equal(plain, naive_im2col(x, kernel, stride, padding))


@pytest.mark.parametrize("shape, kernel, stride, padding", IM2COL + [
    ((3, 1, 12, 11), (5, 5), (1, 1), (0, 0)), ((2, 3, 9, 8), (3, 2), (2, 3), (1, 2))], ids=str)
def test_few_channel_window_matrix_equals_im2col(xp, shape, kernel, stride, padding):
    """The transposed-buffer window matrix holds exactly im2col's rows (any channel count)."""
    x = xp.asarray(np.random.default_rng(10).uniform(-1.0, 1.0, size=shape))
    matrix = windows.window_matrix_few_channels(x, kernel, stride, padding)
    assert_namespace(matrix, xp)
    want = naive_im2col(to_numpy(x), kernel, stride, padding)
    assert tuple(matrix.shape) == (np.prod(want.shape[:3]), np.prod(want.shape[3:]))
    np.testing.assert_array_equal(to_numpy(matrix), want.reshape(matrix.shape))


@pytest.mark.parametrize("shape, kernel, stride, padding", IM2COL + [
    ((3, 1, 12, 11), (5, 5), (1, 1), (0, 0)), ((2, 3, 9, 8), (3, 2), (2, 3), (1, 2))], ids=str)
def test_few_channel_col2im_is_the_adjoint_of_the_window_matrix(xp, shape, kernel, stride,
                                                                padding):
    """<window_matrix(x), P^T> = <x, col2im_few_channels(P)>, and the same sum as col2im's."""
    rng = np.random.default_rng(11)
    x = xp.asarray(rng.uniform(-1.0, 1.0, size=shape))
    matrix = windows.window_matrix_few_channels(x, kernel, stride, padding)  # (M, KH*KW*C)
    products = xp.asarray(rng.uniform(-1.0, 1.0, size=tuple(matrix.shape)[::-1]))
    back = windows.col2im_few_channels(products, shape, kernel, stride, padding)
    assert_namespace(back, xp)
    assert tuple(back.shape) == shape
    p = to_numpy(products)
    np.testing.assert_allclose(np.sum(to_numpy(matrix) * p.T), np.sum(to_numpy(x) * to_numpy(back)),
                               rtol=1e-12)
    cols = p.T.reshape(shape[0], *windows.output_size(shape, kernel, stride, padding),
                       *kernel, shape[1])
    via_col2im = ops.col2im(xp.asarray(cols), shape=shape, kernel_size=kernel, stride=stride,
                            padding=padding)
    np.testing.assert_allclose(to_numpy(back), to_numpy(via_col2im), rtol=1e-12, atol=1e-12)


def test_strided_view_is_none_without_strided_views():
    strict = pytest.importorskip("array_api_strict")
    assert sliding_window_view(strict.zeros((1, 4, 4, 1)), (2, 2), axis=(1, 2)) is None
    assert sliding_window_view(np.zeros((1, 4, 4, 1)), (2, 2), axis=(1, 2)).shape == (1, 3, 3, 1, 2, 2)


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


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, with_bias", CONV, ids=str)
def test_conv_transpose_is_the_adjoint_of_conv2d(xp, x_shape, w_shape, stride, padding,
                                                 with_bias):
    # conv2d's input gradient, a sum of shifted products, against the window-matrix one
    # (col2im of g @ filters), the adjoint identity, and its own first and second derivatives
    rng = np.random.default_rng(3)
    x, weight = rand(xp, rng, x_shape), rand(xp, rng, w_shape)
    out = ops.conv2d(x, weight, stride=stride, padding=padding)
    g = rand(xp, rng, tuple(out.shape))
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    kw = dict(kernel_size=tuple(w_shape[2:]), stride=pair(stride), padding=pair(padding))
    dx = ops.conv_transpose(g, weight, x_shape=x_shape, **kw)
    g_np, w_np = to_numpy(g), to_numpy(weight)
    rows = g_np.transpose(0, 2, 3, 1).reshape(-1, w_shape[0])
    filters = w_np.transpose(0, 2, 3, 1).reshape(w_shape[0], -1)
    cols = (rows @ filters).reshape(*g_np.shape[:1], *g_np.shape[2:], *w_shape[2:], w_shape[1])
    via_col2im = to_numpy(ops.col2im(xp.asarray(cols), shape=x_shape, **kw))
    np.testing.assert_allclose(to_numpy(dx), via_col2im, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.sum(to_numpy(out) * g_np), np.sum(to_numpy(x) * to_numpy(dx)),
                               rtol=1e-12)
    check_op(xp, lambda g, w: ops.conv_transpose(g, w, x_shape=x_shape, **kw), (g, weight),
             to_numpy(dx))


def test_conv2d_mixed_second_derivative_moves_the_windows(xp):
    # d/dx of the weight gradient: the windows depend on x, so the weight VJP recomputes
    # im2col(x) when x is traced; a saved, constant copy would give zero here
    rng = np.random.default_rng(4)
    x, weight = rand(xp, rng, (1, 2, 4, 4)), rand(xp, rng, (3, 2, 2, 2))
    v = rand(xp, rng, (3, 2, 2, 2))

    def weight_grad_along_v(x):
        dw = grad(lambda w: ops.sum(ops.conv2d(x, w, padding=1) ** 2))(weight)
        return ops.sum(dw * v)
    check_grads(weight_grad_along_v, (x,), order=1)
    assert float(np.abs(to_numpy(grad(weight_grad_along_v)(x))).max()) > 0
