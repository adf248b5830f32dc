"""The minimal linearized perturbation and Danskin's gradient (Huang, Xu, Schuurmans,
Szepesvari, "Learning with a strong adversary", Props. 3, 4 and 6).

Props. 3-4. Linearise the class scores s (K,) of one example around x: s(x + r) ~ s + T r,
T (K, D) the Jacobian. The smallest r (in lp) that lets class j != y catch up with the label y,

    min ||r||_p  subject to  s_y + <T_y, r> <= s_j + <T_j, r>,

has the value (s_y - s_j) / ||T_j - T_y||_q and the solution (s_y - s_j) / ||T_j - T_y||_q
times the unit lp maximiser of T_j - T_y (l2: (T_j - T_y)/||.||_2; linf: sign(T_j - T_y); l1:
the first largest coordinate, with its sign). The smallest over j != y (index I) is the
smallest r that changes the linearised prediction (Prop. 4). Conventions: when s_j >= s_y
already the value is 0 (r = 0); when T_j = T_y and s_j < s_y class j cannot catch up and its
value is +inf; when no class can catch up, the norm is +inf, r = 0 and the target is y itself.

Two typos of the paper's Prop. 3 are corrected here (and were before, silently): its l2
solution (alpha_y - alpha_j) / ||T_j - T_y||_2 * (T_j - T_y) has norm alpha_y - alpha_j, not the
stated optimal value (alpha_y - alpha_j) / ||T_j - T_y||_2 -- the direction must be the unit
vector (T_j - T_y) / ||T_j - T_y||_2; and its l1 solution c / ||T_j - T_y||_inf e_k writes c
(the ball radius of appendix A) for the gap alpha_y - alpha_j and drops the sign of
(T_j - T_y)_k, without which the step moves away from class j half of the time.

Prop. 6 (Danskin). If L(v) = max_u h(u, v) and u*(v) attains the maximum, then (almost
everywhere) dL/dv = dh/dv (u*, v): differentiate at the maximiser as if it were a constant. We
check it on logistic regression, where the inner max over an lp ball is exact (see
theory.logistic), computing dh/dv with refimpl's reverse mode at a stopped-gradient u*.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

from refimpl import ops
from refimpl.autodiff import grad, stop_gradient
from theory.logistic import adversarial_loss, worst_perturbation
from theory.norms import check_class_labels, check_p, check_step, dual_lp_norm, lp_maximiser


def minimal_perturbation(jac, scores, y, p: float):
    """The minimal linearised perturbation of each example, in closed form.

    Shapes: jac (N, K, D), scores (N, K), y (N,) ints. Returns (r (N, D), norm (N,),
    target (N,)): r changes the linearised argmax to class ``target`` (ties: the first j).
    When no class can catch up (every other class has T_j = T_y and a lower score), norm is
    inf, r is 0 and target is y.
    """
    p = check_p(p)
    jac, scores = np.asarray(jac, float), np.asarray(scores, float)
    n, k, _ = jac.shape
    y = check_class_labels(y, k)
    rows = np.arange(n)
    diff = jac - jac[rows, y][:, None, :]  # T_j - T_y (N, K, D)
    gap = scores[rows, y][:, None] - scores  # s_y - s_j (N, K)
    dual = dual_lp_norm(diff, p)  # (N, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(gap <= 0, 0.0, np.where(dual > 0, gap / dual, np.inf))
    value[rows, y] = np.inf  # j ranges over the other classes only
    target = np.argmin(value, axis=1)
    norm = value[rows, target]
    target = np.where(np.isfinite(norm), target, y)  # nobody catches up: the label stays
    direction = lp_maximiser(diff[rows, target], 1.0, p)  # unit lp maximiser (N, D)
    r = np.where(np.isfinite(norm), norm, 0.0)[:, None] * direction
    return r, norm, target


def class_lp(a, c: float, p: float) -> tuple[float, np.ndarray]:
    """min ||r||_p subject to <a, r> >= c, solved numerically for one a (D,), c > 0.

    l1 and linf are linear programs (scipy's HiGHS); l2 is a quadratic program (SLSQP).
    """
    a = np.asarray(a, float)
    dim = len(a)
    if p == 1:  # r = u - v, u, v >= 0: min sum(u + v), <a, u - v> >= c
        res = optimize.linprog(np.ones(2 * dim), A_ub=-np.r_[a, -a][None], b_ub=[-c],
                               bounds=[(0, None)] * (2 * dim), method="highs")
        return float(res.fun), res.x[:dim] - res.x[dim:]
    if p == math.inf:  # variables (r, t): min t, -t <= r_i <= t, <a, r> >= c
        eye = np.eye(dim)
        A_ub = np.vstack([np.c_[eye, -np.ones(dim)], np.c_[-eye, -np.ones(dim)], np.r_[-a, 0.0]])
        res = optimize.linprog(np.r_[np.zeros(dim), 1.0], A_ub=A_ub,
                               b_ub=np.r_[np.zeros(2 * dim), -c],
                               bounds=[(None, None)] * (dim + 1), method="highs")
        return float(res.fun), res.x[:dim]
    if p != 2:
        raise ValueError(f"p must be 1, 2 or inf (class_lp solves only those), got {p!r}")
    res = optimize.minimize(lambda r: r @ r, np.zeros(dim), jac=lambda r: 2 * r, method="SLSQP",
                            constraints=[{"type": "ineq", "fun": lambda r: a @ r - c,
                                          "jac": lambda r: a}],
                            options={"maxiter": 500, "ftol": 1e-15})
    return float(np.sqrt(res.x @ res.x)), res.x


def minimal_perturbation_numerical(jac, scores, y: int, p: float) -> tuple[float, np.ndarray]:
    """The same problem for one example (jac (K, D), scores (K,)): the smallest of the
    per-class programs :func:`class_lp`; returns (norm, r)."""
    p = check_p(p)
    jac, scores = np.asarray(jac, float), np.asarray(scores, float)
    y = int(check_class_labels([y], len(scores))[0])
    best = (math.inf, np.zeros(jac.shape[1]))
    for j in range(len(scores)):
        gap = scores[y] - scores[j]
        if j == y:
            continue
        if gap <= 0:
            return 0.0, np.zeros(jac.shape[1])
        if np.any(jac[j] != jac[y]):
            value, r = class_lp(jac[j] - jac[y], gap, p)
            if value < best[0]:
                best = (value, r)
    return best


def robust_logistic_loss(w, x, y: float, radius: float, p: float) -> float:
    """L(w) = max_{||r||_p <= radius} softplus(-y w.(x + r)) for one row (exact)."""
    return adversarial_loss(w, np.asarray(x, float)[None], np.array([y]), radius, p)


def danskin_gradient(w, x, y: float, radius: float, p: float) -> np.ndarray:
    """dL/dw by Prop. 6: the gradient of h(r*, w) = softplus(-y w.(x + r*)) in w, with the
    maximiser r* = -y radius (unit lp maximiser of w) held constant (refimpl reverse mode)."""
    r_star = stop_gradient(worst_perturbation(w, [y], radius, p)[0])
    x_adv = np.asarray(x, float) + r_star
    h = lambda v: ops.log1p(ops.exp(-y * ops.sum(v * x_adv)))  # noqa: E731
    return np.asarray(grad(h)(np.asarray(w, float)))


def finite_difference_gradient(f, w, step: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function f at w, coordinate by coordinate."""
    step = check_step(step)
    w = np.asarray(w, float)
    out = np.empty_like(w)
    for i in range(len(w)):
        e = np.zeros_like(w)
        e[i] = step
        out[i] = (f(w + e) - f(w - e)) / (2 * step)
    return out
