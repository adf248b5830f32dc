"""Random noise baselines: uniform noise of a given l2 magnitude (URN) and Gaussian noise.

URN (paper 000): each entry is drawn from U(-sqrt 3, sqrt 3), which has zero mean and unit
variance, and each example is then rescaled to l2 norm ``radius``, "the same magnitude as the
adversarial noise". Gaussian noise (paper 003) has per-entry standard deviation ``sigma`` and
is not rescaled (the authors' code of paper 000 also used Gaussian noise, std 1.7).

Both take an explicit :class:`refimpl.backend.Random` and either a shape or an array ``like``
whose shape, dtype and namespace the noise takes.
"""

from __future__ import annotations

import math
from typing import Any

from refimpl.backend import Random, get_namespace

from ._batch import check_radius, to_l2

Array = Any

__all__ = ["uniform_noise", "gaussian_noise"]


def _shape_and_dtype(rng: Random, shape_or_like: Any, dtype: Any):
    """(shape, dtype) from a shape tuple or from an array of ``rng``'s namespace."""
    if not isinstance(rng, Random):
        raise TypeError(f"rng: expected a refimpl.backend.Random (make_rng(seed, xp)), got "
                        f"{type(rng).__name__}")
    if isinstance(shape_or_like, (tuple, list)):
        shape, dtype = tuple(shape_or_like), dtype or rng.xp.float32
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise ValueError(f"shape_or_like: expected a shape of ints >= 0, got {shape!r}")
    else:
        like = shape_or_like
        if get_namespace(like, name="like") is not get_namespace(rng.xp.zeros(0, device=rng.device)):
            raise TypeError("rng, like: the generator draws in a different array library than "
                            "the array given; make the rng with make_rng(seed, "
                            "get_namespace(like))")
        shape, dtype = tuple(like.shape), dtype or like.dtype
    if not rng.xp.isdtype(dtype, "real floating"):
        raise TypeError(f"dtype: expected a floating dtype for noise, got {dtype}")
    return shape, dtype


def uniform_noise(rng: Random, shape_or_like: Any, radius: Any = None, *,
                  dtype: Any = None) -> Array:
    """Uniform random noise (URN) with zero mean and unit variance per entry.

    Args:
        rng: the generator (its namespace is the namespace of the result).
        shape_or_like: a shape (N, ...) or an array to take shape and dtype from.
        radius: if given (a number >= 0 or (N,)), each example is rescaled to this l2 norm.
        dtype: the dtype (default float32, or that of ``like``).

    Returns:
        (N, ...) draws of U(-sqrt 3, sqrt 3), rescaled per example when ``radius`` is given.
    """
    shape, dtype = _shape_and_dtype(rng, shape_or_like, dtype)
    half_width = math.sqrt(3.0)  # U(-a, a) has variance a^2 / 3
    noise = rng.uniform(shape, low=-half_width, high=half_width, dtype=dtype)
    if radius is None:
        return noise
    return to_l2(noise, check_radius(radius, noise))


def gaussian_noise(rng: Random, shape_or_like: Any, sigma: float, *, dtype: Any = None) -> Array:
    """Gaussian noise N(0, sigma^2) per entry, independent across entries.

    Args:
        rng: the generator; shape_or_like: a shape or an array to take shape and dtype from.
        sigma: the per-entry standard deviation, >= 0.
        dtype: the dtype (default float32, or that of ``like``).

    Returns:
        (N, ...) draws; the expected squared l2 norm per example is sigma^2 * D.
    """
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (
            math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma: expected a finite number >= 0, got {sigma!r}")
    shape, dtype = _shape_and_dtype(rng, shape_or_like, dtype)
    return rng.normal(shape, dtype=dtype, scale=float(sigma))
