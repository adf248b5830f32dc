"""APGD-CE: the checkpoint schedule, feasibility, strength against fixed-step PGD, devices."""

import math

import numpy as np
import pytest
from conftest import assert_namespace
from iter_helpers import digits_mlp, foreign_device_errors_skipped, mlp, on_device1, random_mlp

from refimpl import ops
from refimpl.backend import make_rng, to_numpy
from refimpl.perturbations.apgd import apgd_ce, checkpoints
from refimpl.perturbations.projected_gradient import pgd


def test_checkpoints_follow_the_papers_recurrence():
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 (steps shrink by 0.03, at least 0.06)
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    marks = checkpoints(1000)
    gaps = np.diff([0] + marks)
    assert marks[0] == 220 and np.all(gaps >= 60) and np.all(np.diff(gaps) <= 0)
    assert checkpoints(1) == []


@pytest.mark.parametrize("p", [math.inf, 2])
def test_apgd_stays_in_the_ball_and_box_and_leaves_x_alone(xp, p):
    params = random_mlp(0, scale=3.0)
    x_np = np.random.default_rng(1).uniform(0, 1, size=(6, 6))
    x, y = xp.asarray(x_np), xp.asarray(np.arange(6) % 3)
    radius = np.array([0.0, 0.05, 0.1, 0.2, 0.3, 0.5])
    result = apgd_ce(mlp(xp, params), x, y, radius=xp.asarray(radius), p=p, steps=12,
                     rng=make_rng(2, xp), restarts=2, clip=(0.0, 1.0))
    assert_namespace(result.x_adv, xp)
    assert result.x_adv.dtype == xp.float64 and tuple(result.x_adv.shape) == (6, 6)
    norms = np.linalg.norm(to_numpy(result.delta), ord=p, axis=1)
    assert np.all(norms <= radius * (1 + 1e-12) + 1e-15)
    x_adv = to_numpy(result.x_adv)
    assert np.all((x_adv >= 0) & (x_adv <= 1))
    np.testing.assert_array_equal(to_numpy(x), x_np)


def test_apgd_is_at_least_as_strong_as_fixed_step_pgd_on_a_trained_net():
    x_all, y_all, params = digits_mlp()
    x, y = x_all[:100], y_all[:100]
    f = mlp(np, params)
    radius = 0.1
    strong = apgd_ce(f, x, y, radius=radius, steps=20, clip=(0.0, 1.0))
    fixed = pgd(f, x, y, radius=radius, p=math.inf, step_size=radius / 10, steps=20,
                clip=(0.0, 1.0))

    def accuracy_and_loss(result):
        logits = f(result.x_adv)
        return np.mean(np.argmax(logits, axis=1) == y), ops.softmax_cross_entropy(logits, y)

    acc_apgd, loss_apgd = accuracy_and_loss(strong)
    acc_pgd, loss_pgd = accuracy_and_loss(fixed)
    clean = np.mean(np.argmax(f(x), axis=1) == y)
    assert acc_apgd < clean - 0.2  # the radius is large enough to matter
    assert acc_apgd <= acc_pgd
    survived = np.argmax(f(strong.x_adv), axis=1) == y
    assert np.mean(loss_apgd[survived]) >= np.mean(loss_pgd[survived]) - 1e-9


def test_apgd_zero_gradients_batch_independence_and_errors(xp):
    rng = np.random.default_rng(3)
    x_np, weight, bias = 1 + rng.uniform(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    x_np[0] = -1.0  # relu: a zero gradient, delta stays 0
    y_np = np.array([0, 1, 1, 0])
    w, b = xp.asarray(weight), xp.asarray(bias)
    f = lambda z: ops.linear(ops.relu(z), w, b)  # noqa: E731
    whole = apgd_ce(f, xp.asarray(x_np), xp.asarray(y_np), radius=0.3, steps=8)
    assert whole.zero_grad == 1 and np.all(to_numpy(whole.delta)[0] == 0)
    for i in range(4):
        row = apgd_ce(f, xp.asarray(x_np[i:i + 1]), xp.asarray(y_np[i:i + 1]), radius=0.3,
                      steps=8)
        np.testing.assert_allclose(to_numpy(row.delta)[0], to_numpy(whole.delta)[i],
                                   rtol=1e-13, atol=1e-15)
    x, y = xp.asarray(x_np), xp.asarray(y_np)
    with pytest.raises(ValueError, match="p: APGD projects onto l2 or linf"):
        apgd_ce(f, x, y, radius=0.1, p=1)
    with pytest.raises(ValueError, match="steps"):
        apgd_ce(f, x, y, radius=0.1, steps=0)
    with pytest.raises(ValueError, match="momentum"):
        apgd_ce(f, x, y, radius=0.1, momentum=1.5)
    with pytest.raises(ValueError, match=r"y: expected class labels in \[0, 2\)"):
        apgd_ce(f, x, xp.asarray(np.array([0, 1, 5, 0])), radius=0.1)


def test_apgd_keeps_the_device_of_its_inputs(xp):
    rng = np.random.default_rng(4)
    x, w, b, y = on_device1(xp, rng.normal(size=(3, 4)), rng.normal(size=(4, 3)),
                            rng.normal(size=3), np.array([0, 1, 2]))
    f = lambda z: ops.linear(z, w, b)  # noqa: E731
    with foreign_device_errors_skipped():
        result = apgd_ce(f, x, y, radius=0.2, steps=5, p=2, rng=make_rng(0, xp), restarts=2)
    assert result.x_adv.device == x.device and result.delta.device == x.device
