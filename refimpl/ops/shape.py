"""Shape primitives: reshape, transpose, broadcast and its inverse, concat, basic indexing.

Each pair here is its own adjoint: the VJP of reshape is a reshape back, of broadcast_to a sum
back to the shape (``sum_to_shape``), of indexing a placement into zeros, and so on.
"""

from __future__ import annotations

from refimpl.tracer import primitive

from ._util import device_of, xp_of

__all__ = [
    "reshape", "permute_dims", "transpose", "matrix_transpose", "expand_dims", "squeeze",
    "broadcast_to", "sum_to_shape", "concat", "stack", "getitem", "flatten", "flip", "pad",
]


def _xp(x):
    return xp_of(x)


@primitive
def reshape(x, *, shape):
    """``x`` with the same elements in C order and a new ``shape``."""
    return _xp(x).reshape(x, tuple(shape))


@reshape.defvjp
def reshape_vjp(g, out, x, *, shape):
    return reshape(g, shape=x.shape)


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


def squeeze(x, axis=None):
    """Remove axes of length 1 listed in ``axis`` (an int or a tuple; ``None``: all of them)."""
    if axis is None:
        axis = tuple(i for i, n in enumerate(x.shape) if n == 1)
    axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
    if any(x.shape[a] != 1 for a in axes):
        raise ValueError(f"squeeze: axis {axis} of an array of shape {x.shape} is not of length 1")
    return reshape(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in axes))


def flatten(x):
    """(N, ...) -> (N, D), keeping the batch axis (the layer's meaning, as in torch.flatten(x, 1)).

    NumPy's ``x.flatten()`` (everything into one axis) is ``reshape(x, shape=(-1,))``, and is
    what the ``.flatten()`` method of a traced value does.
    """
    return reshape(x, shape=(x.shape[0], -1))


@primitive
def broadcast_to(x, *, shape):
    """``x`` broadcast to ``shape`` (a read-only view where the backend allows)."""
    return _xp(x).broadcast_to(x, tuple(shape))


@broadcast_to.defvjp
def broadcast_to_vjp(g, out, x, *, shape):
    return sum_to_shape(g, shape=x.shape)


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


@sum_to_shape.defvjp
def sum_to_shape_vjp(g, out, x, *, shape):
    return broadcast_to(g, shape=x.shape)


@primitive
def _concat(*arrays, axis):
    return xp_of(*arrays).concat(arrays, axis=axis)


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
                "getitem: a key mixes basic indexing (ints, slices, None, ...) with a key of type "
                f"{type(k).__name__}; use integer arrays alone (x[rows, cols]), or take / "
                "take_along_axis")
    if not any(k is Ellipsis for k in key):
        key += (Ellipsis,)  # the standard wants every axis indexed: x[0] means x[0, ...]
    return key


@primitive
def _getitem(x, *, key):
    return x[key]


@_getitem.defvjp
def getitem_vjp(g, out, x, *, key):
    return _place(g, key=key, shape=x.shape)


@primitive
def _place(g, *, key, shape):
    """Zeros of ``shape`` with ``g`` written at ``key``: the adjoint of basic indexing."""
    xp = _xp(g)
    out = xp.zeros(shape, dtype=g.dtype, device=device_of(g))
    kept = tuple(k for k in key if k is not None)  # setitem takes no new axes (None): drop
    if len(kept) < len(key):                       # them, and their length-1 axes from g
        g = xp.reshape(g, out[kept].shape)
    out[kept] = g
    return out


@_place.defvjp
def place_vjp(g, out, x, *, key, shape):
    return _getitem(g, key=key)


def getitem(x, key):
    """``x[key]`` for basic keys (ints, slices, ``None``, ``...``); differentiable.

    A negative step (``x[::-1]``, outside the array API) is the positive slice of the same
    entries, then a flip of that axis.
    """
    key = _check_key(key)
    if not any(isinstance(k, slice) and k.step is not None and k.step < 0 for k in key):
        return _getitem(x, key=key)
    spanned = x.ndim - sum(k is not None and k is not Ellipsis for k in key)  # by the ellipsis
    fixed, flips, axis, out_axis = [], [], 0, 0
    for k in key:
        if isinstance(k, slice) and k.step is not None and k.step < 0:
            start, stop, step = k.indices(x.shape[axis])
            count = len(range(start, stop, step))
            k = slice(start + (count - 1) * step, start + 1, -step) if count else slice(0, 0)
            flips.append(out_axis)
        fixed.append(k)
        axis += spanned if k is Ellipsis else k is not None
        out_axis += spanned if k is Ellipsis else not isinstance(k, int)
    return flip(_getitem(x, key=tuple(fixed)), axis=tuple(flips))


@primitive
def flip(x, *, axis=None):
    """The order of the entries reversed along ``axis`` (an int, a tuple, or ``None``: all)."""
    return _xp(x).flip(x, axis=axis)


@flip.defvjp
def flip_vjp(g, out, x, *, axis=None):
    return flip(g, axis=axis)  # a permutation that is its own inverse


def pad(x, pad_width, mode: str = "constant", *, constant_values=0.0):
    """``x`` framed by ``constant_values`` as NumPy's ``pad``: ``pad_width`` is an int, a pair
    (before, after) for every axis, or one pair per axis. The VJP cuts the frame off again."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got mode={mode!r}")
    widths = pad_width
    if isinstance(widths, int):
        widths = ((widths, widths),)
    widths = tuple((w, w) if isinstance(w, int) else tuple(w) for w in widths)
    if len(widths) == 1:
        widths = widths * x.ndim
    if len(widths) != x.ndim or any(len(w) != 2 or min(w) < 0 for w in widths):
        raise ValueError(f"pad: pad_width must give two non-negative widths per axis of an "
                         f"array of shape {tuple(x.shape)}, got {pad_width!r}")
    return _pad(x, widths=widths, value=constant_values)


@primitive
def _pad(x, *, widths, value):
    xp = _xp(x)
    shape = tuple(n + before + after for n, (before, after) in zip(x.shape, widths))
    out = xp.full(shape, value, dtype=x.dtype, device=device_of(x))
    out[_inner_key(x.shape, widths)] = x
    return out


def _inner_key(shape, widths):
    return tuple(slice(before, before + n) for n, (before, _) in zip(shape, widths))


@_pad.defvjp
def pad_vjp(g, out, x, *, widths, value):
    return _getitem(g, key=_inner_key(x.shape, widths) + (Ellipsis,))
