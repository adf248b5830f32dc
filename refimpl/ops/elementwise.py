"""Elementwise functions: powers, exponentials, logarithms, trigonometry and activations, each
primitive with its VJP just below it (arithmetic, where and clip are in :mod:`.arithmetic`).

Every VJP is written with differentiable ops (often reusing the output, as in
d e^x = e^x), so all orders of derivative work. A Python or NumPy scalar argument is taken as
a 0-d array: ``tanh(0.3)`` is a float64 0-d NumPy array, as ``numpy.tanh`` would give.
"""

from __future__ import annotations

import math

from refimpl.tracer import getval, primitive

from ._util import (array_and_namespace, as_array, is_scalar, one_library, shape_of, times_mask,
                    untraced, xp_of)
from .arithmetic import (add, divide, multiply, negative, operands, subtract, unbroadcast, where,
                         zeros_like_value)

__all__ = ["power", "exp", "expm1", "log", "log1p", "log2", "sqrt", "abs", "sign", "sin", "cos",
           "tanh", "sigmoid", "relu", "softplus", "logaddexp"]


@primitive
def power(x, y):
    """x ** y. Derivatives: y x**(y-1) in x (0 where y = 0, also at x = 0), x**y log x in y
    (0 where x = 0: 0**y is constant in y > 0)."""
    x, y = one_library(x, y, name="power")
    return x ** y


def power_vjp_x(g, out, x, y):
    if is_scalar(y):  # x**2, x**0.5: the common case, no masks needed
        slope = multiply(power(x, y - 1), y) if y != 0 else zeros_like_value(x)
    else:
        y_raw = getval(y)
        base = where(y_raw == 0, 1.0, x)  # x**0 = 1 whatever x: slope 0, even at x = 0
        slope = multiply(power(base, subtract(y, 1.0)), y)
    return unbroadcast(multiply(g, slope), shape_of(x))


def power_vjp_y(g, out, x, y):
    x = as_array(x, like=out)  # 2.0 ** y: the base becomes an array of y's kind
    safe = where(getval(x) == 0, 1.0, x)  # log 1 = 0: zero slope where the base is 0
    return unbroadcast(multiply(multiply(g, out), log(safe)), shape_of(y))


power.defvjp(power_vjp_x, power_vjp_y)


@primitive
def exp(x):
    """e^x; d/dx = e^x, reusing the output."""
    x, xp = array_and_namespace(x)
    return xp.exp(x)


@exp.defvjp
def exp_vjp(g, out, x):
    return multiply(g, out)


@primitive
def expm1(x):
    """e^x - 1, accurate for small x; d/dx = e^x = out + 1."""
    x, xp = array_and_namespace(x)
    return xp.expm1(x)


@expm1.defvjp
def expm1_vjp(g, out, x):
    return multiply(g, add(out, 1.0))


@primitive
def log(x):
    """Natural logarithm; d/dx = 1/x."""
    x, xp = array_and_namespace(x)
    return xp.log(x)


@log.defvjp
def log_vjp(g, out, x):
    return divide(g, x)


@primitive
def log1p(x):
    """log(1 + x), accurate for small x; d/dx = 1/(1 + x)."""
    x, xp = array_and_namespace(x)
    return xp.log1p(x)


@log1p.defvjp
def log1p_vjp(g, out, x):
    return divide(g, add(x, 1.0))


@primitive
def log2(x):
    """Base-2 logarithm; d/dx = 1/(x ln 2)."""
    x, xp = array_and_namespace(x)
    return xp.log2(x)


@log2.defvjp
def log2_vjp(g, out, x):
    return divide(g, multiply(x, math.log(2.0)))


@primitive
def sqrt(x):
    """Square root; d/dx = 1/(2 sqrt(x))."""
    x, xp = array_and_namespace(x)
    return xp.sqrt(x)


@sqrt.defvjp
def sqrt_vjp(g, out, x):
    return divide(g, multiply(out, 2.0))


@primitive
def abs(x):  # noqa: A001  (array-API name)
    """|x|; d/dx = sign(x), and 0 at 0 (a subgradient)."""
    x, xp = array_and_namespace(x)
    return xp.abs(x)


@abs.defvjp
def abs_vjp(g, out, x):
    return multiply(g, sign(x))


@primitive
def sign(x):
    """sign(x) in {-1, 0, 1}; its derivative is zero wherever it exists."""
    x, xp = array_and_namespace(x)
    return xp.sign(x)


@sign.defvjp
def sign_vjp(g, out, x):
    return zeros_like_value(g)


@primitive
def sin(x):
    """Sine; d/dx = cos x."""
    x, xp = array_and_namespace(x)
    return xp.sin(x)


@sin.defvjp
def sin_vjp(g, out, x):
    return multiply(g, cos(x))


@primitive
def cos(x):
    """Cosine; d/dx = -sin x."""
    x, xp = array_and_namespace(x)
    return xp.cos(x)


@cos.defvjp
def cos_vjp(g, out, x):
    return negative(multiply(g, sin(x)))


@primitive
def tanh(x):
    """tanh(x); d/dx = 1 - tanh(x)^2, reusing the output."""
    x, xp = array_and_namespace(x)
    return xp.tanh(x)


@tanh.defvjp
def tanh_vjp(g, out, x):
    return multiply(g, subtract(1.0, multiply(out, out)))


@primitive
def sigmoid(x):
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2, which never overflows."""
    x, xp = array_and_namespace(x)
    return 0.5 + 0.5 * xp.tanh(0.5 * x)


@sigmoid.defvjp
def sigmoid_vjp(g, out, x):
    return multiply(g, multiply(out, subtract(1.0, out)))  # s' = s (1 - s)


@primitive
def relu(x):
    """max(x, 0); its derivative is the indicator of x > 0 (0 at 0)."""
    x, xp = array_and_namespace(x)
    return xp.maximum(x, 0.0)


@relu.defvjp
def relu_vjp(g, out, x):
    x = getval(x)
    if untraced(g):  # first order: the bool mask without a float copy or a dispatch
        return times_mask(g, x > 0)
    return multiply(g, xp_of(x).astype(x > 0, x.dtype))  # 3x faster than where(x > 0, g, 0)


@primitive
def softplus(x):
    """log(1 + e^x), as max(x, 0) + log1p(e^-|x|) so it never overflows; d/dx = sigmoid(x)."""
    x, xp = array_and_namespace(x)
    return xp.maximum(x, 0.0) + xp.log1p(xp.exp(-xp.abs(x)))


@softplus.defvjp
def softplus_vjp(g, out, x):
    return multiply(g, sigmoid(x))


@primitive
def logaddexp(x, y):
    """log(e^x + e^y), stable; d/dx = e^(x - out), d/dy = e^(y - out) (softmax weights)."""
    x, y = operands(x, y)
    return xp_of(x, y, name="logaddexp").logaddexp(x, y)


def logaddexp_vjp_x(g, out, x, y):
    return unbroadcast(multiply(g, exp(subtract(x, out))), shape_of(x))


def logaddexp_vjp_y(g, out, x, y):
    return unbroadcast(multiply(g, exp(subtract(y, out))), shape_of(y))


logaddexp.defvjp(logaddexp_vjp_x, logaddexp_vjp_y)
