"""Integer-array indexing (take, take_along_axis, ``x[rows, cols]``) and sorting.

The VJP of gathering entries is scattering the gradient back, adding where an index repeats.
The array API has no scatter-add, so the scatter is a product with a constant one-hot matrix,
E[m, i] = [indices[m] == i]: dL/dx = g @ E. That is a matmul of g, so it is differentiable,
and its own VJP, g' @ E^T, gathers again. ``sort`` is a gather by ``argsort``: its VJP puts each
gradient back at the place its value came from.
"""

from __future__ import annotations

import math

from refimpl.tracer import getval, primitive

from ._util import device_of, xp_of
from .linalg import matmul
from .shape import expand_dims, getitem as basic_getitem, permute_dims, reshape

__all__ = ["take", "take_along_axis", "sort", "getitem"]


def _moveaxis(x, source: int, destination: int):
    axes = list(range(x.ndim))
    axes.insert(destination % x.ndim, axes.pop(source % x.ndim))
    return x if axes == list(range(x.ndim)) else permute_dims(x, axes=tuple(axes))


def _one_hot(indices, n: int, like):
    """(..., M) integer indices in [-n, n) -> (..., M, n) rows e_index, of ``like``'s dtype."""
    xp = xp_of(indices)
    indices = xp.where(indices < 0, indices + n, indices)
    classes = xp.arange(n, dtype=indices.dtype, device=device_of(indices))
    return xp.astype(indices[..., None] == classes, getval(like).dtype)


def take(x, indices, axis=None):
    """Entries of ``x`` at integer ``indices`` along ``axis`` (``None``: of the flattened x).

    Shape: x.shape[:axis] + indices.shape + x.shape[axis + 1:], as NumPy's take.
    """
    indices = getval(indices)
    if axis is None:
        x, axis = reshape(x, shape=(-1,)), 0
    axis = axis % x.ndim
    out = _take(x, reshape(indices, shape=(-1,)), axis=axis)
    if indices.ndim == 1:
        return out
    return reshape(out, shape=tuple(x.shape[:axis]) + tuple(indices.shape)
                   + tuple(x.shape[axis + 1:]))


@primitive
def _take(x, indices, *, axis):
    return xp_of(x, indices, name="take").take(x, indices, axis=axis)


def take_vjp(g, out, x, indices, *, axis):
    one_hot = _one_hot(indices, x.shape[axis], g)  # (M, n)
    return _moveaxis(matmul(_moveaxis(g, axis, -1), one_hot), -1, axis)  # (..., n) -> x's shape


_take.defvjp(take_vjp, None)  # indices: no derivative


@primitive
def take_along_axis(x, indices, *, axis=-1):
    """out[..., m, ...] = x[..., indices[..., m, ...], ...] along ``axis``; ``indices`` has x's
    number of dimensions (as the array API and NumPy's take_along_axis)."""
    return xp_of(x, indices, name="take_along_axis").take_along_axis(x, indices, axis=axis)


def take_along_axis_vjp(g, out, x, indices, *, axis=-1):
    one_hot = _one_hot(_moveaxis(indices, axis, -1), x.shape[axis], g)  # (..., M, n)
    rows = matmul(expand_dims(_moveaxis(g, axis, -1), -2), one_hot)  # (..., 1, n)
    return _moveaxis(reshape(rows, shape=tuple(rows.shape[:-2]) + (x.shape[axis],)), -1, axis)


take_along_axis.defvjp(take_along_axis_vjp, None)


def sort(x, axis: int = -1, *, descending: bool = False, stable: bool = True):
    """The values of ``x`` sorted along ``axis`` (a gather by argsort; ties keep their order)."""
    raw = getval(x)
    key = -raw if descending else raw  # (NumPy's own argsort has no ``descending``)
    order = xp_of(raw).argsort(key, axis=axis, stable=stable)
    return take_along_axis(x, order, axis=axis)


def _is_index_array(k) -> bool:
    dtype = getattr(k, "dtype", None)
    return dtype is not None and xp_of(k).isdtype(dtype, "integral")


def _as_index(k, x):
    """A list of ints or bools as an index array on ``x``'s device (NumPy's ``x[[0, 2]]``)."""
    if not isinstance(k, list):
        return k
    return xp_of(x).asarray(k, device=device_of(x))


def getitem(x, key):
    """``x[key]``, differentiable: basic keys (ints, slices, ``None``, ``...``), or integer
    arrays (or lists) alone, one per leading axis and broadcast together
    (``logits[arange(N), labels]``), or one boolean mask of x's leading axes (``x[x > 0]``,
    whose shape depends on the data: a host synchronisation, so never in a training step)."""
    parts = key if isinstance(key, tuple) else (key,)
    parts = tuple(_as_index(k, x) for k in parts)
    if len(parts) == 1 and getattr(parts[0], "dtype", None) is not None and xp_of(
            parts[0]).isdtype(parts[0].dtype, "bool"):
        parts = xp_of(parts[0]).nonzero(getval(parts[0]))
    if not any(_is_index_array(k) for k in parts):
        return basic_getitem(x, key)
    if not all(_is_index_array(k) for k in parts):
        raise TypeError("getitem: integer-array keys must not be mixed with slices, ints or "
                        "None; index with arrays alone (x[rows, cols]) or use take")
    if len(parts) > x.ndim:
        raise IndexError(f"getitem: {len(parts)} index arrays for an array of shape "
                         f"{tuple(x.shape)}")
    xp = xp_of(*parts)
    parts = xp.broadcast_arrays(*(getval(k) for k in parts))
    lead = tuple(x.shape[:len(parts)])
    flat = None
    for k, n in zip(parts, lead):  # C-order position in the leading axes
        k = xp.where(k < 0, k + n, k)
        flat = k if flat is None else flat * n + k
    rest = tuple(x.shape[len(parts):])
    x_rows = reshape(x, shape=(math.prod(lead),) + rest)
    return take(x_rows, flat, axis=0)
