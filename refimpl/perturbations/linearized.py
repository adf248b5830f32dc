"""The linearized minimal perturbation of paper 004 (Props. 3-4, Algorithm 1; Adv_Alpha).

Linearise the scores s(x + r) ~ s(x) + T r around x, T = d s / dx (softmax probabilities
alpha, or logits). For each class j != y, the smallest r (in lp norm) with

    s_y + <T_y, r>  <=  s_j + <T_j, r>

has norm  (s_y - s_j) / ||T_j - T_y||_q  (1/p + 1/q = 1) and direction the dual maximiser of
T_j - T_y (the unit-lp vector u with <T_j - T_y, u> = ||T_j - T_y||_q: (T_j - T_y)/||.||_2 for
p = 2, sign(T_j - T_y) for p = inf, the largest coordinate for p = 1). The minimal perturbation
that changes the linearised prediction takes the class I of smallest norm (Prop. 4; the
paper's "<=" in eq. 1 and its loop over every class j = 1..d are typos: j = y is excluded).

For an exactly linear model with scores = logits the linearisation is exact, so x + r lies on
the decision boundary between y and I.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from refimpl._checks import check_labels, check_positive_float
from refimpl.backend import device_of, get_namespace

from . import lp
from ._batch import check_finite, may_read_values

Array = Any

__all__ = ["MinimalPerturbation", "minimal_perturbation", "closest_boundary", "other_classes",
           "score_gaps"]


class MinimalPerturbation(NamedTuple):
    """The result of :func:`minimal_perturbation`, one entry per example.

    Attributes:
        r: (N, ...) the minimal perturbation, norm * direction (zero where ``norm`` <= 0, i.e.
            the linearised prediction is already not y, or where ``norm`` is inf).
        label: (N,) int, the class I the perturbation moves to.
        norm: (N,) the lp norm (s_y - s_I) / ||T_I - T_y||_q; <= 0 when some class already
            scores at least s_y, inf when every T_j - T_y is exactly zero (no direction helps).
        direction: (N, ...) the unit-lp dual maximiser of T_I - T_y (zero when it is zero), the
            direction an attack rescales to its radius.
    """

    r: Array
    label: Array
    norm: Array
    direction: Array


def minimal_perturbation(jac: Array, scores: Array, y: Array, p: float = 2,
                         *, overshoot: float = 0.0) -> MinimalPerturbation:
    """Algorithm 1 of paper 004, batched.

    Args:
        jac: (N, K, ...) Jacobian of the scores with respect to the input,
            jac[n, j] = d scores[n, j] / d x[n].
        scores: (N, K) probabilities (Adv_Alpha) or logits at x.
        y: (N,) integer true labels.
        p: the norm in which the perturbation is minimal, in [1, inf].
        overshoot: r is multiplied by 1 + overshoot, to land just past the boundary.

    Returns:
        :class:`MinimalPerturbation` ``(r, label, norm, direction)``.
    """
    xp = get_namespace(jac, scores)
    p = lp.check_p(p)
    if jac.ndim < 3 or scores.ndim != 2 or tuple(jac.shape[:2]) != tuple(scores.shape):
        raise ValueError(f"jac, scores: expected jac (N, K, ...) and scores (N, K), got "
                         f"{tuple(jac.shape)} and {tuple(scores.shape)}")
    n, k = scores.shape
    if tuple(y.shape) != (n,):
        raise ValueError(f"y: expected integer labels of shape ({n},), got {tuple(y.shape)}")
    if may_read_values():  # outside a training step (one host sync); fit checks labels itself
        check_labels(y, k, n=n)
    check_positive_float(overshoot, "overshoot", allow_zero=True)
    check_finite(jac, "jac")
    check_finite(scores, "scores")
    d = math.prod(jac.shape[2:])
    t = xp.reshape(jac, (n, k, d))
    labels = xp.astype(y, xp.int64)
    others = other_classes(labels, k)  # (N, K - 1)
    t_y = xp.take_along_axis(t, labels[:, None, None], axis=1)  # (N, 1, D)
    diff = xp.take_along_axis(t, others[:, :, None], axis=1) - t_y  # (N, K - 1, D): T_j - T_y
    gap = score_gaps(scores, labels, others)
    found = closest_boundary(diff, gap, others, p, overshoot=overshoot)
    shape = (n,) + tuple(jac.shape[2:])
    return found._replace(r=xp.reshape(found.r, shape),
                          direction=xp.reshape(found.direction, shape))


def other_classes(y: Array, k: int) -> Array:
    """(N,) labels -> (N, K - 1) int64: every class but y[n], in increasing order."""
    xp = get_namespace(y)
    r = xp.arange(k - 1, dtype=xp.int64, device=device_of(y))[None, :]
    return r + xp.astype(r >= xp.astype(y, xp.int64)[:, None], xp.int64)


def score_gaps(scores: Array, y: Array, others: Array) -> Array:
    """(N, M) gaps s_y - s_j for the classes j in ``others`` (N, M), scores (N, K)."""
    xp = get_namespace(scores)
    s_y = xp.take_along_axis(scores, xp.astype(y, xp.int64)[:, None], axis=1)
    return s_y - xp.take_along_axis(scores, others, axis=1)


def closest_boundary(diff: Array, gap: Array, classes: Array, p: float,
                     *, overshoot: float = 0.0) -> MinimalPerturbation:
    """The core of Algorithm 1, on the candidate classes only (no validation, no host sync).

    Args:
        diff: (N, M, D) T_j - T_y, the gradient of s_j - s_y, for M candidate classes j != y.
        gap: (N, M) s_y - s_j.
        classes: (N, M) int, the class j of each candidate.
        p: the norm exponent in [1, inf] (checked).
        overshoot: r is multiplied by 1 + overshoot.

    Returns:
        :class:`MinimalPerturbation` with r and direction of shape (N, D); label = the class of
        smallest (s_y - s_j) / ||T_j - T_y||_q, the first on ties; norm inf when there is no
        candidate (K = 1) or none can be reached.
    """
    xp = get_namespace(diff, gap)
    n, m, d = diff.shape
    if m == 0:  # a single class: nothing to move to
        zeros = xp.zeros((n, d), dtype=diff.dtype, device=device_of(diff))
        return MinimalPerturbation(r=zeros, label=xp.zeros((n,), dtype=xp.int64,
                                                           device=device_of(diff)),
                                   norm=xp.full((n,), math.inf, dtype=gap.dtype,
                                                device=device_of(gap)),
                                   direction=zeros)
    q = lp.dual_exponent(p)
    dual = xp.reshape(lp.norm(xp.reshape(diff, (n * m, d)), q), (n, m))
    usable = dual > 0
    # A class with T_j = T_y cannot be reached by moving, unless it already ties or wins:
    # then no perturbation is needed (norm 0 for a tie, -inf when it outscores y).
    inf = xp.full_like(gap, math.inf)
    unreachable = xp.where(gap < 0, -inf, xp.where(gap == 0, xp.zeros_like(gap), inf))
    candidate = xp.where(usable, gap / xp.where(usable, dual, 1.0), unreachable)
    chosen = xp.argmin(candidate, axis=1)[:, None]  # (N, 1); ties: the first class
    norm = xp.min(candidate, axis=1)
    label = xp.take_along_axis(classes, xp.astype(chosen, xp.int64), axis=1)[:, 0]
    diff_chosen = xp.take_along_axis(diff, xp.astype(chosen, xp.int64)[:, :, None],
                                     axis=1)[:, 0, :]  # (N, D): T_I - T_y
    direction = lp.steepest_ascent(diff_chosen, 1.0, p)  # unit lp norm, <., diff> = ||diff||_q
    step = xp.where((norm > 0) & (norm < math.inf), norm * (1 + overshoot), 0.0)
    return MinimalPerturbation(r=direction * step[:, None], label=label, norm=norm,
                               direction=direction)
