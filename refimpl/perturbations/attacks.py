"""Attacks: autodiff for the input gradient, a closed form for the step, in one place.

A model is a callable ``logits_fn(x) -> logits (N, K)`` (a closure over fixed parameters,
written with :mod:`refimpl.ops` so that it can be traced) and labels ``y`` (N,) are integers.
The loss is ``loss_fn(logits, y) -> (N,)``, softmax cross-entropy by default, SUMMED over the
batch before differentiating, so that row n of the gradient is example n's own gradient.
Only the input is differentiated: the engine then skips every weight-gradient product.

Every attack returns an :class:`AttackResult` with x_adv of the shape and dtype of ``x``,
never changes ``x``, and reports how many of the examples it was asked to perturb had an
exactly zero gradient (they get a zero perturbation: sign(0) = 0). This module holds the
one-step attacks and re-exports the iterative ones (PGD, box-constrained L-BFGS, minimum
perturbation by line search) written in :mod:`refimpl.perturbations.search`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from refimpl import ops
from refimpl.autodiff import value_and_jacobian
from refimpl.backend import Random, get_namespace
from refimpl.tracer import getval

from . import k_support, lp
from ._batch import check_radius, count_true, flat, per_example, to_l2
from ._model import (AttackResult, check_input, check_labels, correct, finish, input_gradient,
                     logits_and_input_gradient)
from .linearized import minimal_perturbation
from .random_noise import gaussian_noise, uniform_noise
from .search import MinimumPerturbation, lbfgs, minimum_perturbation, pgd

Array = Any

__all__ = ["AttackResult", "FAMILIES", "input_gradient", "logits_and_input_gradient", "one_step",
           "pgd", "lbfgs", "minimum_perturbation", "MinimumPerturbation"]

FAMILIES = ("linf", "l2", "l1", "lp", "k_support", "adv_alpha", "urn", "gaussian")
"""The one-step families of :func:`one_step`."""


def one_step(logits_fn: Callable, x: Array, y: Array, *, family: str, radius: Any,
             p: float | None = None, k: Any = None, magnitude: str = "own",
             only_correct: bool = False, clip: tuple[float, float] | None = None,
             loss_fn: Callable | None = None, rng: Random | None = None,
             scores: str = "probs") -> AttackResult:
    """One-step perturbation of a batch by one of :data:`FAMILIES`.

    Families: "linf" (FGSM, radius * sign(grad)), "l2" (Adv_Loss), "l1" (single pixel), "lp"
    (any ``p``), "k_support" (``k``) -- each the lp/k-support steepest ascent on the loss
    gradient; "adv_alpha" (paper 004: the linearized minimal perturbation in the ``p`` norm,
    default 2, from the Jacobian of the softmax probabilities or, with ``scores="logits"``, of
    the logits, one batched reverse pass, rescaled to ``radius``); "urn" (uniform noise of l2
    norm ``radius``); "gaussian" (per-entry std ``radius``; needs ``rng`` like "urn").

    Args:
        logits_fn: x (N, ...) -> logits (N, K), parameters held fixed.
        x: (N, ...) inputs; y: (N,) integer labels.
        radius: a number >= 0 or (N,): the size of the perturbation.
        magnitude: "own" measures ``radius`` in the family's own norm; "l2" rescales every
            direction to l2 norm ``radius`` (how papers 000 and 004 state magnitudes).
        only_correct: perturb only the rows the model classifies correctly now.
        clip: an optional box (lo, hi) for x_adv.
        loss_fn: (logits, y) -> (N,) losses; softmax cross-entropy by default.

    Returns:
        :class:`AttackResult` (x_adv, delta, zero_grad, None).
    """
    if family not in FAMILIES:
        raise ValueError(f"family: expected one of {FAMILIES}, got {family!r}")
    if magnitude not in ("own", "l2"):
        raise ValueError(f"magnitude: expected 'own' or 'l2', got {magnitude!r}")
    check_input(x)
    check_labels(y, x)
    xp = get_namespace(x)
    r = check_radius(radius, x)
    zero = xp.zeros((x.shape[0],), dtype=xp.bool)
    if family in ("urn", "gaussian"):
        if not isinstance(rng, Random):
            raise ValueError(f"rng: family {family!r} needs a refimpl.backend.Random, got {rng!r}")
        logits = getval(logits_fn(x)) if only_correct else None
        if family == "urn":
            delta = uniform_noise(rng, x, r)
        else:
            delta = gaussian_noise(rng, x, 1.0) * per_example(r, x.ndim)
    elif family == "adv_alpha":
        if scores not in ("probs", "logits"):
            raise ValueError(f"scores: expected 'probs' or 'logits', got {scores!r}")

        def to_scores(z):
            logits = logits_fn(z)
            return ops.softmax(logits, axis=-1) if scores == "probs" else logits
        values, jac = value_and_jacobian(to_scores, batched=True)(x)
        logits = getval(values)  # argmax of the probabilities is the argmax of the logits
        found = minimal_perturbation(getval(jac), logits, y, 2 if p is None else p)
        delta = found.direction * per_example(r, x.ndim)  # unit norm in p, times radius
        zero = xp.all(flat(found.direction) == 0, axis=1)
    else:
        logits, gradient = logits_and_input_gradient(logits_fn, x, y, loss_fn)
        zero = xp.all(flat(gradient) == 0, axis=1)
        delta = _gradient_step(family, gradient, r, p, k)
    if magnitude == "l2":
        delta = to_l2(delta, r)
    perturb = correct(logits, y) if only_correct else None
    x_adv, delta = finish(x, delta, perturb=perturb, clip=clip)
    zero_grad = count_true(zero & perturb if perturb is not None else zero)
    return AttackResult(x_adv, delta, zero_grad)


def _gradient_step(family: str, gradient: Array, r: Array, p: Any, k: Any) -> Array:
    """The steepest-ascent step of ``family`` on the loss gradient."""
    if family == "k_support":
        if k is None:
            raise ValueError("k: family 'k_support' needs k (an int in 1..D or a fraction)")
        return k_support.steepest_ascent(gradient, r, k)
    if family == "lp" and p is None:
        raise ValueError("p: family 'lp' needs a norm exponent p in [1, inf]")
    exponent = {"linf": math.inf, "l2": 2.0, "l1": 1.0, "lp": p}[family]
    return lp.steepest_ascent(gradient, r, exponent)
