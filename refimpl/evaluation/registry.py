"""The one table of attack names: name -> an :class:`Attack` value (norm, title, how to run).

Names mean what they mean in ART, Foolbox and torchattacks; the papers' names are aliases with
the papers' meanings (API.md, SPEC "Attack names"):

| name (aliases) | what it is | radius is |
|---|---|---|
| fgsm (linf) | radius * sign(grad): the linf ball | linf norm |
| sign_l2 (adv_loss_sign) | sign(grad) scaled to l2 norm radius (papers 000/004: "linf" test set, Adv_Loss_Sign) | l2 norm |
| l2 (adv_loss) | radius * grad / ‖grad‖_2 (paper 004's Adv_Loss) | l2 norm |
| l1 (single_pixel) | the whole radius on the largest |grad| entry (paper 001) | l1 norm |
| k_support (ksup) | the k = 50 % largest gradient entries scaled to l2 norm radius (paper 000's Ksup) | l2 norm |
| urn | uniform noise rescaled to l2 norm radius (paper 000's URN baseline) | l2 norm |
| gaussian | N(0, radius^2) per pixel, not rescaled (paper 003; paper 000's authors' code) | per-pixel std |
| adv_alpha | paper 004's linearized minimal perturbation (softmax-probability Jacobian), l2 | l2 norm |
| adv_alpha_logits | the same on the logits' Jacobian | l2 norm |

| pgd_linf, pgd_l2, pgd_l1 | PGD (:func:`refimpl.perturbations.pgd`): 40 steps of 2.5 radius / 40 from a uniform random start in the ball, 1 restart | that norm |
| apgd_ce, apgd_ce_l2 | APGD-CE (:func:`refimpl.perturbations.apgd_ce`, Croce and Hein 2020), 100 steps, random start | linf / l2 norm |
| deepfool_l2, deepfool_linf | DeepFool (:func:`refimpl.perturbations.deepfool`), 50 steps, overshoot 0.02; counted at radius r where its perturbation has norm <= r | l2 / linf norm |
| cw_l2 | Carlini-Wagner l2 (:func:`refimpl.perturbations.cw_l2`), counted like DeepFool | l2 norm |
| lbfgs | batched untargeted box-constrained L-BFGS (:func:`refimpl.perturbations.lbfgs_untargeted`), counted like DeepFool | l2 norm |

Every attack runs as ``attack.run(logits_fn, x, y, radius=, clip=, rng=, **options) ->
AttackResult``; :func:`register_attack` adds one. The minimum-norm attacks (DeepFool, CW,
L-BFGS) find the smallest perturbation they can per example; at a fixed radius an example
counts as attacked only where that norm is <= radius (:func:`~refimpl.perturbations.within_radius`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from refimpl.perturbations import (AdvAlpha, GaussianNoise, KSupport, LossGradient, Lp, Noise,
                                   SignL2, UniformNoise)
from refimpl.perturbations._checks import check_count
from refimpl.perturbations.attacks import one_step
from refimpl.perturbations import apgd_ce, cw_l2, deepfool, lbfgs_untargeted, pgd, within_radius

__all__ = ["Attack", "ATTACKS", "ALIASES", "register_attack", "get_attack", "label"]


@dataclass(frozen=True)
class Attack:
    """An attack by name.

    Attributes:
        name: the registry name.
        norm: what ``radius`` measures ("linf", "l2", "l1", "std").
        title: a readable column title.
        run: ``(logits_fn, x, y, *, radius, clip, rng, **options) -> AttackResult``.
        random: whether it draws from ``rng`` (noise, random starts).
        direction: the one-step direction rule (None for iterative attacks), for code that
            composes it itself: ``one_step(direction=...)``, training methods.
    """

    name: str
    norm: str
    title: str
    run: Callable = field(repr=False)
    random: bool = False
    direction: Any = None

    def label(self, radius: float | None = None) -> str:
        """"sign_l2 (l2 1.5)": the name, the norm and the radius, for tables and plots."""
        return f"{self.name} ({self.norm})" if radius is None else \
            f"{self.name} ({self.norm} {radius:g})"


def _one_step_run(build: Callable, logits_fn, x, y, *, radius, clip=None, rng=None, **options):
    """Run the one-step rule ``build(**options)`` (options: k for k_support, p for adv_alpha)."""
    try:
        direction = build(**options)
    except TypeError as err:
        raise ValueError(f"options: {sorted(options)} are not options of this attack "
                         f"({err})") from None
    return one_step(logits_fn, x, y, direction=direction, radius=radius, clip=clip, rng=rng)


def _one_step(name: str, norm: str, title: str, build: Callable, random: bool = False) -> Attack:
    return Attack(name, norm, title, functools.partial(_one_step_run, build), random, build())


ATTACKS: dict[str, Attack] = {}
"""Registry name -> :class:`Attack`; aliases are entries of their own (see :data:`ALIASES`)."""

ALIASES: dict[str, str] = {"linf": "fgsm", "adv_loss_sign": "sign_l2", "adv_loss": "l2",
                           "single_pixel": "l1", "ksup": "k_support"}
"""Alias -> the name it stands for (each alias is also a key of :data:`ATTACKS`)."""


def register_attack(name: str, run: Callable, *, norm: str, title: str | None = None,
                    random: bool = False, direction: Any = None) -> Attack:
    """Add an attack under ``name``; ``run(logits_fn, x, y, *, radius, clip, rng)``.

    Returns the :class:`Attack`. Re-registering a name replaces it (the last one wins).
    """
    if not isinstance(name, str) or not name or "@" in name:
        raise ValueError(f"name: expected a non-empty attack name without '@', got {name!r}")
    if not callable(run):
        raise TypeError(f"run: expected a callable, got {type(run).__name__}")
    attack = Attack(name, norm, title or name, run, random, direction)
    ATTACKS[name] = attack
    return attack


def _pgd_run(p: float, logits_fn, x, y, *, radius, clip=None, rng=None, steps: int = 40,
             step_size: float | None = None, restarts: int = 1):
    """PGD in the lp ball: ``steps`` steps of ``step_size`` (2.5 radius / steps by default,
    Madry et al.'s rule), from a uniform random start in the ball drawn from ``rng`` (from
    delta = 0 when ``rng`` is None)."""
    check_count(steps, "steps")  # before the default step size divides by it
    step_size = 2.5 * radius / steps if step_size is None else step_size
    return pgd(logits_fn, x, y, radius=radius, p=p, step_size=step_size, steps=steps, clip=clip,
               rng=rng, restarts=restarts)


def _apgd_run(p: float, logits_fn, x, y, *, radius, clip=None, rng=None, steps: int = 100,
              restarts: int = 1):
    """APGD-CE in the lp ball (p = inf or 2), from a random start when ``rng`` is given."""
    return apgd_ce(logits_fn, x, y, radius=radius, p=p, steps=steps, clip=clip, rng=rng,
                   restarts=restarts)


def _minimum_norm_run(attack: Callable, logits_fn, x, y, *, radius, clip=None, rng=None,
                      **options):
    """A minimum-norm attack counted at ``radius``: x_adv where its norm is <= radius."""
    found = attack(logits_fn, x, y, clip=clip, **options)
    return within_radius(found, x, radius)


def _deepfool(p: float):
    return functools.partial(deepfool, p=p)


def _register_defaults() -> None:
    entries = [
        _one_step("fgsm", "linf", "FGSM", lambda: LossGradient(Lp(math.inf))),
        _one_step("sign_l2", "l2", "Sign step", lambda: LossGradient(SignL2())),
        _one_step("l2", "l2", "Gradient", lambda: LossGradient(Lp(2.0))),
        _one_step("l1", "l1", "Single pixel", lambda: LossGradient(Lp(1.0))),
        _one_step("k_support", "l2", "K-support (K=50%)",
                  lambda k=0.5: LossGradient(KSupport(k))),
        _one_step("urn", "l2", "URN", lambda: Noise(UniformNoise()), random=True),
        _one_step("gaussian", "std", "Gaussian noise", lambda: Noise(GaussianNoise()),
                  random=True),
        _one_step("adv_alpha", "l2", "Adv_Alpha", lambda p=2.0: AdvAlpha(p, "probs")),
        _one_step("adv_alpha_logits", "l2", "Adv_Alpha (logits)",
                  lambda p=2.0: AdvAlpha(p, "logits")),
    ]
    for attack in entries:
        ATTACKS[attack.name] = attack
    for norm, p in (("linf", math.inf), ("l2", 2.0), ("l1", 1.0)):
        register_attack(f"pgd_{norm}", functools.partial(_pgd_run, p), norm=norm,
                        title="PGD", random=True)
    for norm, p in (("linf", math.inf), ("l2", 2.0)):
        suffix = "" if norm == "linf" else "_l2"
        register_attack(f"apgd_ce{suffix}", functools.partial(_apgd_run, p), norm=norm,
                        title="APGD-CE", random=True)
        register_attack(f"deepfool_{norm}", functools.partial(_minimum_norm_run, _deepfool(p)),
                        norm=norm, title="DeepFool")
    register_attack("cw_l2", functools.partial(_minimum_norm_run, cw_l2), norm="l2",
                    title="Carlini-Wagner")
    register_attack("lbfgs", functools.partial(_minimum_norm_run, lbfgs_untargeted), norm="l2",
                    title="L-BFGS")
    titles = {"linf": "FGSM", "adv_loss_sign": "Adv_Loss_Sign", "adv_loss": "Adv_Loss",
              "single_pixel": "Single pixel", "ksup": "Ksup (K=50%)"}
    for alias, target in ALIASES.items():
        base = ATTACKS[target]
        ATTACKS[alias] = Attack(alias, base.norm, titles[alias], base.run, base.random,
                                base.direction)


_register_defaults()


def get_attack(name: Any) -> Attack:
    """The :class:`Attack` called ``name`` (an Attack value is returned as it is).

    Raises:
        ValueError: naming ``attack`` with the choices when the name is unknown.
    """
    if isinstance(name, Attack):
        return name
    if not isinstance(name, str) or name not in ATTACKS:
        raise ValueError(f"attack: expected one of {', '.join(ATTACKS)}, got {name!r}")
    return ATTACKS[name]


def label(name: str, radius: float | None = None) -> str:
    """The table/plot label of attack ``name`` at ``radius``, e.g. "fgsm (linf 0.1)";
    "clean" stays "clean"."""
    return "clean" if name == "clean" else get_attack(name).label(radius)
