"""One-step attacks: a direction rule (autodiff and a closed form) applied to a batch.

A model is a callable ``logits_fn(x) -> logits (N, K)`` (a closure over fixed parameters,
written with :mod:`refimpl.ops` so that it can be traced) and labels ``y`` (N,) are integers
in [0, K). :func:`one_step` composes values -- a family (:mod:`.families`) or a direction rule
(:mod:`.directions`) -- and never looks at a name: names ("fgsm", "adv_alpha", ...) are looked
up once, in :data:`refimpl.evaluation.ATTACKS`.

    x_adv = one_step(logits_fn, x, y, family=Lp(math.inf), radius=0.1, clip=(0.0, 1.0)).x_adv

Every attack returns an :class:`AttackResult` with x_adv of the shape and dtype of ``x``,
never changes ``x``, and counts how many of the examples it was asked to perturb had an
exactly zero gradient (they get a zero perturbation: sign(0) = 0). ``only_correct`` is False
by default, as in ART, Foolbox and torchattacks: a misclassified point is attacked too (its
perturbation may still matter, e.g. for a fixed set); the papers' experiments, which attack
only correctly classified points, pass ``only_correct=True``. This module also re-exports
the iterative attacks of :mod:`refimpl.perturbations.search`.
"""

from __future__ import annotations

from typing import Any, Callable

from refimpl.backend import Random
from refimpl.tracer import getval

from ._batch import check_radius
from ._model import (AttackResult, check_input, check_label_range, check_labels, correct, count,
                     finish, input_gradient, logits_and_input_gradient)
from .directions import LossGradient
from .search import MinimumPerturbation, lbfgs, minimum_perturbation, pgd

Array = Any

__all__ = ["AttackResult", "input_gradient", "logits_and_input_gradient", "one_step",
           "one_step_unchecked", "rule_of", "pgd", "lbfgs", "minimum_perturbation",
           "MinimumPerturbation"]


def rule_of(family: Any = None, direction: Any = None) -> Callable:
    """The direction rule of exactly one of ``family`` (wrapped in LossGradient) or
    ``direction``. A string is refused: names belong to the registry at the edge."""
    if (family is None) == (direction is None):
        raise ValueError("family, direction: pass exactly one (a family such as Lp(math.inf), "
                         "or a direction rule such as AdvAlpha())")
    given, name = (family, "family") if family is not None else (direction, "direction")
    if isinstance(given, str):
        raise TypeError(f"{name}: expected a value (e.g. Lp(math.inf), SignL2(), AdvAlpha()), "
                        f"got the name {given!r}; names are looked up in "
                        f"refimpl.evaluation.get_attack({given!r})")
    needed = "steepest_ascent" if family is not None else "__call__"
    if not hasattr(given, needed):
        raise TypeError(f"{name}: expected an object with {needed}, got {type(given).__name__}")
    return LossGradient(family) if family is not None else direction


def one_step(logits_fn: Callable, x: Array, y: Array, *, family: Any = None,
             direction: Any = None, radius: Any, clip: tuple[float, float] | None = None,
             only_correct: bool = False, rng: Random | None = None,
             loss_fn: Callable | None = None) -> AttackResult:
    """One-step perturbation of a batch: x_adv = clip(x + delta), delta of size ``radius``.

    Args:
        logits_fn: x (N, ...) -> logits (N, K), parameters held fixed.
        x: (N, ...) finite floating inputs; y: (N,) integer labels in [0, K).
        family: a family value (delta = family.steepest_ascent(grad_x loss, radius)), or
        direction: a direction rule (AdvAlpha(), Noise(UniformNoise()), ...); exactly one.
        radius: a number >= 0 or (N,), in the family's norm (see each family).
        clip: an optional box (lo, hi) for x_adv, e.g. (0.0, 1.0) for images.
        only_correct: perturb only the rows the model classifies correctly now.
        rng: a :class:`refimpl.backend.Random`, for noise rules.
        loss_fn: (logits, y) -> (N,) losses; softmax cross-entropy by default.

    Returns:
        :class:`AttackResult` (x_adv, delta, zero_grad, None).

    Raises:
        ValueError, TypeError: naming the argument (x, y, radius, clip, family, direction).
    """
    rule = rule_of(family, direction)
    check_input(x)
    check_labels(y, x)
    check_radius(radius, x)
    check_clip(clip)
    if only_correct not in (True, False):
        raise TypeError(f"only_correct: expected a bool, got {only_correct!r}")
    result, logits = one_step_unchecked(logits_fn, x, y, rule, radius=radius, clip=clip,
                                        only_correct=only_correct, rng=rng, loss_fn=loss_fn)
    if logits is not None:
        check_label_range(y, logits.shape[1])
    return result


def one_step_unchecked(logits_fn: Callable, x: Array, y: Array, rule: Callable, *, radius: Any,
                       clip: tuple[float, float] | None = None, only_correct: bool = False,
                       rng: Random | None = None, loss_fn: Callable | None = None):
    """:func:`one_step` on arguments already checked, with no host synchronisation of its own.

    The closed forms still check that the gradient is finite (one device read each) unless
    called within :func:`refimpl.perturbations._batch.values_checked_already`, as training
    steps do.

    Returns:
        (AttackResult, logits (N, K) at x or None): the logits when the rule computed them.
    """
    step = rule(logits_fn, x, y, radius, rng=rng, loss_fn=loss_fn)
    logits = step.logits
    perturb = None
    if only_correct:
        if logits is None:
            logits = getval(logits_fn(x))
        perturb = correct(logits, y)
    x_adv, delta = finish(x, step.delta, perturb=perturb, clip=clip)
    zero = step.zero & perturb if perturb is not None else step.zero
    return AttackResult(x_adv, delta, count(zero)), logits


def check_clip(clip: Any) -> None:
    """Raise a ValueError naming ``clip`` unless it is None or numbers (lo, hi), lo <= hi."""
    if clip is None:
        return
    if (not isinstance(clip, (tuple, list)) or len(clip) != 2
            or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in clip)
            or not clip[0] <= clip[1]):
        raise ValueError(f"clip: expected None or a box (lo, hi) of numbers with lo <= hi, got "
                         f"{clip!r}")
