"""The linearized minimal perturbation (paper 004 Props. 3-4): exact for a linear model with
scores = logits, so it must flip the prediction and match the minimal flip scipy finds."""

import math

import numpy as np
import pytest
from conftest import assert_namespace
from pert_helpers import linear_model, random_linear_problem
from scipy.optimize import linprog, minimize

from refimpl import ops
from refimpl.autodiff import jacobian
from refimpl.backend import to_numpy
from refimpl.perturbations import lp
from refimpl.perturbations.linearized import minimal_perturbation


def _scipy_minimal_flip(x, weight, bias, y, p):
    """min ||r||_p over classes j != y s.t. logit_j(x + r) >= logit_y(x + r), by linprog (l1,
    linf) or SLSQP (l2)."""
    logits = x @ weight + bias
    d = x.size
    best = math.inf
    for j in range(weight.shape[1]):
        if j == y:
            continue
        a = weight[:, y] - weight[:, j]  # constraint a.r <= logits_j - logits_y
        b = logits[j] - logits[y]
        if p == 2:
            cons = [{"type": "ineq", "fun": lambda r: b - a @ r, "jac": lambda r: -a}]
            res = minimize(lambda r: r @ r, np.zeros(d), jac=lambda r: 2 * r, constraints=cons,
                           method="SLSQP", options={"ftol": 1e-16, "maxiter": 500})
            value = math.sqrt(res.fun)
        elif p == 1:  # variables (r, t), |r_i| <= t_i, minimise sum t
            eye = np.eye(d)
            a_ub = np.vstack([np.hstack([eye, -eye]), np.hstack([-eye, -eye]),
                              np.hstack([a, np.zeros(d)])[None]])
            res = linprog(np.r_[np.zeros(d), np.ones(d)], A_ub=a_ub,
                          b_ub=np.r_[np.zeros(2 * d), b], bounds=[(None, None)] * (2 * d))
            value = res.fun
        else:  # linf: variables (r, t), |r_i| <= t, minimise t
            ones = np.ones((d, 1))
            a_ub = np.vstack([np.hstack([np.eye(d), -ones]), np.hstack([-np.eye(d), -ones]),
                              np.r_[a, 0.0][None]])
            res = linprog(np.r_[np.zeros(d), 1.0], A_ub=a_ub, b_ub=np.r_[np.zeros(2 * d), b],
                          bounds=[(None, None)] * (d + 1))
            value = res.fun
        best = min(best, value)
    return best


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_for_a_linear_model(xp, p, seed):
    x_np, w_np, b_np = random_linear_problem(seed, n=6, d=5, k=4)
    logits_fn = linear_model(xp, w_np, b_np)
    x = xp.asarray(x_np)
    logits = logits_fn(x)
    y_np = np.argmax(to_numpy(logits), axis=1)  # every row correctly classified
    y = xp.asarray(y_np)
    jac = jacobian(logits_fn, batched=True)(x)  # (N, K, D) = W^T in every row
    found = minimal_perturbation(jac, logits, y, p)
    assert_namespace(found.r, xp)
    assert tuple(found.r.shape) == tuple(x.shape) and tuple(found.label.shape) == (6,)
    r, norm = to_numpy(found.r), to_numpy(found.norm)
    np.testing.assert_allclose(to_numpy(lp.norm(found.r, p)), norm, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(lp.norm(found.direction, p)), 1.0, rtol=1e-12)
    for i in range(6):
        past = (x_np[i] + r[i] * (1 + 1e-6)) @ w_np + b_np
        short = (x_np[i] + r[i] * (1 - 1e-6)) @ w_np + b_np
        assert np.argmax(past) == to_numpy(found.label)[i] != y_np[i]
        assert np.argmax(short) == y_np[i]
        assert norm[i] == pytest.approx(_scipy_minimal_flip(x_np[i], w_np, b_np, y_np[i], p),
                                        rel=1e-6)


def test_l2_r_is_the_unique_minimiser(xp):
    x_np, w_np, b_np = random_linear_problem(5, n=3, d=4, k=2)
    y_np = np.argmax(x_np @ w_np + b_np, axis=1)
    jac = np.broadcast_to(w_np.T, (3, 2, 4))
    found = minimal_perturbation(xp.asarray(jac), xp.asarray(x_np @ w_np + b_np),
                                 xp.asarray(y_np), 2)
    for i in range(3):  # binary: r = -margin * (w_y - w_j) / ||w_y - w_j||^2
        a = w_np[:, y_np[i]] - w_np[:, 1 - y_np[i]]
        margin = (x_np[i] @ w_np + b_np) @ np.where(np.arange(2) == y_np[i], 1.0, -1.0)
        np.testing.assert_allclose(to_numpy(found.r)[i], -margin * a / (a @ a), rtol=1e-12)


def test_probabilities_variant_uses_the_softmax_jacobian(xp):
    x_np, w_np, b_np = random_linear_problem(2, n=4, d=3, k=3)
    logits_fn = linear_model(xp, w_np, b_np)
    probs_fn = lambda z: ops.softmax(logits_fn(z), axis=-1)  # noqa: E731
    x = xp.asarray(x_np)
    alpha = probs_fn(x)
    y = xp.argmax(alpha, axis=1)
    found = minimal_perturbation(jacobian(probs_fn, batched=True)(x), alpha, y, 2)
    # the linearised probability of the chosen class catches up with that of y exactly
    a_np, jac_np = to_numpy(alpha), to_numpy(jacobian(probs_fn, batched=True)(x))
    for i, (label, true) in enumerate(zip(to_numpy(found.label), to_numpy(y))):
        moved = a_np[i] + jac_np[i] @ to_numpy(found.r)[i]
        assert moved[label] == pytest.approx(moved[true], abs=1e-12)


def test_misclassified_and_flat_rows_give_zero_and_no_nan(xp):
    jac = np.zeros((3, 3, 2))
    jac[:2] = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    scores = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1], [0.5, 0.2, 0.3]])
    found = minimal_perturbation(xp.asarray(jac), xp.asarray(scores), xp.asarray([0, 0, 0]), 2)
    r, norm = to_numpy(found.r), to_numpy(found.norm)
    assert np.all(np.isfinite(r))
    assert norm[0] < 0 and np.all(r[0] == 0)  # class 1 already wins
    assert norm[1] > 0 and np.any(r[1] != 0)
    assert norm[2] == math.inf and np.all(r[2] == 0) and np.all(to_numpy(found.direction)[2] == 0)


def test_bad_inputs_name_the_argument():
    jac, scores, y = np.zeros((2, 3, 4)), np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError, match="jac, scores: expected jac"):
        minimal_perturbation(jac[:, :2], scores, y)
    with pytest.raises(ValueError, match=r"y: expected integer labels of shape \(2,\)"):
        minimal_perturbation(jac, scores, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="p: expected a norm exponent"):
        minimal_perturbation(jac, scores, y, 0.5)
    with pytest.raises(ValueError, match="scores: expected finite values"):
        minimal_perturbation(jac, np.full((2, 3), np.nan), y)
