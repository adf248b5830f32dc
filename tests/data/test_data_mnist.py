"""MNIST IDX parsing: a tiny generated set, every error path, and the real files when present."""

import gzip

import numpy as np
import pytest
from data_writers import MNIST_NAMES, REAL_MNIST, idx_bytes, write_mnist

from refimpl.data import load
from refimpl.data.download import verify
from refimpl.data.mnist import FILES, IMAGES_MAGIC, LABELS_MAGIC, load_mnist, read_idx

TRAIN_IMAGES, TRAIN_LABELS = MNIST_NAMES["train"]


def test_tiny_set_round_trips(tmp_path):
    written = write_mnist(tmp_path, n_train=12, n_test=7)
    ds = load_mnist(tmp_path)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.shape == (12, 1, 28, 28) and ds.x_test.shape == (7, 1, 28, 28)
    assert ds.input_shape == (1, 28, 28) and ds.num_classes == 10
    for split, (images, labels) in written.items():
        x, y = getattr(ds, f"x_{split}"), getattr(ds, f"y_{split}")
        np.testing.assert_allclose(x[:, 0], images / np.float32(255), rtol=1e-7)
        np.testing.assert_array_equal(y, labels)


def test_uncompressed_files_are_accepted(tmp_path):
    written = write_mnist(tmp_path)
    for path in list(tmp_path.iterdir()):
        path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    ds = load_mnist(tmp_path)
    np.testing.assert_array_equal(ds.y_test, written["test"][1])


def test_env_var_sets_the_default_folder(tmp_path, monkeypatch):
    write_mnist(tmp_path / "mnist", n_train=5, n_test=3)
    monkeypatch.setenv("REFIMPL_DATA", str(tmp_path))
    assert load("mnist").x_train.shape[0] == 5


def test_missing_files_say_where_and_how_to_fix(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / TRAIN_LABELS).unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_mnist(tmp_path)
    message = str(err.value)
    for hint in (str(tmp_path), TRAIN_LABELS, "root=", "REFIMPL_DATA", "download=True"):
        assert hint in message


def _replace(tmp_path, name, raw, compress=True):
    write_mnist(tmp_path)
    (tmp_path / name).write_bytes(gzip.compress(raw) if compress else raw)
    return tmp_path / name


@pytest.mark.parametrize("name, raw, expected", [
    (TRAIN_IMAGES, idx_bytes(np.zeros((12, 28, 28)), magic=LABELS_MAGIC),
     "magic number 0x00000801"),
    (TRAIN_LABELS, idx_bytes(np.zeros((12, 28, 28))), "magic number 0x00000803"),
    (TRAIN_IMAGES, idx_bytes(np.zeros((12, 28, 28)))[:-5], "truncated"),
    (TRAIN_LABELS, idx_bytes(np.zeros(12))[:6], "truncated"),
    (TRAIN_IMAGES, idx_bytes(np.zeros((12, 28, 28))) + b"\0", "needs"),
    (TRAIN_IMAGES, idx_bytes(np.zeros((12, 27, 28))), "expected (N, 28, 28)"),
    (TRAIN_LABELS, idx_bytes(np.zeros(11)), "11 labels"),
    (TRAIN_LABELS, idx_bytes(np.full(12, 10)), "label 10"),
])
def test_corrupt_contents_name_the_file_and_the_expectation(tmp_path, name, raw, expected):
    path = _replace(tmp_path, name, raw)
    with pytest.raises(ValueError) as err:
        load_mnist(tmp_path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


@pytest.mark.parametrize("raw", [b"not gzip at all", gzip.compress(idx_bytes(np.zeros(12)))[:-12]],
                         ids=["garbage", "cut-gzip-stream"])
def test_bad_gzip_is_a_value_error_naming_the_file(tmp_path, raw):
    path = _replace(tmp_path, TRAIN_LABELS, raw, compress=False)
    with pytest.raises(ValueError, match="gzip") as err:
        load_mnist(tmp_path)
    assert str(path) in str(err.value)


def test_read_idx_returns_the_header_shape(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    out = read_idx(tmp_path / "labels", magic=LABELS_MAGIC)
    assert out.dtype == np.uint8 and out.shape == (10,)
    np.testing.assert_array_equal(out, labels)
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "labels", magic=IMAGES_MAGIC, item_shape=(28, 28))


@pytest.fixture(scope="module")
def real_mnist():
    if not all((REAL_MNIST / name).is_file() for name in FILES):
        pytest.skip(f"the real MNIST files are not in {REAL_MNIST}")
    return load_mnist(REAL_MNIST)


def test_real_mnist_shapes_dtypes_range_and_labels(real_mnist):
    ds = real_mnist
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    for x in (ds.x_train, ds.x_test):
        assert x.min() == 0.0 and x.max() == 1.0  # 8-bit pixels span 0..255
    for y, n in ((ds.y_train, 60000), (ds.y_test, 10000)):
        counts = np.bincount(y, minlength=10)
        assert counts.size == 10 and counts.sum() == n and counts.min() > 0


@pytest.mark.parametrize("name", sorted(FILES))
def test_real_mnist_files_match_their_checksums(name):
    if not (REAL_MNIST / name).is_file():
        pytest.skip(f"{REAL_MNIST / name} is absent")
    verify(REAL_MNIST / name, **FILES[name])  # raises on a mismatch
    with pytest.raises(ValueError, match="checksum mismatch"):
        verify(REAL_MNIST / name, md5="0" * 32)


def test_a_gzip_bomb_is_refused_without_decompressing_it(tmp_path, monkeypatch):
    # a valid header for 12 labels, then 64 MiB of zeros: about 64 KB compressed
    header = idx_bytes(np.zeros(12))[:8]
    compressor = __import__("zlib").compressobj(1, wbits=31)  # gzip container
    zero = bytes(1 << 20)
    bomb = compressor.compress(header + bytes(12))
    for _ in range(64):
        bomb += compressor.compress(zero)
    bomb += compressor.flush()
    path = _replace(tmp_path, TRAIN_LABELS, bomb, compress=False)
    read = []
    original = gzip.GzipFile.read

    def counting_read(self, size=-1):
        assert size is not None and size >= 0, "the stream must be read in bounded pieces"
        data = original(self, size)
        read.append(len(data))
        return data

    monkeypatch.setattr(gzip.GzipFile, "read", counting_read)
    with pytest.raises(ValueError, match=r"more than 20 bytes, but its header \(12,\) needs 20"):
        load_mnist(tmp_path)
    assert sum(read) < 1 << 20  # header, 12 labels and one byte more: nowhere near 64 MiB


def test_a_header_announcing_a_huge_file_is_refused(tmp_path):
    import struct
    raw = struct.pack(">II", LABELS_MAGIC, 2**32 - 1)  # 4 G labels
    (tmp_path / "labels").write_bytes(raw + bytes(10))
    with pytest.raises(ValueError, match="bytes allowed; not an MNIST file"):
        read_idx(tmp_path / "labels", magic=LABELS_MAGIC)
