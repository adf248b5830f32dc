"""Data sets as NumPy arrays: digits (bundled), MNIST, CIFAR-10, STL-10, and synthetic sets.

``load(name)`` returns a :class:`Dataset` of float32 images ``(N, C, H, W)`` and int64 labels.
Files are looked for in ``root`` (default ``data_dir() / name``, where ``data_dir()`` is
``$REFIMPL_DATA`` or ``~/.cache/refimpl``) and, with ``download=True``, fetched with a
checksum from the official address or a mirror (``mirror=`` or ``$REFIMPL_MIRROR``).
Data stay NumPy; a program on another backend converts them once, at the edge.

Modules: :mod:`~refimpl.data.dataset` (the container), one module per data set,
:mod:`~refimpl.data.download` and :mod:`~refimpl.data.archive` (fetching and unpacking),
:mod:`~refimpl.data.transforms` (padding, cropping, grey, standardising: any backend) and
:mod:`~refimpl.data.synthetic`.
"""

from __future__ import annotations

from refimpl.data.cifar10 import load_cifar10
from refimpl.data.dataset import Dataset, data_dir
from refimpl.data.digits import load_digits
from refimpl.data.download import DownloadError, fetch
from refimpl.data.mnist import load_mnist
from refimpl.data.stl10 import load_stl10
from refimpl.data.synthetic import blob_images, gaussian_blobs, linearly_separable
from refimpl.data.transforms import (LUMA_BT601, MNIST_PAD32_MEAN, MNIST_PAD32_STD, center_crop,
                                     pad, rescale, standardize, to_grayscale, unstandardize)

__all__ = [
    "Dataset", "load", "data_dir", "NAMES", "fetch", "DownloadError",
    "load_digits", "load_mnist", "load_cifar10", "load_stl10",
    "pad", "center_crop", "to_grayscale", "rescale", "standardize", "unstandardize",
    "MNIST_PAD32_MEAN", "MNIST_PAD32_STD", "LUMA_BT601",
    "linearly_separable", "gaussian_blobs", "blob_images",
]

NAMES = ("digits", "mnist", "cifar10", "stl10")


def load(name: str, *, root=None, download: bool = False, mirror: str | None = None) -> Dataset:
    """Load the data set ``name``: one of ``"digits"``, ``"mnist"``, ``"cifar10"``, ``"stl10"``.

    Args:
        name: the data set.
        root: the folder holding its files; default ``data_dir() / name``. Ignored for digits,
            which ships with scikit-learn.
        download: fetch missing files (checksum-verified) into ``root``.
        mirror: a base URL holding the original file names, instead of the official one.

    Returns:
        A :class:`Dataset` (images float32 ``(N, C, H, W)``, labels int64 ``(N,)``); see each
        loader for the scaling, also recorded in ``dataset.info["scaling"]``.

    Raises:
        ValueError: for an unknown name (the message lists the choices), or a corrupt file.
        FileNotFoundError: files are missing and ``download`` is False.
    """
    if name == "digits":
        return load_digits()
    loaders = {"mnist": load_mnist, "cifar10": load_cifar10, "stl10": load_stl10}
    if name not in loaders:
        raise ValueError(f"name: unknown data set {name!r}; choose one of {', '.join(NAMES)}")
    return loaders[name](root, download=download, mirror=mirror)
