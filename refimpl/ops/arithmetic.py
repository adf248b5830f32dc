"""Elementwise arithmetic with broadcasting, each primitive with its VJP just below it.

Binary operations broadcast like the array API. Their VJPs all end in one rule,
:func:`unbroadcast`: a gradient of the broadcast shape is summed back to the shape of the
argument it belongs to. VJPs are written with these same primitives, so they can be
differentiated again. Powers, exponentials, logarithms, trigonometry and activations are in
:mod:`.elementwise`.

VJPs call the functions (``multiply(g, y)``) rather than the operators (``g * y``): a raw
array-api-strict array refuses to multiply a traced value instead of deferring to it, and at
higher orders ``g`` may be raw while ``y`` is traced.
"""

from __future__ import annotations

from refimpl.tracer import getval, primitive

from ._util import array_and_namespace, as_array, is_scalar, one_library, shape_of, xp_of
from .shape import sum_to_shape

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "square", "maximum", "minimum", "where",
    "clip", "astype", "unbroadcast", "zeros_like_value",
]


def unbroadcast(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, giving shape ``shape``.

    If ``y = broadcast_to(x, s)`` then dL/dx = unbroadcast(dL/dy, x.shape).
    """
    if tuple(shape_of(g)) == tuple(shape):
        return g
    return sum_to_shape(g, shape=tuple(shape))


def zeros_like_value(x):
    """A constant array of zeros shaped like ``x`` (the gradient of a piecewise-constant op)."""
    x, xp = array_and_namespace(getval(x))
    return xp.zeros_like(x)


@primitive
def add(x, y):
    """x + y."""
    x, y = one_library(x, y, name="add")
    return x + y


def add_vjp_x(g, out, x, y):
    return unbroadcast(g, shape_of(x))


def add_vjp_y(g, out, x, y):
    return unbroadcast(g, shape_of(y))


add.defvjp(add_vjp_x, add_vjp_y)


@primitive
def subtract(x, y):
    """x - y."""
    x, y = one_library(x, y, name="subtract")
    return x - y


def subtract_vjp_y(g, out, x, y):
    return unbroadcast(negative(g), shape_of(y))


subtract.defvjp(add_vjp_x, subtract_vjp_y)  # d/dx (x - y) = 1, as for x + y


@primitive
def multiply(x, y):
    """x * y."""
    x, y = one_library(x, y, name="multiply")
    return x * y


def multiply_vjp_x(g, out, x, y):
    return unbroadcast(multiply(g, y), shape_of(x))


def multiply_vjp_y(g, out, x, y):
    return unbroadcast(multiply(g, x), shape_of(y))


multiply.defvjp(multiply_vjp_x, multiply_vjp_y)


@primitive
def divide(x, y):
    """x / y."""
    x, y = one_library(x, y, name="divide")
    return x / y


def divide_vjp_x(g, out, x, y):
    return unbroadcast(divide(g, y), shape_of(x))


def divide_vjp_y(g, out, x, y):
    return unbroadcast(negative(divide(multiply(g, out), y)), shape_of(y))  # d/dy x/y = -out/y


divide.defvjp(divide_vjp_x, divide_vjp_y)


@primitive
def negative(x):
    """-x."""
    return -x


@negative.defvjp
def negative_vjp(g, out, x):
    return negative(g)


def square(x):
    """x * x."""
    return multiply(x, x)


def operands(x, y):
    """Scalar operands as 0-d arrays of the other operand's kind (NumPy's float64 for two)."""
    if is_scalar(x):
        x = as_array(x, like=None if is_scalar(y) else y)
    if is_scalar(y):
        y = as_array(y, like=x)
    return x, y


def _share(x, y):
    """1 where x > y, 1/2 at ties, 0 elsewhere: the subgradient of max(x, y) in x."""
    x, y = getval(x), getval(y)
    xp = xp_of(x, y)
    dtype = x.dtype if hasattr(x, "dtype") else y.dtype
    return xp.astype(x > y, dtype) + 0.5 * xp.astype(x == y, dtype)


@primitive
def maximum(x, y):
    """Elementwise max; at ties the gradient is split in half between x and y."""
    x, y = operands(x, y)
    return xp_of(x, y, name="maximum").maximum(x, y)


def maximum_vjp_x(g, out, x, y):
    return unbroadcast(multiply(g, _share(x, y)), shape_of(x))


def maximum_vjp_y(g, out, x, y):
    return unbroadcast(multiply(g, _share(y, x)), shape_of(y))


maximum.defvjp(maximum_vjp_x, maximum_vjp_y)


@primitive
def minimum(x, y):
    """Elementwise min; at ties the gradient is split in half between x and y."""
    x, y = operands(x, y)
    return xp_of(x, y, name="minimum").minimum(x, y)


def minimum_vjp_x(g, out, x, y):
    return unbroadcast(multiply(g, _share(y, x)), shape_of(x))


def minimum_vjp_y(g, out, x, y):
    return unbroadcast(multiply(g, _share(x, y)), shape_of(y))


minimum.defvjp(minimum_vjp_x, minimum_vjp_y)


@primitive
def where(condition, x, y):
    """x where ``condition`` holds, else y; ``condition`` has no derivative."""
    return xp_of(condition, x, y, name="where").where(condition, x, y)


def where_vjp_x(g, out, condition, x, y):
    return unbroadcast(where(condition, g, 0.0), shape_of(x))


def where_vjp_y(g, out, condition, x, y):
    return unbroadcast(where(condition, 0.0, g), shape_of(y))


where.defvjp(None, where_vjp_x, where_vjp_y)


@primitive
def clip(x, *, min=None, max=None):  # noqa: A002  (array-API names)
    """x limited to [min, max]; the gradient passes where min <= x <= max."""
    x, xp = array_and_namespace(x)
    return xp.clip(x, min=min, max=max)


@clip.defvjp
def clip_vjp(g, out, x, *, min=None, max=None):  # noqa: A002
    inside = getval(x) == getval(out)
    return where(inside, g, 0.0)


def astype(x, dtype):
    """``x`` cast to ``dtype``. Between floating dtypes the VJP casts the gradient back; a cast to
    an integer or boolean dtype has no derivative and returns a constant."""
    raw, xp = array_and_namespace(getval(x))
    if not xp.isdtype(dtype, "real floating"):
        return xp.astype(raw, dtype)
    return x if raw.dtype == dtype else _astype(x, dtype=dtype)


@primitive
def _astype(x, *, dtype):
    return xp_of(x).astype(x, dtype)


@_astype.defvjp
def astype_vjp(g, out, x, *, dtype):
    return _astype(g, dtype=x.dtype)
