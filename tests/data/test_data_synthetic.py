"""Synthetic sets: the stated margin, balance, shapes, dtypes and seeding."""

import numpy as np
import pytest

from refimpl.data import Dataset, blob_images, gaussian_blobs, linearly_separable


@pytest.mark.parametrize("n, d, margin", [(50, 5, 0.5), (7, 1, 2.0), (10, 3, 0.0)])
def test_linearly_separable_has_exactly_the_margin(n, d, margin):
    x, y, w = linearly_separable(n, d, margin=margin, seed=1)
    assert x.shape == (n, d) and y.shape == (n,) and w.shape == (d,)
    assert x.dtype == y.dtype == w.dtype == np.float64
    assert np.linalg.norm(w) == pytest.approx(1.0, rel=1e-12)
    assert set(np.unique(y)) <= {-1.0, 1.0}
    assert abs((y == 1).sum() - (y == -1).sum()) <= 1
    distances = y * (x @ w)
    assert distances.min() == pytest.approx(margin, abs=1e-12)
    assert np.all(distances >= margin - 1e-12)


def test_linearly_separable_is_seeded_and_checks_arguments():
    a = linearly_separable(20, 4, margin=1.0, seed=3)
    b = linearly_separable(20, 4, margin=1.0, seed=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], linearly_separable(20, 4, margin=1.0, seed=4)[0])
    with pytest.raises(ValueError, match="margin"):
        linearly_separable(10, 2, margin=-1.0, seed=0)


def test_gaussian_blobs_shapes_balance_and_spread():
    x, y = gaussian_blobs(3000, 4, 3, seed=0, scale=0.5)
    assert x.shape == (3000, 4) and x.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [1000, 1000, 1000])
    for k in range(3):  # each cluster's spread is `scale`, within sampling error
        assert np.std(x[y == k], axis=0) == pytest.approx(np.full(4, 0.5), rel=0.1)
    x2, y2 = gaussian_blobs(3000, 4, 3, seed=0, scale=0.5)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def test_blob_images_is_a_dataset():
    ds = blob_images(30, 12, input_shape=(1, 4, 4), num_classes=3, seed=2)
    assert isinstance(ds, Dataset) and ds.input_shape == (1, 4, 4) and ds.num_classes == 3
    assert ds.x_train.shape == (30, 1, 4, 4) and ds.x_test.dtype == np.float32
    assert ds.y_test.shape == (12,) and set(np.unique(ds.y_train)) <= {0, 1, 2}
