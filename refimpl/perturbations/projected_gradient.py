"""Projected gradient descent (Madry et al.): projected steepest ascent in a ball, with restarts.

For each example, with loss L and the ball B = {delta : ||delta|| <= radius},

    delta <- project_B(delta + steepest_ascent(grad L(x + delta), step_size))

``steps`` times, then into the box: x + delta is clipped to [lo, hi], which only moves entries
toward x, so delta stays in the ball. The step and the projection come from the family (lp
for p = 1, 2, inf: the sign step and clipping for linf, the normalised gradient and rescaling
for l2, the single-coordinate step and Duchi et al.'s sorting projection for l1). With an
``rng`` every restart starts from a point drawn uniformly in the ball; each example keeps the
restart that misclassifies it, or, if none does, the one that attains the highest loss.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from refimpl.backend import Random, get_namespace
from refimpl.tracer import getval

from ._batch import check_radius, count_true, flat, per_example, to_l2
from ._checks import (check_clip, check_count, check_label_range, check_positive,
                      on_device_of, per_example_loss, resolve_family)
from ._model import (AttackResult, check_input, check_labels, correct, finish,
                     logits_and_input_gradient)
from .external import checked_logits

Array = Any

__all__ = ["pgd", "random_in_ball", "checked_restarts"]


def pgd(logits_fn: Callable, x: Array, y: Array, *, radius: Any, step_size: float, steps: int,
        p: float | None = None, family: Any = None, rng=None, restarts: int = 1,
        clip: tuple[float, float] | None = None, loss_fn: Callable | None = None,
        only_correct: bool = False) -> AttackResult:
    """PGD in the ball of ``radius`` of ``p`` (1, 2 or inf) or of a ``family`` value.

    Args:
        logits_fn: x (N, ...) -> logits (N, K), written with refimpl.ops.
        x: (N, ...) inputs (unchanged); y: (N,) integer labels in [0, K).
        radius: a number >= 0 or (N,): the ball's size in the family's norm.
        step_size: > 0, the size of each steepest-ascent step in the same norm.
        steps: >= 1 steps per restart.
        p: a norm exponent; give exactly one of ``p`` and ``family``.
        family: a value with ``steepest_ascent(grad, radius)`` and ``project(delta, radius)``.
        rng: a :class:`refimpl.backend.Random`; with it each restart starts at a uniform draw
            in the ball, without it the single run starts at delta = 0.
        restarts: >= 1 runs; more than one needs ``rng``.
        clip: an optional box (lo, hi) for x + delta.
        loss_fn: (logits, y) -> (N,) losses; softmax cross-entropy by default.
        only_correct: perturb only the rows classified correctly at x.

    Returns:
        :class:`AttackResult` (x_adv, delta, zero_grad, None); ``zero_grad`` counts rows whose
        gradient was exactly zero at the first step (with no rng: at x, where delta stays 0).
    """
    xp = get_namespace(x)
    check_input(x)
    check_labels(y, x)
    chosen = resolve_family(p, family)
    step_size = check_positive(step_size, "step_size")
    check_count(steps, "steps")
    clip, r, perturb = checked_restarts(logits_fn, x, y, radius, restarts, rng, clip,
                                        only_correct)
    n = x.shape[0]
    best = xp.zeros_like(x)
    best_loss = xp.full((n,), -math.inf, dtype=x.dtype, device=x.device)
    best_wrong = xp.zeros((n,), dtype=xp.bool, device=x.device)
    zero = None
    for _ in range(restarts):
        delta = xp.zeros_like(x)
        if rng is not None:
            delta = finish(x, random_in_ball(rng, x, r, chosen), clip=clip)[1]
        for _ in range(steps):
            _, gradient = logits_and_input_gradient(logits_fn, x + delta, y, loss_fn)
            if zero is None:
                zero = xp.all(flat(gradient) == 0, axis=1)
            delta = chosen.project(delta + chosen.steepest_ascent(gradient, step_size), r)
            delta = finish(x, delta, clip=clip)[1]
        logits = getval(logits_fn(x + delta))
        loss, wrong = per_example_loss(loss_fn, logits, y), ~correct(logits, y)
        better = (wrong & ~best_wrong) | ((wrong == best_wrong) & (loss > best_loss))
        best = xp.where(per_example(better, x.ndim), delta, best)
        best_loss = xp.where(better, loss, best_loss)
        best_wrong = best_wrong | wrong
    x_adv, delta = finish(x, best, perturb=perturb)
    return AttackResult(x_adv, delta, count_true(zero & perturb if only_correct else zero))


def checked_restarts(logits_fn: Callable, x: Array, y: Array, radius: Any, restarts: int, rng,
                     clip: Any, only_correct: bool) -> tuple:
    """The checks and the clean pass shared by the multi-restart attacks (PGD, APGD-CE).

    Returns (clip as a pair or None, the radii (N,) on x's device, the rows to perturb: the
    correctly classified ones when ``only_correct``, else None). Raises naming ``restarts``,
    ``clip``, ``radius`` or ``y`` (labels outside the model's classes: one host sync).
    """
    check_count(restarts, "restarts")
    if restarts > 1 and rng is None:
        raise ValueError(f"restarts: {restarts} restarts need an rng for their random starts")
    clip = check_clip(clip)
    r = on_device_of(check_radius(radius, x), x)
    clean = getval(checked_logits(logits_fn, x))
    check_label_range(y, clean.shape[1])
    return clip, r, correct(clean, y) if only_correct else None


def random_in_ball(rng, x: Array, r: Array, family: Any) -> Array:
    """(N, ...) draws uniform in the ball of radius r (N,) of ``family`` around 0.

    linf: uniform in the cube. l2: a Gaussian direction times r U^(1/D). l1: signs times
    E_1..E_D / (E_1 + ... + E_{D+1}) for exponential E (uniform in the simplex's interior, so
    uniform in the l1 ball). Other families (no ``p`` of 1, 2 or inf): uniform in the cube
    [-r, r]^D, projected.
    """
    if not isinstance(rng, Random):
        raise TypeError(f"rng: expected a refimpl.backend.Random (make_rng(seed, xp)) for the "
                        f"random start, got {type(rng).__name__}")
    xp = get_namespace(x)
    n, d = flat(x).shape
    p = getattr(family, "p", None)  # LpFamily here, or any lp family value with its p

    def draw(shape, **kw):  # U[low, high) on the device of x
        return on_device_of(rng.uniform(shape, dtype=x.dtype, **kw), x)

    if p == 2:
        direction = on_device_of(rng.normal(tuple(x.shape), dtype=x.dtype), x)
        length = r * draw((n,)) ** (1.0 / d)
        return to_l2(direction, length)
    if p == 1:
        e = -xp.log(1.0 - draw((n, d + 1)))  # Exp(1): 1 - U lies in (0, 1]
        signs = xp.sign(draw((n, d), low=-1.0, high=1.0))
        point = signs * e[:, :d] / xp.sum(e, axis=1, keepdims=True) * r[:, None]
        return xp.reshape(point, x.shape)
    cube = draw(tuple(x.shape), low=-1.0, high=1.0) * per_example(r, x.ndim)
    return cube if p == math.inf else family.project(cube, r)
