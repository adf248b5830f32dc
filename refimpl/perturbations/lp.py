"""The lp family: norms, dual norms, steepest ascent and projection, batched over axis 0.

Steepest ascent solves, for each example n with gradient g = grad[n],

    maximise <g, delta>  subject to  ||delta||_p <= radius,

whose optimal value is radius * ||g||_q with 1/p + 1/q = 1 (Hoelder). The maximiser is

    delta = radius * sign(g) * (|g| / ||g||_q) ** (q - 1)          for 1 < p < inf,
    delta = radius * sign(g)                                       for p = inf (FGSM),
    delta = radius * g / ||g||_2                                   for p = 2,
    delta = radius * sign(g_i) e_i,  i the first argmax of |g|     for p = 1 (single pixel).

(Dividing by ||g||_1 for p = 1, as some libraries once did, is not the steepest step.) Papers:
003 eq. 3 and appendix A, 001 sec. 4.1, 000 eq. 9-10.
"""

from __future__ import annotations

import math
from typing import Any

from refimpl.backend import device_of, get_namespace
from refimpl.tracer import getval

from ._batch import (check_batch, check_finite, check_radius, flat, may_read_values, per_example,
                     safe_divide, scale_rows)

Array = Any

__all__ = ["norm", "dual_norm", "dual_exponent", "steepest_ascent", "project", "check_p",
           "radius_in_dtype"]


def radius_in_dtype(radius: Any, like: Array, name: str = "radius") -> Array:
    """``radius`` checked (finite, >= 0) as an (N,) array of ``like``'s dtype, refusing a
    number that the dtype cannot hold (1e39 in float32 would silently become inf)."""
    xp = get_namespace(like)
    if isinstance(radius, (int, float)) and not isinstance(radius, bool) \
            and math.isfinite(radius) and abs(radius) > float(xp.finfo(like.dtype).max):
        raise ValueError(f"{name}: {radius:g} overflows the inputs' dtype {like.dtype} (largest "
                         f"{float(xp.finfo(like.dtype).max):g}); use a smaller radius or float64")
    return check_radius(radius, like, name)


def check_p(p: Any, name: str = "p") -> float:
    """``p`` as a float in [1, inf]; a ValueError naming ``name`` otherwise."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p) or p < 1:
        raise ValueError(f"{name}: expected a norm exponent in [1, inf] (math.inf allowed), "
                         f"got {p!r}")
    return float(p)


def dual_exponent(p: float) -> float:
    """q with 1/p + 1/q = 1: 1 <-> inf, 2 <-> 2, otherwise p / (p - 1)."""
    p = check_p(p)
    if p == 1:
        return math.inf
    if p == math.inf:
        return 1.0
    return p / (p - 1)


def _norm_of_flat(a: Array, p: float) -> Array:
    """||row||_p of a non-negative (N, D) array, scaled by the row max so nothing overflows."""
    xp = get_namespace(a)
    top = xp.max(a, axis=1)
    if p == math.inf:
        return top
    if p == 1:
        return xp.sum(a, axis=1)
    s = scale_rows(a, top)  # entries in [0, 1], the largest exactly 1
    if p == 2:
        return top * xp.sqrt(xp.vecdot(s, s, axis=-1))  # sum of squares in one pass
    return top * xp.sum(s ** p, axis=1) ** (1 / p)


def norm(x: Array, p: float) -> Array:
    """Per-example lp norm over all non-batch axes: (N, ...) -> (N,).

    Stable for any p in [1, inf]: each row is divided by its largest magnitude first, so
    p = 1e6 neither overflows nor underflows to 0.
    """
    xp = get_namespace(x)
    p = check_p(p)
    check_finite(getval(x), "x")
    if p == 2:
        return _l2_norm(flat(x))
    return _norm_of_flat(xp.abs(flat(x)), p)


def _l2_norm(a: Array) -> Array:
    """||row||_2 of (N, D): sqrt of one sum of squares, rescaled only where that is inexact.

    A sum of squares ss >= D * tiny / eps loses less than eps relatively to squares that
    underflow (each lost term is < tiny); rows below that, or where ss overflowed, are
    recomputed scaled by their largest magnitude. Typical rows take a single pass. Inside a
    training step (no device reads) both are computed and the right one kept per row.
    """
    xp = get_namespace(a)
    ss = xp.vecdot(a, a, axis=-1)
    info = xp.finfo(a.dtype)
    inexact = ~xp.isfinite(ss) | (ss < a.shape[1] * info.smallest_normal / info.eps)
    if not may_read_values() or bool(xp.any(inexact)):
        return xp.where(inexact, _norm_of_flat(xp.abs(a), 2), xp.sqrt(ss))
    return xp.sqrt(ss)


def dual_norm(g: Array, p: float) -> Array:
    """||g||_q with 1/p + 1/q = 1: the optimal value of steepest ascent per unit radius."""
    q = dual_exponent(p)
    check_finite(getval(g), "g")
    return norm(g, q)


def steepest_ascent(grad: Array, radius: Any, p: float) -> Array:
    """The delta of lp norm <= radius that maximises <grad, delta>, per example.

    Args:
        grad: (N, ...) gradient batch (finite floats).
        radius: a number >= 0 or an (N,) array of them.
        p: the norm exponent in [1, inf].

    Returns:
        delta (N, ...), the dtype of ``grad``, with ||delta||_p = radius and
        <grad, delta> = radius * ||grad||_q for every example whose gradient is not zero;
        zero where the gradient is exactly zero (sign(0) = 0).

    Raises:
        ValueError: naming ``p``, ``radius`` or ``grad`` when p < 1, a radius is negative, or
            the gradient holds NaN or inf.
    """
    xp = get_namespace(grad)
    p = check_p(p)
    check_finite(grad, "grad")
    r = per_example(radius_in_dtype(radius, grad), grad.ndim)
    if p == math.inf:
        return r * xp.sign(grad)
    g = flat(grad)
    a = xp.abs(g)
    top = xp.max(a, axis=1, keepdims=True)
    if p == 1:  # the whole radius on the first coordinate of largest |g|
        first = xp.argmax(a, axis=1)
        one_hot = xp.arange(g.shape[1], device=device_of(g))[None, :] == first[:, None]
        direction = xp.where(one_hot, xp.sign(g), 0.0)
    elif p == 2:
        s = safe_divide(a, top)  # (N, D) in [0, 1]: scaling leaves the closed form unchanged
        direction = xp.sign(g) * safe_divide(s, xp.sqrt(xp.sum(s * s, axis=1, keepdims=True)))
    else:
        direction = xp.sign(g) * _dual_power(safe_divide(a, top), dual_exponent(p))
    return r * xp.reshape(direction, grad.shape)


def _dual_power(s: Array, q: float) -> Array:
    """(s / ||s||_q) ** (q - 1) for rows s in [0, 1] whose largest entry is 1 (or all 0).

    Computed as exp((q - 1) log s - (q - 1)/q log sum s^q): for p near 1, q is huge and the
    direct power would raise the rounding error of ||s||_q (relative 1e-16) to the power q.
    """
    xp = get_namespace(s)
    positive = s > 0
    log_s = xp.log(xp.where(positive, s, 1.0))
    log_sum = xp.log(xp.maximum(xp.sum(s ** q, axis=1, keepdims=True), 1.0))  # sum >= 1 (the max)
    return xp.where(positive, xp.exp((q - 1) * log_s - (q - 1) / q * log_sum), 0.0)


def project(delta: Array, radius: Any, p: float) -> Array:
    """The closest point (in l2) to each example of ``delta`` in the lp ball of ``radius``.

    p = inf clips each entry to [-radius, radius]; p = 2 rescales to norm ``radius`` when
    outside; p = 1 soft-thresholds |delta| by the theta that makes the l1 norm ``radius``,
    found by sorting (Duchi et al. 2008). Points inside the ball are returned unchanged.

    Args:
        delta: (N, ...) perturbations; radius: a number >= 0 or (N,); p: 1, 2 or inf.

    Returns:
        (N, ...) the projection, same dtype as ``delta``.
    """
    xp = get_namespace(delta)
    p = check_p(p)
    check_finite(delta, "delta")
    r = check_radius(radius, delta)
    if p == math.inf:
        bound = per_example(r, delta.ndim)
        return xp.minimum(xp.maximum(delta, -bound), bound)
    if p == 2:
        length = norm(delta, 2)
        shrink = xp.where(length > r, safe_divide(r, length), 1.0)
        return delta * per_example(shrink, delta.ndim)
    if p != 1:
        raise ValueError(f"p: project supports p in {{1, 2, inf}}, got {p}")
    return xp.reshape(_project_l1(flat(delta), r), delta.shape)


def _project_l1(v: Array, r: Array) -> Array:
    """Duchi et al.: w = sign(v) max(|v| - theta, 0), ||w||_1 = r, for rows outside the ball."""
    xp = get_namespace(v)
    a = xp.abs(v)
    u = xp.flip(xp.sort(a, axis=1), axis=1)  # (N, D), decreasing
    cumulative = xp.cumulative_sum(u, axis=1)
    j = xp.arange(1, v.shape[1] + 1, dtype=v.dtype, device=device_of(v))[None, :]
    # u_j > (sum_{i<=j} u_i - r) / j holds exactly for j = 1..rho (a prefix).
    active = u * j > cumulative - r[:, None]
    # rho >= 1 in exact arithmetic (j = 1 always holds); rounding can lose it when r << |v|.
    rho = xp.maximum(xp.sum(xp.astype(active, v.dtype), axis=1, keepdims=True), 1.0)  # (N, 1)
    at_rho = j == rho
    theta = safe_divide(xp.sum(xp.where(at_rho, cumulative, 0.0), axis=1, keepdims=True)
                        - r[:, None], rho)
    inside = (xp.sum(a, axis=1) <= r)[:, None]
    projected = xp.sign(v) * xp.maximum(a - theta, 0.0)
    # Rounding in the cumulative sums is relative to |v|, which may dwarf r: shrink into the ball.
    length = xp.sum(xp.abs(projected), axis=1, keepdims=True)
    projected = projected * xp.where(length > r[:, None], safe_divide(r[:, None], length), 1.0)
    return xp.where(inside, v, xp.where(r[:, None] > 0, projected, 0.0))
