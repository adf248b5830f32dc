"""Test-time attacks by name, and accuracy on a test set perturbed by one of them.

Names are looked up once, in :mod:`.registry` (:data:`ATTACKS`: "fgsm" == "linf" is the linf
ball, "sign_l2" == "adv_loss_sign" the papers' sign step measured in l2, ...). Every
perturbation is computed against the model being scored (white box), one batch at a time.

Defaults, as in ART, Foolbox and torchattacks: ``clip=(0.0, 1.0)``, the range of the data
sets here (pass ``clip=None`` for the papers' unclipped setting, or your data's box), and
``only_correct=False``: every point is attacked, since a misclassified point counts as an
error either way and attacking it changes no accuracy -- but it matters for a stored set or
a plot. The papers' experiments pass ``only_correct=True, clip=None`` explicitly.

``attack_mode="train"`` takes each attack's gradient with the network in training mode (fresh
dropout masks from ``make_rng(seed, xp)``, the protocol of paper 004 and of the k-support
authors), while predictions, and the choice of correctly classified points, stay in
evaluation mode.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from refimpl.backend import device_of, make_rng
from refimpl.perturbations import Noise
from refimpl.perturbations._model import check_label_range

from ._common import (batches, check_batch_size, check_data, check_radius, check_seed,
                      count_correct, logits_of, predicted_right)
from .registry import ALIASES, ATTACKS, Attack, get_attack, label, register_attack

Array = Any

__all__ = ["ATTACKS", "ALIASES", "TITLES", "RANDOM_ATTACKS", "Attack", "get_attack",
           "register_attack", "label", "perturb", "accuracy", "accuracy_under_attack",
           "attack_batches", "check_attack_mode"]

TITLES: dict[str, str] = {"clean": "Clean", **{name: f"{a.title} ({a.norm})"
                                               for name, a in ATTACKS.items()}}
"""Readable column names with the norm of the radius, "clean" included."""

RANDOM_ATTACKS = frozenset(name for name, a in ATTACKS.items()
                           if a.random and isinstance(a.direction, Noise))
"""The built-in attacks that draw random numbers instead of using a gradient."""

DEFAULT_CLIP = (0.0, 1.0)


def check_attack_mode(attack_mode: Any) -> str:
    """``attack_mode`` if it is "eval" or "train", else a ValueError naming it."""
    if attack_mode not in ("eval", "train"):
        raise ValueError(f"attack_mode: expected 'eval' or 'train', got {attack_mode!r}")
    return attack_mode


def attack_batches(model, params: dict, x: Array, y: Array, attack: Any, *, radius: float,
                   only_correct: bool, seed: int | None, batch_size: int,
                   clip: tuple[float, float] | None, attack_mode: str = "eval",
                   options: dict | None = None) -> Iterator[tuple[int, Array, Array]]:
    """Check the arguments, then return an iterator of (start, x_adv, y) batches.

    ``attack`` is a name, an :class:`Attack`, or "clean" (the batches of x as they are).
    The random attacks and the dropout masks of ``attack_mode="train"`` draw from their own
    ``make_rng(seed, xp)``, batch after batch, so the result is reproducible for a given seed
    and batch size.
    """
    xp = check_data(x, y)
    spec = None if attack == "clean" else get_attack(attack)
    radius = check_radius(radius)
    check_batch_size(batch_size)
    check_attack_mode(attack_mode)
    if only_correct not in (True, False):
        raise TypeError(f"only_correct: expected a bool, got {only_correct!r}")
    seed = check_seed(seed)
    noise_rng = make_rng(seed, xp, device=device_of(x)) if spec is not None and spec.random else None
    gradient_fn = _gradient_model(model, params, attack_mode,
                                   make_rng(seed, xp, device=device_of(x)))
    predict = logits_of(model, params)

    def walk():
        for start, stop in batches(x.shape[0], batch_size):
            xb, yb = x[start:stop, ...], y[start:stop]
            if spec is None:
                yield start, xb, yb
                continue
            x_adv = spec.run(gradient_fn, xb, yb, radius=radius, clip=clip, rng=noise_rng,
                             **(options or {})).x_adv
            if only_correct:
                right = predicted_right(predict(xb), yb)
                x_adv = xp.where(xp.reshape(right, (-1,) + (1,) * (xb.ndim - 1)), x_adv, xb)
            yield start, x_adv, yb
    return walk()


def _gradient_model(model, params, attack_mode: str, rng) -> Callable:
    """The logits function an attack differentiates: eval mode, or training mode with fresh
    dropout masks from ``rng`` on every call."""
    if attack_mode == "eval":
        return logits_of(model, params)
    return lambda z: model.apply(params, z, train=True, rng=rng)


def perturb(model, params: dict, x: Array, y: Array, attack: Any, *, radius: float,
            only_correct: bool = False, seed: int | None = 0, batch_size: int = 500,
            clip: tuple[float, float] | None = DEFAULT_CLIP, attack_mode: str = "eval",
            **overrides) -> Array:
    """The perturbed test set x_adv = x + delta, delta from ``attack`` against (model, params).

    Args:
        model: the model scored; its ``apply(params, x)`` gives logits (N, K).
        params: its parameters.
        x: (N, ...) inputs; y: (N,) integer labels in [0, K), of the library of the parameters.
        attack: a name of :data:`ATTACKS` (or an :class:`Attack`), or "clean" (a copy of x).
        radius: the magnitude, >= 0, in the attack's norm (``ATTACKS[name].norm``).
        only_correct: perturb only the rows the model classifies correctly (module docstring).
        seed: the seed of the random attacks and of the dropout masks in "train" mode.
        batch_size: rows per attack call; deterministic attacks give the same x_adv whatever
            its value.
        clip: the box (lo, hi) for x_adv, (0, 1) by default; None for no clipping.
        attack_mode: "eval", or "train" for gradients with dropout active (module docstring).
        **overrides: options of the attack, e.g. ``k=0.25`` (k_support) or ``p=3`` (adv_alpha).

    Returns:
        x_adv (N, ...), the shape, dtype and library of x; x is left unchanged.
    """
    xp = check_data(x, y)
    walk = attack_batches(model, params, x, y, attack, radius=radius, only_correct=only_correct,
                          seed=seed, batch_size=batch_size, clip=clip, attack_mode=attack_mode,
                          options=overrides)
    return xp.concat([x_adv for _, x_adv, _ in walk], axis=0)  # a new array, even for "clean"


def accuracy(model, params: dict, x: Array, y: Array, *, batch_size: int = 1000) -> float:
    """The fraction of rows whose largest logit is the label: (1/N) sum_n [argmax f(x_n) = y_n].

    Args:
        x: (N, ...) finite inputs; y: (N,) integer labels in [0, K).

    Returns:
        A Python float in [0, 1].

    Raises:
        ValueError: naming ``x`` for NaN or inf inputs, ``y`` for labels outside [0, K).
    """
    check_data(x, y)
    check_batch_size(batch_size)
    hits = 0
    for start, stop in batches(x.shape[0], batch_size):
        logits, yb = model.apply(params, x[start:stop, ...]), y[start:stop]
        check_label_range(yb, logits.shape[1])
        hits += count_correct(logits, yb)
    return hits / x.shape[0]


def accuracy_under_attack(model, params: dict, x: Array, y: Array, attack: Any, *,
                          radius: float, only_correct: bool = False, seed: int | None = 0,
                          batch_size: int = 500,
                          clip: tuple[float, float] | None = DEFAULT_CLIP,
                          attack_mode: str = "eval", **overrides) -> float:
    """Accuracy on the set :func:`perturb` makes, without keeping it: one batch at a time.

    ``attack="clean"`` gives the clean accuracy, and so does ``radius=0`` with ``clip=None``
    (every attack's delta is zero at radius 0; with a ``clip`` box, radius 0 still scores the
    clipped x). Arguments as in :func:`perturb`.

    Returns:
        A Python float in [0, 1].
    """
    walk = attack_batches(model, params, x, y, attack, radius=radius, only_correct=only_correct,
                          seed=seed, batch_size=batch_size, clip=clip, attack_mode=attack_mode,
                          options=overrides)
    if attack == "clean" or (radius == 0 and clip is None):
        return accuracy(model, params, x, y, batch_size=batch_size)
    hits = 0
    for _, x_adv, yb in walk:
        logits = model.apply(params, x_adv)
        check_label_range(yb, logits.shape[1])
        hits += count_correct(logits, yb)
    return hits / x.shape[0]
