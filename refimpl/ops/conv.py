"""Convolution and pooling through im2col, built from array-API-standard operations only.

``im2col`` copies every kernel-sized window of a (padded) image into one row of a matrix, so a
convolution becomes one matrix product and max-pooling a max over rows. ``col2im`` is its
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

from refimpl.backend import get_namespace
from refimpl.tracer import primitive

from .linalg import linear, matmul
from .reductions import max as reduce_max
from .shape import matrix_transpose, permute_dims, reshape

__all__ = ["im2col", "col2im", "conv2d", "max_pool2d", "maxout", "conv_output_size"]


def _pair(v, name):
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2 or not all(isinstance(n, int) for n in pair):
        raise ValueError(f"{name}: expected an int or a pair of ints, got {v!r}")
    return pair


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Number of window positions along one axis: floor((size + 2 padding - kernel) / stride) + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def _windows(shape, kernel_size, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    _, _, h, w = shape
    return conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)


@primitive
def im2col(x, *, kernel_size, stride, padding):
    """(N, C, H, W) -> windows (N, OH, OW, KH, KW, C); zero padding of ``padding`` pixels.

    cols[n, i, j, a, b, c] = xpad[n, c, i * stride + a, j * stride + b].
    """
    xp = get_namespace(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    oh, ow = _windows(x.shape, kernel_size, stride, padding)
    nhwc = xp.permute_dims(x, (0, 2, 3, 1))  # a view; contiguous when x came from conv2d
    if ph or pw:
        padded = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
        padded[:, ph:ph + h, pw:pw + w, :] = nhwc
        nhwc = padded
    cols = xp.empty((n, oh, ow, kh, kw, c), dtype=x.dtype)
    for a in range(kh):
        for b in range(kw):
            cols[:, :, :, a, b, :] = nhwc[:, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw, :]
    return cols


im2col.defvjp(lambda g, out, x, **kw: col2im(g, shape=x.shape, **kw))


@primitive
def col2im(cols, *, shape, kernel_size, stride, padding):
    """Adjoint of :func:`im2col`: windows (N, OH, OW, KH, KW, C) summed into (N, C, H, W)."""
    xp = get_namespace(cols)
    n, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    _, oh, ow = cols.shape[:3]
    padded = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)
    for a in range(kh):
        for b in range(kw):
            padded[:, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw, :] += cols[:, :, :, a, b, :]
    return xp.permute_dims(padded[:, ph:ph + h, pw:pw + w, :], (0, 3, 1, 2))


col2im.defvjp(lambda g, out, cols, *, shape, **kw: im2col(g, **kw))


def conv2d(x, weight, bias=None, *, stride=1, padding=0):
    """2-D cross-correlation, as in every deep-learning library.

    out[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] * xpad[n, c, i*s + a, j*s + b]

    Args:
        x: images (N, C, H, W).
        weight: filters (O, C, KH, KW).
        bias: (O,) or ``None``.
        stride, padding: ints or (vertical, horizontal) pairs; padding is with zeros.

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
    kernel_size, stride, padding = weight.shape[2:], _pair(stride, "stride"), _pair(padding, "padding")
    oh, ow = _windows(x.shape, kernel_size, stride, padding)
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


def max_pool2d(x, kernel_size=2, stride=None, padding=0):
    """Max over (KH, KW) windows of (N, C, H, W); ``stride`` defaults to the kernel size.

    Ties share the gradient equally. Padding, if any, is with zeros (use it after a ReLU).
    """
    kernel_size = _pair(kernel_size, "kernel_size")
    stride = kernel_size if stride is None else _pair(stride, "stride")
    padding = _pair(padding, "padding")
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel_size, stride
    if (kh, kw) == (sh, sw) and padding == (0, 0) and h % kh == 0 and w % kw == 0:
        # Non-overlapping windows tile the image: a reshape of the channels-last view (free
        # when x came from conv2d), reduced over axes whose inner neighbour is C long.
        nhwc = permute_dims(x, axes=(0, 2, 3, 1))
        tiles = reshape(nhwc, shape=(n, h // kh, kh, w // kw, kw, c))
        pooled = reduce_max(tiles, axis=(2, 4))  # (N, OH, OW, C)
    else:
        oh, ow = _windows(x.shape, kernel_size, stride, padding)
        cols = im2col(x, kernel_size=kernel_size, stride=stride, padding=padding)
        pooled = reduce_max(reshape(cols, shape=(n, oh, ow, kh * kw, c)), axis=3)
    return permute_dims(pooled, axes=(0, 3, 1, 2))


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
