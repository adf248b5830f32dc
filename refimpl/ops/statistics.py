"""Variance, standard deviation, product and running sum over axes, all differentiable twice.

``var`` and ``std`` are composed from ``mean``; ``prod`` and ``cumulative_sum`` are primitives
whose VJPs are written with themselves:

    d prod(x) / d x_i = prod_{j != i} x_j     (exact at zeros: no division by x_i)
    VJP of a running sum = the running sum of g taken from the end (flip, cumsum, flip)
"""

from __future__ import annotations

from refimpl.tracer import primitive

from ._util import array_and_namespace, as_array, device_of
from .arithmetic import multiply, subtract, where
from .elementwise import sqrt
from .reductions import mean, sum
from .shape import expand_dims, flip, permute_dims, reshape

__all__ = ["var", "std", "prod", "cumulative_sum"]


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def var(x, axis=None, *, correction: float = 0.0, keepdims: bool = False, ddof=None):
    """Variance sum (x - mean)^2 / (n - correction) over ``axis``; ``ddof`` is NumPy's name for
    ``correction`` (the array API's)."""
    x = as_array(x)
    correction = correction if ddof is None else ddof
    count = 1
    for a in _axes(axis, x.ndim):
        count *= x.shape[a]
    centred = subtract(x, mean(x, axis=axis, keepdims=True))
    return multiply(sum(multiply(centred, centred), axis=axis, keepdims=keepdims),
                    1.0 / (count - correction))


def std(x, axis=None, *, correction: float = 0.0, keepdims: bool = False, ddof=None):
    """Standard deviation sqrt(var); its derivative is infinite where the variance is 0."""
    return sqrt(var(x, axis, correction=correction, keepdims=keepdims, ddof=ddof))


def prod(x, axis=None, *, keepdims: bool = False):
    """Product of the entries over ``axis`` (an int, a tuple, or ``None``: all).

    The reduced axes are moved last and merged into one, then one primitive multiplies along it.
    """
    x = as_array(x)
    axes = _axes(axis, x.ndim)
    if not axes:
        return x
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    if kept + axes != tuple(range(x.ndim)):
        x_moved = permute_dims(x, axes=kept + axes)
    else:
        x_moved = x
    out = _prod_last(reshape(x_moved, shape=tuple(x.shape[i] for i in kept) + (-1,)))
    if keepdims:
        out = reshape(out, shape=tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    return out


@primitive
def _prod_last(x):
    x, xp = array_and_namespace(x)
    return xp.prod(x, axis=-1)


@_prod_last.defvjp
def prod_vjp(g, out, x):
    n = x.shape[-1]
    xp = array_and_namespace(x)[1]
    diagonal = xp.eye(n, dtype=x.dtype, device=device_of(x)) == 1  # (n, n)
    others = where(diagonal, 1.0, expand_dims(x, -2))  # (..., n, n): row i has x_i -> 1
    return multiply(expand_dims(g, -1), _prod_last(others))  # (..., n)


@primitive
def cumulative_sum(x, *, axis=None):
    """Running sums along ``axis`` (optional for 1-D ``x``), as the array API's cumulative_sum."""
    x, xp = array_and_namespace(x)
    if axis is None and x.ndim != 1:
        raise ValueError(f"cumulative_sum: axis is required for an array of shape {x.shape}")
    return xp.cumulative_sum(x, axis=axis)


@cumulative_sum.defvjp
def cumulative_sum_vjp(g, out, x, *, axis=None):
    axis = 0 if axis is None else axis
    return flip(cumulative_sum(flip(g, axis=axis), axis=axis), axis=axis)
