"""theory.mnist_idx: the fallback IDX reader, on tiny files written here (never real MNIST)."""

import gzip
import struct

import numpy as np
import pytest

from theory import mnist_idx


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake_mnist(root, n_train=5, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.integers(0, 256, size=(n_train, 28, 28)),
              "y_train": rng.integers(0, 10, size=n_train),
              "x_test": rng.integers(0, 256, size=(n_test, 28, 28)),
              "y_test": rng.integers(0, 10, size=n_test)}
    for name, file in mnist_idx.FILES.items():
        (root / file).write_bytes(gzip.compress(idx_bytes(arrays[name])))
    return arrays


def test_reads_fake_mnist(tmp_path):
    arrays = write_fake_mnist(tmp_path)
    data = mnist_idx.load_mnist(tmp_path, prefer_refimpl=False)
    assert data["x_train"].shape == (5, 784) and data["x_train"].dtype == np.float64
    np.testing.assert_allclose(data["x_train"] * 255, arrays["x_train"].reshape(5, 784))
    np.testing.assert_array_equal(data["y_test"], arrays["y_test"])
    assert data["y_train"].dtype == np.int64 and data["num_classes"] == 10


@pytest.mark.parametrize("corrupt, message", [
    (lambda raw: b"\x01" + raw[1:], "not an IDX file"),
    (lambda raw: raw[:2] + b"\x0d" + raw[3:], "type code"),
    (lambda raw: raw[:-7], "bytes, the header"),
    (lambda raw: raw[:6], "truncated"),
])
def test_bad_files_give_clear_errors(tmp_path, corrupt, message):
    path = tmp_path / "bad-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(corrupt(idx_bytes(np.arange(20).reshape(4, 5)))))
    with pytest.raises(ValueError, match=message):
        mnist_idx.read_idx(path)
