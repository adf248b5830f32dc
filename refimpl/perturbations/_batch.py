"""Per-example helpers shared by the closed forms: flattening, radius checks, safe scaling.

Every perturbation is batched over axis 0 and measured over all the other axes, so the closed
forms work on a flat (N, D) view and reshape back at the end.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Any

from refimpl.backend import get_namespace

Array = Any

__all__ = ["flat", "per_example", "check_radius", "check_finite", "safe_divide", "count_true",
           "l2_norm", "unit_l2", "to_l2", "values_checked_already"]

_CHECK_VALUES = contextvars.ContextVar("refimpl_check_values", default=True)


@contextlib.contextmanager
def values_checked_already():
    """Within this block :func:`check_finite` and :func:`check_radius` skip the checks that
    read array values back from the device (finiteness, signs); dtypes and shapes are still
    checked. Training steps run their attack here: the data were checked once at the
    training entry, and a step must not wait for the device."""
    token = _CHECK_VALUES.set(False)
    try:
        yield
    finally:
        _CHECK_VALUES.reset(token)


def may_read_values() -> bool:
    """False inside :func:`values_checked_already` (a training step): no device reads."""
    return _CHECK_VALUES.get()


def flat(x: Array) -> Array:
    """(N, ...) -> (N, D) in C order (a view where the backend allows)."""
    xp = get_namespace(x)
    if x.ndim < 1:
        raise ValueError("expected a batch with a leading axis, got a 0-d array")
    return xp.reshape(x, (x.shape[0], math.prod(x.shape[1:])))


def per_example(values: Array, ndim: int) -> Array:
    """(N,) -> (N, 1, ..., 1) with ``ndim`` axes, to scale each example of a batch."""
    xp = get_namespace(values)
    return xp.reshape(values, (values.shape[0],) + (1,) * (ndim - 1))


def check_batch(x: Array, name: str) -> None:
    """Raise a TypeError / ValueError naming ``name`` unless ``x`` is a floating (N, ...) batch."""
    xp = get_namespace(x)
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"{name}: expected a floating array (float32 or float64), got dtype "
                        f"{x.dtype}")
    if x.ndim < 1:
        raise ValueError(f"{name}: expected a batch (N, ...) with the batch axis first, got a "
                         f"0-d array")


def check_finite(x: Array, name: str) -> None:
    """Raise a ValueError naming ``name`` if ``x`` holds NaN or inf (after :func:`check_batch`;
    the value check is skipped inside :func:`values_checked_already`)."""
    check_batch(x, name)
    xp = get_namespace(x)
    if _CHECK_VALUES.get() and not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"{name}: expected finite values, got NaN or inf (a diverged model or "
                         f"loss?)")


def check_radius(radius: Any, like: Array, name: str = "radius") -> Array:
    """``radius`` (a number or an (N,) array) as an (N,) array of the dtype of ``like``.

    Raises:
        ValueError: naming ``name`` for a negative, NaN or infinite radius, or a wrong shape.
    """
    xp = get_namespace(like)
    n = like.shape[0]
    if isinstance(radius, (int, float)) and not isinstance(radius, bool):
        if not (math.isfinite(radius) and radius >= 0):
            raise ValueError(f"{name}: expected a finite number >= 0, got {radius}")
        return xp.full((n,), radius, dtype=like.dtype, device=like.device)
    if isinstance(radius, (bool, str)):
        raise ValueError(f"{name}: expected a number >= 0 or an (N,) array, got {radius!r}")
    if type(radius) is not type(like) and hasattr(radius, "shape"):
        get_namespace(like, radius, name=name)  # an array of another library: a TypeError
    r = xp.asarray(radius, dtype=like.dtype, device=like.device)
    if r.ndim == 0:
        r = xp.broadcast_to(r, (n,))
    if tuple(r.shape) != (n,):
        raise ValueError(f"{name}: expected a number or an array of shape ({n},) (one per "
                         f"example), got shape {tuple(r.shape)}")
    if _CHECK_VALUES.get() and not bool(xp.all(xp.isfinite(r) & (r >= 0))):
        raise ValueError(f"{name}: expected finite values >= 0, got a negative, NaN or inf entry")
    return r


def safe_divide(num: Array, den: Array) -> Array:
    """num / den where den != 0, else 0 (the zero-gradient convention: no NaN)."""
    xp = get_namespace(num, den)
    nonzero = den != 0
    return xp.where(nonzero, num / xp.where(nonzero, den, 1.0), 0.0)


def scale_rows(a: Array, top: Array) -> Array:
    """a / top per row for non-negative a (N, D) with top (N,) its row maxima; rows with
    top == 0 are all zero and stay zero. One pass over a (no mask over the full array)."""
    xp = get_namespace(a, top)
    return a / xp.where(top == 0, xp.ones_like(top), top)[:, None]


def count_true(mask: Array) -> int:
    """The number of True entries of a boolean array, as a Python int."""
    xp = get_namespace(mask)
    return int(xp.sum(xp.astype(mask, xp.int64)))


def l2_norm(x: Array) -> Array:
    """Per-example l2 norm (N,), scaled by the largest entry so that it never overflows."""
    xp = get_namespace(x)
    a = xp.abs(flat(x))
    top = xp.max(a, axis=1)
    s = scale_rows(a, top)
    return top * xp.sqrt(xp.vecdot(s, s, axis=-1))


def unit_l2(x: Array) -> Array:
    """Each example of ``x`` divided by its l2 norm (zeros stay zero); flat (N, D).

    The row is divided by its largest magnitude first, so that a tiny norm (1e-308) cannot
    overflow the quotient.
    """
    xp = get_namespace(x)
    g = flat(x)
    s = safe_divide(g, xp.max(xp.abs(g), axis=1, keepdims=True))  # entries in [-1, 1]
    return safe_divide(s, xp.sqrt(xp.sum(s * s, axis=1, keepdims=True)))


def to_l2(delta: Array, radius: Array) -> Array:
    """``delta`` rescaled so that each example has l2 norm ``radius`` (N,); zeros stay zero."""
    xp = get_namespace(delta)
    return xp.reshape(unit_l2(delta) * radius[:, None], delta.shape)
