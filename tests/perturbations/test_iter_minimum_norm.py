"""Carlini-Wagner l2 and the batched untargeted L-BFGS: near the exact minimum, in the box."""

import math

import numpy as np
import pytest
from conftest import assert_namespace
from iter_helpers import foreign_device_errors_skipped, mlp, on_device1, random_mlp
from pert_helpers import linear_model

from refimpl import ops
from refimpl.backend import to_numpy
from refimpl.perturbations.carlini_wagner import cw_l2
from refimpl.perturbations.deepfool_attack import deepfool
from refimpl.perturbations.lbfgs import lbfgs_untargeted, not_label_loss


def _box_problem(seed, n=5, d=4, k=3):
    """x in [0.3, 0.7]^d and an affine classifier whose nearest decision boundaries are 0.03 to
    0.3 away (inside [0, 1]^d)."""
    rng = np.random.default_rng(seed)
    x, weight, bias = rng.uniform(0.3, 0.7, size=(20 * n, d)), rng.normal(size=(d, k)) * 4, \
        rng.normal(size=k)
    bias = bias - np.mean(x @ weight, axis=0)  # put the decision boundaries among the points
    y = np.argmax(x @ weight + bias, axis=1)
    distance = _exact_l2(x, weight, bias, y)
    keep = np.flatnonzero((distance > 0.03) & (distance < 0.3))[:n]
    return x[keep], weight, bias, y[keep]


def _exact_l2(x, weight, bias, y):
    """The l2 distance to the nearest decision boundary of an affine classifier (unboxed)."""
    z = x @ weight + bias
    rows = np.arange(len(y))
    gaps = []
    for k in range(weight.shape[1]):
        a = weight[:, k][None, :] - weight[:, y].T
        gap = (z[rows, y] - z[:, k]) / np.where(k == y, 1.0, np.linalg.norm(a, axis=1))
        gaps.append(np.where(k == y, math.inf, gap))
    return np.min(gaps, axis=0)


def test_cw_is_no_larger_than_deepfool_and_no_smaller_than_the_minimum():
    x, weight, bias, y = _box_problem(0)
    f = linear_model(np, weight, bias)
    exact = _exact_l2(x, weight, bias, y)
    reference = deepfool(f, x, y, p=2, clip=(0.0, 1.0))  # Foolbox's overshoot 0.02
    assert np.all(reference.success)
    found = cw_l2(f, x, y, clip=(0.0, 1.0), c=0.3, steps=80, search_steps=4,
                  learning_rate=0.02)
    assert np.all(found.success)
    assert np.all(found.norm <= reference.norm * 1.01)
    assert np.all(found.norm >= exact * (1 - 1e-9))
    assert np.all((found.x_adv >= 0) & (found.x_adv <= 1))
    np.testing.assert_allclose(np.linalg.norm(found.delta, axis=1), found.norm, rtol=1e-12)
    assert np.all(np.argmax(found.x_adv @ weight + bias, axis=1) != y)


def test_cw_on_every_backend_conventions_and_errors(xp):
    params = random_mlp(1, d=4, scale=2.0)
    f = mlp(xp, params)
    x_np = np.random.default_rng(2).uniform(0.2, 0.8, size=(4, 4))
    y_np = np.argmax(to_numpy(f(xp.asarray(x_np))), axis=1)
    y_np[0] = (y_np[0] + 1) % 3  # misclassified at x: norm 0
    x, y = xp.asarray(x_np), xp.asarray(y_np)
    result = cw_l2(f, x, y, c=1.0, steps=10, search_steps=2, learning_rate=0.05)
    assert_namespace(result.x_adv, xp)
    assert result.x_adv.dtype == xp.float64 and tuple(result.x_adv.shape) == (4, 4)
    norm, success = to_numpy(result.norm), to_numpy(result.success)
    assert norm[0] == 0 and success[0] and np.all(to_numpy(result.delta)[0] == 0)
    assert np.all(np.isinf(norm) == ~success)
    assert np.all(to_numpy(result.delta)[~success] == 0)
    np.testing.assert_array_equal(to_numpy(x), x_np)
    with pytest.raises(ValueError, match="c: expected"):
        cw_l2(f, x, y, c=0.0)
    with pytest.raises(ValueError, match="search_steps"):
        cw_l2(f, x, y, search_steps=0)
    with pytest.raises(ValueError, match="x: Carlini-Wagner needs inputs inside the box"):
        cw_l2(f, x + 1.0, y)
    with pytest.raises(ValueError, match=r"y: expected class labels in \[0, 3\)"):
        cw_l2(f, x, xp.asarray(np.array([0, 1, 2, 3])))


def test_cw_zero_gradients_give_no_perturbation(xp):
    w = xp.zeros((3, 2), dtype=xp.float64)
    b = xp.asarray([1.0, 0.0])
    result = cw_l2(lambda z: ops.linear(z, w, b), xp.full((2, 3), 0.5, dtype=xp.float64),
                   xp.asarray(np.array([0, 0])), steps=3, search_steps=2)
    assert result.zero_grad == 2 and np.all(to_numpy(result.norm) == math.inf)
    assert np.all(to_numpy(result.delta) == 0)


def test_not_label_loss_is_minus_log_one_minus_p_y(xp):
    logits = np.random.default_rng(3).normal(size=(5, 4)) * 3
    y = np.array([0, 1, 2, 3, 0])
    p = np.exp(logits) / np.sum(np.exp(logits), axis=1, keepdims=True)
    np.testing.assert_allclose(to_numpy(not_label_loss(xp.asarray(logits), xp.asarray(y))),
                               -np.log(1 - p[np.arange(5), y]), rtol=1e-9)  # 1 - p: inexact


def test_batched_lbfgs_equals_per_example_runs_and_respects_the_minimum(xp):
    x_np, weight, bias, y_np = _box_problem(4, n=3)
    f = linear_model(xp, weight, bias)
    kw = dict(clip=(0.0, 1.0), c=1.0, search_steps=5)
    whole = lbfgs_untargeted(f, xp.asarray(x_np), xp.asarray(y_np), **kw)
    assert_namespace(whole.x_adv, xp)
    norm = to_numpy(whole.norm)
    assert np.all(to_numpy(whole.success))
    assert np.all(norm >= _exact_l2(x_np, weight, bias, y_np) * (1 - 1e-9))
    x_adv = to_numpy(whole.x_adv)
    assert np.all((x_adv >= 0) & (x_adv <= 1))
    assert np.all(np.argmax(x_adv @ weight + bias, axis=1) != y_np)
    for i in range(3 if xp is np else 1):  # the batch is one vector: scipy never sees xp
        row = lbfgs_untargeted(f, xp.asarray(x_np[i:i + 1]), xp.asarray(y_np[i:i + 1]), **kw)
        np.testing.assert_allclose(to_numpy(row.norm)[0], norm[i], rtol=1e-4)
    np.testing.assert_array_equal(to_numpy(xp.asarray(x_np)), x_np)


def test_lbfgs_conventions_for_misclassified_and_hopeless_rows(xp):
    w = xp.zeros((3, 2), dtype=xp.float64)
    b = xp.asarray([1.0, 0.0])
    f = lambda z: ops.linear(z, w, b)  # noqa: E731  (always class 0)
    result = lbfgs_untargeted(f, xp.full((2, 3), 0.5, dtype=xp.float64),
                              xp.asarray(np.array([1, 0])), search_steps=2)
    np.testing.assert_array_equal(to_numpy(result.norm), [0.0, math.inf])
    np.testing.assert_array_equal(to_numpy(result.success), [True, False])
    assert result.zero_grad == 1 and np.all(to_numpy(result.delta) == 0)
    with pytest.raises(ValueError, match="max_iter"):
        lbfgs_untargeted(f, xp.full((2, 3), 0.5, dtype=xp.float64),
                         xp.asarray(np.array([1, 0])), max_iter=0)


def test_minimum_norm_attacks_keep_the_device_of_their_inputs(xp):
    x_np, weight, bias, y_np = _box_problem(5, n=2)
    x, w, b, y = on_device1(xp, x_np, weight, bias, y_np)
    f = lambda z: ops.linear(z, w, b)  # noqa: E731
    with foreign_device_errors_skipped():
        for result in (cw_l2(f, x, y, steps=3, search_steps=1),
                       lbfgs_untargeted(f, x, y, search_steps=1)):
            assert result.x_adv.device == x.device and result.norm.device == x.device
