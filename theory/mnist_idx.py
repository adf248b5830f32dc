"""A small reader for the original MNIST IDX files, so `theory` needs no other loader.

``load_mnist(root)`` prefers ``refimpl.data.load("mnist", root=root)`` when that loader is
available and falls back to reading the four gzip'd IDX files itself. The IDX format: a
big-endian header (two zero bytes, a type code 0x08 for unsigned bytes, the number of
dimensions) followed by one uint32 per dimension, then the raw bytes in C order.
"""

from __future__ import annotations

import gzip
import pathlib

import numpy as np

FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def read_idx(path) -> np.ndarray:
    """Read one gzip'd (or plain) IDX file of unsigned bytes into a uint8 array.

    Raises ValueError naming the file when the magic number, the type code or the length does
    not match the header.
    """
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (the first two bytes must be zero)")
    if raw[2] != 0x08:
        raise ValueError(f"{path}: IDX type code {raw[2]:#x}, expected 0x08 (unsigned byte)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise ValueError(f"{path}: {len(raw)} bytes, the header {shape} implies {expected}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist(root, *, prefer_refimpl: bool = True) -> dict:
    """MNIST as a dict: x_train (60000, 784) float64 in [0, 1] (pixel / 255), y_train int64,
    x_test (10000, 784), y_test, num_classes = 10.

    The images are flattened because `theory` only fits linear models on them.
    """
    if prefer_refimpl:
        try:
            from refimpl.data import load  # noqa: PLC0415  (optional: written in parallel)
            data = load("mnist", root=root)
            return {"x_train": np.asarray(data.x_train, dtype=np.float64).reshape(-1, 784),
                    "y_train": np.asarray(data.y_train, dtype=np.int64),
                    "x_test": np.asarray(data.x_test, dtype=np.float64).reshape(-1, 784),
                    "y_test": np.asarray(data.y_test, dtype=np.int64),
                    "num_classes": int(data.num_classes)}
        except (ImportError, AttributeError):
            pass
    root = pathlib.Path(root)
    arrays = {name: read_idx(root / file) for name, file in FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.shape[0] != y.shape[0] or x.shape[1:] != (28, 28):
            raise ValueError(f"MNIST {split}: images {x.shape} and labels {y.shape} do not match")
    return {"x_train": arrays["x_train"].reshape(-1, 784) / 255.0,
            "y_train": arrays["y_train"].astype(np.int64),
            "x_test": arrays["x_test"].reshape(-1, 784) / 255.0,
            "y_test": arrays["y_test"].astype(np.int64),
            "num_classes": 10}
