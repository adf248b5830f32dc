"""PGD: the closed-form inner maximum of a linear model, feasibility, restarts, families."""

import math

import numpy as np
import pytest
from conftest import assert_namespace
from iter_helpers import foreign_device_errors_skipped, mlp, on_device1, random_mlp
from pert_helpers import linear_model

from refimpl import ops
from refimpl.backend import make_rng, to_numpy
from refimpl.perturbations import lp
from refimpl.perturbations.projected_gradient import pgd, random_in_ball

NORMS = [1, 2, math.inf]


def _binary_problem(seed, n=5, d=4):
    """x (n, d), a two-class linear model (weight (d, 2), bias (2,)) and labels."""
    rng = np.random.default_rng(seed)
    x, weight, bias = rng.normal(size=(n, d)), rng.normal(size=(d, 2)), rng.normal(size=2)
    return x, weight, bias, rng.integers(0, 2, size=n)


@pytest.mark.parametrize("p", NORMS)
def test_pgd_reaches_the_closed_form_maximum_of_a_linear_model(xp, p):
    # Two classes, logits x @ W + b: the loss is softplus(m) of the margin m = a . x + c with
    # a = W[:, o] - W[:, y]; its maximum over ||delta||_p <= r is softplus(m + r ||a||_q).
    x, weight, bias, y = _binary_problem(0)
    radius = 0.3
    result = pgd(linear_model(xp, weight, bias), xp.asarray(x), xp.asarray(y), radius=radius,
                 p=p, step_size=0.1, steps=6)
    assert_namespace(result.x_adv, xp)
    assert result.x_adv.dtype == xp.float64 and tuple(result.x_adv.shape) == x.shape
    other = 1 - y
    a = (weight[:, other] - weight[:, y]).T  # (n, d)
    margin = np.sum(a * x, axis=1) + bias[other] - bias[y]
    expected = np.logaddexp(0.0, margin + radius * np.linalg.norm(a, ord=lp.dual_exponent(p),
                                                                  axis=1))
    logits = to_numpy(result.x_adv) @ weight + bias
    reached = np.logaddexp(0.0, logits[np.arange(5), other] - logits[np.arange(5), y])
    np.testing.assert_allclose(reached, expected, rtol=1e-12)
    np.testing.assert_array_equal(to_numpy(xp.asarray(x)), x)


@pytest.mark.parametrize("p", NORMS)
def test_pgd_stays_in_the_ball_and_the_box_from_random_starts(xp, p):
    params = random_mlp(1, scale=3.0)
    x_np = np.random.default_rng(2).uniform(0, 1, size=(6, 6))
    x = xp.asarray(x_np)
    y = xp.asarray(np.arange(6) % 3)
    radius = np.array([0.0, 0.05, 0.1, 0.2, 0.4, 0.8])
    result = pgd(mlp(xp, params), x, y, radius=xp.asarray(radius), p=p, step_size=0.07, steps=4,
                 rng=make_rng(3, xp), restarts=3, clip=(0.0, 1.0))
    norms = np.linalg.norm(to_numpy(result.delta), ord=p, axis=1)
    assert np.all(norms <= radius * (1 + 1e-12) + 1e-15)
    x_adv = to_numpy(result.x_adv)
    assert np.all((x_adv >= 0) & (x_adv <= 1))
    np.testing.assert_array_equal(to_numpy(x), x_np)


@pytest.mark.parametrize("p", NORMS)
def test_random_starts_fill_the_ball(xp, p):
    n, d = 400, 3
    x = xp.zeros((n, d), dtype=xp.float64)
    r = xp.full((n,), 2.0, dtype=xp.float64)
    from refimpl.perturbations._checks import LpFamily  # noqa: PLC0415
    draws = to_numpy(random_in_ball(make_rng(0, xp), x, r, LpFamily(p)))
    norms = np.linalg.norm(draws, ord=p, axis=1)
    assert np.all(norms <= 2.0 + 1e-12)
    # uniform in a d-dimensional ball: P(||delta|| <= 2 t) = t^d, so about 1/8 inside half
    assert 0.06 < np.mean(norms <= 1.0) < 0.2
    assert np.all(np.abs(np.mean(draws, axis=0)) < 0.2)  # symmetric


def test_restarts_keep_the_best_run_per_example(xp):
    params = random_mlp(4, scale=2.0)
    x = xp.asarray(np.random.default_rng(5).normal(size=(8, 6)))
    y = xp.asarray(np.arange(8) % 3)
    f = mlp(xp, params)

    def losses(result):
        logits = f(result.x_adv)
        return to_numpy(ops.softmax_cross_entropy(logits, y)), to_numpy(
            xp.argmax(logits, axis=1) != y)

    one = losses(pgd(f, x, y, radius=0.5, p=2, step_size=0.2, steps=3, rng=make_rng(7, xp)))
    many = losses(pgd(f, x, y, radius=0.5, p=2, step_size=0.2, steps=3, rng=make_rng(7, xp),
                      restarts=4))
    # the first restart draws what the single run draws; later ones may only improve on it
    assert np.all(many[1] | ~one[1])
    assert np.all((many[0] >= one[0] - 1e-12) | many[1])


def test_pgd_with_a_family_value_equals_pgd_with_p(xp):
    class L2:  # duck-typed: only the two methods PGD calls
        def steepest_ascent(self, grad, radius):
            return lp.steepest_ascent(grad, radius, 2)

        def project(self, delta, radius):
            return lp.project(delta, radius, 2)

    params = random_mlp(6)
    x = xp.asarray(np.random.default_rng(6).normal(size=(4, 6)))
    y = xp.asarray(np.array([0, 1, 2, 0]))
    kw = dict(radius=0.4, step_size=0.1, steps=5, clip=(-1.0, 1.0))
    a = pgd(mlp(xp, params), x, y, p=2, **kw)
    b = pgd(mlp(xp, params), x, y, family=L2(), **kw)
    np.testing.assert_array_equal(to_numpy(a.x_adv), to_numpy(b.x_adv))


def test_pgd_batch_independence_and_zero_gradients(xp):
    x_np, weight, bias, y_np = _binary_problem(8, n=4)
    x_np[0] = -1.0  # relu: a zero gradient
    w, b = xp.asarray(weight), xp.asarray(bias)
    f = lambda z: ops.linear(ops.relu(z), w, b)  # noqa: E731
    for p in NORMS:
        whole = pgd(f, xp.asarray(x_np), xp.asarray(y_np), radius=0.2, p=p, step_size=0.1,
                    steps=3)
        assert whole.zero_grad == 1 and np.all(to_numpy(whole.delta)[0] == 0)
        for i in range(4):
            row = pgd(f, xp.asarray(x_np[i:i + 1]), xp.asarray(y_np[i:i + 1]), radius=0.2, p=p,
                      step_size=0.1, steps=3)
            np.testing.assert_allclose(to_numpy(row.delta)[0], to_numpy(whole.delta)[i],
                                       rtol=1e-13, atol=1e-15)


def test_pgd_rejects_bad_arguments(xp):
    x, weight, bias, y = _binary_problem(9, n=2)
    f, x, y = linear_model(xp, weight, bias), xp.asarray(x), xp.asarray(y)
    kw = dict(radius=0.1, p=2, step_size=0.1, steps=2)
    with pytest.raises(ValueError, match="step_size"):
        pgd(f, x, y, **{**kw, "step_size": 0.0})
    with pytest.raises(ValueError, match="restarts"):
        pgd(f, x, y, **kw, restarts=2)
    with pytest.raises(ValueError, match="p, family"):
        pgd(f, x, y, **kw, family=object())
    with pytest.raises(TypeError, match="family"):
        pgd(f, x, y, **{**kw, "p": None}, family=object())
    with pytest.raises(ValueError, match=r"y: expected class (?:indices|labels) in \[0, 2\)"):
        pgd(f, x, xp.asarray(np.array([0, 2])), **kw)
    with pytest.raises(ValueError, match="radius"):
        pgd(f, x, y, **{**kw, "radius": -1.0})
    with pytest.raises(ValueError, match="clip"):
        pgd(f, x, y, **kw, clip=(1.0, 0.0))


def test_pgd_keeps_the_device_of_its_inputs(xp):
    x_np, weight, bias, y_np = _binary_problem(10)
    x, w, b, y = on_device1(xp, x_np, weight, bias, y_np)
    f = lambda z: ops.linear(z, w, b)  # noqa: E731
    for p in NORMS:
        with foreign_device_errors_skipped():
            result = pgd(f, x, y, radius=0.2, p=p, step_size=0.1, steps=2, rng=make_rng(0, xp),
                         restarts=2, clip=(-3.0, 3.0))
        assert result.x_adv.device == x.device and result.delta.device == x.device


def test_line_search_and_targeted_lbfgs_check_their_arguments(xp):
    from refimpl.perturbations.search import lbfgs, minimum_perturbation  # noqa: PLC0415
    x, weight, bias, y = _binary_problem(11, n=2)
    f, x = linear_model(xp, weight, bias), xp.asarray(x)
    with pytest.raises(ValueError, match="bisection_steps: expected an int >= 0"):
        minimum_perturbation(f, x, xp.asarray(y), max_radius=1.0, bisection_steps=-1)
    with pytest.raises(ValueError, match=r"y: expected class (?:indices|labels) in \[0, 2\)"):
        minimum_perturbation(f, x, xp.asarray(np.array([0, -1])), max_radius=1.0)
    with pytest.raises(ValueError, match=r"target: expected class (?:indices|labels) in \[0, 2\)"):
        lbfgs(f, x, xp.asarray(np.array([0, 7])), clip=(-5.0, 5.0))
