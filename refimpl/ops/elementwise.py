"""Elementwise primitives with broadcasting, each with its VJP just below it.

Binary operations broadcast like the array API. Their VJPs all end in one rule,
:func:`unbroadcast`: a gradient of the broadcast shape is summed back to the shape of the
argument it belongs to. VJPs are written with these same primitives, so they can be
differentiated again.

VJPs call the functions (``multiply(g, y)``) rather than the operators (``g * y``): a raw
array-api-strict array refuses to multiply a traced value instead of deferring to it, and at
higher orders ``g`` may be raw while ``y`` is traced.
"""

from __future__ import annotations

from refimpl.backend import check_one_library, get_namespace
from refimpl.tracer import getval, primitive

from .shape import sum_to_shape

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "power", "square", "exp", "log",
    "log1p", "sqrt", "abs", "sign", "tanh", "sigmoid", "relu", "maximum", "minimum", "where",
    "clip", "unbroadcast", "zeros_like_value",
]


def _shape(x):
    return getattr(x, "shape", ())


def _xp(*xs, name="arrays"):
    return get_namespace(*(getval(x) for x in xs), name=name)


def unbroadcast(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, giving shape ``shape``.

    If ``y = broadcast_to(x, s)`` then dL/dx = unbroadcast(dL/dy, x.shape).
    """
    if tuple(_shape(g)) == tuple(shape):
        return g
    return sum_to_shape(g, shape=tuple(shape))


def zeros_like_value(x):
    """A constant array of zeros shaped like ``x`` (the gradient of a piecewise-constant op)."""
    x = getval(x)
    return _xp(x).zeros_like(x)


@primitive
def add(x, y):
    """x + y."""
    check_one_library(x, y, name="add")
    return x + y


add.defvjp(lambda g, out, x, y: unbroadcast(g, _shape(x)),
           lambda g, out, x, y: unbroadcast(g, _shape(y)))


@primitive
def subtract(x, y):
    """x - y."""
    check_one_library(x, y, name="subtract")
    return x - y


subtract.defvjp(lambda g, out, x, y: unbroadcast(g, _shape(x)),
                lambda g, out, x, y: unbroadcast(negative(g), _shape(y)))


@primitive
def multiply(x, y):
    """x * y."""
    check_one_library(x, y, name="multiply")
    return x * y


multiply.defvjp(lambda g, out, x, y: unbroadcast(multiply(g, y), _shape(x)),
                lambda g, out, x, y: unbroadcast(multiply(g, x), _shape(y)))


@primitive
def divide(x, y):
    """x / y."""
    check_one_library(x, y, name="divide")
    return x / y


divide.defvjp(lambda g, out, x, y: unbroadcast(divide(g, y), _shape(x)),
              lambda g, out, x, y: unbroadcast(negative(divide(multiply(g, out), y)), _shape(y)))


@primitive
def negative(x):
    """-x."""
    return -x


negative.defvjp(lambda g, out, x: negative(g))


@primitive
def power(x, y):
    """x ** y; the derivative in y, x**y log x, needs x > 0."""
    check_one_library(x, y, name="power")
    return x ** y


power.defvjp(lambda g, out, x, y: unbroadcast(multiply(g, multiply(y, power(x, subtract(y, 1.0)))),
                                             _shape(x)),
             lambda g, out, x, y: unbroadcast(multiply(multiply(g, out), log(x)), _shape(y)))


def square(x):
    """x * x."""
    return multiply(x, x)


@primitive
def exp(x):
    """e^x; d/dx = e^x, reusing the output."""
    return _xp(x).exp(x)


exp.defvjp(lambda g, out, x: multiply(g, out))


@primitive
def log(x):
    """Natural logarithm; d/dx = 1/x."""
    return _xp(x).log(x)


log.defvjp(lambda g, out, x: divide(g, x))


@primitive
def log1p(x):
    """log(1 + x), accurate for small x; d/dx = 1/(1 + x)."""
    return _xp(x).log1p(x)


log1p.defvjp(lambda g, out, x: divide(g, add(x, 1.0)))


@primitive
def sqrt(x):
    """Square root; d/dx = 1/(2 sqrt(x))."""
    return _xp(x).sqrt(x)


sqrt.defvjp(lambda g, out, x: divide(g, multiply(out, 2.0)))


@primitive
def abs(x):  # noqa: A001  (array-API name)
    """|x|; d/dx = sign(x), and 0 at 0."""
    return _xp(x).abs(x)


abs.defvjp(lambda g, out, x: multiply(g, sign(x)))


@primitive
def sign(x):
    """sign(x) in {-1, 0, 1}; its derivative is zero wherever it exists."""
    return _xp(x).sign(x)


sign.defvjp(lambda g, out, x: zeros_like_value(g))


@primitive
def tanh(x):
    """tanh(x); d/dx = 1 - tanh(x)^2, reusing the output."""
    return _xp(x).tanh(x)


tanh.defvjp(lambda g, out, x: multiply(g, subtract(1.0, multiply(out, out))))


@primitive
def sigmoid(x):
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2, which never overflows."""
    return 0.5 + 0.5 * _xp(x).tanh(0.5 * x)


sigmoid.defvjp(lambda g, out, x: multiply(g, multiply(out, subtract(1.0, out))))


@primitive
def relu(x):
    """max(x, 0); its derivative is the indicator of x > 0 (0 at 0)."""
    return _xp(x).maximum(x, 0.0)


@relu.defvjp
def relu_vjp(g, out, x):
    x = getval(x)
    return multiply(g, _xp(x).astype(x > 0, x.dtype))  # 3x faster than where(x > 0, g, 0)


def _share(x, y):
    """1 where x > y, 1/2 at ties, 0 elsewhere: the subgradient of max(x, y) in x."""
    x, y = getval(x), getval(y)
    xp = _xp(x, y)
    dtype = x.dtype if hasattr(x, "dtype") else y.dtype
    return xp.astype(x > y, dtype) + 0.5 * xp.astype(x == y, dtype)


@primitive
def maximum(x, y):
    """Elementwise max; at ties the gradient is split in half between x and y."""
    return _xp(x, y, name="maximum").maximum(x, y)


maximum.defvjp(lambda g, out, x, y: unbroadcast(multiply(g, _share(x, y)), _shape(x)),
               lambda g, out, x, y: unbroadcast(multiply(g, _share(y, x)), _shape(y)))


@primitive
def minimum(x, y):
    """Elementwise min; at ties the gradient is split in half between x and y."""
    return _xp(x, y, name="minimum").minimum(x, y)


minimum.defvjp(lambda g, out, x, y: unbroadcast(multiply(g, _share(y, x)), _shape(x)),
               lambda g, out, x, y: unbroadcast(multiply(g, _share(x, y)), _shape(y)))


@primitive
def where(condition, x, y):
    """x where ``condition`` holds, else y; ``condition`` has no derivative."""
    return _xp(condition, x, y, name="where").where(condition, x, y)


where.defvjp(None,
             lambda g, out, c, x, y: unbroadcast(where(c, g, 0.0), _shape(x)),
             lambda g, out, c, x, y: unbroadcast(where(c, 0.0, g), _shape(y)))


@primitive
def clip(x, *, min=None, max=None):  # noqa: A002  (array-API names)
    """x limited to [min, max]; the gradient passes where min <= x <= max."""
    return _xp(x).clip(x, min=min, max=max)


@clip.defvjp
def clip_vjp(g, out, x, *, min=None, max=None):  # noqa: A002
    inside = getval(x) == getval(out)
    return where(inside, g, 0.0)
