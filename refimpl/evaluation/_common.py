"""Argument checks and batching shared by the evaluation routines.

Every routine walks a test set ``batch_size`` rows at a time, so memory stays bounded whatever
N, and works on arrays of any backend: x (N, ...) floating and y (N,) integer labels of one
array library, with the model's parameters in that library too.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

from refimpl.backend import get_namespace

Array = Any

__all__ = ["check_data", "check_batch_size", "check_radius", "check_seed", "batches",
           "predicted_right", "count_correct", "logits_of"]


def check_data(x: Array, y: Array) -> Any:
    """The namespace of a labelled set after checking it: x (N, ...) floating, y (N,) integers.

    Raises:
        ValueError: naming ``x`` or ``y`` for a missing batch axis, an empty set, NaN or inf
            inputs, labels that are not integers of shape (N,) or are negative, or lengths
            that differ. (Labels >= K are refused once the model's K is known.)
        TypeError: when x and y come from two array libraries, or x is not floating.
    """
    xp = get_namespace(x, y, name="x, y")
    if not hasattr(x, "shape") or x.ndim < 2:
        raise ValueError(f"x: expected a batch (N, ...) with the batch axis first, got shape "
                         f"{tuple(getattr(x, 'shape', ()))}")
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"x: expected a floating array (float32 or float64), got dtype {x.dtype}")
    if not hasattr(y, "shape") or y.ndim != 1 or not xp.isdtype(y.dtype, "integral"):
        raise ValueError(f"y: expected integer labels of shape (N,), got "
                         f"{getattr(y, 'dtype', type(y).__name__)} of shape "
                         f"{tuple(getattr(y, 'shape', ()))}")
    if y.shape[0] and not bool(xp.all(y >= 0)):
        raise ValueError("y: expected class labels >= 0, got a negative label")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x, y: expected one label per input, got {x.shape[0]} inputs and "
                         f"{y.shape[0]} labels")
    if x.shape[0] == 0:
        raise ValueError("x: expected at least one example, got an empty set")
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError("x: expected finite inputs, got NaN or inf")
    return xp


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` as an int >= 1, or a ValueError naming it."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    return batch_size


def check_radius(radius: Any, name: str = "radius") -> float:
    """``radius`` as a finite float >= 0, or a ValueError naming ``name``."""
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not (
            math.isfinite(radius) and radius >= 0):
        raise ValueError(f"{name}: expected a finite number >= 0, got {radius!r}")
    return float(radius)


def check_seed(seed: Any) -> int | None:
    """``seed`` as an int (or None for fresh entropy), or a ValueError naming it."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed: expected an int or None, got {seed!r}")
    return seed


def batches(n: int, batch_size: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive batches covering 0..n-1; the last may be shorter.

    ``stop`` never passes ``n``: array-api-strict refuses slices past the end.
    """
    for start in range(0, n, batch_size):
        yield start, min(start + batch_size, n)


def predicted_right(logits: Array, y: Array) -> Array:
    """(N,) bool: the rows of logits (N, K) whose largest entry is at the label y (N,)."""
    xp = get_namespace(logits, y)
    return xp.argmax(logits, axis=1) == xp.astype(y, xp.int64)


def count_correct(logits: Array, y: Array) -> int:
    """How many rows of logits (N, K) have their largest entry at the label y (N,)."""
    xp = get_namespace(logits, y)
    return int(xp.sum(xp.astype(predicted_right(logits, y), xp.int64)))


def logits_of(model: Any, params: dict) -> Callable[[Array], Array]:
    """The model as an attack sees it: x (N, ...) -> logits (N, K), parameters held fixed."""
    return lambda z: model.apply(params, z)
