"""Random noise (URN, Gaussian) and sign-multiplicative noise (paper 002)."""

import math

import numpy as np
import pytest
from conftest import assert_namespace

from refimpl import ops
from refimpl.autodiff import grad
from refimpl.backend import make_rng, namespace_by_name, to_numpy
from refimpl.perturbations import lp
from refimpl.perturbations.random_noise import gaussian_noise, uniform_noise
from refimpl.perturbations.sign_noise import sign_noise, sign_noise_factor


def test_uniform_noise_has_zero_mean_and_unit_variance(xp):
    noise = uniform_noise(make_rng(0, xp), (200, 500), dtype=xp.float64)
    assert_namespace(noise, xp)
    values = to_numpy(noise)
    assert values.shape == (200, 500) and noise.dtype == xp.float64
    assert abs(values.mean()) < 0.01 and abs(values.var() - 1.0) < 0.01
    assert np.all(np.abs(values) <= math.sqrt(3.0))


def test_uniform_noise_rescaled_to_an_l2_magnitude(xp):
    like = xp.zeros((4, 1, 3, 3), dtype=xp.float32)
    noise = uniform_noise(make_rng(1, xp), like, 1.5)
    assert noise.dtype == xp.float32 and tuple(noise.shape) == (4, 1, 3, 3)
    np.testing.assert_allclose(to_numpy(lp.norm(noise, 2)), 1.5, rtol=1e-6)
    radius = xp.asarray([0.0, 1.0, 2.0, 3.0])
    noise = uniform_noise(make_rng(1, xp), (4, 6), radius, dtype=xp.float64)
    np.testing.assert_allclose(to_numpy(lp.norm(noise, 2)), [0, 1, 2, 3], rtol=1e-12)


def test_gaussian_noise_has_the_given_std(xp):
    noise = gaussian_noise(make_rng(2, xp), (100, 1000), 1.7, dtype=xp.float64)
    values = to_numpy(noise)
    assert abs(values.mean()) < 0.02 and abs(values.std() - 1.7) < 0.02
    like = xp.ones((3, 2), dtype=xp.float32)
    assert gaussian_noise(make_rng(2, xp), like, 0.1).dtype == xp.float32
    np.testing.assert_array_equal(to_numpy(gaussian_noise(make_rng(3, xp), like, 0.0)), 0.0)


def test_noise_is_reproducible_from_the_seed(xp):
    a = uniform_noise(make_rng(7, xp), (2, 3))
    b = uniform_noise(make_rng(7, xp), (2, 3))
    np.testing.assert_array_equal(to_numpy(a), to_numpy(b))


def test_noise_errors_name_the_argument():
    with pytest.raises(ValueError, match="sigma: expected a finite number >= 0"):
        gaussian_noise(make_rng(0), (2, 2), -1.0)
    with pytest.raises(TypeError, match="rng: expected a refimpl.backend.Random"):
        uniform_noise(np.random.default_rng(0), (2, 2))
    with pytest.raises(ValueError, match="radius: expected"):
        uniform_noise(make_rng(0), (2, 2), -1.0)
    strict = namespace_by_name("array_api_strict")
    with pytest.raises(TypeError, match="rng, like"):
        uniform_noise(make_rng(0), strict.zeros((2, 2)))


def test_sign_noise_scales_each_entry_by_one_plus_or_minus_eps(xp):
    x_np = np.random.default_rng(0).normal(size=(50, 40))
    x_np[0, :5] = 0.0
    x = xp.asarray(x_np)
    out = to_numpy(sign_noise(x, make_rng(0, xp), eps=0.2, p=0.7))
    ratio = out[x_np != 0] / x_np[x_np != 0]
    assert np.all(np.isclose(ratio, 1.2) | np.isclose(ratio, 0.8))
    kept = np.isclose(ratio, 1 + 0.2 * np.sign(x_np[x_np != 0]))  # l(x) = sign(x): x + eps|x|
    assert abs(np.mean(kept) - 0.7) < 0.03
    np.testing.assert_array_equal(out[0, :5], 0.0)
    np.testing.assert_array_equal(to_numpy(x), x_np)  # x unchanged


def test_sign_noise_is_fresh_each_call_and_reproducible(xp):
    x = xp.asarray(np.random.default_rng(1).normal(size=(4, 30)))
    rng = make_rng(3, xp)
    first, second = to_numpy(sign_noise(x, rng)), to_numpy(sign_noise(x, rng))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, to_numpy(sign_noise(x, make_rng(3, xp))))


def test_sign_noise_gradient_is_one_plus_eps_l(xp):
    x = xp.asarray(np.random.default_rng(2).normal(size=(3, 5)))
    factor = sign_noise_factor(x, make_rng(4, xp), eps=0.3)
    g = grad(lambda z: ops.sum(sign_noise(z, make_rng(4, xp), eps=0.3)))(x)
    assert_namespace(g, xp)
    np.testing.assert_allclose(to_numpy(g), to_numpy(factor), rtol=1e-15)
    np.testing.assert_allclose(np.abs(to_numpy(factor) - 1.0), 0.3, rtol=1e-12)


def test_sign_noise_errors_name_the_argument():
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"p: expected a probability in \[0, 1\]"):
        sign_noise(x, make_rng(0), p=1.5)
    with pytest.raises(ValueError, match="eps: expected a finite number"):
        sign_noise(x, make_rng(0), eps=float("inf"))
    with pytest.raises(TypeError, match="rng: expected"):
        sign_noise(x, None)
