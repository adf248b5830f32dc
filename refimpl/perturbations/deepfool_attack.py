"""DeepFool (Moosavi-Dezfooli et al. 2016) on logits, l2 and linf, with Foolbox's overshoot.

Each step linearises, for every candidate class k != y, f_k = z_k - z_y with gradient w_k at
the current point and moves onto the nearest linearised boundary {f_k = 0}:

    k*   = argmin_k |f_k| / ||w_k||_q                      (q the dual exponent: 2, or 1 for linf)
    d    = |f_k*| / ||w_k*||_q + 1e-4                      (the distance, pushed past it)
    step = d * w_k* / ||w_k*||_2                            (l2)
    step = d * sign(w_k*)                                   (linf)

The steps of a row add up to p_total while it is still classified as y, and the iterate is
x + (1 + overshoot) * p_total, clipped to the box (Foolbox 3's convention: the overshoot scales
the whole sum, and 1e-4 is added to each step's distance in input units, not to |f| in logit
units: a push of 1e-4 in logits can be below float32's rounding of logits near 50, so the
iterate could stop on the boundary and count as fooled or not depending on the batch size). For an affine classifier one step
is exact: it lands (1 + overshoot) times beyond the nearest decision boundary. The K class
gradients come from one batched Jacobian per step (one forward, K backward passes).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

from refimpl.autodiff import value_and_jacobian
from refimpl.backend import get_namespace
from refimpl.tracer import getval

from . import lp
from ._batch import count_true, flat
from ._checks import (MinimumNormResult, check_clip, check_count, check_label_range,
                      one_hot_like)
from ._model import check_input, check_labels, correct, finish
from .external import checked_logits

Array = Any

__all__ = ["deepfool"]


def deepfool(logits_fn: Callable, x: Array, y: Array, *, p: float = 2, steps: int = 50,
             candidates: int | None = None, overshoot: float = 0.02,
             clip: tuple[float, float] | None = None) -> MinimumNormResult:
    """DeepFool's minimal perturbation in the l2 (p=2) or linf (p=inf) norm, batched.

    Args:
        logits_fn: x (N, ...) -> logits (N, K), written with refimpl.ops.
        x: (N, ...) inputs (unchanged); y: (N,) integer labels in [0, K).
        p: 2 or math.inf.
        steps: >= 1 linearisations at most (rows stop once misclassified).
        candidates: compare against the ``candidates - 1`` other classes of largest clean
            logit (>= 2; Foolbox's default is 10), or every class when ``None``.
        overshoot: >= 0, the factor 1 + overshoot on the summed steps.
        clip: an optional box (lo, hi) for x_adv.

    Returns:
        :class:`MinimumNormResult`: x_adv misclassified where ``success`` (else x), norm the
        p-norm of delta (0 for rows misclassified at x, inf where DeepFool failed).
    """
    xp = get_namespace(x)
    check_input(x)
    check_labels(y, x)
    if p not in (2, math.inf):
        raise ValueError(f"p: DeepFool is implemented for p = 2 and p = inf, got {p!r}")
    check_count(steps, "steps")
    if isinstance(overshoot, bool) or not isinstance(overshoot, (int, float)) or not (
            math.isfinite(overshoot) and overshoot >= 0):
        raise ValueError(f"overshoot: expected a finite number >= 0, got {overshoot!r}")
    clip = check_clip(clip)
    jacobian = value_and_jacobian(functools.partial(checked_logits, logits_fn), batched=True)
    logits, jac = jacobian(x)
    logits = getval(logits)
    k = logits.shape[1]
    check_label_range(y, k)
    if candidates is not None:
        check_count(candidates, "candidates", minimum=2)
    pick = _candidates(logits, y, k if candidates is None else min(candidates, k))  # (N, C, K)
    label = one_hot_like(y, logits)[:, None, :]  # (N, 1, K)
    active = correct(logits, y)
    total = xp.zeros_like(flat(x))
    zero = None
    x_cur = x
    for step in range(steps):
        if step:
            logits, jac = jacobian(x_cur)
            logits = getval(logits)
            active = active & correct(logits, y)
        if not bool(xp.any(active)):
            break
        j = flat_jacobian(getval(jac))  # (N, K, D)
        f = (pick - label) @ logits[:, :, None]  # (N, C, 1): z_k - z_y per candidate
        w = (pick - label) @ j  # (N, C, D)
        w_norm = xp.sum(w * w, axis=2) ** 0.5 if p == 2 else xp.sum(xp.abs(w), axis=2)
        distance = xp.abs(f[:, :, 0]) / (w_norm + 1e-8)
        if zero is None:
            zero = xp.all(xp.reshape(w, (w.shape[0], -1)) == 0, axis=1) & active
        nearest = xp.argmin(distance, axis=1)  # (N,)
        chosen = xp.astype(xp.arange(w.shape[1], device=x.device)[None, :] == nearest[:, None],
                           x.dtype)  # (N, C)
        f_best = xp.sum(chosen * f[:, :, 0], axis=1)[:, None]
        w_best = xp.sum(chosen[:, :, None] * w, axis=1)  # (N, D)
        n_best = xp.sum(chosen * w_norm, axis=1)[:, None]
        reach = xp.abs(f_best) / (n_best + 1e-8) + 1e-4  # distance to the boundary, pushed
        if p == 2:
            move = reach / (n_best + 1e-8) * w_best
        else:
            move = reach * xp.sign(w_best)
        total = total + xp.where(active[:, None], move, 0.0)
        x_cur = finish(x, (1 + overshoot) * xp.reshape(total, x.shape), clip=clip)[0]
    success = ~correct(getval(logits_fn(x_cur)), y)
    x_adv, delta = finish(x, x_cur - x, perturb=success)
    norm = xp.where(success, lp.norm(delta, p), math.inf)
    return MinimumNormResult(x_adv, delta, count_true(zero) if zero is not None else 0,
                             success, norm)


def flat_jacobian(jac: Array) -> Array:
    """(N, K, ...) -> (N, K, D)."""
    xp = get_namespace(jac)
    return xp.reshape(jac, (jac.shape[0], jac.shape[1], -1))


def _candidates(logits: Array, y: Array, count: int) -> Array:
    """(N, count - 1, K) one-hot rows of the ``count - 1`` classes other than y of largest logit."""
    xp = get_namespace(logits)
    is_label = one_hot_like(y, logits) > 0
    order = xp.argsort(xp.where(is_label, math.inf, -logits), axis=1)  # largest first
    top = order[:, :count - 1]  # (N, C)
    classes = xp.arange(logits.shape[1], device=logits.device)
    return xp.astype(top[:, :, None] == classes[None, None, :], logits.dtype)
