"""Matrix product, with batch axes that broadcast, and the affine map of dense layers.

For C = A @ B: dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC, each summed back over any
broadcast batch axes. Other contractions (dot, tensordot, einsum) are in :mod:`.contractions`.
"""

from __future__ import annotations

from refimpl.tracer import getval, primitive

from ._util import device_of, untraced, xp_of
from .arithmetic import unbroadcast
from .shape import matrix_transpose, reshape

__all__ = ["matmul", "linear"]


def _check(a, b, name="matmul", least=2):
    a_shape, b_shape = getattr(a, "shape", None), getattr(b, "shape", None)
    if a_shape is None or b_shape is None or len(a_shape) < least or len(b_shape) < least:
        raise ValueError(f"{name}: expected a and b with at least {least} dimension(s), got "
                         f"shapes {a_shape} and {b_shape}")
    if a_shape[-1] != b_shape[-2 if len(b_shape) > 1 else -1]:
        raise ValueError(f"{name}: a has shape {tuple(a_shape)} and b has shape "
                         f"{tuple(b_shape)}; a.shape[-1] must equal b.shape[-2] "
                         "(b.shape[0] for a 1-D b)")


def matmul(a, b):
    """a @ b as the array API defines it: (..., M, K) @ (..., K, N) -> (..., M, N).

    A 1-D ``a`` (K,) is taken as a row (1, K) and a 1-D ``b`` (K,) as a column (K, 1); the
    added axis is removed from the result, so vector @ vector is a 0-d inner product.
    """
    if getattr(a, "ndim", 0) >= 2 and getattr(b, "ndim", 0) >= 2:
        return _matmul(a, b)  # checked there
    _check(a, b, least=1)
    out = _matmul(reshape(a, shape=(1, -1)) if a.ndim == 1 else a,
                  reshape(b, shape=(-1, 1)) if b.ndim == 1 else b)
    shape = list(out.shape)
    if b.ndim == 1:
        del shape[-1]
    if a.ndim == 1:
        del shape[-1 if b.ndim == 1 else -2]
    return reshape(out, shape=tuple(shape))


@primitive
def _matmul(a, b):
    """a @ b for a (..., M, K) and b (..., K, N) -> (..., M, N)."""
    _check(a, b)
    return xp_of(a, b, name="matmul").matmul(a, b)


def matmul_vjp_a(g, out, a, b):
    return unbroadcast(_matmul(g, matrix_transpose(b)), a.shape)


def matmul_vjp_b(g, out, a, b):
    return unbroadcast(_matmul(matrix_transpose(a), g), b.shape)


_matmul.defvjp(matmul_vjp_a, matmul_vjp_b)


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
    out = xp_of(x, weight, bias, name="linear").matmul(x, weight)
    out += bias  # our own fresh buffer, so updating it in place is safe
    return out


# Each VJP of ``linear`` calls the namespace directly when nothing is traced (first order, as in
# every training step): no dispatch, checks or boxes for shapes the forward pass checked. The
# primitive path computes the same products and stays for higher orders.

def linear_vjp_x(g, out, x, weight, bias):
    if untraced(g, weight):
        xp = xp_of(g, weight)
        return xp.matmul(g, xp.matrix_transpose(weight))
    return _matmul(g, matrix_transpose(weight))


def linear_vjp_weight(g, out, x, weight, bias):
    if untraced(g, x):
        xp = xp_of(g, x)
        return xp.matmul(xp.matrix_transpose(x), g)
    return _matmul(matrix_transpose(x), g)


def linear_vjp_bias(g, out, x, weight, bias):
    return row_sum(g)


def row_sum(g):
    """(M, N) -> (N,): the sum of g's rows, as ones (1, M) @ g (a matrix-vector product that
    beats a column sum on tall matrices); a bias gradient. Raw g skips the dispatch and gets
    an array of its own (ones (M,) @ g, the same values), which an SGD step may reuse."""
    raw = getval(g)
    xp = xp_of(raw)
    if untraced(g):  # a vector-matrix product: a fresh (N,) array, not a view of a (1, N) one
        return xp.matmul(xp.ones(raw.shape[0], dtype=raw.dtype, device=device_of(raw)), raw)
    ones = xp.ones((1, raw.shape[0]), dtype=raw.dtype, device=device_of(raw))
    return reshape(_matmul(ones, g), shape=(raw.shape[1],))


linear.defvjp(linear_vjp_x, linear_vjp_weight, linear_vjp_bias)
