"""Transforms on every backend: shapes, values, dtype and namespace kept, inputs unchanged."""

import numpy as np
import pytest
from conftest import assert_namespace, rand
from data_writers import REAL_MNIST

from refimpl.backend import to_numpy
from refimpl.data.transforms import (LUMA_BT601, MNIST_PAD32_MEAN, MNIST_PAD32_STD, center_crop,
                                     pad, rescale, standardize, to_grayscale, unstandardize)


def _unchanged(xp, f, x, *args):
    before = to_numpy(x).copy()
    out = f(x, *args)
    np.testing.assert_array_equal(to_numpy(x), before)
    assert_namespace(out, xp)
    assert out.dtype == x.dtype
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pad_centres_the_images_in_zeros(xp, dtype):
    x = xp.astype(rand(xp, np.random.default_rng(0), (2, 1, 28, 28), 0.5, 1.0), getattr(xp, dtype))
    out = _unchanged(xp, pad, x, 32)
    assert tuple(out.shape) == (2, 1, 32, 32)
    out = to_numpy(out)
    np.testing.assert_array_equal(out[:, :, 2:30, 2:30], to_numpy(x))
    assert out.sum(dtype=np.float64) == pytest.approx(to_numpy(x).sum(dtype=np.float64))


def test_pad_puts_an_odd_surplus_bottom_right_and_crop_undoes_it(xp):
    x = rand(xp, np.random.default_rng(1), (1, 2, 3, 4), 1.0, 2.0)
    out = _unchanged(xp, pad, x, 6)
    np.testing.assert_array_equal(to_numpy(out)[:, :, 1:4, 1:5], to_numpy(x))
    np.testing.assert_array_equal(to_numpy(_unchanged(xp, center_crop, out, 3))[..., :3],
                                  to_numpy(out)[:, :, 1:4, 1:4])
    y = rand(xp, np.random.default_rng(2), (2, 3, 28, 28))
    np.testing.assert_array_equal(to_numpy(center_crop(pad(y, 32), 28)), to_numpy(y))


def test_pad_and_crop_refuse_the_wrong_size(xp):
    x = rand(xp, np.random.default_rng(0), (1, 1, 8, 8))
    with pytest.raises(ValueError, match="smaller"):
        pad(x, 6)
    with pytest.raises(ValueError, match="larger"):
        center_crop(x, 9)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        pad(rand(xp, np.random.default_rng(0), (8, 8)), 10)


def test_grayscale_weights_the_channels(xp):
    x = rand(xp, np.random.default_rng(3), (2, 3, 4, 5), 0.0, 1.0)
    out = _unchanged(xp, to_grayscale, x)
    assert tuple(out.shape) == (2, 1, 4, 5)
    expected = np.tensordot(np.asarray(LUMA_BT601), to_numpy(x), axes=([0], [1]))[:, None]
    np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-12)
    grey = xp.ones((1, 3, 2, 2), dtype=xp.float64) * 0.25
    np.testing.assert_allclose(to_numpy(to_grayscale(grey)), 0.25, rtol=1e-12)  # weights sum to 1
    with pytest.raises(TypeError):
        to_grayscale(xp.ones((1, 3, 2, 2), dtype=xp.int64))


def test_rescale_maps_the_end_points(xp):
    x = xp.asarray([[0.0, 127.5, 255.0]])
    out = _unchanged(xp, rescale, x, (0.0, 255.0), (-1.0, 1.0))
    np.testing.assert_allclose(to_numpy(out), [[-1.0, 0.0, 1.0]], atol=1e-12)


@pytest.mark.parametrize("per_channel", [False, True])
def test_standardize_and_its_inverse(xp, per_channel):
    x = rand(xp, np.random.default_rng(4), (3, 2, 4, 4), 0.0, 1.0)
    mean, std = ([0.1, 0.3], [0.2, 0.5]) if per_channel else (MNIST_PAD32_MEAN, MNIST_PAD32_STD)
    z = _unchanged(xp, standardize, x, mean, std)
    m = np.reshape(mean, (1, -1, 1, 1)) if per_channel else mean
    s = np.reshape(std, (1, -1, 1, 1)) if per_channel else std
    np.testing.assert_allclose(to_numpy(z), (to_numpy(x) - m) / s, rtol=1e-12)
    back = _unchanged(xp, unstandardize, z, mean, std)
    np.testing.assert_allclose(to_numpy(back), to_numpy(x), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="one value per channel"):
        standardize(x, [0.1, 0.2, 0.3], 1.0)


def test_float32_stays_float32(xp):
    x = xp.asarray(np.random.default_rng(5).uniform(size=(2, 1, 28, 28)), dtype=xp.float32)
    for out in (standardize(pad(x, 32), MNIST_PAD32_MEAN, MNIST_PAD32_STD),
                rescale(x, (0.0, 1.0), (-1.0, 1.0))):
        assert out.dtype == xp.float32


def test_mnist_constants_match_the_real_training_set():
    from refimpl.data.mnist import FILES, load_mnist  # noqa: PLC0415
    if not all((REAL_MNIST / name).is_file() for name in FILES):
        pytest.skip(f"the real MNIST files are not in {REAL_MNIST}")
    total = total_sq = count = 0.0
    for chunk in np.array_split(load_mnist(REAL_MNIST).x_train, 6):  # float64 in pieces
        x = pad(chunk, 32).astype(np.float64)
        total, total_sq, count = total + x.sum(), total_sq + (x * x).sum(), count + x.size
    mean = total / count
    assert mean == pytest.approx(MNIST_PAD32_MEAN, rel=1e-12)
    assert np.sqrt(total_sq / count - mean**2) == pytest.approx(MNIST_PAD32_STD, rel=1e-9)
    z = standardize(x, MNIST_PAD32_MEAN, MNIST_PAD32_STD)  # the last piece: about 0 and 1
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05
