"""MNIST from the four original IDX files, e.g. ``train-images-idx3-ubyte.gz``.

The IDX format (all integers big-endian): two zero bytes, one byte giving the element type
(``0x08`` = unsigned byte), one byte giving the number of dimensions d, then d uint32 sizes,
then the elements in C order. Read as one big-endian int, the first four bytes are therefore the
magic number ``0x00000803`` for an image file (N, 28, 28) and ``0x00000801`` for a label file
(N,). Every check below follows from that layout: the magic number, the dimensions, and that
the byte count equals header + N * 28 * 28 (or + N).

The files may be gzip'd (as distributed) or already decompressed (the same name without
``.gz``).
"""

from __future__ import annotations

import gzip
import math
import pathlib
import zlib

import numpy as np

from refimpl.data.dataset import Dataset, data_dir
from refimpl.data.download import fetch_missing

__all__ = ["load_mnist", "read_idx", "FILES", "BASE_URL", "IMAGES_MAGIC", "LABELS_MAGIC",
           "MAX_IDX_BYTES"]

BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
IMAGES_MAGIC = 0x803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x801  # unsigned bytes, 1 dimension
MAX_IDX_BYTES = 1 << 30  # 1 GiB; the largest MNIST-style file (60000 images) holds 47 MB

# Checksums of the original files (the md5 sums are also the ones torchvision checks).
FILES = {
    "train-images-idx3-ubyte.gz": {
        "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
    "train-labels-idx1-ubyte.gz": {
        "md5": "d53e105ee54ea40749a09fcbcd1e9432",
        "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
    "t10k-images-idx3-ubyte.gz": {
        "md5": "9fb629c4189551a2d022fa330f9573f3",
        "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
    "t10k-labels-idx1-ubyte.gz": {
        "md5": "ec29112dd5afa0611ce80d1b7f02629c",
        "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
}


def _open(path: pathlib.Path):
    """A binary stream of the (decompressed, if the name ends in .gz) content of ``path``."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115


def _read_up_to(stream, count: int) -> bytes:
    """At most ``count`` bytes of ``stream``, in 1 MiB pieces (fewer at the end of the data)."""
    parts, left = [], count
    while left > 0:
        piece = stream.read(min(left, 1 << 20))
        if not piece:
            break
        parts.append(piece)
        left -= len(piece)
    return b"".join(parts)


def read_idx(path, *, magic: int, item_shape: tuple[int, ...] = ()) -> np.ndarray:
    """Parse an unsigned-byte IDX file into a uint8 array ``(N, *item_shape)``.

    The file is streamed: the header is read and checked first, and exactly the number of bytes
    it announces (at most ``MAX_IDX_BYTES``) is decompressed, so a gzip bomb is refused after
    reading one byte past the announced size, not decompressed whole.

    Args:
        path: the file (gzip'd when its name ends in ``.gz``).
        magic: the expected magic number, ``IMAGES_MAGIC`` or ``LABELS_MAGIC``.
        item_shape: the expected sizes after the count, e.g. ``(28, 28)``; ``()`` for labels.

    Raises:
        ValueError: naming the file and what was expected, for a bad gzip stream, a wrong magic
            number, unexpected dimensions, or a byte count that does not match the header.
    """
    path = pathlib.Path(path)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    try:
        with _open(path) as stream:
            head = _read_up_to(stream, header)
            dims = _check_header(path, head, magic, ndim, header, item_shape)
            size = math.prod(dims)
            body = _read_up_to(stream, size)
            extra = _read_up_to(stream, 1)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise ValueError(f"{path}: not a valid gzip file ({err}); delete it and download or "
                         "copy it again") from err
    if len(body) != size or extra:
        found = f"more than {header + size}" if extra else f"{header + len(body)}"
        raise ValueError(f"{path}: {found} bytes, but its header {dims} needs {header + size} "
                         "(the file is truncated or corrupt)")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _check_header(path, head: bytes, magic: int, ndim: int, header: int, item_shape) -> tuple:
    """The dimensions announced by an IDX header, after checking magic, shape and size."""
    if len(head) < header:
        raise ValueError(f"{path}: truncated: expected an IDX header of {header} bytes, "
                         f"got {len(head)} bytes")
    found = int.from_bytes(head[:4], "big")
    if found != magic:
        raise ValueError(f"{path}: wrong magic number 0x{found:08x}, expected 0x{magic:08x} "
                         f"(an IDX file of unsigned bytes with {ndim} dimension(s))")
    dims = tuple(int(d) for d in np.frombuffer(head, dtype=">u4", count=ndim, offset=4))
    if dims[1:] != tuple(item_shape):
        expected = "(N, " + ", ".join(map(str, item_shape)) + ")" if item_shape else "(N,)"
        raise ValueError(f"{path}: dimensions {dims}, expected {expected}")
    if math.prod(dims) > MAX_IDX_BYTES:
        raise ValueError(f"{path}: its header announces {dims} = {math.prod(dims)} bytes, more "
                         f"than the {MAX_IDX_BYTES} bytes allowed; not an MNIST file")
    return dims


def _find(root: pathlib.Path, name: str) -> pathlib.Path | None:
    for candidate in (root / name, root / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _read_split(root, images_name, labels_name):
    """Images float32 (N, 1, 28, 28) in [0, 1] and labels int64 (N,) of one split."""
    images_path, labels_path = _find(root, images_name), _find(root, labels_name)
    images = read_idx(images_path, magic=IMAGES_MAGIC, item_shape=(28, 28))
    labels = read_idx(labels_path, magic=LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
                         f"{labels.shape[0]} labels; expected the same count")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: label {labels.max()} found, expected digits 0..9")
    x = (images.astype(np.float32) / np.float32(255.0))[:, None, :, :]  # (N, 1, 28, 28)
    return x, labels.astype(np.int64)


def load_mnist(root=None, *, download: bool = False, mirror: str | None = None) -> Dataset:
    """MNIST: 60000 training and 10000 test images of handwritten digits.

    Args:
        root: the folder holding the four IDX files; default ``data_dir() / "mnist"``.
        download: fetch missing files (checked against their md5 and sha256) from
            ``BASE_URL`` or ``mirror``.
        mirror: a base URL holding the same file names (see :mod:`refimpl.data.download`).

    Returns:
        A :class:`Dataset` with images float32 ``(N, 1, 28, 28)`` = pixel / 255 in [0, 1] and
        labels int64 in 0..9.

    Raises:
        FileNotFoundError: a file is missing and ``download`` is False.
        ValueError: a file is corrupt (see :func:`read_idx`).
    """
    root = pathlib.Path(root) if root is not None else data_dir() / "mnist"
    if download:
        missing = {name: d for name, d in FILES.items() if _find(root, name) is None}
        fetch_missing(root, missing, default_base=BASE_URL, mirror=mirror)
    missing = [name for name in FILES if _find(root, name) is None]
    if missing:
        raise FileNotFoundError(
            f"MNIST: {', '.join(missing)} not found in {root}. Pass root=<folder with the four "
            "IDX files>, set REFIMPL_DATA to a folder whose mnist/ subfolder holds them, or "
            "call with download=True.")
    x_train, y_train = _read_split(root, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    x_test, y_test = _read_split(root, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    info = {"source": f"original IDX files in {root} (LeCun, Cortes, Burges; CC BY-SA 3.0)",
            "scaling": "pixel / 255, float32 in [0, 1]",
            "split": "the official 60000 / 10000 split"}
    return Dataset("mnist", x_train, y_train, x_test, y_test, 10, info)
