"""The sign-noise map and its derivatives ("Feed-forward sign noise g(x) = x + eps x l(x) in
input and hidden space", sec. 3).

The map, elementwise: g(x) = x + eps * x * l(x), where per element l(x) = sign(x) with
probability p and -sign(x) otherwise (sign(0) = 0, so g(0) = 0). The paper's experiments use
p = 0.5 (its sec. 4). For one drawn l the map is linear in each coordinate away from 0, so

    Jacobian  dg/dx = diag(1 + eps * l)       (= diag(1 + eps sign(x)) when l = sign(x)),
    Hessian   d^2 g / dx^2 = 0 away from 0.

Curvature at a critical point. If u0 = g(x0) is a critical point of f (grad f(u0) = 0), the
chain rule gives the Hessian of f o g at x0 as

    D H_f(u0) D,   D = diag(1 + eps l),

so entry (i, j) is multiplied by (1 + eps l_i)(1 + eps l_j), and in one dimension the curvature
by (1 + eps l)^2. The paper (sec. 3.2, for the fixed map g(x) = x + eps x sign(x)) writes this
factor as 1 + eps^2 sign(x) sign(x) >= 1 and concludes that the curvature always grows. For
the fixed map the factor is (1 + eps sign(x))^2 = 1 + 2 eps sign(x) + eps^2: the paper drops
the cross term. For x > 0 it is (1 + eps)^2 (1.21, not 1.01, at eps = 0.1); for x < 0 it is
(1 - eps)^2 < 1, so the curvature SHRINKS there and "always grows" does not hold.

Our observation, not the paper's: over the random signs,

    E[(1 + eps l)^2] = 1 + 2 eps (2p - 1) sign(x) + eps^2     (x != 0),

which is 1 + eps^2 at p = 1/2, whatever the sign of x (at p = 0.8, eps = 0.3 it is 1.45 for
x > 0 and 0.73 for x < 0). In several dimensions the average grows only the diagonal: at
p = 1/2, E[D A D] = A + eps^2 diag(A) (E l_i = 0, E l_i l_j = [i = j] away from 0), so "each
direction's curvature is multiplied by 1 + eps^2" holds for the coordinate directions only.
"""
from __future__ import annotations

import numpy as np

from theory.norms import check_radius, check_step


def check_probability(p, name: str = "p") -> float:
    """p as a float in [0, 1], or a ValueError naming the argument (nan included)."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return value


def draw_signs(x, p: float, rng) -> np.ndarray:
    """l(x): sign(x) with probability p, -sign(x) otherwise,
    drawn independently per element (same shape as x)."""
    p = check_probability(p)
    x = np.asarray(x, float)
    keep = rng.random(x.shape) < p
    return np.where(keep, 1.0, -1.0) * np.sign(x)


def sign_noise_map(x, eps: float, signs) -> np.ndarray:
    """g(x) = x + eps * x * l for given signs l (same shape as x)."""
    eps = check_radius(eps, "eps")
    x = np.asarray(x, float)
    return x + eps * x * np.asarray(signs, float)


def jacobian_diagonal(eps: float, signs) -> np.ndarray:
    """The diagonal of dg/dx for fixed signs l: 1 + eps * l (valid away from x = 0)."""
    return 1.0 + check_radius(eps, "eps") * np.asarray(signs, float)


def curvature_factor(eps: float, signs) -> np.ndarray:
    """(1 + eps l)^2: how g rescales the curvature of f at a critical point (per element)."""
    return (1.0 + check_radius(eps, "eps") * np.asarray(signs, float)) ** 2


def expected_curvature_factor(eps: float, p: float, x) -> np.ndarray:
    """E over the random signs of (1 + eps l)^2 = 1 + 2 eps (2p - 1) sign(x) + eps^2 sign(x)^2
    (elementwise; 1 at x = 0). Below 1 for x < 0 when p > 1/2 + eps/4 (the fixed map, p = 1:
    (1 - eps)^2); 1 + eps^2 at p = 1/2 for every x != 0, the value the paper writes."""
    eps, p = check_radius(eps, "eps"), check_probability(p)
    s = np.sign(np.asarray(x, float))
    return 1.0 + 2.0 * eps * (2.0 * p - 1.0) * s + eps ** 2 * s * s


def expected_composed_hessian(hess_f, eps: float, p: float, x) -> np.ndarray:
    """E over the signs of D H_f D, D = diag(1 + eps l(x)): entry (i, j) of H_f times
    E[(1 + eps l_i)(1 + eps l_j)] = (1 + eps m_i)(1 + eps m_j) for i != j, with
    m = E[l] = (2p - 1) sign(x), and expected_curvature_factor on the diagonal.

    At p = 1/2 and x with no zeros this is H_f + eps^2 diag(H_f). Shapes: hess_f (D, D), x (D,).
    """
    eps, p = check_radius(eps, "eps"), check_probability(p)
    hess_f, x = np.asarray(hess_f, float), np.asarray(x, float)
    m = 1.0 + eps * (2.0 * p - 1.0) * np.sign(x)
    factor = m[:, None] * m[None, :]
    factor[np.diag_indices_from(factor)] = expected_curvature_factor(eps, p, x)
    return factor * hess_f


def composed_hessian(hess_f, eps: float, signs) -> np.ndarray:
    """Hessian of f o g at x0 when grad f(g(x0)) = 0: D H_f D with D = diag(1 + eps l)."""
    d = jacobian_diagonal(eps, signs)
    return d[:, None] * np.asarray(hess_f, float) * d[None, :]


def second_derivative_fd(f, x0: float, step: float = 1e-4) -> float:
    """(f(x0 + h) - 2 f(x0) + f(x0 - h)) / h^2 for a scalar function f."""
    step = check_step(step)
    return (f(x0 + step) - 2.0 * f(x0) + f(x0 - step)) / step ** 2


def hessian_fd(f, x0, step: float = 1e-4) -> np.ndarray:
    """Central second differences of a scalar function of a vector (D, D)."""
    step = check_step(step)
    x0 = np.asarray(x0, float)
    dim = len(x0)
    basis = np.eye(dim) * step
    h = np.empty((dim, dim))
    for i in range(dim):
        for j in range(dim):
            h[i, j] = (f(x0 + basis[i] + basis[j]) - f(x0 + basis[i] - basis[j])
                       - f(x0 - basis[i] + basis[j]) + f(x0 - basis[i] - basis[j])) / (4 * step ** 2)
    return h
