"""PGD, box-constrained L-BFGS and minimum perturbation by line search."""

import functools
import math

import numpy as np
import pytest
from conftest import assert_namespace
from pert_helpers import linear_model, random_linear_problem

from refimpl import ops
from refimpl.autodiff import grad
from refimpl.backend import make_rng, to_numpy
from refimpl.perturbations import attacks, lp
from refimpl.perturbations.families import Lp as lp_family


def _binary(w, b):
    return np.stack([-w / 2, w / 2], axis=1), np.array([-b / 2, b / 2])


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_pgd_stays_in_the_ball_and_the_box(xp, p):
    x_np, w_np, b_np = random_linear_problem(0, n=6, d=5, k=3)
    x_np = np.clip(0.5 + 0.2 * x_np, 0, 1)
    x = xp.asarray(x_np, dtype=xp.float32)
    y = xp.asarray(np.array([0, 1, 2, 0, 1, 2]))
    logits_fn = linear_model(xp, w_np.astype(np.float32), b_np.astype(np.float32))
    result = attacks.pgd(logits_fn, x, y, radius=0.4, p=p, step_size=0.1, steps=6,
                         rng=make_rng(0, xp), clip=(0.0, 1.0))
    assert_namespace(result.x_adv, xp)
    assert result.x_adv.dtype == xp.float32 and tuple(result.x_adv.shape) == (6, 5)
    np.testing.assert_array_equal(to_numpy(x), x_np.astype(np.float32))
    assert np.all(to_numpy(lp.norm(result.delta, p)) <= 0.4 * (1 + 1e-6))
    x_adv = to_numpy(result.x_adv)
    assert np.all((x_adv >= 0) & (x_adv <= 1))
    loss = lambda z: to_numpy(ops.softmax_cross_entropy(logits_fn(z), y))  # noqa: E731
    assert np.all(loss(result.x_adv) >= loss(x) - 1e-6)


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_pgd_on_a_linear_model_reaches_the_closed_form(xp, p):
    rng = np.random.default_rng(1)
    weight, bias = _binary(rng.normal(size=5), 0.1)
    x, y = xp.asarray(rng.normal(size=(4, 5))), xp.asarray(rng.integers(0, 2, size=4))
    logits_fn = linear_model(xp, weight, bias)
    pgd = attacks.pgd(logits_fn, x, y, radius=0.3, p=p, step_size=0.3, steps=3)
    one = attacks.one_step(logits_fn, x, y, family=lp_family(p), radius=0.3)
    np.testing.assert_allclose(to_numpy(pgd.delta), to_numpy(one.delta), atol=1e-12)


def test_pgd_counts_zero_gradients_and_checks_p(xp):
    x_np, w_np, b_np = random_linear_problem(2, n=4, d=3, k=2)
    x_np[0] = -1.0
    w, b = xp.asarray(w_np), xp.asarray(b_np)
    logits_fn = lambda z: ops.linear(ops.relu(z), w, b)  # noqa: E731
    result = attacks.pgd(logits_fn, xp.asarray(x_np), xp.asarray(np.array([0, 1, 0, 1])),
                         radius=0.1, p=2, step_size=0.05, steps=2)
    assert result.zero_grad == 1 and np.all(to_numpy(result.delta)[0] == 0)
    with pytest.raises(ValueError, match="p: PGD projects onto l1, l2 or linf balls"):
        attacks.pgd(logits_fn, xp.asarray(x_np), xp.asarray(np.zeros(4, dtype=np.int64)),
                    radius=0.1, p=3, step_size=0.1, steps=1)
    with pytest.raises(ValueError, match="steps: expected an int >= 1"):
        attacks.pgd(logits_fn, xp.asarray(x_np), xp.asarray(np.zeros(4, dtype=np.int64)),
                    radius=0.1, p=2, step_size=0.1, steps=0)


@functools.cache
def _digits_model():
    """Softmax regression on 600 sklearn digits in [0, 1], trained by plain gradient descent
    with refimpl.autodiff (float64 NumPy)."""
    from sklearn.datasets import load_digits  # noqa: PLC0415
    data = load_digits()
    x, y = data.data[:600] / 16.0, data.target[:600].astype(np.int64)
    params = {"weight": np.zeros((64, 10)), "bias": np.zeros(10)}

    def loss(p):
        return ops.mean(ops.softmax_cross_entropy(ops.linear(x, p["weight"], p["bias"]), y))

    step = grad(loss)
    for _ in range(150):
        g = step(params)
        params = {key: params[key] - 1.0 * g[key] for key in params}
    return x, y, params["weight"], params["bias"]


def test_lbfgs_finds_a_targeted_example_in_the_box(xp):
    x_all, y_all, weight, bias = _digits_model()
    predicted = np.argmax(x_all @ weight + bias, axis=1)
    assert np.mean(predicted == y_all) > 0.9
    rows = np.flatnonzero(predicted == y_all)[:3]
    x, target = xp.asarray(x_all[rows]), xp.asarray((y_all[rows] + 3) % 10)
    logits_fn = linear_model(xp, weight, bias)
    result = attacks.lbfgs(logits_fn, x, target, clip=(0.0, 1.0), c=0.1, search_steps=5)
    assert_namespace(result.x_adv, xp)
    assert result.x_adv.dtype == x.dtype and tuple(result.x_adv.shape) == (3, 64)
    assert bool(np.all(to_numpy(result.success)))
    x_adv = to_numpy(result.x_adv)
    assert np.all((x_adv >= 0.0) & (x_adv <= 1.0))
    np.testing.assert_array_equal(np.argmax(x_adv @ weight + bias, axis=1), to_numpy(target))
    np.testing.assert_array_equal(to_numpy(x), x_all[rows])
    # the c search keeps a perturbation well below the distance to the box's far corner
    assert np.all(np.linalg.norm(to_numpy(result.delta), axis=1) < 4.0)
    assert result.zero_grad == 0


def test_lbfgs_reports_failure_with_a_zero_delta():
    weight = np.zeros((3, 2))  # a constant model can never reach the other class
    bias = np.array([1.0, 0.0])
    result = attacks.lbfgs(linear_model(np, weight, bias), np.full((2, 3), 0.5),
                           np.array([1, 1]), search_steps=2)
    assert not np.any(result.success) and np.all(result.delta == 0)
    assert result.zero_grad == 2


def test_minimum_perturbation_on_a_linear_model(xp):
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=5), 0.2
    weight, bias = _binary(w, b)
    x_np = rng.normal(size=(8, 5))
    f = x_np @ w + b
    y_np = (f > 0).astype(np.int64)
    y_np[0] = 1 - y_np[0]  # misclassified: radius 0
    x_np[1] = (30.0 * np.linalg.norm(w) - b) * w / (w @ w)  # f = 30 ||w||: 30 from the boundary
    y_np[1] = 1
    f = x_np @ w + b
    result = attacks.minimum_perturbation(linear_model(xp, weight, bias), xp.asarray(x_np),
                                          xp.asarray(y_np), max_radius=10.0)
    radius = to_numpy(result.radius)
    expected = np.abs(f) / np.linalg.norm(w)  # distance to the boundary along +-w
    assert radius[0] == 0.0 and radius[1] == math.inf
    np.testing.assert_allclose(radius[2:], expected[2:], rtol=1e-6)
    flipped = np.argmax(to_numpy(result.x_adv) @ weight + bias, axis=1)
    assert np.all(flipped[2:] != y_np[2:])
    assert result.zero_grad == 0


def test_minimum_perturbation_zero_gradient_rows(xp):
    x_np, w_np, b_np = random_linear_problem(4, n=3, d=3, k=2)
    x_np[0] = -1.0
    w, b = xp.asarray(w_np), xp.asarray(b_np)
    logits_fn = lambda z: ops.linear(ops.relu(z), w, b)  # noqa: E731
    y_np = np.argmax(np.maximum(x_np, 0) @ w_np + b_np, axis=1)
    result = attacks.minimum_perturbation(logits_fn, xp.asarray(x_np), xp.asarray(y_np),
                                          max_radius=5.0)
    assert result.zero_grad == 1 and to_numpy(result.radius)[0] == math.inf
    with pytest.raises(ValueError, match="max_radius: expected a finite number > 0"):
        attacks.minimum_perturbation(logits_fn, xp.asarray(x_np), xp.asarray(y_np),
                                     max_radius=math.inf)
