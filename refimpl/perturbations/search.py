"""Iterative and search attacks: PGD, box-constrained L-BFGS, minimum perturbation by line search.

PGD lives in :mod:`.projected_gradient` (re-exported here); the targeted L-BFGS of Szegedy et
al. and the line search of paper 003 are below; the untargeted batched L-BFGS is in
:mod:`.lbfgs`, APGD-CE in :mod:`.apgd`, DeepFool in :mod:`.deepfool_attack`, Carlini-Wagner in
:mod:`.carlini_wagner`.

The model interface is that of :mod:`refimpl.perturbations.attacks`: ``logits_fn(x) -> (N, K)``
over fixed parameters, integer labels, a per-example loss summed before differentiating.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np

from refimpl import ops
from refimpl.autodiff import value_and_grad
from refimpl.backend import device_of, get_namespace, to_numpy
from refimpl.tracer import getval

from ._batch import check_radius, count_true, flat, per_example, to_l2
from ._checks import check_clip, check_count, check_label_range
from ._model import (AttackResult, check_input, check_labels, correct, finish,
                     logits_and_input_gradient)
from .external import checked_logits
from .projected_gradient import pgd

Array = Any

__all__ = ["pgd", "lbfgs", "minimum_perturbation", "MinimumPerturbation"]


def lbfgs(logits_fn: Callable, x: Array, target: Array, *, clip: tuple[float, float] = (0.0, 1.0),
          c: float = 1.0, search_steps: int = 8, max_iter: int = 200,
          loss_fn: Callable | None = None) -> AttackResult:
    """Box-constrained L-BFGS (Szegedy et al.), one example at a time.

    For each example, minimise  c * ||delta||_2^2 + loss(x + delta, target)  subject to
    x + delta in [lo, hi] with scipy's L-BFGS-B (gradients by autodiff, converted to NumPy at
    this edge), and search c for the largest value (smallest perturbation) whose solution is
    classified as ``target``: double (or halve) c until the outcome changes, then bisect in
    log c, ``search_steps`` solves in all. The smallest successful delta is kept.

    Args:
        target: (N,) integer target labels.
        clip: the box (lo, hi); c: the first c tried.

    Returns:
        :class:`AttackResult` with ``success`` (N,) bool; rows that never reached the target
        keep delta = 0. ``zero_grad`` counts zero loss gradients (toward the target) at x.
    """
    from scipy.optimize import minimize  # noqa: PLC0415  (scipy.optimize is slow to import)

    xp = get_namespace(x)
    check_input(x)
    check_labels(target, x, "target")
    if not (isinstance(c, (int, float)) and c > 0):
        raise ValueError(f"c: expected a number > 0, got {c!r}")
    check_count(search_steps, "search_steps")
    check_count(max_iter, "max_iter")
    lo, hi = check_clip(clip, required=True)
    loss_fn = loss_fn or ops.softmax_cross_entropy
    check_label_range(target, getval(checked_logits(logits_fn, x)).shape[1], "target")  # before the loss sees it
    logits, gradient = logits_and_input_gradient(logits_fn, x, target, loss_fn)
    zero_grad = count_true(xp.all(flat(gradient) == 0, axis=1))
    x_np, shape = to_numpy(x).astype(np.float64), (1,) + tuple(x.shape[1:])
    best = np.zeros_like(x_np)
    success = np.zeros(x.shape[0], dtype=bool)
    for i in range(x.shape[0]):
        xi, ti = x[i:i + 1, ...], target[i:i + 1]

        def objective(d_flat, c):
            d = xp.asarray(np.reshape(d_flat, shape), dtype=x.dtype, device=device_of(x))
            value, g = value_and_grad(lambda dd: ops.add(
                ops.multiply(c, ops.sum(ops.multiply(dd, dd))),
                ops.sum(loss_fn(logits_fn(ops.add(xi, dd)), ti))))(d)
            return float(getval(value)), to_numpy(getval(g)).astype(np.float64).ravel()

        bounds = list(zip((lo - x_np[i]).ravel(), (hi - x_np[i]).ravel()))
        c_ok = c_fail = None
        c_now = float(c)
        for _ in range(search_steps):
            d = minimize(objective, np.zeros(len(bounds)), args=(c_now,), jac=True,
                         method="L-BFGS-B", bounds=bounds, options={"maxiter": max_iter}).x
            d_arr = xp.asarray(np.reshape(d, shape), dtype=x.dtype, device=device_of(x))
            reached = bool(getval(correct(getval(logits_fn(xi + d_arr)), ti))[0])
            if reached:
                if not success[i] or np.sum(d * d) < np.sum(best[i] ** 2):
                    best[i], success[i] = np.reshape(d, shape[1:]), True
                c_ok = c_now
            else:
                c_fail = c_now
            if c_fail is None:
                c_now *= 2.0
            elif c_ok is None:
                c_now /= 2.0
            else:
                c_now = math.sqrt(c_ok * c_fail)
    on = device_of(x)
    reached = xp.asarray(success, device=on)
    x_adv, delta = finish(x, xp.asarray(best, dtype=x.dtype, device=on), clip=clip,
                          perturb=reached)
    return AttackResult(x_adv, delta, zero_grad, reached)


class MinimumPerturbation(NamedTuple):
    """The result of :func:`minimum_perturbation`.

    Attributes:
        radius: (N,) the smallest l2 step along the normalised gradient that changes a correct
            prediction (0 for rows already misclassified, inf when none within max_radius).
        x_adv: (N, ...) x + radius * direction where a radius was found, else x.
        zero_grad: correctly classified rows whose gradient was exactly zero (radius inf).
    """

    radius: Array
    x_adv: Array
    zero_grad: int


def minimum_perturbation(logits_fn: Callable, x: Array, y: Array, *, max_radius: float,
                         grid_points: int = 20, bisection_steps: int = 30,
                         loss_fn: Callable | None = None) -> MinimumPerturbation:
    """Minimum perturbation by line search along the l2-normalised loss gradient (paper 003).

    For each correctly classified example, u = grad / ||grad||_2 and the smallest t in
    (0, max_radius] with argmax logits(x + t u) != y is bracketed on a uniform grid of
    ``grid_points`` steps (the first grid point that changes the prediction) and refined by
    ``bisection_steps`` bisections; every example keeps its own bracket, the batch is
    evaluated together. The returned radius is the upper end of the final bracket.
    """
    xp = get_namespace(x)
    if not (isinstance(max_radius, (int, float)) and math.isfinite(max_radius) and max_radius > 0):
        raise ValueError(f"max_radius: expected a finite number > 0, got {max_radius!r}")
    if not (isinstance(grid_points, int) and grid_points >= 1):
        raise ValueError(f"grid_points: expected an int >= 1, got {grid_points!r}")
    check_count(bisection_steps, "bisection_steps", minimum=0)
    logits, gradient = logits_and_input_gradient(logits_fn, x, y, loss_fn)
    check_label_range(y, logits.shape[1])
    n = x.shape[0]
    u = to_l2(gradient, check_radius(1.0, x))  # zero rows stay zero
    right = correct(logits, y)
    zero = xp.all(flat(gradient) == 0, axis=1) & right

    def changed(t):  # (N,) bool: the prediction at x + t u differs from y
        return ~correct(getval(logits_fn(x + per_example(t, x.ndim) * u)), y)

    on = device_of(x)
    lo = xp.zeros((n,), dtype=x.dtype, device=on)
    hi = xp.full((n,), math.inf, dtype=x.dtype, device=on)
    found = xp.zeros((n,), dtype=xp.bool, device=on)
    previous = 0.0
    for j in range(1, grid_points + 1):
        t = max_radius * j / grid_points
        new = changed(xp.full((n,), t, dtype=x.dtype, device=on)) & right & ~found & ~zero
        lo, hi = xp.where(new, previous, lo), xp.where(new, t, hi)
        found, previous = found | new, t
    for _ in range(bisection_steps):
        mid = xp.where(found, (lo + hi) / 2, 0.0)
        flipped = changed(mid)
        hi, lo = xp.where(found & flipped, mid, hi), xp.where(found & ~flipped, mid, lo)
    radius = xp.where(right, hi, 0.0)
    step = xp.where(found, hi, 0.0)
    x_adv = x + per_example(step, x.ndim) * u
    return MinimumPerturbation(radius, x_adv, count_true(zero))
