"""STL-10 binary files: column-major planes, labels 1..10, paper 000's preprocessing, errors."""

import numpy as np
import pytest
from data_writers import stl_files, stl_image_bytes, write_files, write_tar_gz

from refimpl.data.stl10 import (ARCHIVE, FOLDER, IMAGE_BYTES, load_stl10, preprocess, read_images,
                                read_labels)


def test_planes_are_read_column_major(tmp_path):
    # Byte c * 96 + r of a plane is the pixel in row r, column c (the file's documented order).
    rows, cols = np.meshgrid(np.arange(96), np.arange(96), indexing="ij")
    value = (rows * 2 + cols // 7) % 256  # differs when row and column are swapped
    plane = np.empty(96 * 96, dtype=np.uint8)
    plane[cols * 96 + rows] = value
    (tmp_path / "x.bin").write_bytes(plane.tobytes() + bytes(2 * 96 * 96))
    images = read_images(tmp_path / "x.bin")
    assert images.shape == (1, 3, 96, 96) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0, 0], value)
    assert not images[0, 1:].any()


def test_labels_go_from_1_10_to_0_9(tmp_path):
    (tmp_path / "y.bin").write_bytes(bytes(range(1, 11)))
    labels = read_labels(tmp_path / "y.bin")
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, np.arange(10))


@pytest.mark.parametrize("label", [0, 11])
def test_labels_outside_1_10_are_refused(tmp_path, label):
    (tmp_path / "y.bin").write_bytes(bytes([1, label]))
    with pytest.raises(ValueError, match="1..10"):
        read_labels(tmp_path / "y.bin")


def test_image_files_must_hold_whole_images(tmp_path):
    (tmp_path / "x.bin").write_bytes(bytes(IMAGE_BYTES + 5))
    with pytest.raises(ValueError, match="not a whole number") as err:
        read_images(tmp_path / "x.bin")
    assert str(tmp_path / "x.bin") in str(err.value)


def test_preprocess_crops_the_centre_greys_and_maps_to_minus_one_one():
    images = np.zeros((2, 3, 96, 96), dtype=np.uint8)
    images[0, :, 24:72, 24:72] = 255  # a white central 48x48 window on black
    images[1] = np.array([10, 100, 200], dtype=np.uint8)[:, None, None]
    before = images.copy()
    out = preprocess(images)
    assert out.shape == (2, 1, 48, 48) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], 1.0, rtol=1e-6)  # only the white window survives the crop
    grey = 0.299 * 10 + 0.587 * 100 + 0.114 * 200  # BT.601 luma
    np.testing.assert_allclose(out[1], grey / 127.5 - 1.0, rtol=1e-5)
    np.testing.assert_array_equal(images, before)
    assert preprocess(np.zeros((1, 3, 96, 96), np.uint8)).max() == -1.0


@pytest.mark.parametrize("layout", ["folder", "root", "archive"])
def test_tiny_set_loads_from_every_layout(tmp_path, layout):
    files, arrays = stl_files(n_train=3, n_test=2)
    if layout == "folder":
        write_files(tmp_path / FOLDER, files)
    elif layout == "root":
        write_files(tmp_path, files)
    else:
        write_tar_gz(tmp_path / ARCHIVE, {f"{FOLDER}/{k}": v for k, v in files.items()})
    ds = load_stl10(tmp_path)
    assert ds.x_train.shape == (3, 1, 48, 48) and ds.x_test.shape == (2, 1, 48, 48)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert -1.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    np.testing.assert_allclose(ds.x_train, preprocess(arrays["train"][0]))
    np.testing.assert_array_equal(ds.y_test, arrays["test"][1])
    if layout == "archive":
        assert sorted(p.name for p in (tmp_path / FOLDER).iterdir()) == sorted(files)


def test_colour_images_without_the_papers_preprocessing(tmp_path):
    files, arrays = stl_files(n_train=2, n_test=1)
    write_files(tmp_path, files)
    ds = load_stl10(tmp_path, paper_preprocessing=False)
    assert ds.input_shape == (3, 96, 96)
    np.testing.assert_allclose(ds.x_test, arrays["test"][0] / np.float32(255))


def test_count_mismatch_and_missing_files(tmp_path):
    files, _ = stl_files(n_train=2, n_test=1)
    files["train_y.bin"] = files["train_y.bin"][:1]
    write_files(tmp_path, files)
    with pytest.raises(ValueError, match="2 images but .* 1 labels"):
        load_stl10(tmp_path)
    (tmp_path / "test_X.bin").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_stl10(tmp_path)
    for hint in (str(tmp_path), "test_X.bin", "REFIMPL_DATA", "download=True"):
        assert hint in str(err.value)


def test_writer_matches_the_documented_order():
    # The test helper itself: plane bytes in Fortran (column-major) order.
    image = np.arange(3 * 96 * 96).reshape(1, 3, 96, 96).astype(np.uint8)
    raw = np.frombuffer(stl_image_bytes(image), dtype=np.uint8)
    assert raw[1] == image[0, 0, 1, 0] and raw[96] == image[0, 0, 0, 1]
