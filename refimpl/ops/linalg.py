"""Matrix product, with batch axes that broadcast.

For C = A @ B: dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC, each summed back over any
broadcast batch axes.
"""

from __future__ import annotations

from refimpl.backend import get_namespace
from refimpl.tracer import primitive

from .elementwise import unbroadcast
from .shape import matrix_transpose

__all__ = ["matmul"]


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
