"""Max-pooling as a max over KH*KW strided slices, with a choice of where ties send the gradient;
the public :func:`max_pool2d` and :func:`maxout`.

Each kernel offset (a, b) selects one strided slice of the channels-last image, shaped like the
output; the pooled image is the elementwise maximum of those slices (no window matrix, no
reduction with two-element inner loops). The backward pass routes each output's gradient to
the entries equal to their window's maximum:

- ``ties="share"``: equally among the tied maxima (a valid subgradient; refimpl's default);
- ``ties="first"``: all of it to the first maximum in row-major window order (PyTorch's rule).

Without ties the two agree. The routing weights are constants of the forward values, so the
gradient is linear in the upstream gradient: :func:`unpool` (output grads -> input grads) and
:func:`pool_gather` (its adjoint) are each other's VJP, and pooling is differentiable to any
order, like im2col and col2im.
"""

from __future__ import annotations

import math

from refimpl.backend import get_namespace
from refimpl.tracer import getval, primitive

from .reductions import max as reduce_max
from ._util import count_masks, times_mask, times_mask_into
from .shape import pad, reshape
from .windows import padded_nhwc, pair, pool_output_size, window_slices

__all__ = ["max_pool2d", "maxout", "max_pool", "unpool", "pool_gather", "TIES"]

TIES = ("share", "first")


def _window_slices(kernel_size, stride, out_size):
    return [index for _, index in window_slices(kernel_size, stride, out_size)]


@primitive
def max_pool(x, *, kernel_size, stride, padding, out_size, ties):
    """(N, C, H, W) -> (N, C, OH, OW): out[n, c, i, j] = max_{a, b} xpad[n, c, i*sh + a, j*sw + b]."""
    xp = get_namespace(x)
    nhwc = padded_nhwc(x, padding)
    slices = _window_slices(kernel_size, stride, out_size)
    pooled = nhwc[slices[0]]
    for index in slices[1:]:
        pooled = xp.maximum(pooled, nhwc[index])  # (N, OH, OW, C)
    return xp.permute_dims(pooled, (0, 3, 1, 2))


@max_pool.defvjp
def max_pool_vjp(g, out, x, **geometry):
    return unpool(g, getval(x), getval(out), **geometry)


def _routes(x, out, *, kernel_size, stride, padding, out_size, ties):
    """Per kernel offset: (index into the padded channels-last input, bool route, divisor).

    An output's gradient flows to offset k where ``routes[k]`` holds, divided by ``divisor``
    (the number of tied maxima for "share", a float array; ``None`` for "first", which routes
    to one entry). Routes are (N, OH, OW, C) bool arrays, applied with :func:`times_mask`.
    """
    xp = get_namespace(x)
    nhwc = padded_nhwc(x, padding)
    best = xp.permute_dims(out, (0, 2, 3, 1))  # (N, OH, OW, C)
    slices = _window_slices(kernel_size, stride, out_size)
    hits = [nhwc[index] == best for index in slices]
    if ties == "first":
        routes, taken = [hits[0]], hits[0]
        for hit in hits[1:]:
            routes.append(hit & ~taken)
            taken = taken | hit
        return slices, routes, None
    return slices, hits, count_masks(hits, x.dtype)


def _tiles_exactly(x_shape, kernel_size, stride, padding):
    """True when the windows cover the image once each (no overlap, no padding, no rest)."""
    (kh, kw), h, w = kernel_size, x_shape[2], x_shape[3]
    return tuple(kernel_size) == tuple(stride) and tuple(padding) == (0, 0) and h % kh == w % kw == 0


@primitive
def unpool(g, x, out, *, kernel_size, stride, padding, out_size, ties):
    """Gradient of max-pooling: ``g`` (N, C, OH, OW) routed to the maxima of ``x`` (N, C, H, W)."""
    xp = get_namespace(g)
    slices, routes, count = _routes(x, out, kernel_size=kernel_size, stride=stride,
                                    padding=padding, out_size=out_size, ties=ties)
    g = xp.permute_dims(g, (0, 2, 3, 1))  # (N, OH, OW, C)
    if count is not None:
        g = g / count
    n, c, h, w = x.shape
    ph, pw = padding
    shape = (n, h + 2 * ph, w + 2 * pw, c)
    if _tiles_exactly(x.shape, kernel_size, stride, padding):  # every entry written once
        grad = xp.empty(shape, dtype=g.dtype, device=g.device)
        for index, route in zip(slices, routes):
            times_mask_into(grad, index, g, route)
    else:
        grad = xp.zeros(shape, dtype=g.dtype, device=g.device)
        for index, route in zip(slices, routes):
            grad[index] += times_mask(g, route)  # overlapping windows add up
    if ph or pw:
        grad = grad[:, ph:ph + h, pw:pw + w, :]
    return xp.permute_dims(grad, (0, 3, 1, 2))


@unpool.defvjp
def unpool_vjp(g, out, g_pooled, x, pooled, **geometry):
    return pool_gather(g, getval(x), getval(pooled), **geometry)


@primitive
def pool_gather(grad, x, out, *, kernel_size, stride, padding, out_size, ties):
    """Adjoint of :func:`unpool` in its first argument: (N, C, H, W) -> (N, C, OH, OW)."""
    xp = get_namespace(grad)
    slices, routes, count = _routes(x, out, kernel_size=kernel_size, stride=stride,
                                    padding=padding, out_size=out_size, ties=ties)
    grad = padded_nhwc(grad, padding)
    total = times_mask(grad[slices[0]], routes[0])
    for index, route in zip(slices[1:], routes[1:]):
        total = total + times_mask(grad[index], route)
    if count is not None:
        total = total / count
    return xp.permute_dims(total, (0, 3, 1, 2))


@pool_gather.defvjp
def pool_gather_vjp(g, out, grad, x, pooled, **geometry):
    return unpool(g, getval(x), getval(pooled), **geometry)


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
