"""What the iterative attacks share: argument checks, the lp family value, per-example losses.

Every iterative attack takes ``p=`` (1, 2 or inf) or, instead, a ``family=`` value: any object
with ``steepest_ascent(grad, radius)`` and ``project(delta, radius)`` batched over axis 0 (the
family values of :mod:`refimpl.perturbations.families` qualify; this module does not import
them, it only calls those two methods). Minimum-norm attacks (DeepFool, Carlini-Wagner,
untargeted L-BFGS) return a :class:`MinimumNormResult`: its first fields are those of
:class:`~refimpl.perturbations.attacks.AttackResult`, and ``norm`` is inf where no
adversarial example was found (the one convention for "not found").
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from refimpl import ops
from refimpl.backend import get_namespace
from refimpl.tracer import getval

from . import lp
from ._batch import check_radius, per_example
from ._model import AttackResult, check_label_range  # defined there, with the other label checks

Array = Any

__all__ = ["MinimumNormResult", "LpFamily", "resolve_family", "check_positive", "check_count",
           "check_label_range", "check_clip", "on_device_of", "one_hot_like", "margin",
           "per_example_loss", "within_radius"]


class MinimumNormResult(NamedTuple):
    """What a minimum-norm attack returns.

    Attributes:
        x_adv: (N, ...) the perturbed inputs (x itself where nothing was found).
        delta: (N, ...) x_adv - x.
        zero_grad: how many rows had an exactly zero gradient at x (they get delta = 0).
        success: (N,) bool, the rows whose x_adv is misclassified.
        norm: (N,) the norm of delta where ``success`` (0 for rows misclassified at x), inf
            where no adversarial example was found.
    """

    x_adv: Array
    delta: Array
    zero_grad: int
    success: Array
    norm: Array


class LpFamily:
    """The lp ball as a family value: ``steepest_ascent`` and ``project`` of :mod:`.lp`."""

    def __init__(self, p: float):
        self.p = lp.check_p(p)

    def norm(self, x: Array) -> Array:
        return lp.norm(x, self.p)

    def steepest_ascent(self, grad: Array, radius: Any) -> Array:
        return lp.steepest_ascent(grad, radius, self.p)

    def project(self, delta: Array, radius: Any) -> Array:
        return lp.project(delta, radius, self.p)

    def __repr__(self):
        return f"LpFamily(p={self.p})"


def resolve_family(p: Any, family: Any, allowed: tuple = (1.0, 2.0, math.inf),
                   attack: str = "PGD") -> Any:
    """The family value from exactly one of ``p`` (a number in ``allowed``) and ``family``."""
    if (p is None) == (family is None):
        raise ValueError(f"p, family: give exactly one (p = 1, 2 or inf, or a family value with "
                         f"steepest_ascent and project), got p={p!r}, family={family!r}")
    if family is not None:
        for method in ("steepest_ascent", "project"):
            if not callable(getattr(family, method, None)):
                raise TypeError(f"family: expected a value with steepest_ascent(grad, radius) "
                                f"and project(delta, radius) methods, got {family!r}")
        return family
    p = lp.check_p(p)
    if p not in allowed:
        names = [f"l{v:g}" if math.isfinite(v) else "linf" for v in allowed]
        raise ValueError(f"p: {attack} projects onto {', '.join(names[:-1])} or {names[-1]} "
                         f"balls; expected one of {', '.join(n[1:] for n in names)}, got {p}")
    return LpFamily(p)


def check_positive(value: Any, name: str) -> float:
    """``value`` as a float; a ValueError naming ``name`` unless it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` unless it is not an int >= ``minimum`` (a ValueError naming ``name``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return value


def check_clip(clip: Any, required: bool = False) -> tuple[float, float] | None:
    """``clip`` as (lo, hi) with lo < hi (or None when not ``required``)."""
    if clip is None and not required:
        return None
    try:
        lo, hi = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise ValueError(f"clip: expected a box (lo, hi) of two numbers, got {clip!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"clip: expected finite lo < hi, got {clip!r}")
    return lo, hi


def on_device_of(a: Array, like: Array) -> Array:
    """``a`` moved to the device of ``like`` (a no-op when it is there already)."""
    return a if a.device == like.device else a.to_device(like.device)


def one_hot_like(y: Array, logits: Array) -> Array:
    """(N, K) one-hot rows of the labels, dtype and device of ``logits`` (N, K)."""
    xp = get_namespace(logits)
    classes = xp.arange(logits.shape[1], dtype=y.dtype, device=logits.device)
    return xp.astype(y[:, None] == classes[None, :], logits.dtype)


def margin(logits: Array, y: Array) -> Array:
    """(N,) max_{j != y} z_j - z_y, written with refimpl.ops (traceable): > 0 iff misclassified
    (up to ties)."""
    raw = getval(logits)
    xp = get_namespace(raw)
    is_label = one_hot_like(y, raw) > 0
    others = ops.where(is_label, xp.full_like(raw, -math.inf), logits)
    own = ops.sum(ops.where(is_label, logits, xp.zeros_like(raw)), axis=1)
    return ops.subtract(ops.max(others, axis=1), own)


def within_radius(result: MinimumNormResult, x: Array, radius: Any) -> Any:
    """A minimum-norm attack's result at a fixed radius: x_adv where it succeeded with
    ``norm <= radius`` (a number or (N,)), x elsewhere (how accuracy under a minimum-norm
    attack at radius r is counted).

    Returns:
        :class:`AttackResult` (x_adv, delta, zero_grad, success (N,) bool: the rows perturbed).
    """
    xp = get_namespace(x)
    r = on_device_of(check_radius(radius, x), x)
    keep = result.success & (result.norm <= r)
    x_adv = xp.where(per_example(keep, x.ndim), result.x_adv, x)
    return AttackResult(x_adv, x_adv - x, result.zero_grad, keep)


def per_example_loss(loss_fn: Any, logits: Array, y: Array) -> Array:
    """(N,) losses on raw logits (softmax cross-entropy by default)."""
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable (logits, y) -> (N,) losses, got "
                        f"{type(loss_fn).__name__}")
    return (loss_fn or ops.softmax_cross_entropy)(logits, y)
