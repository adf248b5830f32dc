"""Seeded synthetic data for the theory package and for fast tests.

Everything is drawn from ``numpy.random.default_rng(seed)``, so one seed gives one data set.
"""

from __future__ import annotations

import math

import numpy as np

from refimpl.data.dataset import Dataset

__all__ = ["linearly_separable", "gaussian_blobs", "blob_images"]


def _balanced_labels(rng, n, values):
    """n labels cycling through ``values`` (class sizes differ by at most one), shuffled."""
    return rng.permutation(np.resize(np.asarray(values), n))


def linearly_separable(n: int, d: int, *, margin: float, seed: int,
                       spread: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points separated by a hyperplane through the origin with a known margin.

    A unit normal w is drawn at random; each point is x = z + y t w with z ~ N(0, spread^2 I)
    projected onto the hyperplane w^T x = 0 and t = margin + spread |e|, e ~ N(0, 1), shifted
    so that the smallest t equals ``margin``. Hence y_i <w, x_i> = t_i and

        min_i y_i <w, x_i> = margin   (exactly, up to rounding),

    which is the geometric margin of w (||w||_2 = 1). The classes have n // 2 and n - n // 2
    points.

    Args:
        n: number of points (>= 1).
        d: dimension (>= 1).
        margin: the margin, >= 0.
        seed: seed of the generator.
        spread: scale of the points along and across the hyperplane.

    Returns:
        ``(X, y, w)``: X float64 ``(n, d)``, y float64 ``(n,)`` in {-1, +1}, w float64
        ``(d,)`` with unit l2 norm.
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (n, d)) or n < 1 or d < 1 \
            or not margin >= 0:
        raise ValueError(f"linearly_separable: expected n >= 1, d >= 1, margin >= 0; "
                         f"got n={n}, d={d}, margin={margin}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    y = _balanced_labels(rng, n, [1.0, -1.0])
    z = spread * rng.standard_normal((n, d))
    z -= np.outer(z @ w, w)  # remove the component along w: z lies in the hyperplane
    t = spread * np.abs(rng.standard_normal(n))
    t += margin - t.min()  # distances to the hyperplane, the smallest exactly `margin`
    return z + (y * t)[:, None] * w, y, w


def gaussian_blobs(n: int, d: int, num_classes: int, *, seed: int, scale: float = 1.0,
                   separation: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters, one per class.

    Class centres are drawn from N(0, separation^2 I); a point of class k is
    centre_k + N(0, scale^2 I). Classes are balanced (sizes differ by at most one).

    Args:
        n: number of points.
        d: dimension.
        num_classes: number of classes K.
        seed: seed of the generator.
        scale: standard deviation of each cluster.
        separation: standard deviation of the centres; larger means easier.

    Returns:
        ``(X, y)``: X float64 ``(n, d)``, y int64 ``(n,)`` in 0..K-1.
    """
    for label, value in (("n", n), ("d", d), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"gaussian_blobs: {label}: expected a positive int, got {value!r}")
    rng = np.random.default_rng(seed)
    centres = separation * rng.standard_normal((num_classes, d))
    y = _balanced_labels(rng, n, np.arange(num_classes, dtype=np.int64))
    return centres[y] + scale * rng.standard_normal((n, d)), y


def blob_images(n_train: int, n_test: int, *, input_shape=(1, 8, 8), num_classes: int = 3,
                seed: int = 0, scale: float = 1.0, separation: float = 4.0) -> Dataset:
    """A tiny image :class:`Dataset` of Gaussian blobs, for quick tests of training code.

    :func:`gaussian_blobs` in dimension C * H * W, reshaped to images and cast to float32;
    training and test points come from the same clusters.

    Returns:
        A :class:`Dataset` named ``"blobs"``: images float32 ``(N, C, H, W)``, labels int64.
    """
    for label, value in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"blob_images: {label}: expected a positive int, got {value!r}")
    x, y = gaussian_blobs(n_train + n_test, math.prod(input_shape), num_classes, seed=seed,
                          scale=scale, separation=separation)
    x = x.astype(np.float32).reshape(-1, *input_shape)
    info = {"source": f"refimpl.data.synthetic.blob_images(seed={seed})",
            "scaling": f"Gaussian clusters, centres ~ N(0, {separation}^2), spread {scale}"}
    return Dataset("blobs", x[:n_train], y[:n_train], x[n_train:], y[n_train:], num_classes, info)
