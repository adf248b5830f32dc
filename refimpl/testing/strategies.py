"""Hypothesis strategies for gradient batches, norm exponents and radii.

Gradient batches are where closed forms break: ties between the largest magnitudes (which
coordinate wins?), exact zeros (sign(0) = 0, no division by zero), whole zero rows, and a wide
dynamic range (1e-30 beside 1e30, where a naive ||g||_q overflows or underflows). The
strategies below draw all of these on purpose.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["gradient_batches", "norm_exponents", "radii", "batch_shapes", "entries"]


def entries(*, max_exponent: int = 30) -> st.SearchStrategy[float]:
    """Single float64 entries: exact zeros, tie-prone values, ordinary and extreme magnitudes."""
    ties = st.sampled_from([1.0, -1.0, 0.5, -0.5, 2.0, -2.0])
    ordinary = st.floats(-10.0, 10.0, allow_nan=False, allow_subnormal=False)
    extreme = st.builds(lambda sign, mantissa, exponent: sign * mantissa * 10.0 ** exponent,
                        st.sampled_from([1.0, -1.0]), st.floats(1.0, 9.99),
                        st.integers(-max_exponent, max_exponent))
    return st.one_of(st.just(0.0), ties, ordinary, extreme)


@st.composite
def batch_shapes(draw, *, max_batch: int = 4, max_dim: int = 8, images: bool = True):
    """(N, D) shapes, and with ``images`` also small (N, C, H, W) ones."""
    n = draw(st.integers(1, max_batch))
    if images and draw(st.booleans()):
        return (n,) + tuple(draw(st.integers(1, 3)) for _ in range(3))
    return (n, draw(st.integers(1, max_dim)))


@st.composite
def gradient_batches(draw, xp: Any = None, *, shape=None, max_batch: int = 4, max_dim: int = 8,
                     images: bool = True, max_exponent: int = 30, zero_rows: bool = True):
    """float64 gradient batches (N, ...) with ties, zeros and a wide dynamic range.

    Args:
        xp: the namespace of the arrays drawn (NumPy when omitted).
        shape: a fixed shape, or None to draw one with :func:`batch_shapes`.
        max_batch: the largest drawn batch.
        max_dim: the largest drawn size of the other axes.
        images: also draw image shapes (N, C, H, W).
        max_exponent: magnitudes reach 10 ** +-max_exponent.
        zero_rows: sometimes set whole examples to zero.
    """
    shape = shape or draw(batch_shapes(max_batch=max_batch, max_dim=max_dim, images=images))
    values = draw(hnp.arrays(np.float64, shape, elements=entries(max_exponent=max_exponent)))
    if zero_rows and shape[0] > 1 and draw(st.booleans()):
        values[draw(st.integers(0, shape[0] - 1))] = 0.0
    if draw(st.booleans()):  # a tie for the largest magnitude in every row
        flat = values.reshape(shape[0], -1)
        if flat.shape[1] > 1:
            top = np.max(np.abs(flat), axis=1)
            flat[:, -1] = -top
    return values if xp is None else xp.asarray(values)


def norm_exponents(*, finite_only: bool = False) -> st.SearchStrategy[float]:
    """Norm exponents p in [1, inf]: 1, 2, inf, just above 1, huge, and ordinary values."""
    special = [1.0, 2.0, 1.0001, 1e6] + ([] if finite_only else [math.inf])
    return st.one_of(st.sampled_from(special), st.floats(1.0, 1.01), st.floats(1.01, 50.0))


def radii(n: int | None = None, *, xp: Any = None, max_value: float = 10.0):
    """Radii >= 0: Python floats (including 0), or (N,) arrays when ``n`` is given.

    Array entries are 0 or at least 1e-3: a subnormal radius such as 5e-324 has too few
    significant bits for delta = radius * direction to keep its norm (or the objective) to any
    relative tolerance, and no attack uses one.
    """
    scalar = st.one_of(st.just(0.0), st.floats(1e-3, max_value))
    if n is None:
        return scalar
    entry = st.one_of(st.just(0.0), st.floats(1e-3, max_value))
    arrays = hnp.arrays(np.float64, (n,), elements=entry)
    if xp is not None:
        arrays = arrays.map(xp.asarray)
    return st.one_of(scalar, arrays)
