"""APGD-CE (Croce & Hein 2020, Algorithm 1): PGD without a step size to tune, as in AutoAttack.

Per example, with loss f (cross-entropy), projection P onto the ball (then the box), and the
step eta starting at 2 * radius:

    x1      = P(x0 + eta * s(grad f(x0)))                  s: the family's steepest ascent
    z       = P(x_k + eta * s(grad f(x_k)))
    x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1}))      alpha = 0.75

keeping the best point x_max (highest f). At the checkpoints w_j = ceil(p_j * steps), p_0 = 0,
p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), eta is halved and the iterate
restarts from x_max (with zero momentum) when either

    1. fewer than rho * (w_j - w_{j-1}) of the steps since the last checkpoint raised f
       (rho = 0.75), or
    2. neither eta nor f_max changed since the last checkpoint.

The result is, per example, an iterate that is misclassified if one was met, else x_max.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from refimpl.backend import get_namespace

from ._batch import count_true, flat, per_example
from ._checks import check_count, check_positive, per_example_loss, resolve_family
from ._model import (AttackResult, check_input, check_labels, correct, finish,
                     logits_and_input_gradient)
from .projected_gradient import checked_restarts, random_in_ball

Array = Any

__all__ = ["apgd_ce", "checkpoints"]


def checkpoints(steps: int) -> list[int]:
    """The iterations w_1 < w_2 < ... (all < ``steps``) where APGD may halve its step."""
    previous, current, found = 0.0, 0.22, []
    while current <= 1.0:
        w = math.ceil(round(current * steps, 9))  # 0.57 * 100 is 57.000000000000007
        if 0 < w < steps and w not in found:
            found.append(w)
        previous, current = current, current + max(current - previous - 0.03, 0.06)
    return found


def apgd_ce(logits_fn: Callable, x: Array, y: Array, *, radius: Any, steps: int = 100,
            p: float | None = math.inf, family: Any = None, rng=None, restarts: int = 1,
            clip: tuple[float, float] | None = None, loss_fn: Callable | None = None,
            momentum: float = 0.75, rho: float = 0.75, only_correct: bool = False) -> AttackResult:
    """APGD on the cross-entropy in the linf (default) or l2 ball of ``radius``.

    Args:
        logits_fn: x (N, ...) -> logits (N, K), written with refimpl.ops.
        x: (N, ...) inputs (unchanged); y: (N,) integer labels in [0, K).
        radius: a number >= 0 or (N,).
        steps: >= 1 iterations per restart (one forward and backward pass each).
        p: inf or 2; ``None`` when ``family`` is given.
        family: a family value instead of ``p``.
        rng: with it each restart starts uniformly in the ball; without, from x.
        restarts: >= 1 runs (more need ``rng``); each example keeps the run that misclassifies
            it, else the one of highest loss.
        clip: an optional box (lo, hi); loss_fn: (logits, y) -> (N,), cross-entropy by default.
        momentum: alpha in (0, 1]; rho: the checkpoint's fraction of rising steps, in (0, 1].

    Returns:
        :class:`AttackResult` (x_adv, delta, zero_grad, None), zero_grad counted at the start.
    """
    xp = get_namespace(x)
    check_input(x)
    check_labels(y, x)
    chosen = resolve_family(p, family, allowed=(2.0, math.inf), attack="APGD")
    check_count(steps, "steps")
    for value, name in ((momentum, "momentum"), (rho, "rho")):
        if check_positive(value, name) > 1:
            raise ValueError(f"{name}: expected a number in (0, 1], got {value!r}")
    clip, r, perturb = checked_restarts(logits_fn, x, y, radius, restarts, rng, clip,
                                        only_correct)
    best, best_loss, best_wrong, zero = xp.zeros_like(x), None, None, None
    for _ in range(restarts):
        start = xp.zeros_like(x) if rng is None else random_in_ball(rng, x, r, chosen)
        delta, loss, wrong, grad0 = _run(logits_fn, x, y, r, chosen, finish(x, start, clip=clip)[1],
                                         steps, clip, loss_fn, momentum, rho)
        if zero is None:
            zero, best_loss, best_wrong = xp.all(flat(grad0) == 0, axis=1), loss, wrong
            best = delta
            continue
        better = (wrong & ~best_wrong) | ((wrong == best_wrong) & (loss > best_loss))
        best = xp.where(per_example(better, x.ndim), delta, best)
        best_loss, best_wrong = xp.where(better, loss, best_loss), best_wrong | wrong
    x_adv, delta = finish(x, best, perturb=perturb)
    return AttackResult(x_adv, delta, count_true(zero & perturb if only_correct else zero))


def _run(logits_fn, x, y, r, family, delta0, steps, clip, loss_fn, alpha, rho):
    """One APGD run from delta0: (delta, its loss (N,), misclassified (N,), grad at delta0)."""
    xp = get_namespace(x)

    def evaluate(delta):  # (loss (N,), misclassified (N,), gradient) at x + delta
        logits, gradient = logits_and_input_gradient(logits_fn, x + delta, y, loss_fn)
        return per_example_loss(loss_fn, logits, y), ~correct(logits, y), gradient

    def project(delta):
        return finish(x, family.project(delta, r), clip=clip)[1]

    def keep(mask, new, old):
        return xp.where(per_example(mask, x.ndim) if new.ndim > 1 else mask, new, old)

    loss, wrong, gradient = evaluate(delta0)
    grad0 = gradient
    eta = 2 * r
    found, found_delta = wrong, delta0  # a misclassified iterate, once one is met
    top_delta, top_loss, top_grad = delta0, loss, gradient  # x_max, f_max and its gradient
    previous, current = delta0, delta0
    rises = xp.zeros_like(loss)
    last_w, eta_then, top_then = 0, eta, top_loss
    marks = set(checkpoints(steps))
    for k in range(steps):
        z = project(current + family.steepest_ascent(gradient, eta))
        a = 1.0 if k == 0 else alpha  # the first step has no momentum
        new = project(current + a * (z - current) + (1 - a) * (current - previous))
        new_loss, new_wrong, new_grad = evaluate(new)
        rises = rises + xp.astype(new_loss > loss, loss.dtype)
        up = new_loss > top_loss
        top_delta, top_grad = keep(up, new, top_delta), keep(up, new_grad, top_grad)
        top_loss = xp.where(up, new_loss, top_loss)
        found_delta = keep(new_wrong & ~found, new, found_delta)
        found = found | new_wrong
        previous, current, gradient, loss = current, new, new_grad, new_loss
        if k + 1 in marks:
            halve = (rises < rho * (k + 1 - last_w)) | ((eta == eta_then) & (top_loss == top_then))
            eta_then, top_then = eta, top_loss
            eta = xp.where(halve, eta / 2, eta)
            current = previous = keep(halve, top_delta, current)
            gradient, loss = keep(halve, top_grad, gradient), xp.where(halve, top_loss, loss)
            rises, last_w = xp.zeros_like(rises), k + 1
    delta = keep(found, found_delta, top_delta)
    return delta, xp.where(found, math.inf, top_loss), found, grad0
