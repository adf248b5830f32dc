"""Convolution: im2col windows and one matrix product forward, a sum of shifted products back.

``im2col`` copies every kernel-sized window of a (padded) image into one row of a matrix, so a
convolution becomes one matrix product (the copy itself is in :mod:`.windows`: standard slices,
or one strided copy where the namespace has strided views). ``col2im`` is its adjoint: it adds
each window back to where it came from (overlaps add up). Each is the other's VJP.

:func:`conv2d` is the primitive :func:`conv_windows`, which takes the windows of x as a saved
argument: the forward pass and the weight gradient (windows^T @ g) share one copy. The input
gradient is :func:`conv_transpose`, the adjoint in x: one (O, C) product per kernel offset,
added into that offset's strided slice of the image. It moves KH*KW times fewer numbers than
the window-matrix gradient g @ filters followed by col2im (measured 7.2 against 12.6 ms for
LeNet's second layer); for images of few channels, where those products would be thin, it
is one product and a sum of its blocks instead. Every VJP is written with differentiable
operations (conv2d, conv_transpose, im2col, matmul), so convolution is differentiable to any
order.

Layout is NCHW at the interface. Window matrices are channels-last, (N, OH, OW, KH, KW, C):
the last three axes are one flattened window, matching a conv weight (O, C, KH, KW) permuted to
(O, KH, KW, C). Channels-last is what makes im2col fast: each of the KH*KW slice copies moves
runs of C contiguous numbers (with channels first, every element lands on its own cache line;
measured 6x slower for a 5x5 kernel). The NCHW results are views of channels-last memory, and
pooling reads them channels-last too, so no layout copy is made between layers.
"""

from __future__ import annotations

import math

from refimpl.backend import get_namespace
from refimpl.tracer import getval, primitive

from ._util import device_of, untraced
from .linalg import matmul, row_sum
from .shape import matrix_transpose, permute_dims, reshape
from .windows import (STRIDED_MIN_CHANNELS, col2im_few_channels, conv_output_size, im2col_slices,
                      im2col_strided, output_size, padded_nhwc, pair, window_matrix_few_channels,
                      window_slices)

__all__ = ["im2col", "col2im", "conv2d", "conv_windows", "conv_transpose", "conv_output_size"]


@primitive
def im2col(x, *, kernel_size, stride, padding):
    """(N, C, H, W) -> windows (N, OH, OW, KH, KW, C); zero padding of ``padding`` pixels.

    cols[n, i, j, a, b, c] = xpad[n, c, i * stride + a, j * stride + b].
    """
    nhwc = padded_nhwc(x, padding)
    out_size = output_size(x.shape, kernel_size, stride, padding)
    cols = None
    if x.shape[1] >= STRIDED_MIN_CHANNELS:
        cols = im2col_strided(nhwc, kernel_size, stride, out_size)
    if cols is None:
        cols = im2col_slices(nhwc, kernel_size, stride, out_size)
    return cols


@im2col.defvjp
def im2col_vjp(g, out, x, *, kernel_size, stride, padding):
    return col2im(g, shape=x.shape, kernel_size=kernel_size, stride=stride, padding=padding)


@primitive
def col2im(cols, *, shape, kernel_size, stride, padding):
    """Adjoint of :func:`im2col`: windows (N, OH, OW, KH, KW, C) summed into (N, C, H, W)."""
    xp = get_namespace(cols)
    n, c, h, w = shape
    ph, pw = padding
    out_size = cols.shape[1:3]
    padded = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype, device=cols.device)
    for (a, b), index in window_slices(kernel_size, stride, out_size):
        padded[index] += cols[:, :, :, a, b, :]
    if ph or pw:
        padded = padded[:, ph:ph + h, pw:pw + w, :]
    return xp.permute_dims(padded, (0, 3, 1, 2))


@col2im.defvjp
def col2im_vjp(g, out, cols, *, shape, kernel_size, stride, padding):
    return im2col(g, kernel_size=kernel_size, stride=stride, padding=padding)


def conv2d(x, weight, bias=None, *, stride=1, padding=0):
    """2-D cross-correlation, as in every deep-learning library.

    out[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * xpad[n, c, i*s + a, j*s + b]

    Args:
        x: images (N, C, H, W).
        weight: filters (O, C, KH, KW).
        bias: (O,) or ``None``.
        stride: an int or a (vertical, horizontal) pair.
        padding: an int or a (vertical, horizontal) pair of zero rows / columns.

    Returns:
        (N, O, OH, OW) with OH = floor((H + 2 padding - KH) / stride) + 1, likewise OW.
    """
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"conv2d: expected x (N, C, H, W) and weight (O, C, KH, KW), got x "
                         f"{tuple(x.shape)} and weight {tuple(weight.shape)}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: x has {x.shape[1]} channels but weight expects "
                         f"{weight.shape[1]} (x {tuple(x.shape)}, weight {tuple(weight.shape)})")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    n, o = x.shape[0], weight.shape[0]
    kernel_size, stride, padding = weight.shape[2:], pair(stride, "stride"), pair(padding, "padding")
    oh, ow = output_size(x.shape, kernel_size, stride, padding)
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: kernel {tuple(kernel_size)} does not fit x {tuple(x.shape)} "
                         f"with padding {padding}")
    geometry = dict(kernel_size=tuple(kernel_size), stride=stride, padding=padding)
    cols = _window_matrix(getval(x), **geometry)  # raw: kept for the weight gradient
    return conv_windows(x, weight, bias, cols, **geometry)


def _window_matrix(x, *, kernel_size, stride, padding):
    """im2col(x) as an (N*OH*OW, KH*KW*C) matrix of raw numbers (a transposed buffer for few
    channels, see :func:`~refimpl.ops.windows.window_matrix_few_channels`)."""
    if x.shape[1] < STRIDED_MIN_CHANNELS:
        return window_matrix_few_channels(x, kernel_size, stride, padding)
    cols = im2col(x, kernel_size=kernel_size, stride=stride, padding=padding)
    return get_namespace(cols).reshape(cols, (-1, math.prod(cols.shape[3:])))


@primitive
def conv_windows(x, weight, bias, cols, *, kernel_size, stride, padding):
    """conv2d of x (N, C, H, W) from its window matrix ``cols`` (N*OH*OW, KH*KW*C), im2col(x).

    out = cols @ filters^T + bias, filters = weight (O, C, KH, KW) as (O, KH*KW*C) rows;
    returns (N, O, OH, OW), a view of channels-last memory. ``x`` itself is not read: it is
    the argument the input gradient flows to. ``cols`` is a constant (no derivative); the
    weight VJP uses it while x is raw, and recomputes im2col(x) (differentiably) when x is
    traced on an outer trace, so mixed second derivatives see how the windows move with x.
    """
    xp = get_namespace(cols)
    n, (oh, ow), o = x.shape[0], output_size(x.shape, kernel_size, stride, padding), weight.shape[0]
    # filters^T as its own (KH*KW*C, O) array: a copy of a few thousand numbers, after which
    # OpenBLAS runs the product untransposed, faster than on the transposed view (6.0 against
    # 6.5 ms for LeNet's second layer)
    filters_t = xp.reshape(xp.permute_dims(weight, (2, 3, 1, 0)), (-1, o))
    out = xp.matmul(cols, filters_t)
    if bias is not None:
        out += bias  # our own fresh product
    return xp.permute_dims(xp.reshape(out, (n, oh, ow, o)), (0, 3, 1, 2))


def _weight_gradient(g, windows, weight_shape):
    """d <g, conv2d(x, w)> / dw = (g^T @ windows) as (O, C, KH, KW); g (N, O, OH, OW).

    The product is formed as (O, N*OH*OW) @ (N*OH*OW, KH*KW*C), the orientation OpenBLAS runs
    faster for LeNet's second layer (5.6 against 6.1 ms); the result is a view of (O, KH, KW, C)
    memory, which is the layout the next forward pass reads the filters in.
    """
    o, c, kh, kw = weight_shape
    g_rows = reshape(permute_dims(g, axes=(0, 2, 3, 1)), shape=(-1, o))  # (N*OH*OW, O)
    flat = reshape(windows, shape=(g_rows.shape[0], -1))  # (N*OH*OW, KH*KW*C)
    grad = matmul(matrix_transpose(g_rows), flat)  # (O, KH*KW*C)
    return permute_dims(reshape(grad, shape=(o, kh, kw, c)), axes=(0, 3, 1, 2))


def conv_windows_vjp_x(g, out, x, weight, bias, cols, **geometry):
    return conv_transpose(g, weight, x_shape=tuple(x.shape), **geometry)


def conv_windows_vjp_weight(g, out, x, weight, bias, cols, **geometry):
    windows = cols if untraced(x) else im2col(x, **geometry)
    return _weight_gradient(g, windows, tuple(weight.shape))


def conv_windows_vjp_bias(g, out, x, weight, bias, cols, **geometry):
    """Sum of g over (N, OH, OW): the row sum of g's (N*OH*OW, O) rows."""
    return row_sum(reshape(permute_dims(g, axes=(0, 2, 3, 1)), shape=(-1, g.shape[1])))


conv_windows.defvjp(conv_windows_vjp_x, conv_windows_vjp_weight, conv_windows_vjp_bias, None)


@primitive
def conv_transpose(g, weight, *, x_shape, kernel_size, stride, padding):
    """The adjoint of conv2d in x: g (N, O, OH, OW) -> (N, C, H, W) for x of ``x_shape``.

    dxpad[n, i*sh + a, j*sw + b, :] += g[n, :, i, j] @ weight[:, :, a, b] for every kernel
    offset (a, b): KH*KW products (N*OH*OW, O) @ (O, C), each added into one strided slice of
    the zero-padded, channels-last image, which is then cut to x's size. For images of few
    channels (C < STRIDED_MIN_CHANNELS, a first layer) those products would be thin; there one
    product filters^T @ g^T, (KH*KW*C, O) @ (O, N*OH*OW), gives every offset's contribution
    at once, and :func:`~refimpl.ops.windows.col2im_few_channels` adds them into place.
    """
    xp = get_namespace(g)
    n, c, h, w = x_shape
    o, _, kh, kw = weight.shape
    oh, ow = g.shape[2:]
    ph, pw = padding
    g_rows = xp.reshape(xp.permute_dims(g, (0, 2, 3, 1)), (n * oh * ow, o))
    if c < STRIDED_MIN_CHANNELS:
        filters_t = xp.reshape(xp.permute_dims(weight, (2, 3, 1, 0)), (kh * kw * c, o))
        products = xp.matmul(filters_t, xp.matrix_transpose(g_rows))  # (KH*KW*C, N*OH*OW)
        return col2im_few_channels(products, x_shape, kernel_size, stride, padding)
    taps = xp.reshape(xp.permute_dims(weight, (2, 3, 0, 1)), (kh * kw, o, c))  # (O, C) each
    padded = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=g.dtype, device=device_of(g))
    for k, (_, index) in enumerate(window_slices(kernel_size, stride, (oh, ow))):
        padded[index] += xp.reshape(xp.matmul(g_rows, taps[k, ...]), (n, oh, ow, c))
    if ph or pw:
        padded = padded[:, ph:ph + h, pw:pw + w, :]
    return xp.permute_dims(padded, (0, 3, 1, 2))


def conv_transpose_vjp_g(h, out, g, weight, *, x_shape, **geometry):
    # <h, conv_transpose(g, w)> = <conv2d(h, w), g>: the adjoint of the adjoint is conv2d
    return conv2d(h, weight, stride=geometry["stride"], padding=geometry["padding"])


def conv_transpose_vjp_weight(h, out, g, weight, *, x_shape, **geometry):
    return _weight_gradient(g, im2col(h, **geometry), tuple(weight.shape))


conv_transpose.defvjp(conv_transpose_vjp_g, conv_transpose_vjp_weight)
