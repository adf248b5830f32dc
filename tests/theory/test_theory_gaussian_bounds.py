"""theory.gaussian_noise: eq. 29's bound and Table IX's linear-density prediction, by Monte
Carlo and quadrature."""

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import norm

from theory import gaussian_noise as gn
from theory import lyu_tables


@pytest.mark.parametrize("n_directions, dim", [(1, 4), (3, 4), (5, 9)])
def test_eq29_is_an_upper_bound_and_exact_for_one_direction(n_directions, dim):
    rng = np.random.default_rng(0)
    a_norm = 1.0
    sigma = a_norm / np.sqrt(dim)  # the paper's sigma^2 = ||a||^2 / d
    eta = rng.normal(0.0, sigma, size=(400_000, dim))
    directions = np.eye(dim)[:n_directions]  # orthonormal e_i
    hit = np.mean(np.any(eta @ directions.T >= a_norm, axis=1))
    bound = gn.eq29_bound(n_directions, dim)
    standard_error = np.sqrt(bound / 400_000)
    assert hit <= bound + 4 * standard_error  # a union bound: an UPPER bound
    if n_directions == 1:
        assert abs(hit - bound) < 4 * standard_error
    assert bound <= n_directions * np.exp(-dim / 2) / np.sqrt(2 * np.pi * dim)  # Mills


def test_eq29_shrinks_exponentially_with_the_dimension():
    ratios = [gn.eq29_bound(1, d + 1) / gn.eq29_bound(1, d) for d in (100, 400, 784)]
    np.testing.assert_allclose(ratios, np.exp(-0.5), rtol=0.05)


@pytest.mark.parametrize("scale, sigma", [(0.3, 0.01), (0.5, 0.01), (0.5, 0.03)])
def test_linear_density_prediction_against_quadrature(scale, sigma):
    """Rayleigh(scale) minimum perturbations have density a / scale^2 near 0: slope 1/scale^2;
    the exact extra error int f(a) Phi(-a / sigma) da is c sigma^2 / 4 to O(sigma^4)."""
    density = lambda a: a / scale ** 2 * np.exp(-a ** 2 / (2 * scale ** 2))  # noqa: E731
    exact, _ = integrate.quad(lambda a: density(a) * norm.sf(a / sigma), 0, np.inf)
    predicted = gn.additional_error_linear_density(1 / scale ** 2, sigma)
    np.testing.assert_allclose(predicted, exact, rtol=3 * (sigma / scale) ** 2)
    # a constant of 1/2 instead of 1/4 is detected
    assert not np.isclose(1 / scale ** 2 * sigma ** 2 / 2, exact, rtol=0.2)


def test_slope_from_samples_and_the_papers_table_ix_scale():
    rng = np.random.default_rng(1)
    scale = 0.3
    samples = rng.rayleigh(scale, size=200_000)
    slope = gn.linear_density_slope(samples, cutoff=0.05)
    np.testing.assert_allclose(slope, 1 / scale ** 2, rtol=0.05)  # curvature of f at 0.05
    # Table VI's lambda = 1e-4 row (mu_a 0.27): a slope of that order predicts ~0.04 % at 0.01
    guess = gn.additional_error_linear_density(1 / 0.2 ** 2, 0.01, 0.94)
    assert 1e-4 < guess < 1e-3
    assert lyu_tables.PAPER["additional_predicted"][0] == 0.04


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="cutoff"):
        gn.linear_density_slope([0.1], cutoff=0.0)
    with pytest.raises(ValueError, match="sigma"):
        gn.additional_error_linear_density(1.0, float("nan"))
    with pytest.raises(ValueError, match="n_directions"):
        gn.eq29_bound(0, 3)
