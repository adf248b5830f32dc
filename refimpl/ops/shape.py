"""Shape primitives: reshape, transpose, broadcast and its inverse, concat, basic indexing.

Each pair here is its own adjoint: the VJP of reshape is a reshape back, of broadcast_to a sum
back to the shape (``sum_to_shape``), of indexing a placement into zeros, and so on.
"""

from __future__ import annotations

from refimpl.backend import get_namespace
from refimpl.tracer import getval, primitive

__all__ = [
    "reshape", "permute_dims", "transpose", "matrix_transpose", "expand_dims", "squeeze",
    "broadcast_to", "sum_to_shape", "concat", "stack", "getitem", "flatten",
]


def _xp(x):
    return get_namespace(getval(x))


@primitive
def reshape(x, *, shape):
    """``x`` with the same elements in C order and a new ``shape``."""
    return _xp(x).reshape(x, tuple(shape))


reshape.defvjp(lambda g, out, x, *, shape: reshape(g, shape=x.shape))


@primitive
def permute_dims(x, *, axes):
    """Axes reordered: ``out.shape[i] == x.shape[axes[i]]``."""
    return _xp(x).permute_dims(x, tuple(axes))


@permute_dims.defvjp
def permute_dims_vjp(g, out, x, *, axes):
    inverse = sorted(range(len(axes)), key=lambda i: axes[i])
    return permute_dims(g, axes=tuple(inverse))


def transpose(x, axes=None):
    """Axes reversed, or reordered by ``axes``."""
    return permute_dims(x, axes=tuple(reversed(range(x.ndim))) if axes is None else axes)


def matrix_transpose(x):
    """Swap the last two axes: (..., M, N) -> (..., N, M)."""
    axes = list(range(x.ndim))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return permute_dims(x, axes=tuple(axes))


def expand_dims(x, axis: int):
    """A new axis of length 1 at ``axis``."""
    shape = list(x.shape)
    shape.insert(axis % (x.ndim + 1), 1)
    return reshape(x, shape=tuple(shape))


def squeeze(x, axis):
    """Remove axes of length 1 listed in ``axis`` (an int or a tuple)."""
    axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
    if any(x.shape[a] != 1 for a in axes):
        raise ValueError(f"squeeze: axis {axis} of an array of shape {x.shape} is not of length 1")
    return reshape(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in axes))


def flatten(x):
    """(N, ...) -> (N, D), keeping the batch axis."""
    return reshape(x, shape=(x.shape[0], -1))


@primitive
def broadcast_to(x, *, shape):
    """``x`` broadcast to ``shape`` (a read-only view where the backend allows)."""
    return _xp(x).broadcast_to(x, tuple(shape))


broadcast_to.defvjp(lambda g, out, x, *, shape: sum_to_shape(g, shape=x.shape))


@primitive
def sum_to_shape(x, *, shape):
    """Sum ``x`` over the axes that broadcasting from ``shape`` would have created.

    The adjoint of ``broadcast_to``: leading extra axes are summed away, and axes where
    ``shape`` has length 1 are summed with keepdims.
    """
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    xp = _xp(x)
    out = xp.sum(x, axis=axes, keepdims=True) if axes else x
    return xp.reshape(out, tuple(shape))


sum_to_shape.defvjp(lambda g, out, x, *, shape: broadcast_to(g, shape=x.shape))


@primitive
def _concat(*arrays, axis):
    return get_namespace(*arrays).concat(arrays, axis=axis)


@_concat.defvjp_argnum
def _concat_vjp(argnum, g, out, *arrays, axis):
    start = sum(a.shape[axis] for a in arrays[:argnum])
    key = [slice(None)] * g.ndim
    key[axis] = slice(start, start + arrays[argnum].shape[axis])
    return getitem(g, key=tuple(key))


def concat(arrays, axis: int = 0):
    """Join arrays along an existing ``axis``."""
    arrays = list(arrays)
    return _concat(*arrays, axis=axis % arrays[0].ndim)


def stack(arrays, axis: int = 0):
    """Join arrays along a new ``axis``."""
    arrays = list(arrays)
    return concat([expand_dims(a, axis) for a in arrays], axis=axis)


def _check_key(key):
    key = key if isinstance(key, tuple) else (key,)
    for k in key:
        if not (k is None or k is Ellipsis or isinstance(k, (int, slice))):
            raise TypeError(
                "getitem: only basic indexing (ints, slices, None, ...) is differentiable; got "
                f"a key of type {type(k).__name__}. Select classes with a one-hot mask instead.")
        if isinstance(k, slice) and k.step is not None and k.step < 0:
            raise TypeError("getitem: negative slice steps are outside the array API standard")
    if not any(k is Ellipsis for k in key):
        key += (Ellipsis,)  # the standard wants every axis indexed: x[0] means x[0, ...]
    return key


@primitive
def _getitem(x, *, key):
    return x[key]


_getitem.defvjp(lambda g, out, x, *, key: _place(g, key=key, shape=x.shape))


@primitive
def _place(g, *, key, shape):
    """Zeros of ``shape`` with ``g`` written at ``key``: the adjoint of basic indexing."""
    xp = _xp(g)
    out = xp.zeros(shape, dtype=g.dtype)
    kept = tuple(k for k in key if k is not None)  # setitem takes no new axes (None): drop
    if len(kept) < len(key):                       # them, and their length-1 axes from g
        g = xp.reshape(g, out[kept].shape)
    out[kept] = g
    return out


_place.defvjp(lambda g, out, x, *, key, shape: _getitem(g, key=key))


def getitem(x, key):
    """``x[key]`` for basic keys (ints, slices, ``None``, ``...``); differentiable."""
    return _getitem(x, key=_check_key(key))
