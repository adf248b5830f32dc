"""A tiny learnable MNIST look-alike in the original IDX .gz format, for the reproduce tests."""

import gzip
import struct

import numpy as np


def _idx(array):
    array = np.asarray(array, dtype=np.uint8)
    return struct.pack(">I", 0x800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) \
        + array.tobytes()


def write_synthetic_mnist(folder, n_train: int, n_test: int):
    """The four MNIST files in ``folder``: each class a bright band at its own rows, plus noise
    (labels 0..9 in turn). Returns ``folder``."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label:4 + 2 * label, 4:24] = 255
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels)))
    return folder
