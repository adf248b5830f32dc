"""Adversarial logistic regression in closed form (Huang, Xu, Schuurmans, Szepesvari, "Learning
with a strong adversary", appendix A; the linf case is Goodfellow et al.'s linear example).

Labels are y in {-1, +1}, the loss is softplus(-z) = log(1 + exp(-z)) of the margin z = y w.x,
and the adversary moves each x inside an lp ball of the given radius. Because the loss
decreases in z and min_{||r||_p <= radius} y w.r = -radius ||w||_q (Hoelder, 1/p + 1/q = 1),

    max_{||r||_p <= radius} softplus(-y w.(x + r) - y b) = softplus(-y (w.x + b) + radius ||w||_q),

attained at r* = -y * radius * (the lp maximiser of w). The bias b is not perturbed.

Prop. B: the robust objective is convex in w (a convex non-increasing function of a concave
function). Prop. C: the induced regulariser R_z(w) = robust loss - plain loss is NOT convex;
for radius 0.5 and x = y = 1 it is softplus(-w + 0.5 |w|) - softplus(-w), i.e. the paper's
log(1 + e^{-0.5 w}) - log(1 + e^{-w}) for w >= 0 (the paper leaves out w < 0, where it is
softplus(-1.5 w) - softplus(-w)). It is 0 at w = 0, positive, and tends to 0 as w -> inf; a
chord shows the non-convexity: R(4) = 0.109 > (R(0) + R(8)) / 2 = 0.009.

Prop. D, bounded solutions: when no w separates the data with every point at lp distance
above the radius from the hyperplane -- gamma < radius, where gamma = max over ||w||_q <= 1 of
the SMALLEST margin min_i y_i w.x_i (:func:`separation_half_margin`; the paper says "margin
less than 2c", reading the margin as the slab width 2 gamma: that reading is ours) -- every
ray has a point with positive exponent, the objective grows without bound along it, and the
minimiser is bounded. The converse is ours, not the paper's: when gamma > radius the perturbed
data stay separable, the infimum is approached as ||w|| -> inf and there is no minimiser.
Uniqueness needs more (Prop. D's second part): the dual norm twice differentiable (almost
everywhere) and sum_i grad Q_i grad Q_i^T positive definite, Q_i = -y_i x_i.w + radius ||w||_q
(:func:`prop_d_condition`); then the Hessian (:func:`robust_hessian`) is positive definite and
the objective strictly convex. Plain logistic regression on separable data has no minimiser:
||w|| grows without bound along gradient descent, like log t (Soudry et al., "The implicit bias
of gradient descent on separable data"), and like log(1/lam) under an l2 penalty lam.

Corrected silently before, named here (appendix A of the paper): the loss is written
l(z) = -log(1 + exp(-z)) (the sign is wrong: it must be +log(1 + exp(-z)), which decreases in
z, for the min-max to be a robust loss); Q_i is written without the radius c in front of
||w||_*; and the Hessian's second term carries e^Q / (1 + e^Q)^2 where d softplus(Q) / dQ =
sigma(Q) = e^Q / (1 + e^Q) belongs (the first term's sigma(Q)(1 - sigma(Q)) is right).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize
from scipy.special import expit

from theory.logistic_hessian import prop_d_condition, robust_hessian
from theory.norms import (check_p, check_radius, check_sign_labels, dual_exponent, dual_lp_norm,
                          lp_maximiser, lp_maximiser_numerical)


def softplus(z) -> np.ndarray:
    """log(1 + exp(z)), stable for large |z|."""
    return np.logaddexp(0.0, z)


def adversarial_loss(w, X, y, radius: float, p: float, b: float = 0.0) -> float:
    """The robust logistic loss: the MEAN over rows of the closed-form inner maximum,
    mean_i log(1 + exp(-y_i (w.x_i + b) + radius ||w||_q)).

    Shapes: w (D,), X (N, D), y (N,) in {-1, +1}; returns a float. radius = 0 is the plain loss.
    """
    radius, p = check_radius(radius), check_p(p)
    w, X, y = np.asarray(w, float), np.asarray(X, float), check_sign_labels(y)
    return float(np.mean(softplus(-y * (X @ w + b) + radius * dual_lp_norm(w, p))))


def adversarial_loss_grad(w, X, y, radius: float, p: float, b: float = 0.0):
    """Gradient of :func:`adversarial_loss` in (w, b); d||w||_q/dw is the unit lp maximiser of
    w (Danskin), which is a subgradient where ||.||_q has kinks."""
    radius, p = check_radius(radius), check_p(p)
    w, X, y = np.asarray(w, float), np.asarray(X, float), check_sign_labels(y)
    s = expit(-y * (X @ w + b) + radius * dual_lp_norm(w, p)) / len(y)  # d loss / d argument
    grad_w = -(s * y) @ X + radius * s.sum() * lp_maximiser(w, 1.0, p)
    return grad_w, float(-(s * y).sum())


def worst_perturbation(w, y, radius: float, p: float) -> np.ndarray:
    """r*_i = -y_i radius d(w), d(w) the unit lp maximiser of w: the rows' inner argmax (N, D)."""
    return -check_sign_labels(y)[:, None] * lp_maximiser(w, radius, p)[None, :]


def inner_max_numerical(w, x, y: float, radius: float, p: float, b: float = 0.0) -> float:
    """max over ||r||_p <= radius of softplus(-y (w.(x + r) + b)) for one row, numerically.

    softplus is increasing, so the maximiser of the loss is the maximiser of the linear
    function -y w.r over the ball; that is found by an LP (scipy's HiGHS) for p = 1 and
    p = inf and by SLSQP otherwise (no Hoelder identity is used), then the loss is evaluated
    at the point found.
    """
    radius, p = check_radius(radius), check_p(p)
    y = float(check_sign_labels([y])[0])
    w, x = np.asarray(w, float), np.asarray(x, float)
    c, dim = -y * w, len(w)
    if p == math.inf:
        r = optimize.linprog(-c, bounds=[(-radius, radius)] * dim, method="highs").x
    elif p == 1:  # r = u - v with u, v >= 0 and sum(u + v) <= radius
        uv = optimize.linprog(-np.r_[c, -c], A_ub=np.ones((1, 2 * dim)), b_ub=[radius],
                              bounds=[(0, None)] * (2 * dim), method="highs").x
        r = uv[:dim] - uv[dim:]
    else:
        r = lp_maximiser_numerical(c, radius, p)[0]
    return float(softplus(-y * (w @ (x + r) + b)))


def fit_adversarial_logistic(X, y, radius: float, p: float, *, l2: float = 0.0,
                             w0=None, fit_bias: bool = False, maxiter: int = 2000):
    """argmin_w adversarial_loss(w) + (l2/2)||w||^2 with L-BFGS-B; returns (w, b, result).

    radius = 0 fits plain logistic regression. The objective is convex (Prop. B), so any
    start reaches the same value; the minimiser is unique when it is strictly convex.

    A minimiser exists (l2 = 0) only when the data are not separable with margin above the
    radius: radius > :func:`separation_half_margin` (X, y, p, fit_bias=fit_bias). Otherwise the
    objective has no minimiser, and L-BFGS still stops with ``result.success`` True at a large
    w (on tutorial 09's data, at radius 0.9 gamma: ||w|| = 325): check the norm of w. The
    threshold depends on ``fit_bias``: a bias can only widen the best margin (on tutorial 09's
    data gamma is 0.540 without a bias and 0.548 with one).
    """
    radius, p, y = check_radius(radius), check_p(p), check_sign_labels(y)
    if not (math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    X = np.asarray(X, float)
    dim = X.shape[1]
    theta0 = np.zeros(dim + 1) if w0 is None else np.append(np.asarray(w0, float), 0.0)

    def objective(theta):
        w, b = theta[:dim], (theta[dim] if fit_bias else 0.0)
        gw, gb = adversarial_loss_grad(w, X, y, radius, p, b)
        f = adversarial_loss(w, X, y, radius, p, b) + 0.5 * l2 * w @ w
        return f, np.append(gw + l2 * w, gb if fit_bias else 0.0)

    res = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B",
                            options={"maxiter": maxiter, "gtol": 1e-10, "ftol": 1e-15})
    return res.x[:dim], (float(res.x[dim]) if fit_bias else 0.0), res


def convexity_gap(f, w1, w2, t: float) -> float:
    """t f(w1) + (1 - t) f(w2) - f(t w1 + (1 - t) w2): >= 0 on every chord iff f is convex."""
    w1, w2 = np.asarray(w1, float), np.asarray(w2, float)
    gap = t * f(w1) + (1 - t) * f(w2) - f(t * w1 + (1 - t) * w2)
    return float(np.asarray(gap).reshape(()))


def induced_regulariser(w, X, y, radius: float, p: float) -> float:
    """R_z(w) = adversarial_loss(w) - plain loss (mean over rows); >= 0, data dependent."""
    return adversarial_loss(w, X, y, radius, p) - adversarial_loss(w, X, y, 0.0, p)


def prop_c_regulariser(w, radius: float = 0.5, x: float = 1.0, y: float = 1.0) -> np.ndarray:
    """Prop. C's one-dimensional R_z(w) = softplus(-y w x + radius |w|) - softplus(-y w x),
    elementwise over an array of scalar weights w."""
    radius = check_radius(radius)
    w = np.asarray(w, float)
    return softplus(-y * w * x + radius * np.abs(w)) - softplus(-y * w * x)


def plot_prop_c(path, radius: float = 0.5, w_min: float = -6.0, w_max: float = 20.0):
    """Save a PNG of Prop. C's R_z(w) (x = y = 1) with a chord above which it rises."""
    from refimpl.plotting import line_plot  # noqa: PLC0415  (matplotlib only when plotting)
    w = np.linspace(w_min, w_max, 801)
    ends = np.array([0.0, w_max])
    curve = f"R_z(w), radius {radius}, x = y = 1"
    return line_plot({curve: (w, prop_c_regulariser(w, radius)),
                      "a chord below the curve": (ends, prop_c_regulariser(ends, radius))},
                     path, xlabel="w", ylabel="R_z(w)",
                     title="Prop. C: the induced regulariser is not convex",
                     styles={"a chord below the curve": "--"})


def separation_half_margin(X, y, p: float, *, fit_bias: bool = False) -> float:
    """gamma = max over ||w||_q <= 1 (and b, with ``fit_bias``) of min_i y_i (w.x_i + b): over
    separating hyperplanes, the largest SMALLEST lp distance from a point to the hyperplane
    (through 0 without a bias); negative when the data are not separable.

    Solved as a linear program for q in {1, inf} (p = inf, 1) and by SLSQP otherwise. A bias
    is one more free variable (appended to x as a constant 1 that the norm does not see).
    """
    p = check_p(p)
    X, y = np.asarray(X, float), check_sign_labels(y)
    if fit_bias:
        return _half_margin_with_bias(X, y, p)
    A = y[:, None] * X  # rows a_i; maximise t subject to a_i.w >= t
    n, dim = A.shape
    if p in (1, math.inf):  # variables (w+, w-, t) for q = 1; (w, t) for q = inf
        if p == math.inf:
            c = np.r_[np.zeros(2 * dim), -1.0]
            A_ub = np.vstack([np.c_[-A, A, np.ones(n)], np.r_[np.ones(2 * dim), 0.0]])
            bounds = [(0, None)] * (2 * dim) + [(None, None)]
        else:
            c = np.r_[np.zeros(dim), -1.0]
            A_ub, bounds = np.c_[-A, np.ones(n)], [(-1, 1)] * dim + [(None, None)]
        res = optimize.linprog(c, A_ub=A_ub, b_ub=np.r_[np.zeros(n), 1.0][:A_ub.shape[0]],
                               bounds=bounds, method="highs")
        return float(-res.fun)
    q = dual_exponent(p)
    cons = [{"type": "ineq", "fun": lambda v: A @ v[:dim] - v[dim]},
            {"type": "ineq", "fun": lambda v: 1.0 - np.sum(np.abs(v[:dim]) ** q)}]
    start = np.r_[np.mean(A, 0) / (np.linalg.norm(np.mean(A, 0)) + 1e-12) * 0.5, -10.0]
    res = optimize.minimize(lambda v: -v[dim], start, method="SLSQP", constraints=cons,
                            options={"maxiter": 1000, "ftol": 1e-12})
    return float(-res.fun)


def plain_logistic_gd_norms(X, y, steps: int, lr: float = 1.0) -> np.ndarray:
    """||w_t||_2 along gradient descent on the plain mean logistic loss from w_0 = 0 (T,)."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    w = np.zeros(np.shape(X)[1])
    norms = np.empty(steps)
    for t in range(steps):
        w = w - lr * adversarial_loss_grad(w, X, y, 0.0, 2.0)[0]
        norms[t] = np.linalg.norm(w)
    return norms


def goodfellow_loss(w, X, y, radius: float, b: float = 0.0) -> float:
    """Goodfellow et al.'s linf case: mean softplus(-y (w.x + b) + radius ||w||_1), the loss
    at the fast-gradient-sign point x - radius y sign(w). This is the adversarial term only;
    their training objective averages it with the clean loss (:func:`goodfellow_mixed_loss`)."""
    return adversarial_loss(w, X, y, radius, math.inf, b)


def _half_margin_with_bias(X, y, p: float) -> float:
    """separation_half_margin with a free bias: variables (w, b, t), maximise t subject to
    y_i (w.x_i + b) >= t and ||w||_q <= 1 (the bias is not in the norm)."""
    n, dim = X.shape
    A = y[:, None] * X
    q = dual_exponent(p)
    if p == math.inf:  # q = 1: w = u - v, u, v >= 0, sum(u + v) <= 1; variables (u, v, b, t)
        c = np.r_[np.zeros(2 * dim + 1), -1.0]
        A_ub = np.vstack([np.c_[-A, A, -y, np.ones(n)], np.r_[np.ones(2 * dim), 0.0, 0.0]])
        bounds = [(0, None)] * (2 * dim) + [(None, None)] * 2
    elif p == 1:  # q = inf: |w_i| <= 1; variables (w, b, t)
        c = np.r_[np.zeros(dim + 1), -1.0]
        A_ub, bounds = np.c_[-A, -y, np.ones(n)], [(-1, 1)] * dim + [(None, None)] * 2
    else:
        cons = [{"type": "ineq", "fun": lambda v: A @ v[:dim] + y * v[dim] - v[dim + 1]},
                {"type": "ineq", "fun": lambda v: 1.0 - np.sum(np.abs(v[:dim]) ** q)}]
        mean = np.mean(A, 0)
        start = np.r_[mean / (np.linalg.norm(mean) + 1e-12) * 0.5, 0.0, -10.0]
        res = optimize.minimize(lambda v: -v[dim + 1], start, method="SLSQP", constraints=cons,
                                options={"maxiter": 1000, "ftol": 1e-12})
        return float(-res.fun)
    b_ub = np.zeros(A_ub.shape[0])
    if p == math.inf:
        b_ub[-1] = 1.0
    res = optimize.linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    return float(-res.fun)


def goodfellow_mixed_loss(w, X, y, radius: float, alpha: float = 0.5, b: float = 0.0) -> float:
    """Goodfellow et al.'s training objective for the linear model: alpha * clean loss +
    (1 - alpha) * loss at the fast-gradient-sign point (their alpha = 0.5),

        alpha mean softplus(-y (w.x + b)) + (1 - alpha) mean softplus(-y (w.x + b) + radius ||w||_1)
        = plain loss + (1 - alpha) R_z(w),

    so for the linear model the mixture halves (at alpha = 0.5) the induced regulariser of
    :func:`goodfellow_loss`; still convex in w (a positive combination of convex functions).
    """
    if not 0 <= float(alpha) <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return (alpha * adversarial_loss(w, X, y, 0.0, math.inf, b)
            + (1 - alpha) * adversarial_loss(w, X, y, radius, math.inf, b))
