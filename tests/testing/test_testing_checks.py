"""refimpl.testing: the checks pass on correct closed forms and FAIL on wrong ones, and the
strategies draw the hard cases they promise."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from refimpl.backend import get_namespace, to_numpy
from refimpl.perturbations import k_support, lp
from refimpl.testing import (check_hoelder, check_projection, check_steepest_ascent,
                             gradient_batches, norm_exponents, radii)
from refimpl.testing.strategies import batch_shapes

GRAD = np.array([[3.0, -1.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0], [-2.0, 2.0, 1.0, -0.25]])
L1 = dict(norm=lambda x: lp.norm(x, 1), dual_norm=lambda g: lp.dual_norm(g, 1))


def _l1_divided_by_l1_norm(grad, radius):
    """The known bug: radius * g / ||g||_1 has l1 norm radius but is not the steepest step."""
    xp = get_namespace(grad)
    total = xp.sum(xp.abs(grad), axis=1, keepdims=True)
    r = xp.reshape(xp.asarray(radius, dtype=grad.dtype, device=grad.device), (-1, 1))
    return r * xp.where(total > 0, grad / xp.where(total > 0, total, 1.0), 0.0)


def test_checks_pass_on_the_library_closed_forms(xp):
    grad = xp.asarray(GRAD)
    for p in [1.0, 2.0, math.inf, 1.0001, 1e6]:
        check_steepest_ascent(lp.steepest_ascent, lp.norm, lp.dual_norm, grad, 1.5, p=p)
        check_hoelder(lp.norm, lp.dual_norm, grad, xp.flip(grad, axis=0), p=p)
    check_steepest_ascent(k_support.steepest_ascent, k_support.norm, k_support.dual_norm, grad,
                          xp.asarray([1.0, 2.0, 0.0]), k=2)
    for p in [1.0, 2.0, math.inf]:
        check_projection(lp.project, lp.norm, grad, 1.0, p=p)


def test_the_l1_bug_is_caught(xp):
    with pytest.raises(AssertionError, match="objective"):
        check_steepest_ascent(lambda g, r: _l1_divided_by_l1_norm(g, r), L1["norm"],
                              L1["dual_norm"], xp.asarray(GRAD), 1.0)


def _wrong(name):
    """Closed forms that each break exactly one property (on the l2 family)."""
    def too_long(g, r, p):
        return lp.steepest_ascent(g, r, p) * 1.01

    def sign_as_l2(g, r, p):  # FGSM rescaled to l2 norm r: feasible, not steepest
        sign = lp.steepest_ascent(g, 1.0, math.inf)
        return lp.steepest_ascent(sign, r, 2.0)

    def nan_at_zero(g, r, p):
        xp = get_namespace(g)
        return r * g / xp.reshape(lp.norm(g, 2), (-1, 1))

    def batch_normalised(g, r, p):  # divides by the norm of the whole batch
        xp = get_namespace(g)
        return r * g / xp.sqrt(xp.sum(g * g))

    def mutating(g, r, p):
        out = lp.steepest_ascent(g, r, p)
        g[...] = 0.0
        return out

    def not_scale_invariant(g, r, p):
        xp = get_namespace(g)
        return lp.steepest_ascent(g + xp.sign(g) * 0.1, r, p)

    return {"too_long": too_long, "sign_as_l2": sign_as_l2, "nan_at_zero": nan_at_zero,
            "batch_normalised": batch_normalised, "mutating": mutating,
            "not_scale_invariant": not_scale_invariant}[name]


@pytest.mark.parametrize("name, message", [
    ("too_long", "norm bound"), ("sign_as_l2", "objective"), ("nan_at_zero", "NaN"),
    ("batch_normalised", "norm bound|batch"), ("mutating", "mutated"),
    ("not_scale_invariant", "objective|scale invariance")])
def test_each_wrong_closed_form_is_caught(name, message):
    with pytest.raises(AssertionError, match=message):
        check_steepest_ascent(_wrong(name), lp.norm, lp.dual_norm, GRAD.copy(), 1.0, p=2.0)


def test_a_point_that_beats_the_closed_form_is_found():
    # The l1 bug paired with the dual norm it "achieves", ||g||_2^2 / ||g||_1, is consistent:
    # tight norm, objective = radius * that dual, scale invariant. Only the random feasible
    # points (sparse ones near the vertices) show that it is not the maximiser.
    def claimed_dual(g):
        return lp.norm(g, 2) ** 2 / xp_where_positive(lp.norm(g, 1))

    def xp_where_positive(v):
        return np.where(v > 0, v, 1.0)

    with pytest.raises(AssertionError, match="optimality"):
        check_steepest_ascent(lambda g, r: _l1_divided_by_l1_norm(g, r), L1["norm"],
                              claimed_dual, GRAD, 1.0)


def test_wrong_projection_and_hoelder_are_caught():
    with pytest.raises(AssertionError, match="feasibility"):
        check_projection(lambda d, r, p: d, lp.norm, GRAD * 5, 1.0, p=2.0)
    with pytest.raises(AssertionError, match="optimality"):
        check_projection(lambda d, r, p: lp.project(d, r, 2.0), lp.norm, GRAD * 5, 1.0,
                         p=math.inf)  # the l2 ball's projection: inside the linf ball, not closest
    with pytest.raises(AssertionError, match="Hoelder"):
        check_hoelder(lambda x, p: lp.norm(x, 2) / 2, lp.dual_norm, GRAD, GRAD, p=2.0)


def test_gradient_batches_draw_ties_zeros_and_wide_ranges():
    seen = set()

    def flat(g):
        return np.abs(g.reshape(g.shape[0], -1))

    @settings(max_examples=150, database=None, phases=[Phase.generate], deadline=None)
    @given(gradient_batches())
    def record(g):
        a = flat(g)
        if a.shape[1] > 1 and np.any(a) and np.any(np.sum(a == a.max(1, keepdims=True), 1) > 1):
            seen.add("tie")
        if g.shape[0] > 1 and np.any(np.all(a == 0, axis=1)) and np.any(a):
            seen.add("zero row")
        if np.any(a) and np.max(a) > 1e15 * np.min(a[a > 0]):
            seen.add("wide range")
        if np.any(a == 0) and np.any(a):
            seen.add("zeros")
        if g.ndim == 4:
            seen.add("images")

    record()
    assert seen == {"tie", "zero row", "wide range", "zeros", "images"}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_strategies_respect_their_bounds(xp, data):
    shape = data.draw(batch_shapes(max_batch=3, max_dim=5, images=False))
    assert 1 <= shape[0] <= 3 and 1 <= shape[1] <= 5
    grad = data.draw(gradient_batches(xp, shape=shape, max_exponent=3))
    assert tuple(grad.shape) == shape and grad.dtype == xp.float64
    assert float(xp.max(xp.abs(grad))) < 1e4
    p = data.draw(norm_exponents(finite_only=True))
    assert 1 <= p < math.inf
    radius = data.draw(radii(shape[0], xp=xp))
    assert np.all(to_numpy(radius) >= 0)
