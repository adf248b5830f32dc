"""lp and k-support norms, their duals, and the linear maximisers over their balls (float64).

Every function works on the last axis: a vector (D,) gives a scalar, a batch (N, D) gives
(N,). The numerical counterparts (``*_numerical``) solve the same problems with
``scipy.optimize`` for one vector at a time; the tests compare the two.

The linear maximiser (Lyu, Huang, Liang, "A unified gradient regularization family for
adversarial examples", appendix A). For a gradient g and 1/p + 1/q = 1,

    max <g, d>  subject to  ||d||_p <= radius

has the value radius * ||g||_q (Hoelder's inequality, with equality) and, for p in (1, inf),
the unique maximiser d = radius * sign(g) * (|g| / ||g||_q) ** (q - 1). p = inf gives
radius * sign(g); p = 1 puts the whole radius on the first coordinate of largest |g|.

The k-support norm (Argyriou et al., used in "Adversarial noise from the K-support norm"):
with |w| sorted descending as s_1 >= ... >= s_D and s_0 = +inf, r is the unique integer in
{0, ..., k-1} with s_{k-r-1} > (1/(r+1)) sum_{i >= k-r} s_i >= s_{k-r}, and

    ||w||_k^sp = sqrt( sum_{i <= k-r-1} s_i^2 + (sum_{i >= k-r} s_i)^2 / (r+1) ).

Its dual is the l2 norm of the k largest magnitudes, and the maximiser of <g, d> over the
radius ball keeps the k largest |g_i|, zeroes the rest and scales to l2 norm radius (a k-sparse
vector's k-support norm is its l2 norm). k = 1 gives l1 (dual linf); k = D gives l2.

Bad settings raise a ValueError naming the argument: p below 1 or nan (:func:`check_p`), a
negative or nan radius (:func:`check_radius`), k outside 1..D.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import optimize


def check_p(p, name: str = "p") -> float:
    """p as a float in [1, inf], or a ValueError naming the argument (p < 1 is no norm)."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [1, inf], got {p!r}") from None
    if not value >= 1:  # also catches nan
        raise ValueError(f"{name} must be a number in [1, inf], got {p!r}")
    return value


def check_radius(radius, name: str = "radius") -> float:
    """radius as a float >= 0 (finite), or a ValueError naming the argument."""
    try:
        value = float(radius)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number >= 0, got {radius!r}") from None
    if not 0 <= value < math.inf:  # also catches nan
        raise ValueError(f"{name} must be a finite number >= 0, got {radius!r}")
    return value


def check_step(step, name: str = "step") -> float:
    """step as a finite float > 0 (a finite-difference or grid step), or a ValueError naming it."""
    try:
        value = float(step)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0, got {step!r}") from None
    if not 0 < value < math.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {step!r}")
    return value


def check_sign_labels(y, name: str = "y") -> np.ndarray:
    """y as a float array of labels in {-1, +1}, or a ValueError naming the argument."""
    y = np.asarray(y, dtype=float)
    if not np.all((y == 1) | (y == -1)):
        raise ValueError(f"{name} must hold labels in {{-1, +1}}, got values {np.unique(y)[:4]}")
    return y


def check_class_labels(y, num_classes: int, name: str = "y") -> np.ndarray:
    """y as an integer array of class indices in 0..num_classes-1, or a ValueError naming it."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise ValueError(f"{name} must be integer class labels (N,), got {y.dtype} of shape "
                         f"{y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must hold labels in 0..{num_classes - 1}, found "
                         f"{y.min()}..{y.max()}")
    return y


def dual_exponent(p: float) -> float:
    """q with 1/p + 1/q = 1 (p = 1 -> inf, p = inf -> 1); p must be in [1, inf]."""
    p = check_p(p)
    if p == 1:
        return math.inf
    if p == math.inf:
        return 1.0
    return p / (p - 1.0)


def lp_norm(x, p: float) -> np.ndarray:
    """||x||_p over the last axis, computed stably (scaled by max |x|)."""
    p = check_p(p)
    a = np.abs(np.asarray(x, dtype=np.float64))
    if p == math.inf:
        return a.max(axis=-1)
    if p == 1:
        return a.sum(axis=-1)
    scale = a.max(axis=-1, keepdims=True)
    safe = np.where(scale > 0, scale, 1.0)
    return (scale * np.sum((a / safe) ** p, axis=-1, keepdims=True) ** (1.0 / p))[..., 0]


def dual_lp_norm(g, p: float) -> np.ndarray:
    """||g||_q, the dual of the lp norm: max <g, d> over ||d||_p <= 1."""
    return lp_norm(g, dual_exponent(p))


def lp_maximiser(g, radius: float, p: float) -> np.ndarray:
    """argmax <g, d> subject to ||d||_p <= radius, in closed form; zero where g is zero.

    Shapes: g (..., D) -> (..., D). Optimal value radius * ||g||_q; ||d||_p = radius when g != 0.
    """
    p, radius = check_p(p), check_radius(radius)
    g = np.asarray(g, dtype=np.float64)
    if not np.all(np.isfinite(g)):
        raise ValueError("g must be finite, got NaN or inf")
    if p == math.inf:
        return radius * np.sign(g)
    if p == 1:
        a = np.abs(g)
        first = np.argmax(a, axis=-1)[..., None]  # first coordinate of largest |g| (C order)
        hot = np.arange(g.shape[-1]) == first
        return radius * np.where(hot, np.sign(g), 0.0)
    q = dual_exponent(p)
    scale = np.abs(g).max(axis=-1, keepdims=True)
    safe = np.where(scale > 0, scale, 1.0)
    u = np.abs(g) / safe  # in [0, 1]: no overflow for any q
    uq = lp_norm(u, q)[..., None]
    return radius * np.sign(g) * (u / np.where(uq > 0, uq, 1.0)) ** (q - 1.0)


def lp_maximiser_numerical(g, radius: float, p: float) -> tuple[np.ndarray, float]:
    """The same problem for one vector g (D,), solved by SLSQP; returns (d, <g, d>)."""
    p, radius = check_p(p), check_radius(radius)
    g = np.asarray(g, dtype=np.float64)
    scale = np.abs(g).max() or 1.0
    gs = g / scale  # well-conditioned objective
    ball = {"type": "ineq",
            "fun": lambda d: 1.0 - np.sum(np.abs(d) ** p),
            "jac": lambda d: -p * np.sign(d) * np.abs(d) ** (p - 1.0)}
    best = None
    for start in (gs / (lp_norm(gs, p) or 1.0) * 0.5, np.zeros_like(gs) + 1e-3):
        res = optimize.minimize(lambda d: -gs @ d, start, jac=lambda d: -gs, method="SLSQP",
                                constraints=[ball], options={"maxiter": 500, "ftol": 1e-14})
        if best is None or res.fun < best.fun:
            best = res
    d = radius * best.x
    return d, float(g @ d)


def resolve_k(k, dim: int) -> int:
    """k as an int in 1..dim: an int is kept, a fraction in (0, 1] becomes round(k * dim).

    ``round`` is Python's, which rounds halves to even: k = 0.5 gives 2 for dim = 5 (2.5) and
    4 for dim = 7 (3.5), and at least 1. refimpl.perturbations.k_support.resolve_k agrees.
    """
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        kk = int(k)
    elif 0 < float(k) <= 1:
        kk = max(1, int(round(float(k) * dim)))
    else:
        raise ValueError(f"k must be an int in 1..{dim} or a fraction in (0, 1], got {k}")
    if not 1 <= kk <= dim:
        raise ValueError(f"k must be in 1..{dim}, got {kk}")
    return kk


def k_support_norm(w, k) -> np.ndarray:
    """The k-support norm of w over the last axis (see the module docstring)."""
    w = np.asarray(w, dtype=np.float64)
    k = resolve_k(k, w.shape[-1])
    s = -np.sort(-np.abs(w), axis=-1)  # descending magnitudes, 0-based: s[..., i] = s_{i+1}
    head_sq = np.concatenate([np.zeros(s.shape[:-1] + (1,)), np.cumsum(s * s, axis=-1)], -1)
    tail = np.cumsum(s[..., ::-1], axis=-1)[..., ::-1]  # tail[..., i] = sum_{j >= i} s[..., j]
    chosen = np.full(s.shape[:-1], -1)
    slack = 1.0 - 1e-12  # rounding in the sums; at exact ties neighbouring r give equal values
    for r in range(k):  # the first r (from 0) whose interval condition holds
        m = k - r - 1  # number of head terms; the tail starts at 0-based index m
        left = s[..., m - 1] if m > 0 else np.inf
        mid = tail[..., m] / (r + 1)
        ok = (left > mid * slack) & (mid >= s[..., m] * slack) & (chosen < 0)
        chosen = np.where(ok, r, chosen)
    chosen = np.where(chosen < 0, k - 1, chosen)  # unreachable in exact arithmetic
    m = k - chosen - 1
    head = np.take_along_axis(head_sq, m[..., None], axis=-1)[..., 0]
    tail_m = np.take_along_axis(tail, m[..., None], axis=-1)[..., 0]
    return np.sqrt(head + tail_m ** 2 / (chosen + 1))


def k_support_dual_norm(g, k) -> np.ndarray:
    """The dual k-support norm: the l2 norm of the k largest |g_i| (last axis)."""
    g = np.asarray(g, dtype=np.float64)
    k = resolve_k(k, g.shape[-1])
    top = -np.sort(-np.abs(g), axis=-1)[..., :k]
    return np.sqrt(np.sum(top * top, axis=-1))


def k_support_maximiser(g, radius: float, k) -> np.ndarray:
    """argmax <g, d> over ||d||_k^sp <= radius: the k largest |g_i| (first in C order on ties)
    kept, scaled to l2 norm radius; zero where g is zero. Value radius * k_support_dual_norm."""
    radius = check_radius(radius)
    g = np.asarray(g, dtype=np.float64)
    k = resolve_k(k, g.shape[-1])
    order = np.argsort(-np.abs(g), axis=-1, kind="stable")[..., :k]
    kept = np.zeros_like(g)
    np.put_along_axis(kept, order, np.take_along_axis(g, order, axis=-1), axis=-1)
    n2 = np.sqrt(np.sum(kept * kept, axis=-1, keepdims=True))
    return radius * kept / np.where(n2 > 0, n2, 1.0)


def k_support_norm_numerical(w, k) -> float:
    """||w||_k^sp for one small vector w (D <= ~10) as the dual of the dual, by SLSQP:

        max <w, g>  subject to  ||g_S||_2 <= 1 for every k-subset S,

    the dual unit ball {g : l2 of the k largest |g_i| <= 1} written as smooth constraints.
    """
    w = np.asarray(w, dtype=np.float64)
    dim = w.shape[-1]
    k = resolve_k(k, dim)
    scale = np.abs(w).max()
    if scale == 0:
        return 0.0
    ws = w / scale
    cons = [{"type": "ineq", "fun": (lambda g, s=list(s): 1.0 - g[s] @ g[s]),
             "jac": (lambda g, s=list(s): -2.0 * np.where(np.isin(np.arange(dim), s), g, 0.0))}
            for s in itertools.combinations(range(dim), k)]
    start = k_support_maximiser(ws, 0.5, k)
    res = optimize.minimize(lambda g: -ws @ g, start, jac=lambda g: -ws, method="SLSQP",
                            constraints=cons, options={"maxiter": 500, "ftol": 1e-14})
    return float(-res.fun * scale)
