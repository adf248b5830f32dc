"""Matrix product, with batch axes that broadcast, and the affine map of dense layers.

For C = A @ B: dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC, each summed back over any
broadcast batch axes.
"""

from __future__ import annotations

from refimpl.backend import get_namespace
from refimpl.tracer import getval, primitive

from .elementwise import unbroadcast
from .shape import matrix_transpose, reshape

__all__ = ["matmul", "linear"]


def _check(a, b):
    a_shape, b_shape = getattr(a, "shape", None), getattr(b, "shape", None)
    if a_shape is None or b_shape is None or len(a_shape) < 2 or len(b_shape) < 2:
        raise ValueError(f"matmul: expected a and b with at least 2 dimensions, got shapes "
                         f"{a_shape} and {b_shape}")
    if a_shape[-1] != b_shape[-2]:
        raise ValueError(f"matmul: a has shape {tuple(a_shape)} and b has shape "
                         f"{tuple(b_shape)}; a.shape[-1] must equal b.shape[-2]")


@primitive
def matmul(a, b):
    """a @ b for a (..., M, K) and b (..., K, N) -> (..., M, N)."""
    _check(a, b)
    return get_namespace(a, b, name="matmul").matmul(a, b)


matmul.defvjp(
    lambda g, out, a, b: unbroadcast(matmul(g, matrix_transpose(b)), a.shape),
    lambda g, out, a, b: unbroadcast(matmul(matrix_transpose(a), g), b.shape),
)


@primitive
def linear(x, weight, bias):
    """The affine map x @ weight + bias of a dense layer, in one output buffer.

    x (M, K), weight (K, N), bias (N,) -> (M, N). Same values as ``matmul(x, weight) + bias``,
    with one temporary fewer: the bias is added in place into the fresh product. Gradients:
    dL/dx = g @ weight^T, dL/dweight = x^T @ g, dL/dbias = sum over rows of g (computed as
    ones (1, M) @ g, a matrix-vector product that beats a column sum on tall matrices).
    """
    _check(x, weight)
    if x.ndim != 2 or tuple(bias.shape) != (weight.shape[1],):
        raise ValueError(f"linear: expected x (M, K), weight (K, N) and bias (N,), got x "
                         f"{tuple(x.shape)}, weight {tuple(weight.shape)}, bias {tuple(bias.shape)}")
    out = get_namespace(x, weight, bias, name="linear").matmul(x, weight)
    out += bias  # our own fresh buffer, so updating it in place is safe
    return out


def _column_sum(g):
    raw = getval(g)
    ones = get_namespace(raw).ones((1, raw.shape[0]), dtype=raw.dtype)
    return reshape(matmul(ones, g), shape=(raw.shape[1],))


linear.defvjp(
    lambda g, out, x, weight, bias: matmul(g, matrix_transpose(weight)),
    lambda g, out, x, weight, bias: matmul(matrix_transpose(x), g),
    lambda g, out, x, weight, bias: _column_sum(g),
)
