"""Prop. D's second-order quantities for adversarial logistic regression ("Learning with a
strong adversary", appendix A): the Hessian of the robust loss, with the paper's coefficient
corrected, and the smallest eigenvalue behind its uniqueness condition. Re-exported by
:mod:`theory.logistic`; see its docstring for the proposition."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

from theory.norms import check_radius, dual_exponent, dual_lp_norm, lp_maximiser


def _dual_norm_derivatives(w, p: float):
    """(grad, Hessian) of ||w||_q in w, q the dual exponent of p, where they exist.

    For q in (1, inf), with u = w / ||w||_q and v = sign(u) |u|^(q - 1) (the unit lp maximiser):
    grad = v and Hessian = (q - 1) / ||w||_q (diag(|u|^(q - 2)) - v v^T); it exists away from
    w = 0 (q >= 2) or away from any zero coordinate (q < 2). For q in {1, inf} (p = inf, 1) the
    norm is piecewise linear: Hessian 0 where it is differentiable (no ties, no zeros).
    """
    w = np.asarray(w, float)
    v = lp_maximiser(w, 1.0, p)
    q = dual_exponent(p)
    if q in (1.0, math.inf):
        return v, np.zeros((len(w), len(w)))
    length = float(dual_lp_norm(w, p))
    u = np.abs(w) / length
    return v, (q - 1.0) / length * (np.diag(u ** (q - 2.0)) - np.outer(v, v))


def robust_hessian(w, X, y, radius: float, p: float, b: float = 0.0) -> np.ndarray:
    """Hessian in w of :func:`adversarial_loss` (the mean over rows), Prop. D's H corrected:

        H = (1/N) sum_i [sigma(Q_i)(1 - sigma(Q_i)) grad Q_i grad Q_i^T + sigma(Q_i) hess Q_i],

    Q_i = -y_i (x_i.w + b) + radius ||w||_q, grad Q_i = -y_i x_i + radius grad||w||_q,
    hess Q_i = radius hess||w||_q (where the dual norm is twice differentiable). (D, D).
    """
    radius = check_radius(radius)
    X, y = np.asarray(X, float), np.asarray(y, float)
    grad_norm, hess_norm = _dual_norm_derivatives(w, p)
    q_values = -y * (X @ np.asarray(w, float) + b) + radius * dual_lp_norm(w, p)
    s = expit(q_values)
    grad_q = -y[:, None] * X + radius * grad_norm[None, :]  # (N, D)
    first = (grad_q * (s * (1 - s))[:, None]).T @ grad_q
    return (first + s.sum() * radius * hess_norm) / len(y)


def prop_d_condition(w, X, y, radius: float, p: float, b: float = 0.0) -> float:
    """The smallest eigenvalue of (1/N) sum_i grad Q_i grad Q_i^T at w: Prop. D's uniqueness
    condition holds (with a twice-differentiable dual norm) when it is > 0."""
    radius = check_radius(radius)
    X, y = np.asarray(X, float), np.asarray(y, float)
    grad_q = -y[:, None] * X + radius * _dual_norm_derivatives(w, p)[0][None, :]
    return float(np.linalg.eigvalsh(grad_q.T @ grad_q / len(y))[0])
