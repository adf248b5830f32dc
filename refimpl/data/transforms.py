"""Image transforms on batches ``(N, C, H, W)``, written once for every array backend.

Each function takes its namespace from its input (``xp = get_namespace(x)``), returns a new
array of the same namespace and dtype, and never changes its input. Paper 001's authors pad
MNIST to 32x32 and standardise it; paper 000 crops STL-10 to 48x48, converts it to grey and
rescales it to [-1, 1]: both pipelines are compositions of the functions below.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from refimpl.backend import Array, check_floating, device_of, get_namespace

__all__ = ["pad", "center_crop", "to_grayscale", "rescale", "standardize", "unstandardize",
           "MNIST_PAD32_MEAN", "MNIST_PAD32_STD", "LUMA_BT601"]

# Mean and standard deviation (ddof=0) of every pixel of the 60000 MNIST training images,
# scaled to [0, 1] (pixel / 255) and zero-padded from 28x28 to 32x32, over all N * 32 * 32
# values, accumulated in float64. Computed once from the original IDX files with
#   x = pad(load("mnist").x_train, 32).astype(float64); x.mean(), x.std()
# (tests/data/test_transforms.py recomputes them when the files are present).
MNIST_PAD32_MEAN = 0.10003692801122026
MNIST_PAD32_STD = 0.2752173477194557

# Weights of R, G, B in the luma of ITU-R BT.601, the grey conversion of OpenCV, PIL ("L") and
# MXNet's image tools (paper 000 used MXNet and does not say which conversion it used).
LUMA_BT601 = (0.299, 0.587, 0.114)


def _check_images(x, name):
    if x.ndim != 4:
        raise ValueError(f"{name}: x: expected images (N, C, H, W), got shape {tuple(x.shape)}")


def _check_size(size, name):
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{name}: size: expected a positive int, got {size!r}")


def pad(x: Array, size: int) -> Array:
    """Zero-pad images ``(N, C, H, W)`` to ``(N, C, size, size)``, centred.

    An odd surplus puts the extra row (column) at the bottom (right). MNIST: 28 -> 32 adds two
    zero rows and columns on every side.

    Raises:
        ValueError: when ``size`` is smaller than H or W.
    """
    _check_images(x, "pad")
    _check_size(size, "pad")
    xp = get_namespace(x)
    n, c, h, w = x.shape
    if size < h or size < w:
        raise ValueError(f"pad: size {size} is smaller than the images ({h}x{w}); use center_crop")
    top, left = (size - h) // 2, (size - w) // 2
    out = xp.zeros((n, c, size, size), dtype=x.dtype, device=device_of(x))
    out[:, :, top:top + h, left:left + w] = x
    return out


def center_crop(x: Array, size: int) -> Array:
    """The central ``size x size`` window of images ``(N, C, H, W)``, as a new array.

    An odd surplus drops the extra row (column) at the bottom (right), mirroring :func:`pad`.
    The result is a copy, so the (larger) input can be freed.

    Raises:
        ValueError: when ``size`` is larger than H or W.
    """
    _check_images(x, "center_crop")
    _check_size(size, "center_crop")
    xp = get_namespace(x)
    h, w = x.shape[2:]
    if size > h or size > w:
        raise ValueError(f"center_crop: size {size} is larger than the images ({h}x{w}); use pad")
    top, left = (h - size) // 2, (w - size) // 2
    return xp.asarray(x[:, :, top:top + size, left:left + size], copy=True)


def to_grayscale(x: Array, weights: Sequence[float] = LUMA_BT601) -> Array:
    """Grey images ``(N, 1, H, W)`` from colour images ``(N, 3, H, W)``.

    grey = w_R * R + w_G * G + w_B * B, by default the BT.601 luma (``LUMA_BT601``), whose
    weights sum to 1 so the value range is kept.

    Raises:
        TypeError: for an integer array (convert to float first, to keep the fractions).
    """
    _check_images(x, "to_grayscale")
    check_floating(x, "to_grayscale")
    if x.shape[1] != len(weights):
        raise ValueError(f"to_grayscale: x: expected {len(weights)} channels, got {x.shape[1]}")
    xp = get_namespace(x)
    w = xp.reshape(xp.asarray(weights, dtype=x.dtype, device=device_of(x)), (1, len(weights), 1, 1))
    return xp.sum(x * w, axis=1, keepdims=True)


def rescale(x: Array, source: tuple[float, float], target: tuple[float, float]) -> Array:
    """Map values affinely from the interval ``source`` onto ``target``.

    ``rescale(x, (0, 255), (-1, 1))`` is x / 127.5 - 1 (paper 000's STL-10 range).
    """
    check_floating(x, "rescale")
    (a, b), (c, d) = source, target
    for label, (low, high) in (("source", source), ("target", target)):
        if not (math.isfinite(low) and math.isfinite(high) and low != high):
            raise ValueError(f"rescale: {label}: expected an interval (low, high) of finite, "
                             f"distinct ends, got {(low, high)}")
    return (x - a) * ((d - c) / (b - a)) + c


def _per_channel(x, value, name, *, positive=False):
    """A real scalar as a Python float, or a sequence of C values as an array (1, C, 1, 1);
    ``positive``: each value must be finite and > 0 (a standard deviation)."""
    values = [value] if isinstance(value, numbers.Real) else list(value)
    if positive and not all(math.isfinite(float(v)) and float(v) > 0 for v in values):
        raise ValueError(f"{name}: std: expected finite values > 0, got {value!r}")
    if isinstance(value, numbers.Real):
        return float(value)
    xp = get_namespace(x)
    value = xp.asarray(value, dtype=x.dtype, device=device_of(x))
    if x.ndim != 4 or value.shape != (x.shape[1],):
        raise ValueError(f"{name}: expected a scalar or one value per channel "
                         f"({x.shape[1] if x.ndim == 4 else '?'}), got shape {tuple(value.shape)}")
    return xp.reshape(value, (1, x.shape[1], 1, 1))


def standardize(x: Array, mean, std) -> Array:
    """(x - mean) / std, with ``mean`` and ``std`` scalars or one value per channel (axis 1).

    For paper 001's MNIST: ``standardize(pad(x, 32), MNIST_PAD32_MEAN, MNIST_PAD32_STD)``.
    """
    check_floating(x, "standardize")
    return (x - _per_channel(x, mean, "standardize")) / _per_channel(x, std, "standardize",
                                                                     positive=True)


def unstandardize(z: Array, mean, std) -> Array:
    """The inverse of :func:`standardize`: z * std + mean."""
    check_floating(z, "unstandardize")
    return (z * _per_channel(z, std, "unstandardize", positive=True)
            + _per_channel(z, mean, "unstandardize"))
