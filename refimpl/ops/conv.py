"""Convolution through im2col, and the public pooling functions.

``im2col`` copies every kernel-sized window of a (padded) image into one row of a matrix, so a
convolution becomes one matrix product (the copy itself is in :mod:`.windows`: standard slices,
or one strided copy where the namespace has strided views). Max-pooling is a maximum over
strided slices (:mod:`.pool`), with a choice of how ties share the gradient. ``col2im`` is its
adjoint: it adds each window back to where it came from (overlaps add up). Each is the other's
VJP, so convolution and pooling are differentiable to any order.

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
from refimpl.tracer import primitive

from .linalg import linear, matmul
from .pool import TIES, max_pool
from .reductions import max as reduce_max
from .shape import matrix_transpose, pad, permute_dims, reshape
from .windows import (STRIDED_MIN_CHANNELS, conv_output_size, im2col_slices, im2col_strided,
                      output_size, padded_nhwc, pair, pool_output_size, window_slices)

__all__ = ["im2col", "col2im", "conv2d", "max_pool2d", "maxout", "conv_output_size",
           "pool_output_size"]


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
    cols = im2col(x, kernel_size=tuple(kernel_size), stride=stride, padding=padding)
    cols = reshape(cols, shape=(n * oh * ow, -1))  # (N*OH*OW, KH*KW*C)
    filters = reshape(permute_dims(weight, axes=(0, 2, 3, 1)), shape=(o, -1))  # (O, KH*KW*C)
    if bias is None:
        out = matmul(cols, matrix_transpose(filters))  # (N*OH*OW, O)
    else:
        out = linear(cols, matrix_transpose(filters), bias)
    return permute_dims(reshape(out, shape=(n, oh, ow, o)), axes=(0, 3, 1, 2))


def max_pool2d(x, kernel_size=2, stride=None, padding=0, *, ties="share", ceil_mode=False):
    """Max over (KH, KW) windows of (N, C, H, W); ``stride`` defaults to the kernel size.

    out[n, c, i, j] = max_{a, b} xpad[n, c, i*sh + a, j*sw + b]; padding, if any, is with zeros
    (use it after a ReLU). ``ceil_mode`` keeps a last window that runs past the bottom or right
    edge (:func:`~refimpl.ops.windows.pool_output_size`); it takes the max of the entries it
    covers (the rest is framed with -inf by :func:`~refimpl.ops.pad`, whose VJP cuts the frame
    off). ``ties`` says where the gradient of a window with several equal maxima goes:
    ``"share"`` splits it equally among them (a valid subgradient), ``"first"`` routes all of it
    to the first in row-major window order, as PyTorch does. Without ties the two are the same.
    Returns (N, C, OH, OW).
    """
    kernel_size = pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else pair(stride, "stride")
    padding = pair(padding, "padding")
    if ties not in TIES:
        raise ValueError(f"max_pool2d: ties must be one of {TIES}, got {ties!r}")
    out_size = tuple(pool_output_size(n, k, s, p, ceil_mode)
                     for n, k, s, p in zip(x.shape[2:], kernel_size, stride, padding))
    if min(out_size) < 1:
        raise ValueError(f"max_pool2d: a {kernel_size} window does not fit x {tuple(x.shape)} "
                         f"with padding {padding}")
    # rows and columns the last windows need beyond the zero-padded image (ceil_mode only)
    extra = [(o - 1) * s + k - (n + 2 * p) for o, s, k, n, p
             in zip(out_size, stride, kernel_size, x.shape[2:], padding)]
    if max(extra) > 0:
        if max(padding) > 0:
            x = pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
            padding = (0, 0)
        x = pad(x, ((0, 0), (0, 0), (0, max(extra[0], 0)), (0, max(extra[1], 0))),
                constant_values=-math.inf)
    return max_pool(x, kernel_size=kernel_size, stride=stride, padding=padding,
                    out_size=out_size, ties=ties)


def maxout(x, pieces: int, axis: int = 1):
    """Maxout: split ``axis`` (of length F * pieces) into F groups and keep each group's max.

    (N, F*pieces, ...) -> (N, F, ...) for the default ``axis=1``.
    """
    size = x.shape[axis]
    if pieces < 1 or size % pieces:
        raise ValueError(f"maxout: pieces={pieces} must divide the length {size} of axis {axis}")
    axis %= x.ndim
    shape = tuple(x.shape[:axis]) + (size // pieces, pieces) + tuple(x.shape[axis + 1:])
    return reduce_max(reshape(x, shape=shape), axis=axis + 1)
