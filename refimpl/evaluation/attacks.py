"""Test-time attacks by name, and accuracy on a test set perturbed by one of them.

Every perturbation is computed against the model being scored (white box), one batch at a
time, by :func:`refimpl.perturbations.attacks.one_step`. As in papers 000 and 004, by default
only the test points the model classifies correctly are perturbed: the others count as errors
either way, and their gradient may be zero. A magnitude ("radius") is an l2 norm for every
attack except "fgsm" (an linf ball), "l1" (the l1 norm: one pixel) and "gaussian" (the per-pixel
standard deviation).
"""

from __future__ import annotations

from typing import Any, Iterator

from refimpl.backend import make_rng
from refimpl.perturbations.attacks import one_step

from ._common import (batches, check_batch_size, check_data, check_radius, check_seed,
                      count_correct, logits_of)

Array = Any

__all__ = ["ATTACKS", "TITLES", "RANDOM_ATTACKS", "perturb", "accuracy", "accuracy_under_attack"]

ATTACKS: dict[str, dict] = {
    # papers 000/004: sign(grad) rescaled to l2 norm `radius` (paper 004's Adv_Loss_Sign)
    "linf": {"family": "linf", "magnitude": "l2", "title": "linf (sign)"},
    "adv_loss_sign": {"family": "linf", "magnitude": "l2", "title": "Adv_Loss_Sign"},
    # grad / ||grad||_2 * radius (paper 004's Adv_Loss)
    "l2": {"family": "l2", "title": "l2"},
    "adv_loss": {"family": "l2", "title": "Adv_Loss"},
    # paper 000: the K = 50 % largest gradient entries, scaled to l2 norm `radius`
    "k_support": {"family": "k_support", "k": 0.5, "title": "K-support (K=50%)"},
    # paper 000's random baseline: uniform noise of l2 norm `radius`
    "urn": {"family": "urn", "title": "URN"},
    # paper 004: linearized minimal perturbation from the softmax-probability Jacobian, l2
    "adv_alpha": {"family": "adv_alpha", "title": "Adv_Alpha"},
    # paper 003 / the k-support authors' code: N(0, radius^2) per pixel, not rescaled
    "gaussian": {"family": "gaussian", "title": "Gaussian noise"},
    # paper 001 (Shaham Fig. 3): radius * sign(grad), the linf ball
    "fgsm": {"family": "linf", "magnitude": "own", "title": "FGSM (linf ball)"},
    # paper 001: the whole radius on the pixel of largest |grad|
    "l1": {"family": "l1", "title": "Single pixel (l1)"},
}
"""Attack name -> keyword arguments of ``one_step`` plus a human ``"title"``."""

TITLES: dict[str, str] = {"clean": "Clean", **{name: a["title"] for name, a in ATTACKS.items()}}
"""Readable column names, "clean" included."""

RANDOM_ATTACKS = frozenset(name for name, a in ATTACKS.items()
                           if a["family"] in ("urn", "gaussian"))
"""The attacks that draw random numbers (from ``make_rng(seed, xp)``) instead of a gradient."""

_RESERVED = ("logits_fn", "x", "y", "radius", "only_correct", "clip", "rng", "title")


def one_step_kwargs(attack: str, overrides: dict | None = None, *,
                    allow_clean: bool = True) -> dict | None:
    """The ``one_step`` keyword arguments of ``attack`` with ``overrides`` (None for "clean").

    Raises:
        ValueError: naming ``attack`` with the choices when it is unknown, or naming an
            override that has an argument of its own (radius, clip, ...).
    """
    choices = (("clean",) if allow_clean else ()) + tuple(ATTACKS)
    if not isinstance(attack, str) or attack not in choices:
        raise ValueError(f"attack: expected one of {', '.join(choices)}, got {attack!r}")
    taken = sorted(set(overrides or {}) & set(_RESERVED))
    if taken:
        raise ValueError(f"overrides: {', '.join(taken)} cannot be overridden; pass radius, "
                         f"only_correct, clip or seed as arguments")
    if attack == "clean":
        return None
    kwargs = {key: value for key, value in ATTACKS[attack].items() if key != "title"}
    return {**kwargs, **(overrides or {})}


def _adversarial_batches(model, params, x, y, attack, *, radius, only_correct, seed, batch_size,
                         clip, overrides) -> Iterator[tuple[Array, Array]]:
    """Check the arguments, then return an iterator of (x_adv, y) batches over the whole set.

    The random attacks draw from one ``make_rng(seed, xp)``, batch after batch, so the result
    is reproducible for a given seed and batch size.
    """
    xp = check_data(x, y)
    kwargs = one_step_kwargs(attack, overrides)
    radius = check_radius(radius)
    check_batch_size(batch_size)
    rng = make_rng(check_seed(seed), xp) if attack in RANDOM_ATTACKS else None
    logits_fn = logits_of(model, params)

    def walk():
        for start, stop in batches(x.shape[0], batch_size):
            xb, yb = x[start:stop, ...], y[start:stop]
            if kwargs is None:
                yield xb, yb
                continue
            found = one_step(logits_fn, xb, yb, radius=radius, only_correct=only_correct,
                             clip=clip, rng=rng, **kwargs)
            yield found.x_adv, yb
    return walk()


def perturb(model, params: dict, x: Array, y: Array, attack: str, *, radius: float,
            only_correct: bool = True, seed: int | None = 0, batch_size: int = 500,
            clip: tuple[float, float] | None = None, **overrides) -> Array:
    """The perturbed test set x_adv = x + delta, delta from ``attack`` against (model, params).

    Args:
        model, params: the model scored; its ``apply(params, x)`` gives logits (N, K).
        x: (N, ...) inputs; y: (N,) integer labels, of the library of the parameters.
        attack: a name of :data:`ATTACKS`, or "clean" (a copy of x; no clipping).
        radius: the magnitude (see the module docstring for its norm), >= 0.
        only_correct: perturb only the rows the model classifies correctly.
        seed: the seed of the random attacks ("urn", "gaussian").
        batch_size: rows per one-step attack; deterministic attacks give the same x_adv
            whatever its value.
        clip: an optional box (lo, hi) for x_adv (off in the papers' settings).
        **overrides: more ``one_step`` keyword arguments, e.g. ``k=0.25`` or ``p=3``.

    Returns:
        x_adv (N, ...), the shape, dtype and library of x; x is left unchanged.
    """
    xp = check_data(x, y)
    walk = _adversarial_batches(model, params, x, y, attack, radius=radius,
                                only_correct=only_correct, seed=seed, batch_size=batch_size,
                                clip=clip, overrides=overrides)
    return xp.concat([x_adv for x_adv, _ in walk], axis=0)  # a new array, even for "clean"


def accuracy(model, params: dict, x: Array, y: Array, *, batch_size: int = 1000) -> float:
    """The fraction of rows whose largest logit is the label: (1/N) sum_n [argmax f(x_n) = y_n].

    Args:
        x: (N, ...) inputs; y: (N,) integer labels.

    Returns:
        A Python float in [0, 1].
    """
    check_data(x, y)
    check_batch_size(batch_size)
    hits = sum(count_correct(model.apply(params, x[start:stop, ...]), y[start:stop])
               for start, stop in batches(x.shape[0], batch_size))
    return hits / x.shape[0]


def accuracy_under_attack(model, params: dict, x: Array, y: Array, attack: str, *,
                          radius: float, only_correct: bool = True, seed: int | None = 0,
                          batch_size: int = 500, clip: tuple[float, float] | None = None,
                          **overrides) -> float:
    """Accuracy on the set :func:`perturb` makes, without keeping it: one batch at a time.

    ``attack="clean"`` or ``radius=0`` gives the clean accuracy (every attack's delta is
    zero at radius 0; with a ``clip`` box, radius 0 still scores the clipped x). Arguments as
    in :func:`perturb`.

    Returns:
        A Python float in [0, 1].
    """
    walk = _adversarial_batches(model, params, x, y, attack, radius=radius,
                                only_correct=only_correct, seed=seed, batch_size=batch_size,
                                clip=clip, overrides=overrides)
    if attack == "clean" or (radius == 0 and clip is None):
        return accuracy(model, params, x, y, batch_size=batch_size)
    hits = sum(count_correct(model.apply(params, x_adv), yb) for x_adv, yb in walk)
    return hits / x.shape[0]
