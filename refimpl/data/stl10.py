"""STL-10 from its binary version, with paper 000's preprocessing.

Files (in ``root/stl10_binary/`` or directly in ``root``): ``train_X.bin`` (5000 images),
``train_y.bin``, ``test_X.bin`` (8000 images), ``test_y.bin``. An image file is raw uint8, 96 *
96 * 3 = 27648 bytes per image; each image holds the red, green and blue planes in turn, and
each plane is stored column-major (the Matlab order the set was made in). Read in C order as
``(N, 3, 96, 96)`` the last two axes are therefore (column, row), and one transpose gives the
usual ``(N, C, H, W)``. A label file holds one uint8 per image, the classes numbered 1..10;
they become 0..9 here.

Paper 000 (sec. IV-A) "cropped each image to be of size 48x48 pixels, converted them to
grey-scale and normalized it to be in range of -1 to 1". It does not say where the crop is
taken or which grey conversion is used; :func:`preprocess` takes the central window and the
BT.601 luma (see :mod:`refimpl.data.transforms`) and maps 0..255 linearly onto [-1, 1].
"""

from __future__ import annotations

import pathlib

import numpy as np

from refimpl.data.archive import extract_members
from refimpl.data.dataset import Dataset, data_dir
from refimpl.data.download import fetch_missing
from refimpl.data.transforms import center_crop, rescale, to_grayscale

__all__ = ["load_stl10", "read_images", "read_labels", "preprocess", "ARCHIVE", "ARCHIVE_MD5",
           "BASE_URL", "CLASSES", "IMAGE_BYTES"]

BASE_URL = "http://ai.stanford.edu/~acoates/stl10/"
ARCHIVE = "stl10_binary.tar.gz"
ARCHIVE_MD5 = "91f7769df0f17e558f3565bffb0c7dfb"  # the sum torchvision checks
FOLDER = "stl10_binary"
FILES = ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin")
IMAGE_BYTES = 3 * 96 * 96
CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
_MAX_MEMBER_BYTES = 256 << 20  # test_X.bin, the largest member read, is 221 MB


def read_images(path) -> np.ndarray:
    """Images uint8 ``(N, 3, 96, 96)`` (N, C, H, W) from an STL-10 ``*_X.bin`` file.

    Raises:
        ValueError: naming the file when its size is not a multiple of 96 * 96 * 3 bytes.
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % IMAGE_BYTES:
        raise ValueError(f"{path}: {raw.size} bytes is not a whole number of 96x96x3 images "
                         f"({IMAGE_BYTES} bytes each); the file is truncated or corrupt")
    columns_first = raw.reshape(-1, 3, 96, 96)  # (N, C, W, H): planes are column-major
    return np.ascontiguousarray(columns_first.transpose(0, 1, 3, 2))  # (N, C, H, W)


def read_labels(path) -> np.ndarray:
    """Labels int64 ``(N,)`` in 0..9 from an STL-10 ``*_y.bin`` file (stored as 1..10).

    Raises:
        ValueError: naming the file when a label lies outside 1..10.
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size and (raw.min() < 1 or raw.max() > 10):
        raise ValueError(f"{path}: labels should lie in 1..10, found {raw.min()}..{raw.max()}")
    return raw.astype(np.int64) - 1


def preprocess(images: np.ndarray, size: int = 48) -> np.ndarray:
    """Paper 000's preprocessing: central ``size x size`` crop, grey, 0..255 mapped onto [-1, 1].

    Args:
        images: uint8 ``(N, 3, H, W)``.

    Returns:
        float32 ``(N, 1, size, size)`` in [-1, 1].
    """
    cropped = center_crop(images, size).astype(np.float32)  # crop first: 4x less to convert
    return rescale(to_grayscale(cropped), (0.0, 255.0), (-1.0, 1.0))


def _folder(root: pathlib.Path) -> pathlib.Path | None:
    for folder in (root / FOLDER, root):
        if all((folder / name).is_file() for name in FILES):
            return folder
    return None


def _split(folder, part, size, paper):
    images_path, labels_path = folder / f"{part}_X.bin", folder / f"{part}_y.bin"
    images, labels = read_images(images_path), read_labels(labels_path)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
                         f"{labels.shape[0]} labels; expected the same count")
    if paper:
        return preprocess(images, size), labels
    return images.astype(np.float32) / np.float32(255.0), labels


def load_stl10(root=None, *, download: bool = False, mirror: str | None = None,
               paper_preprocessing: bool = True, size: int = 48) -> Dataset:
    """STL-10's labelled images: 5000 for training, 8000 for testing, 10 classes.

    Args:
        root: a folder holding ``stl10_binary/`` (or its files, or ``stl10_binary.tar.gz``,
            whose four labelled-set files are then extracted into ``stl10_binary/``); default
            ``data_dir() / "stl10"``.
        download: fetch the 2.6 GB archive (md5-checked) when the files are missing; it is
            kept beside the extracted files.
        mirror: a base URL holding the archive under its own name.
        paper_preprocessing: apply :func:`preprocess` (the default, as in paper 000);
            False gives the colour images float32 ``(N, 3, 96, 96)`` = pixel / 255.
        size: the side of the central crop.

    Returns:
        A :class:`Dataset` with images float32 ``(N, 1, size, size)`` in [-1, 1] and labels
        int64 in 0..9 (names in ``info["classes"]``).

    Raises:
        FileNotFoundError: the files are missing and ``download`` is False.
        ValueError: a file or the archive is corrupt.
    """
    root = pathlib.Path(root) if root is not None else data_dir() / "stl10"
    if _folder(root) is None and download and not (root / ARCHIVE).is_file():
        fetch_missing(root, {ARCHIVE: {"md5": ARCHIVE_MD5}}, default_base=BASE_URL, mirror=mirror)
    if _folder(root) is None and (root / ARCHIVE).is_file():
        extract_members(root / ARCHIVE, FOLDER, FILES, root / FOLDER, max_bytes=_MAX_MEMBER_BYTES)
    folder = _folder(root)
    if folder is None:
        raise FileNotFoundError(
            f"STL-10: {', '.join(FILES)} not found in {root / FOLDER} or {root}, and no "
            f"{ARCHIVE} there. Pass root=<folder>, set REFIMPL_DATA to a folder whose stl10/ "
            "subfolder holds them, or call with download=True.")
    x_train, y_train = _split(folder, "train", size, paper_preprocessing)
    x_test, y_test = _split(folder, "test", size, paper_preprocessing)
    scaling = (f"central {size}x{size} crop, BT.601 grey, 0..255 mapped onto [-1, 1] (paper 000)"
               if paper_preprocessing else "colour 96x96, pixel / 255 in [0, 1]")
    info = {"source": f"STL-10 binary files in {folder} (Coates, Lee, Ng 2011)",
            "scaling": scaling, "classes": CLASSES,
            "split": "the official labelled 5000 / 8000 split (unlabeled set not loaded)"}
    return Dataset("stl10", x_train, y_train, x_test, y_test, 10, info)
