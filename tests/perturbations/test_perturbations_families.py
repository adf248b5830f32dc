"""Family values: every gradient family passes refimpl.testing's steepest-ascent (and, where
defined, projection) checks; the values equal the closed forms they wrap; noise families draw
at the stated magnitude and say that they have no steepest ascent."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from refimpl.backend import make_rng, to_numpy
from refimpl.perturbations import GaussianNoise, KSupport, Lp, SignL2, UniformNoise, lp
from refimpl.testing import check_projection, check_steepest_ascent
from refimpl.testing.strategies import gradient_batches

FAMILIES = [Lp(math.inf), Lp(2.0), Lp(1.0), Lp(3.0), Lp(1.5), KSupport(0.5), KSupport(1),
            KSupport(2), SignL2()]
PROJECTABLE = [Lp(math.inf), Lp(2.0), Lp(1.0), SignL2()]
PROPERTY = settings(max_examples=10, deadline=None,  # lp / k_support's own tests go deeper
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _method(family, name):
    bound = getattr(family, name)
    return lambda a, *rest: bound(a, *rest)


@pytest.mark.parametrize("family", FAMILIES, ids=repr)
@PROPERTY
@given(data=gradient_batches(max_exponent=8))
def test_every_family_is_the_exact_steepest_ascent_of_its_norm(xp, family, data):
    grad = xp.asarray(data)
    if isinstance(family, KSupport) and isinstance(family.k, int) and family.k > data[0].size:
        return  # k larger than D is refused (tested in k_support's own tests)
    check_steepest_ascent(_method(family, "steepest_ascent"), _method(family, "norm"),
                          _method(family, "dual_norm"), grad, 0.7, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("family", PROJECTABLE, ids=repr)
@PROPERTY
@given(data=gradient_batches(max_exponent=4))
def test_projection_is_the_closest_point_of_the_ball(xp, family, data):
    check_projection(_method(family, "project"), _method(family, "norm"), xp.asarray(data), 0.5,
                     rtol=1e-6, atol=1e-9)


def test_values_wrap_the_closed_forms(xp):
    g = xp.asarray(np.random.default_rng(0).normal(size=(3, 2, 4)))
    np.testing.assert_array_equal(to_numpy(Lp(3.0).steepest_ascent(g, 0.5)),
                                  to_numpy(lp.steepest_ascent(g, 0.5, 3.0)))
    sign = to_numpy(SignL2().steepest_ascent(g, 1.5))
    np.testing.assert_allclose(np.linalg.norm(sign.reshape(3, -1), axis=1), 1.5, rtol=1e-12)
    np.testing.assert_allclose(sign, 1.5 * np.sign(to_numpy(g)) / math.sqrt(8), rtol=1e-12)
    assert (Lp(2), KSupport(0.5), SignL2()) == (Lp(2.0), KSupport(0.5), SignL2())
    assert [f.label for f in (Lp(math.inf), Lp(2), Lp(1), KSupport(0.5), SignL2())] == \
        ["linf", "l2", "l1", "k-support 50%", "sign_l2"]
    with pytest.raises(NotImplementedError, match="KSupport.project"):
        KSupport(0.5).project(g, 1.0)
    with pytest.raises(ValueError, match="p: project supports"):
        Lp(3.0).project(g, 1.0)


def test_noise_families_draw_at_their_magnitude_and_have_no_steepest_ascent(xp):
    x = xp.zeros((400, 25), dtype=xp.float64)
    radius = xp.full((400,), 1.5, dtype=xp.float64)
    uniform = UniformNoise().draw(make_rng(0, xp), x, radius)
    np.testing.assert_allclose(to_numpy(UniformNoise().norm(uniform)), 1.5, rtol=1e-12)
    gaussian = to_numpy(GaussianNoise().draw(make_rng(0, xp), x, radius))
    assert abs(gaussian.std() - 1.5) < 0.05
    assert abs(float(np.mean(to_numpy(GaussianNoise().norm(xp.asarray(gaussian))))) - 1.5) < 0.05
    for family in (UniformNoise(), GaussianNoise()):
        with pytest.raises(NotImplementedError, match="ignores the gradient"):
            family.steepest_ascent(x, 1.0)
    with pytest.raises(ValueError, match="rng: UniformNoise"):
        UniformNoise().draw(None, x, radius)
