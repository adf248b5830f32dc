"""A named data set with the input pipeline of an experiment, as NumPy arrays.

``prepare`` is what ``refimpl train`` and ``refimpl reproduce`` read their data through:
load, apply one named preprocessing, optionally keep only the first training examples.
``to_backend`` is the edge where those NumPy arrays cross to the array library and device that
compute (once, before training; nothing crosses back inside a step).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from refimpl.data import transforms

__all__ = ["prepare", "to_backend", "PREPROCESSING"]

PREPROCESSING = ("none", "pad32-standardize")


def prepare(name: str, *, data_dir=None, download: bool = False, preprocess: str = "none",
            subset: int | None = None):
    """(x_train, y_train, x_test, y_test) as NumPy arrays, and the Dataset they came from.

    ``pad32-standardize`` is the input pipeline of Shaham et al.'s code: zero-pad to 32x32,
    then subtract the training mean and divide by the training std (MNIST constants).
    ``subset`` keeps the first N training examples (the test set is never cut).
    """
    from refimpl.data import load  # noqa: PLC0415  (the package imports this module)
    if preprocess not in PREPROCESSING:
        raise ValueError(f"preprocess: expected one of {PREPROCESSING}, got {preprocess!r}")
    if subset is not None and subset < 1:
        raise ValueError(f"subset: expected a positive number of examples, got {subset}")
    ds = load(name, root=data_dir, download=download)
    x_train, y_train, x_test, y_test = ds.x_train, ds.y_train, ds.x_test, ds.y_test
    if preprocess == "pad32-standardize":
        mean, std = transforms.MNIST_PAD32_MEAN, transforms.MNIST_PAD32_STD
        x_train, x_test = (transforms.standardize(transforms.pad(x, 32), mean, std)
                           for x in (x_train, x_test))
    if subset is not None:
        x_train, y_train = x_train[:subset], y_train[:subset]
    return (x_train, y_train, x_test, y_test), ds


def to_backend(arrays, xp, *, dtype=None, device: Any = None) -> tuple:
    """NumPy ``arrays`` as arrays of ``xp`` on ``device``: floating ones as ``dtype`` (default:
    kept), integer ones (labels) as int64. One host-to-device copy each."""
    out = []
    for a in arrays:
        a = np.asarray(a)
        kind = dtype if np.issubdtype(a.dtype, np.floating) else xp.int64  # None: as it is
        out.append(xp.asarray(a, dtype=kind, device=device))
    return tuple(out)
