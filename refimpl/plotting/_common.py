"""What every figure shares: the resolution, saving, argument checks, and arrays as images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

DPI = 120  # every PNG is figsize (inches) * 120 pixels


def save(fig: Figure, path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders created as needed) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def require_items(mapping, name: str) -> None:
    """Raise a ValueError naming the argument when a mapping has nothing to draw."""
    if not hasattr(mapping, "items"):
        raise ValueError(f"{name} must be a mapping from a label to data, "
                         f"got {type(mapping).__name__}")
    if not mapping:
        raise ValueError(f"{name} is empty: nothing to draw")


def same_length(a, b, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Two 1-D float arrays of one length (x and y of a line), or a ValueError naming ``name``."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"{name}: {a.size} x values but {b.size} y values")
    return a, b


def as_images(a, name: str, image_shape=None) -> np.ndarray:
    """Images ready for ``imshow``: (n, H, W) gray or (n, H, W, 3) RGB.

    Args:
        a: (n, D) flat vectors, (n, H, W) gray images or (n, C, H, W) with C = 1 or 3 (NCHW).
        name: the argument's name, for error messages.
        image_shape: (H, W) or (C, H, W) for flat input; a square when None and D is one.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim == 2:
        if image_shape is None:
            side = math.isqrt(a.shape[1])
            if side * side != a.shape[1]:
                raise ValueError(f"{name}: {a.shape[1]} features is not a square; pass image_shape")
            image_shape = (side, side)
        if math.prod(image_shape) != a.shape[1]:
            raise ValueError(f"{name}: {a.shape[1]} features do not fit "
                             f"image_shape {tuple(image_shape)}")
        a = a.reshape(a.shape[0], *image_shape)
    if a.ndim == 4:
        if a.shape[1] not in (1, 3):
            raise ValueError(f"{name}: {a.shape[1]} channels in {a.shape}; "
                             "expected (n, C, H, W) with C = 1 (gray) or 3 (RGB)")
        a = a[:, 0] if a.shape[1] == 1 else a.transpose(0, 2, 3, 1)  # NCHW -> NHWC for imshow
    elif a.ndim != 3:
        raise ValueError(f"{name}: shape {a.shape}; expected (n, D), (n, H, W) or (n, C, H, W)")
    if a.shape[0] == 0:
        raise ValueError(f"{name} holds no examples")
    return a


def value_range(*arrays) -> tuple[float, float]:
    """The smallest and largest finite value over all arrays, widened when they coincide."""
    finite = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays])
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    return (low - 0.5, high + 0.5) if low == high else (low, high)


def show_image(ax, image: np.ndarray, vmin: float, vmax: float, cmap: str):
    """Draw one image on bare axes; gray through ``cmap`` in [vmin, vmax], RGB rescaled to it."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if image.ndim == 3:  # imshow ignores vmin/vmax for colour, so map [vmin, vmax] to [0, 1] here
        return ax.imshow(np.clip((image - vmin) / (vmax - vmin), 0, 1), interpolation="nearest")
    return ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
