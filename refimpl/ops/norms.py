"""The p-norm of a vector (or of every row), differentiable at every order, also at zero.

    ||x||_p = (sum |x_i|^p)^(1/p)  for 1 <= p < inf,     ||x||_inf = max |x_i|

Written as m ||x / m||_p with m = max |x_i| held constant: exact (the norm is homogeneous),
the powers stay in range whatever p and the scale of x, and m is a constant so no derivative
flows through the max. At x = 0 the value is 0 with gradient 0, a subgradient (the gradient
of ||x|| at 0 is otherwise 0/0): the choice that gives the gradient-norm penalty zero slope for
an example whose input gradient vanishes.
"""

from __future__ import annotations

import math

from refimpl.tracer import getval

from ._util import as_array, xp_of
from .arithmetic import divide, multiply, where
from .elementwise import abs, power, sqrt
from .reductions import max, sum

__all__ = ["vector_norm"]


def _check_ord(ord):
    if isinstance(ord, bool) or not isinstance(ord, (int, float)) or not ord >= 1:
        raise ValueError(f"vector_norm: ord must be a number >= 1 or math.inf, got {ord!r}")


def vector_norm(x, ord=2, axis=None, *, keepdims: bool = False):  # noqa: A002  (array-API name)
    """||x||_ord over ``axis`` (an int, a tuple, or ``None``: all axes), ord >= 1 or inf.

    Args:
        x: an array or a traced value; Python scalars are taken as 0-d arrays.
        ord: the exponent p in [1, inf]; ``math.inf`` gives max |x|.
        axis: the axes that form each vector; the others are batch axes.
        keepdims: keep the reduced axes with length 1.

    Returns:
        The norms, of x's shape without (or with length 1 at) the reduced axes.
    """
    _check_ord(ord)
    x = as_array(x)
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    if math.isinf(ord):
        return max(abs(x), axis=axis, keepdims=keepdims)  # all-zero x: every entry ties, slope 0
    raw = getval(x)
    xp = xp_of(raw)
    scale = xp.max(xp.abs(raw), axis=axis, keepdims=True)  # constant: no derivative through it
    nonzero = scale > 0
    scale = xp.where(nonzero, scale, xp.ones_like(scale))
    ratio = divide(x, scale)  # in [-1, 1]
    if ord == 2:
        total = sum(multiply(ratio, ratio), axis=axis, keepdims=keepdims)  # smooth: no abs
    else:
        total = sum(power(abs(ratio), float(ord)), axis=axis, keepdims=keepdims)
    if not keepdims:
        nonzero = xp.reshape(nonzero, tuple(total.shape))
        scale = xp.reshape(scale, tuple(total.shape))
    safe = where(nonzero, total, 1.0)  # >= 1 where nonzero; 1 keeps the root's slope finite
    root = sqrt(safe) if ord == 2 else power(safe, 1.0 / ord)
    return where(nonzero, multiply(root, scale), 0.0)
