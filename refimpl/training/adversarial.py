"""Training methods that perturb the batch before the descent step (papers 000, 001, 003, 004).

Every method here has the same two stages:

1. the perturbation ``delta`` is computed against the current parameters *held fixed*: the
   attack runs on a raw copy of the parameters (``getval``), with the network in evaluation
   mode (dropout off, no training noise), so ``delta`` is a constant of the step -- no gradient
   flows through it (the Danskin argument of paper 004, Prop. 6);
2. the loss is the mean cross-entropy of the network, in training mode, at ``x + delta``, and
   the loop differentiates that in the parameters.

A method receives its attack as a value: ``attack=`` a direction rule of
:mod:`refimpl.perturbations.directions` (``LossGradient(SignL2())``, ``AdvAlpha()``, ...), or
``None`` for the paper's default, built from the method's own options (``p``, ``k``,
``noise``, ``direction``: the settings the CLI names). The step runs on the unchecked path
(no host synchronisation; the training loop checked the data once). Signature of every method:
``method(model, params, x, y, *, rng, **options) -> scalar loss``.
"""

from __future__ import annotations

import math
from typing import Any

from refimpl import ops
from refimpl.backend import get_namespace
from refimpl.nn.losses import cross_entropy_unchecked as cross_entropy
from refimpl.perturbations import AdvAlpha, GaussianNoise, KSupport, LossGradient, Lp, Noise
from refimpl.perturbations import SignL2, UniformNoise
from refimpl.perturbations._batch import values_checked_already
from refimpl.perturbations.attacks import one_step_unchecked
from refimpl.perturbations.lp import check_p
from refimpl.tracer import getval

__all__ = ["goodfellow", "robust_lp", "ksup", "urn", "lwa", "lwa_rep", "gradreg", "perturbation",
           "SHAHAM_RADII", "check_sigma"]

Array = Any

SHAHAM_RADII = {1.0: 2.0, 2.0: 2.0, math.inf: 0.2}
"""Paper 001's training radii per norm exponent p, in standardised pixel units."""

DIRECTIONS = {"adv_loss": LossGradient(Lp(2.0)), "adv_alpha": AdvAlpha()}
"""Paper 004's two directions for LWA / LWA_Rep, by the names the CLI gives them."""


def _fixed(model, params: dict, *, part: str = "apply"):
    """The logits function of the model with the parameters frozen (raw arrays, eval mode)."""
    frozen = {name: getval(value) for name, value in params.items()}
    forward = getattr(model, part)
    return lambda z: forward(frozen, z)


def perturbation(model, params: dict, x: Array, y: Array, *, radius: float, family=None,
                 direction=None, rng=None, part: str = "apply") -> Array:
    """delta (N, ...): the one-step perturbation of x against the frozen model.

    Exactly one of ``family`` (a family value: the steepest ascent on the loss gradient) or
    ``direction`` (a direction rule). No checks and no host synchronisation.
    """
    if direction is not None and not callable(direction):
        raise TypeError(f"attack: expected a direction rule such as LossGradient(Lp(2)) or "
                        f"AdvAlpha(), got {direction!r}")
    rule = direction if direction is not None else LossGradient(family)
    with values_checked_already():  # no device reads: the loop checked the data once
        result, _ = one_step_unchecked(_fixed(model, params, part=part), x, y, rule,
                                       radius=radius, rng=rng)
    return result.delta


def check_sigma(sigma: Any) -> float:
    """``sigma`` as a finite float >= 0, or a ValueError naming it (no array: no sync)."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (
            math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma: expected a finite number >= 0, got {sigma!r}")
    return float(sigma)


def _loss_at(model, params, x_adv, y, rng):
    return cross_entropy(model.apply(params, x_adv, train=True, rng=rng), y)


def goodfellow(model, params: dict, x: Array, y: Array, *, rng=None, radius: float = 1.5,
               alpha: float = 0.5, magnitude: str = "l2", attack=None) -> Array:
    """alpha L(x) + (1 - alpha) L(x + radius sign(grad_x L)) (Goodfellow et al.; papers 000, 004).

    ``magnitude="l2"`` (the default, as papers 000 and 004 train) rescales the sign step to l2
    norm ``radius``; ``magnitude="own"`` is the linf ball of radius ``radius`` (the original
    fast gradient sign method, e.g. radius 0.1 on [0, 1] pixels). ``attack`` (a direction
    rule) replaces the sign step. The clean and perturbed batches go through the network as
    one batch of 2N rows.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha: expected a weight in [0, 1], got {alpha!r}")
    families = {"l2": SignL2(), "own": Lp(math.inf)}
    if attack is None and magnitude not in families:
        raise ValueError(f"magnitude: expected 'l2' or 'own', got {magnitude!r}")
    delta = perturbation(model, params, x, y, radius=radius,
                         direction=attack or LossGradient(families[magnitude]))
    xp = get_namespace(x)
    n = x.shape[0]
    losses = ops.softmax_cross_entropy(
        model.apply(params, xp.concat([x, x + delta], axis=0), train=True, rng=rng),
        xp.concat([y, y], axis=0), check=False)  # (2N,)
    clean, adversarial = ops.getitem(losses, slice(0, n)), ops.getitem(losses, slice(n, 2 * n))
    return ops.add(ops.multiply(alpha, ops.mean(clean)),
                   ops.multiply(1.0 - alpha, ops.mean(adversarial)))


def robust_lp(model, params: dict, x: Array, y: Array, *, rng=None, p: float = math.inf,
              radius: float | None = None, attack=None) -> Array:
    """L(x + lp.steepest_ascent(grad_x L, radius, p)): Shaham et al.'s Algorithm 1.

    The whole batch is replaced by its perturbed version. ``p`` in [1, inf]; p = 1 moves the
    single pixel of largest |gradient| (the paper's l1 ball). ``radius`` defaults to the
    paper's (linf 0.2, l2 2, l1 2, in standardised units; see :data:`SHAHAM_RADII`).
    """
    p = check_p(p)
    if radius is None:
        if p not in SHAHAM_RADII:
            raise ValueError(f"radius: no default for p = {p}; pass radius (defaults exist for "
                             f"p = 1, 2, inf)")
        radius = SHAHAM_RADII[p]
    delta = perturbation(model, params, x, y, radius=radius,
                         direction=attack or LossGradient(Lp(p)))
    return _loss_at(model, params, x + delta, y, rng)


def ksup(model, params: dict, x: Array, y: Array, *, rng=None, radius: float = 1.7,
         k: Any = 0.5, attack=None) -> Array:
    """L(x + k_support.steepest_ascent(grad_x L, radius, k)): paper 000's Algorithm 1.

    The k largest-magnitude entries of the gradient, scaled to l2 norm ``radius`` (1.7 in the
    authors' code; k = 50 % of the pixels). Train a model with dropout layers
    (``mlp-400-400-dropout``) for the paper's Ksup+Dropout.
    """
    delta = perturbation(model, params, x, y, radius=radius,
                         direction=attack or LossGradient(KSupport(k)))
    return _loss_at(model, params, x + delta, y, rng)


def urn(model, params: dict, x: Array, y: Array, *, rng=None, radius: float = 1.7,
        noise: str = "uniform", attack=None) -> Array:
    """L(x + random noise): paper 000's URN baseline.

    ``noise="uniform"`` (the paper): zero-mean unit-variance uniform noise rescaled to l2 norm
    ``radius`` per example; ``noise="gaussian"`` (the authors' code): per-pixel std ``radius``,
    not rescaled. Drawn fresh per step from ``rng``.
    """
    families = {"uniform": UniformNoise(), "gaussian": GaussianNoise()}
    if noise not in families:
        raise ValueError(f"noise: expected 'uniform' or 'gaussian', got {noise!r}")
    if rng is None:
        raise ValueError("rng: method 'urn' draws noise and needs an rng")
    delta = perturbation(model, params, x, y, radius=radius, rng=rng,
                         direction=attack or Noise(families[noise]))
    return _loss_at(model, params, x + delta, y, rng)


def _direction_rule(direction: str, attack) -> Any:
    if attack is not None:
        return attack
    if direction not in DIRECTIONS:
        raise ValueError(f"direction: expected one of {tuple(DIRECTIONS)}, got {direction!r}")
    return DIRECTIONS[direction]


def lwa(model, params: dict, x: Array, y: Array, *, rng=None, radius: float = 1.7,
        direction: str = "adv_loss", attack=None) -> Array:
    """L(x + radius r / ||r||_2): learning with a strong adversary (paper 004, Algorithm 2).

    r is the l2 steepest-ascent direction of the loss (``"adv_loss"``, what the paper trains
    with) or the linearized minimal perturbation from the softmax Jacobian (``"adv_alpha"``).
    The update uses the perturbed batch only.
    """
    delta = perturbation(model, params, x, y, radius=radius,
                         direction=_direction_rule(direction, attack))
    return _loss_at(model, params, x + delta, y, rng)


def lwa_rep(model, params: dict, x: Array, y: Array, *, rng=None, radius: float = 1.7,
            direction: str = "adv_loss", attack=None) -> Array:
    """L(classifier(h + radius r / ||r||_2)), h = representation(x) (paper 004, Algorithm 3).

    r is computed from the classifier alone at the value of h, with every parameter frozen,
    and is a constant of the step (Prop. 6), while h keeps its gradient, so the representation
    layers learn too. The paper does not state its radius for the representation; 1.7 (the
    input radius) is our default.
    """
    h = model.represent(params, x, train=True, rng=rng)
    h_value = getval(h)
    delta = perturbation(model, params, h_value, y, radius=radius, part="classify",
                         direction=_direction_rule(direction, attack))
    return cross_entropy(model.classify(params, ops.add(h, delta), train=True, rng=rng), y)


def gradreg(model, params: dict, x: Array, y: Array, *, rng=None, sigma: float = 1.0,
            p: float = 2.0) -> Array:
    """L(x + lp.steepest_ascent(grad_x L, sigma, p)): paper 003's perturbation form.

    To first order in sigma this is L(x) + sigma ||grad_x L||_q (``gradreg_penalty``);
    p = inf is Goodfellow's sign step, p = 2 the paper's default (sigma = 1).
    """
    check_sigma(sigma)
    delta = perturbation(model, params, x, y, radius=sigma, family=Lp(float(p)))
    return _loss_at(model, params, x + delta, y, rng)
