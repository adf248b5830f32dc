"""Direction rules as values: how a one-step attack turns (model, x, y) into delta.

A direction rule is called as ``rule(logits_fn, x, y, radius, *, rng, loss_fn) -> Step`` on a
checked batch and returns the perturbation of size ``radius`` (a number >= 0 or (N,)), the
logits at x when it computed them (for ``only_correct``, without a second forward pass) and
which examples had an exactly zero gradient. The rules:

- :class:`LossGradient` (family): the family's steepest ascent on the input gradient of the
  loss (Adv_Loss is ``LossGradient(Lp(2))``, FGSM ``LossGradient(Lp(inf))``, paper 004's
  Adv_Loss_Sign ``LossGradient(SignL2())``, Ksup ``LossGradient(KSupport(0.5))``);
- :class:`AdvAlpha`: paper 004's linearized minimal perturbation from the Jacobian of the
  softmax probabilities (``scores="probs"``, the paper) or of the logits, rescaled to
  ``radius`` in its lp norm;
- :class:`Noise` (noise family): a random draw that ignores the model (URN, Gaussian).

The rules never validate (no host synchronisation): :func:`refimpl.perturbations.one_step`
checks its arguments once, and training methods call the rules on batches checked at the
training loop's entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from refimpl import ops
from refimpl.autodiff import grad, vjp
from refimpl.backend import device_of, get_namespace
from refimpl.tracer import getval

from . import lp
from ._batch import check_radius, flat, per_example
from .external import checked_logits
from .families import L2, GaussianNoise, Lp, UniformNoise, is_zero_row
from .linearized import closest_boundary, other_classes, score_gaps

Array = Any

__all__ = ["Step", "LossGradient", "AdvAlpha", "Noise", "cross_entropy_unchecked",
           "loss_and_input_gradient"]


class Step(NamedTuple):
    """What a direction rule returns: delta (N, ...), logits (N, K) at x or None, and
    zero (N,) bool, the examples whose gradient (or direction) was exactly zero."""

    delta: Array
    logits: Array | None
    zero: Array


def cross_entropy_unchecked(logits: Array, y: Array) -> Array:
    """Per-example softmax cross-entropy without the label-range check (no host sync)."""
    return ops.softmax_cross_entropy(logits, y, check=False)


def loss_and_input_gradient(logits_fn: Callable, x: Array, y: Array,
                            loss_fn: Callable | None = None) -> tuple[Array, Array]:
    """(logits (N, K) at x, d sum_n loss_n / d x (N, ...)), one forward and one backward pass.

    Unchecked. The loss is summed over the batch, so row n of the gradient is example n's own;
    both results are raw arrays (getval), so a perturbation made inside a training step is a
    constant of that step even when ``logits_fn`` closes over traced parameters.
    """
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable (logits, y) -> (N,) losses, got "
                        f"{type(loss_fn).__name__}")
    loss_fn = loss_fn or cross_entropy_unchecked
    seen = {}

    def total_loss(z):
        logits = checked_logits(logits_fn, z)  # a TypeError naming the fix for foreign code
        seen["logits"] = getval(logits)
        return ops.sum(loss_fn(logits, y))

    gradient = grad(total_loss)(x)
    return seen["logits"], getval(gradient)


def _radius_array(radius: Any, x: Array) -> Array:
    """(N,) radii in x's dtype; a number is checked here (no sync), an array was checked."""
    if hasattr(radius, "shape"):
        xp = get_namespace(x)
        return xp.broadcast_to(xp.astype(radius, x.dtype), (x.shape[0],))
    return check_radius(radius, x)


@dataclass(frozen=True)
class LossGradient:
    """delta = family.steepest_ascent(grad_x loss, radius): the one-step loss attacks."""

    family: Any = L2

    def __post_init__(self):
        if not callable(getattr(self.family, "steepest_ascent", None)):
            raise TypeError(f"family: expected a family value with steepest_ascent(grad, "
                            f"radius), such as Lp(2), got {self.family!r}")

    @property
    def label(self) -> str:
        return self.family.label

    def __call__(self, logits_fn, x, y, radius, *, rng=None, loss_fn=None) -> Step:
        logits, gradient = loss_and_input_gradient(logits_fn, x, y, loss_fn)
        return Step(self.family.steepest_ascent(gradient, radius), logits, is_zero_row(gradient))


@dataclass(frozen=True)
class AdvAlpha:
    """Paper 004's Adv_Alpha: the linearized minimal perturbation, rescaled to ``radius``.

    With s = softmax(logits) (``scores="probs"``) or s = logits and T = ds/dx, the direction is
    the unit-lp dual maximiser of T_I - T_y for the class I of smallest linearized distance
    (s_y - s_I) / ||T_I - T_y||_q (:func:`.linearized.closest_boundary`); delta is that
    direction times ``radius`` (l2 norm ``radius`` for the default p = 2).

    Cost: one forward pass and K - 1 backward passes over it, pass r seeded on the logits with
    the gradient of s_j - s_y (j the r-th class other than y, per example), which gives
    T_j - T_y directly: the Jacobian row of y is never formed, nor subtracted.

    Precision: for probabilities the seed is d (s_j - s_y) / dz_k = s_j [k = j] - s_y [k = y]
    + (s_y - s_j) s_k, whose k = y entry is -s_y (1 - s_y + s_j), with 1 - s_y summed from the
    other classes' probabilities. Backpropagating e_j - e_y through the softmax instead forms
    1 - s_y by subtraction, which is 0 in float32 once p_y rounds to 1 (the cancellation of
    the cross-entropy gradient, see ``ops.softmax_cross_entropy``): on a Normal MNIST MLP
    that made about a fifth of the directions wrong and the attack 3-9 points weaker.
    """

    p: float = 2.0
    scores: str = "probs"
    family: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.scores not in ("probs", "logits"):
            raise ValueError(f"scores: expected 'probs' or 'logits', got {self.scores!r}")
        object.__setattr__(self, "family", Lp(self.p))
        object.__setattr__(self, "p", lp.check_p(self.p))

    @property
    def label(self) -> str:
        return self.family.label

    def __call__(self, logits_fn, x, y, radius, *, rng=None, loss_fn=None) -> Step:
        logits, back = vjp(logits_fn, x)
        logits = getval(logits)
        xp = get_namespace(logits)
        n, k = logits.shape
        # labels outside [0, K) are refused by one_step after this call (no sync here): clip
        # them so that the indexing cannot fail first
        labels = xp.astype(xp.clip(y, min=0, max=k - 1), xp.int64)
        others = other_classes(labels, k)  # (N, K - 1)
        seeds = _difference_seeds(logits, labels, others, probs=self.scores == "probs")
        diff = (xp.stack([flat(getval(back(seeds(r))[0])) for r in range(k - 1)], axis=1)
                if k > 1 else xp.zeros((n, 0, math.prod(x.shape[1:])), dtype=x.dtype,
                                       device=device_of(x)))  # (N, K - 1, D): T_j - T_y
        scores = ops.softmax(logits, axis=-1) if self.scores == "probs" else logits
        found = closest_boundary(diff, score_gaps(scores, labels, others), others, self.p)
        direction = xp.reshape(found.direction, x.shape)
        delta = direction * per_example(_radius_array(radius, x), x.ndim)
        return Step(delta, logits, is_zero_row(direction))


def _difference_seeds(logits: Array, labels: Array, others: Array, *, probs: bool):
    """r -> the (N, K) cotangent on the logits whose backward pass gives d (s_j - s_y) / dx,
    j = others[:, r]: e_j - e_y for s = logits; for s = softmax(logits) the cancellation-free
    form in :class:`AdvAlpha`'s docstring."""
    xp = get_namespace(logits)
    classes = xp.arange(logits.shape[1], dtype=xp.int64, device=device_of(logits))[None, :]
    is_y = classes == labels[:, None]
    if not probs:
        return lambda r: (xp.astype(classes == others[:, r:r + 1], logits.dtype)
                          - xp.astype(is_y, logits.dtype))
    s = ops.softmax(logits, axis=-1)
    s_y = xp.take_along_axis(s, labels[:, None], axis=1)  # (N, 1)
    rest = xp.sum(xp.where(is_y, 0.0, s), axis=1, keepdims=True)  # 1 - s_y, no cancellation

    def seed(r):
        j = others[:, r:r + 1]
        s_j = xp.take_along_axis(s, j, axis=1)
        c = xp.where(classes == j, s_j, 0.0) + (s_y - s_j) * s
        return xp.where(is_y, -s_y * (rest + s_j), c)
    return seed


@dataclass(frozen=True)
class Noise:
    """A random perturbation from a noise family (URN by default); the model is not used."""

    family: Any = field(default_factory=UniformNoise)

    def __post_init__(self):
        if not callable(getattr(self.family, "draw", None)):
            raise TypeError(f"family: expected a noise family with draw(rng, x, radius), such "
                            f"as UniformNoise() or GaussianNoise(), got {self.family!r}")

    @property
    def label(self) -> str:
        return self.family.label

    def __call__(self, logits_fn, x, y, radius, *, rng=None, loss_fn=None) -> Step:
        xp = get_namespace(x)
        delta = self.family.draw(rng, x, radius)
        return Step(delta, None, xp.zeros((x.shape[0],), dtype=xp.bool, device=x.device))


GAUSSIAN = Noise(GaussianNoise())
