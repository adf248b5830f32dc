"""The sign-noise map and its derivatives ("Feed-forward sign noise g(x) = x + eps x l(x) in
input and hidden space", sec. 3).

The map, elementwise: g(x) = x + eps * x * l(x), where per element l(x) = sign(x) with
probability p and -sign(x) otherwise (sign(0) = 0, so g(0) = 0). For one drawn l the map is
linear in each coordinate away from 0, so

    Jacobian  dg/dx = diag(1 + eps * l)       (= diag(1 + eps sign(x)) when l = sign(x)),
    Hessian   d^2 g / dx^2 = 0 away from 0.

Curvature at a critical point. If u0 = g(x0) is a critical point of f (grad f(u0) = 0), the
chain rule gives the Hessian of f o g at x0 as

    D H_f(u0) D,   D = diag(1 + eps l),

so in one dimension the curvature is multiplied by the factor (1 + eps l)^2. The paper writes
the factor as 1 + eps^2 sign(x) sign(x); for a fixed l = sign(x) the factor is really
(1 + eps sign(x))^2 (for example 1.21, not 1.01, at eps = 0.1, x > 0). The paper's expression
is the factor's EXPECTATION over the random signs at p = 1/2:
E[(1 + eps l)^2] = 1 + 2 eps (2p - 1) |sign(x)| + eps^2, which is 1 + eps^2 at p = 1/2 -- on
average the curvature grows, which is the paper's point.
"""

from __future__ import annotations

import numpy as np


def draw_signs(x, p: float, rng) -> np.ndarray:
    """l(x): sign(x) with probability p, -sign(x) otherwise,
    drawn independently per element (same shape as x)."""
    x = np.asarray(x, float)
    keep = rng.random(x.shape) < p
    return np.where(keep, 1.0, -1.0) * np.sign(x)


def sign_noise_map(x, eps: float, signs) -> np.ndarray:
    """g(x) = x + eps * x * l for given signs l (same shape as x)."""
    x = np.asarray(x, float)
    return x + eps * x * np.asarray(signs, float)


def jacobian_diagonal(eps: float, signs) -> np.ndarray:
    """The diagonal of dg/dx for fixed signs l: 1 + eps * l (valid away from x = 0)."""
    return 1.0 + eps * np.asarray(signs, float)


def curvature_factor(eps: float, signs) -> np.ndarray:
    """(1 + eps l)^2: how g rescales the curvature of f at a critical point (per element)."""
    return (1.0 + eps * np.asarray(signs, float)) ** 2


def expected_curvature_factor(eps: float, p: float, x) -> np.ndarray:
    """E over the random signs of (1 + eps l)^2 = 1 + 2 eps (2p - 1) sign(x) + eps^2 sign(x)^2;
    1 + eps^2 at p = 1/2 (the paper's factor)."""
    s = np.sign(np.asarray(x, float))
    return 1.0 + 2.0 * eps * (2.0 * p - 1.0) * s + eps ** 2 * s * s


def composed_hessian(hess_f, eps: float, signs) -> np.ndarray:
    """Hessian of f o g at x0 when grad f(g(x0)) = 0: D H_f D with D = diag(1 + eps l)."""
    d = jacobian_diagonal(eps, signs)
    return d[:, None] * np.asarray(hess_f, float) * d[None, :]


def second_derivative_fd(f, x0: float, step: float = 1e-4) -> float:
    """(f(x0 + h) - 2 f(x0) + f(x0 - h)) / h^2 for a scalar function f."""
    return (f(x0 + step) - 2.0 * f(x0) + f(x0 - step)) / step ** 2


def hessian_fd(f, x0, step: float = 1e-4) -> np.ndarray:
    """Central second differences of a scalar function of a vector (D, D)."""
    x0 = np.asarray(x0, float)
    dim = len(x0)
    basis = np.eye(dim) * step
    h = np.empty((dim, dim))
    for i in range(dim):
        for j in range(dim):
            h[i, j] = (f(x0 + basis[i] + basis[j]) - f(x0 + basis[i] - basis[j])
                       - f(x0 - basis[i] + basis[j]) + f(x0 - basis[i] - basis[j])) / (4 * step ** 2)
    return h
