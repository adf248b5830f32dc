"""The bundled 8x8 digits: shapes, range, dtype, and a deterministic stratified split."""

import numpy as np
import pytest

from refimpl.data import load
from refimpl.data.digits import TEST_SIZE, split_indices


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def test_shapes_dtypes_and_range(digits):
    assert digits.x_train.shape == (1797 - TEST_SIZE, 1, 8, 8)  # 1797 images ship with sklearn
    assert digits.x_test.shape == (TEST_SIZE, 1, 8, 8)
    assert digits.x_train.dtype == np.float32 and digits.y_train.dtype == np.int64
    assert digits.input_shape == (1, 8, 8) and digits.num_classes == 10
    for x in (digits.x_train, digits.x_test):
        assert x.min() == 0.0 and x.max() == 1.0  # raw values 0..16, divided by 16
    assert set(np.unique(digits.x_train * 16)) <= set(range(17))


def test_split_is_deterministic_and_matches_the_bundled_images(digits):
    again = load("digits")
    np.testing.assert_array_equal(again.x_train, digits.x_train)
    np.testing.assert_array_equal(again.y_test, digits.y_test)
    from sklearn.datasets import load_digits  # noqa: PLC0415
    bunch = load_digits()
    train, test = split_indices(bunch.target)
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.union1d(train, test), np.arange(len(bunch.target)))
    np.testing.assert_array_equal(digits.x_test.reshape(-1, 64) * 16, bunch.data[test])


def test_split_is_stratified(digits):
    y = np.concatenate([digits.y_train, digits.y_test])
    expected = np.bincount(y) * TEST_SIZE / len(y)
    assert np.all(np.abs(np.bincount(digits.y_test, minlength=10) - expected) <= 1)


def test_root_and_download_are_ignored_for_the_bundled_set(tmp_path):
    ds = load("digits", root=tmp_path / "nowhere", download=True)
    assert ds.name == "digits" and not (tmp_path / "nowhere").exists()
