"""DeepFool: exact in one step on affine classifiers (against scipy's QP / LP), conventions."""

import math

import numpy as np
import pytest
from conftest import assert_namespace
from iter_helpers import foreign_device_errors_skipped, mlp, on_device1, random_mlp
from pert_helpers import linear_model

from refimpl import ops
from refimpl.backend import to_numpy
from refimpl.perturbations.deepfool_attack import deepfool


def _affine_problem(seed, n=6, d=5, k=4):
    rng = np.random.default_rng(seed)
    x, weight, bias = rng.normal(size=(n, d)), rng.normal(size=(d, k)), rng.normal(size=k)
    y = np.argmax(x @ weight + bias, axis=1)  # correctly classified rows
    return x, weight, bias, y


def _scipy_distance(x, weight, bias, y, p):
    """The exact distance from each x to {argmax != y} of an affine classifier, by scipy: per
    class k, the l2 QP (SLSQP) or the linf LP (linprog) of reaching z_k >= z_y; the minimum."""
    from scipy.optimize import linprog, minimize  # noqa: PLC0415
    out = []
    for xi, yi in zip(x, y):
        best = math.inf
        for k in range(weight.shape[1]):
            if k == yi:
                continue
            a = weight[:, k] - weight[:, yi]
            f = xi @ a + bias[k] - bias[yi]  # < 0: z_k - z_y at x; reach f + a . d >= 0
            if p == 2:
                res = minimize(lambda d: d @ d, np.zeros_like(xi), jac=lambda d: 2 * d,
                               constraints=[{"type": "ineq", "fun": lambda d: f + a @ d,
                                             "jac": lambda d: a}], method="SLSQP",
                               options={"ftol": 1e-14, "maxiter": 200})
                best = min(best, np.linalg.norm(res.x))
            else:  # variables (d, t): min t, -a.d <= f, |d_i| <= t
                dim = xi.shape[0]
                rows = np.vstack([np.append(-a, 0.0),
                                  np.hstack([np.eye(dim), -np.ones((dim, 1))]),
                                  np.hstack([-np.eye(dim), -np.ones((dim, 1))])])
                res = linprog(np.append(np.zeros(dim), 1.0), A_ub=rows,
                              b_ub=np.concatenate([[f], np.zeros(2 * dim)]),
                              bounds=[(None, None)] * dim + [(0, None)])
                best = min(best, res.fun)
        out.append(best)
    return np.array(out)


@pytest.mark.parametrize("p", [2, math.inf])
def test_deepfool_is_exact_in_one_step_on_an_affine_classifier(xp, p):
    x_np, weight, bias, y_np = _affine_problem(0)
    result = deepfool(linear_model(xp, weight, bias), xp.asarray(x_np), xp.asarray(y_np), p=p,
                      steps=1, overshoot=0.0)
    assert_namespace(result.x_adv, xp)
    assert result.x_adv.dtype == xp.float64 and tuple(result.x_adv.shape) == x_np.shape
    assert bool(np.all(to_numpy(result.success)))
    norm = to_numpy(result.norm)
    # the closed form: the class k of least |f_k| / ||a_k||_q, moved |f_k| / ||a_k||_q + 1e-4
    # (Foolbox's push past the boundary, in input units; its 1e-8 guards kept)
    z = x_np @ weight + bias
    q = 2 if p == 2 else 1
    rows = np.arange(len(y_np))
    others = np.arange(weight.shape[1])
    a = np.stack([weight[:, k][None, :] - weight[:, y_np].T for k in others], axis=1)  # (n, K, d)
    f = np.abs(z - z[rows, y_np][:, None])  # (n, K)
    size = np.linalg.norm(a, ord=q, axis=2)
    nearest = np.argmin(np.where(others == y_np[:, None], math.inf, f / (size + 1e-8)), axis=1)
    f_k, size_k = f[rows, nearest], size[rows, nearest]
    reach = f_k / (size_k + 1e-8) + 1e-4
    expected = reach / (size_k + 1e-8) * size_k if p == 2 else reach
    np.testing.assert_allclose(norm, expected, rtol=1e-10)
    scipy_distance = _scipy_distance(x_np, weight, bias, y_np, p)
    np.testing.assert_allclose(norm, scipy_distance, rtol=1e-6, atol=1e-3)
    assert np.all(norm >= scipy_distance - 1e-7)
    np.testing.assert_allclose(np.linalg.norm(to_numpy(result.delta), ord=p, axis=1), norm,
                               rtol=1e-12)
    overshot = deepfool(linear_model(xp, weight, bias), xp.asarray(x_np), xp.asarray(y_np), p=p,
                        steps=1)  # Foolbox's default overshoot 0.02 scales the whole step
    np.testing.assert_allclose(to_numpy(overshot.norm), 1.02 * norm, rtol=1e-12)


def test_candidates_restrict_the_classes_compared(xp):
    x_np, weight, bias, y_np = _affine_problem(1, k=5)
    f, x, y = linear_model(xp, weight, bias), xp.asarray(x_np), xp.asarray(y_np)
    every = to_numpy(deepfool(f, x, y, overshoot=0.0).norm)
    np.testing.assert_array_equal(to_numpy(deepfool(f, x, y, overshoot=0.0, candidates=5).norm),
                                  every)
    top = to_numpy(deepfool(f, x, y, overshoot=0.0, candidates=2).norm)
    assert np.all(top >= every * (1 - 1e-12))


def test_deepfool_on_a_net_misclassified_rows_zero_gradients_and_batches(xp):
    params = random_mlp(2, scale=2.0)
    f = mlp(xp, params)
    x_np = np.random.default_rng(3).normal(size=(5, 6))
    logits = to_numpy(f(xp.asarray(x_np)))
    y_np = np.argmax(logits, axis=1)
    y_np[0] = (y_np[0] + 1) % 3  # misclassified at x: norm 0, delta 0
    result = deepfool(f, xp.asarray(x_np), xp.asarray(y_np), p=2, steps=30)
    norm = to_numpy(result.norm)
    assert norm[0] == 0 and np.all(to_numpy(result.delta)[0] == 0)
    assert np.all(to_numpy(result.success))
    assert np.all(np.argmax(to_numpy(f(result.x_adv)), axis=1) != y_np)
    for i in range(1, 5):
        row = deepfool(f, xp.asarray(x_np[i:i + 1]), xp.asarray(y_np[i:i + 1]), p=2, steps=30)
        np.testing.assert_allclose(to_numpy(row.norm)[0], norm[i], rtol=1e-12)
    w = xp.zeros((6, 3), dtype=xp.float64)  # a constant model: nothing to find
    constant = deepfool(lambda z: ops.linear(z, w, xp.asarray([1.0, 0.0, 0.0])),
                        xp.asarray(x_np[:2]), xp.asarray(np.array([0, 0])), steps=3)
    assert constant.zero_grad == 2 and np.all(to_numpy(constant.norm) == math.inf)
    assert not np.any(to_numpy(constant.success)) and np.all(to_numpy(constant.delta) == 0)
    np.testing.assert_array_equal(to_numpy(xp.asarray(x_np)), x_np)


def test_deepfool_rejects_bad_arguments(xp):
    x_np, weight, bias, y_np = _affine_problem(4, n=2)
    f, x, y = linear_model(xp, weight, bias), xp.asarray(x_np), xp.asarray(y_np)
    with pytest.raises(ValueError, match="p: DeepFool"):
        deepfool(f, x, y, p=1)
    with pytest.raises(ValueError, match="overshoot"):
        deepfool(f, x, y, overshoot=-0.1)
    with pytest.raises(ValueError, match="candidates"):
        deepfool(f, x, y, candidates=1)
    with pytest.raises(ValueError, match=r"y: expected class labels in \[0, 4\)"):
        deepfool(f, x, xp.asarray(np.array([0, 4])))
    with pytest.raises(ValueError, match="y: expected integer labels"):
        deepfool(f, x, xp.asarray(np.array([0.0, 1.0])))


def test_deepfool_keeps_the_device_of_its_inputs(xp):
    x_np, weight, bias, y_np = _affine_problem(5, n=3)
    x, w, b, y = on_device1(xp, x_np, weight, bias, y_np)
    with foreign_device_errors_skipped():
        result = deepfool(lambda z: ops.linear(z, w, b), x, y, p=math.inf, clip=(-5.0, 5.0))
    assert result.x_adv.device == x.device and result.norm.device == x.device


def test_within_radius_counts_a_minimum_norm_attack_at_a_fixed_radius(xp):
    from refimpl.perturbations._checks import within_radius  # noqa: PLC0415
    x_np, weight, bias, y_np = _affine_problem(6)
    x = xp.asarray(x_np)
    found = deepfool(linear_model(xp, weight, bias), x, xp.asarray(y_np), overshoot=0.0)
    norm = to_numpy(found.norm)
    radius = float(np.median(norm))
    fixed = within_radius(found, x, radius)
    kept = to_numpy(fixed.success)
    np.testing.assert_array_equal(kept, norm <= radius)
    np.testing.assert_array_equal(to_numpy(fixed.x_adv)[kept], to_numpy(found.x_adv)[kept])
    np.testing.assert_array_equal(to_numpy(fixed.delta)[~kept], 0.0)
