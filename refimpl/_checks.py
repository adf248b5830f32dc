"""Argument checks shared by the public entry points: labels, finite values, positive sizes.

A leaf just above :mod:`refimpl.backend` (it imports nothing else of refimpl), so ``ops``,
``nn``, ``perturbations``, ``training``, ``evaluation`` and ``data`` may all use it. Each check
raises a one-line ValueError or TypeError that names the argument and what was expected.

Checks that look at values (labels in range, no NaN) synchronise with the device once; call
them at a public entry, never inside a training step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from refimpl.backend import get_namespace, to_numpy

__all__ = ["check_labels", "check_all_finite", "check_positive_int", "check_nonnegative_int",
           "check_positive_float"]

Array = Any


def check_labels(y: Array, num_classes: int | None = None, *, n: int | None = None,
                 name: str = "y") -> None:
    """Check class labels: an integer array (N,) with N > 0 (== ``n`` if given), 0 <= y < K.

    Args:
        y: the labels, any array-API array (NumPy, CuPy, array-api-strict, ...).
        num_classes: K; when ``None`` only the lower bound 0 is checked.
        n: the number of examples ``y`` must label (e.g. ``x.shape[0]``).
        name: the argument's name in the error message.

    Raises:
        TypeError: naming ``name`` when ``y`` is not an array of an integer dtype.
        ValueError: naming ``name`` for a wrong shape, an empty batch, a length other than
            ``n`` or a label outside 0..K-1.
    """
    if not hasattr(y, "shape") or not hasattr(y, "dtype"):
        raise TypeError(f"{name}: expected an integer label array (N,), got {type(y).__name__}")
    xp = get_namespace(y, name=name)
    if y.dtype == xp.bool or not xp.isdtype(y.dtype, "integral"):
        raise TypeError(f"{name}: expected integer class labels (N,) in 0..K-1, got dtype "
                        f"{y.dtype} (one-hot or soft targets are not labels; use argmax)")
    if y.ndim != 1:
        raise ValueError(f"{name}: expected labels of shape (N,), got shape {tuple(y.shape)}")
    count = int(y.shape[0])
    if count == 0:
        raise ValueError(f"{name}: expected at least one label, got an empty batch (N = 0)")
    if n is not None and count != n:
        raise ValueError(f"{name}: expected {n} labels (one per example of x), got {count}")
    if num_classes is not None and not (isinstance(num_classes, int) and num_classes >= 1):
        raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
    low, high = (int(v) for v in to_numpy(xp.stack([xp.min(y), xp.max(y)])))  # one sync
    if low < 0 or (num_classes is not None and high >= num_classes):
        expected = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
        raise ValueError(f"{name}: expected class labels in {expected}, found labels in "
                         f"{low}..{high}")


def check_all_finite(x: Array, name: str) -> None:
    """Raise a ValueError naming ``name`` if the floating array ``x`` holds NaN or inf."""
    xp = get_namespace(x, name=name)
    if xp.isdtype(x.dtype, "real floating") and not bool(to_numpy(xp.all(xp.isfinite(x)))):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")


def check_positive_int(value: Any, name: str) -> int:
    """``value`` if it is an int >= 1 (not a bool), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def check_nonnegative_int(value: Any, name: str) -> int:
    """``value`` if it is an int >= 0 (not a bool), else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {value!r}")
    return int(value)


def check_positive_float(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a float if it is a finite number > 0 (>= 0 with ``allow_zero``)."""
    ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
          and math.isfinite(value) and (value >= 0 if allow_zero else value > 0))
    if not ok:
        raise ValueError(f"{name}: expected a finite number {'>= 0' if allow_zero else '> 0'}, "
                         f"got {value!r}")
    return float(value)
