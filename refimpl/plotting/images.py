"""Image grids: perturbed examples side by side, and magnified perturbations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from refimpl.plotting._common import as_images, require_items, save, show_image, value_range


def example_grid(rows: Mapping[str, np.ndarray], path, *,
                 labels: Mapping[str, Sequence] | None = None, image_shape: tuple | None = None,
                 title: str = "", cmap: str = "gray", vrange: tuple | None = None) -> Path:
    """The same examples under several perturbations, one row per set (paper 000 Figs. 2-3).

    Row names are written on the left; column j shows example j of every row. All gray images
    share one value range (the finite minimum and maximum over every row, or ``vrange``), so
    a perturbation's contrast is comparable between rows; RGB images are rescaled by it too.
    Each image takes about 1 x 1 inch.

    Args:
        rows: row name (e.g. "clean", "Goodfellow", "K-support", "URN") -> n examples, each
            array (n, D), (n, H, W) or (n, C, H, W) with C = 1 (drawn with ``cmap``) or 3 (RGB);
            every row holds the same n.
        path: where the PNG goes; folders are created.
        labels: row name -> n captions (e.g. predicted labels) written under that row's images.
        image_shape: (H, W) or (C, H, W) for flat (n, D) rows; a square when None and D is one.
        title: a title over the grid.
        cmap: the colormap for gray images.
        vrange: ``(low, high)`` to fix the value range instead.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return save(_example_grid_figure(rows, labels, image_shape, title, cmap, vrange), path)


def _example_grid_figure(rows, labels=None, image_shape=None, title="", cmap="gray",
                         vrange=None) -> Figure:
    require_items(rows, "rows")
    images = {name: as_images(a, f"rows[{name!r}]", image_shape) for name, a in rows.items()}
    counts = {name: len(batch) for name, batch in images.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"rows hold different numbers of examples: {counts}")
    n = len(next(iter(images.values())))
    labels = dict(labels or {})
    for name, captions in labels.items():
        if name not in rows:
            raise ValueError(f"labels[{name!r}] names no row; the rows are {list(rows)}")
        _check_captions(captions, n, f"labels[{name!r}]")
    vmin, vmax = value_range(*images.values()) if vrange is None else _check_vrange(vrange)
    fig, axes = _grid(len(images), n, captions=bool(labels), title=title)
    for r, (name, batch) in enumerate(images.items()):
        axes[r, 0].set_ylabel(name)
        for j in range(n):
            show_image(axes[r, j], batch[j], vmin, vmax, cmap)
            if name in labels:
                axes[r, j].set_xlabel(str(labels[name][j]), fontsize=8)
    return fig


def perturbation_grid(x: np.ndarray, delta: np.ndarray, path, *, magnify: float | None = None,
                      image_shape: tuple | None = None, captions: Sequence[str] | None = None,
                      title: str = "") -> Path:
    """Originals, their magnified perturbations and the perturbed inputs (paper 003 Figs. 3-4).

    Three rows of n columns: ``x``; ``delta`` through a diverging colormap (blue negative,
    white 0, red positive) with limits symmetric about 0; and ``x + delta``. The rows of
    images share one gray value range. "Magnified ×f" means a perturbation of (range of x) / f
    fills the colour scale: by default f makes the largest |delta| fill it; ``magnify`` fixes f,
    so that figures drawn with the same f compare (larger values saturate). The colourbar reads
    ``delta`` in the input's units. RGB perturbations are drawn per channel about mid-grey.

    Args:
        x: n inputs, (n, D), (n, H, W) or (n, C, H, W) with C = 1 or 3.
        delta: n perturbations, the shape of ``x``.
        path: where the PNG goes; folders are created.
        magnify: the factor f; None to fit the largest |delta|.
        image_shape: (H, W) or (C, H, W) for flat (n, D) input; a square when None and D is one.
        captions: n captions (e.g. "7 → 3") written under the perturbed images.
        title: a title over the grid.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return save(_perturbation_grid_figure(x, delta, magnify, image_shape, captions, title), path)


def _perturbation_grid_figure(x, delta, magnify=None, image_shape=None, captions=None,
                              title="") -> Figure:
    x, delta = np.asarray(x, dtype=float), np.asarray(delta, dtype=float)
    if x.shape != delta.shape:
        raise ValueError(f"x and delta must have one shape, "
                         f"got x {x.shape} and delta {delta.shape}")
    if magnify is not None and not magnify > 0:
        raise ValueError(f"magnify must be positive, got {magnify}")
    originals, deltas = as_images(x, "x", image_shape), as_images(delta, "delta", image_shape)
    perturbed = originals + deltas
    n = len(originals)
    if captions is not None:
        _check_captions(captions, n, "captions")
    vmin, vmax = value_range(originals, perturbed)
    low, high = value_range(originals)
    largest = float(np.max(np.abs(deltas), initial=0.0, where=np.isfinite(deltas)))
    factor = magnify if magnify is not None else ((high - low) / largest if largest > 0 else 1.0)
    limit = (high - low) / factor  # colour limits of delta: +-limit, centred at 0
    gray = deltas.ndim == 3  # a colourbar in delta's units; RGB has no single colormap
    fig, axes = _grid(3, n, captions=captions is not None, title=title, colourbar=gray)
    for r, name in enumerate(["x", f"delta ×{factor:.3g}", "x + delta"]):
        axes[r, 0].set_ylabel(name)
    for j in range(n):
        show_image(axes[0, j], originals[j], vmin, vmax, "gray")
        shown = show_image(axes[1, j], deltas[j], -limit, limit, "RdBu_r")
        axes[1, j].spines[:].set_visible(True)  # a thin frame: delta is white where it is 0
        axes[1, j].spines[:].set_color("0.8")
        show_image(axes[2, j], perturbed[j], vmin, vmax, "gray")
        if captions is not None:
            axes[2, j].set_xlabel(str(captions[j]), fontsize=8)
    if gray:
        fig.colorbar(shown, ax=list(axes[1]), shrink=0.9, label="delta")
    return fig


def _grid(n_rows: int, n_cols: int, *, captions: bool, title: str, colourbar: bool = False):
    """A figure of about 1 x 1 inch per image, and its (n_rows, n_cols) axes."""
    width = 0.75 + n_cols + (0.75 if colourbar else 0)
    height = n_rows * (1.25 if captions else 1.0) + (0.5 if title else 0.25)
    fig = Figure(figsize=(width, height), layout="constrained")
    if title:
        fig.suptitle(title)
    return fig, fig.subplots(n_rows, n_cols, squeeze=False)


def _check_captions(captions, n: int, name: str) -> None:
    if isinstance(captions, str) or len(captions) != n:
        raise ValueError(f"{name} must be a sequence of {n} captions, one per example")


def _check_vrange(vrange) -> tuple[float, float]:
    if len(vrange) != 2 or not float(vrange[0]) < float(vrange[1]):
        raise ValueError(f"vrange must be (low, high) with low < high, got {tuple(vrange)}")
    return float(vrange[0]), float(vrange[1])
