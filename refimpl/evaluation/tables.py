"""Robustness tables (models x test sets) and accuracy against perturbation magnitude.

A robustness table (papers 000 and 004) has one row per trained model and one column per test
set: clean, each attack at its magnitude (computed against that row's model: white box), and
each stored fixed set (the same perturbed points for every model). Accuracy against magnitude
(paper 000 Fig. 4, paper 004 Fig. 1, paper 001 Fig. 3) follows one attack from c = 0 up.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from refimpl._progress import tqdm

from ._common import check_data, check_radius, count_correct
from .attacks import (ATTACKS, DEFAULT_CLIP, accuracy_under_attack, attack_batches,
                      check_attack_mode, get_attack)
from .fixed import FixedSet, score_fixed_set

Array = Any

__all__ = ["robustness_table", "accuracy_vs_magnitude"]


def _attack_names(attacks: Any, *, allow_clean: bool) -> list[str]:
    """``attacks`` as a list of known names without repeats (a lone string is refused)."""
    if isinstance(attacks, str) or not isinstance(attacks, Sequence):
        raise ValueError(f"attacks: expected a sequence of attack names, got {attacks!r}")
    for name in attacks:
        if not (allow_clean and name == "clean"):
            get_attack(name)
    return list(dict.fromkeys(attacks))


def robustness_table(models: Mapping[str, tuple], x: Array, y: Array, *,
                     attacks: Sequence[str], radius: float = 1.5,
                     fixed: Mapping[str, FixedSet] | None = None, seed: int | None = 0,
                     batch_size: int = 500, progress: bool = False,
                     radii: Mapping[str, float] | None = None,
                     clip: tuple[float, float] | None = DEFAULT_CLIP,
                     only_correct: bool = False, attack_mode: str = "eval") -> list[dict]:
    """Accuracy of every model on the clean test set, on each attack's set and on fixed sets.

    Args:
        models: label -> (model, params), one row each, in this order.
        x: (N, ...) test inputs; y: (N,) labels, in the library of the parameters.
        attacks: names from :data:`ATTACKS` (each a column, in this order).
        radius: the magnitude of every attack not in ``radii`` (an l2 norm in papers 000/004).
        fixed: column name -> a stored set (:func:`build_fixed_set`), scored as it is.
        seed: the random attacks draw from ``make_rng(seed, xp)`` afresh for every model, so
            every row sees the same noise.
        batch_size: rows per attack step.
        progress: show a tqdm bar over the (model, column) pairs.
        radii: attack name -> its own magnitude (Shaham: fgsm 0.2, l2 2, l1 2).
        clip: the box (lo, hi) for the attacked sets, (0, 1) by default; None for none.
        only_correct: attack only the points each model classifies correctly (the papers).
        attack_mode: "eval" or "train" (gradients with dropout active; see :mod:`.attacks`).

    Returns:
        One dict per model: ``{"model": label, "clean": acc, <attack>: acc, ..., <fixed name>:
        acc}``, accuracies as Python floats in [0, 1], keyed by attack name; the labels with
        norm and radius are ``label(name, radius)`` (e.g. "sign_l2 (l2 1.5)").
    """
    xp = check_data(x, y)
    if not isinstance(models, Mapping) or not models:
        raise ValueError(f"models: expected a non-empty mapping label -> (model, params), got "
                         f"{models!r}")
    for label, pair in models.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"models[{label!r}]: expected a (model, params) pair, got "
                             f"{type(pair).__name__}")
    columns = ["clean"] + [a for a in _attack_names(attacks, allow_clean=True) if a != "clean"]
    radii = dict(radii or {})
    for name, value in radii.items():
        if name not in ATTACKS:
            raise ValueError(f"radii: expected attack names from {', '.join(ATTACKS)}, got "
                             f"{name!r}")
        check_radius(value, f"radii[{name!r}]")
    radius = check_radius(radius)
    fixed = dict(fixed or {})
    for name, fixed_set in fixed.items():
        if name in columns or name == "model" or not isinstance(fixed_set, FixedSet):
            raise ValueError(f"fixed[{name!r}]: expected a FixedSet under a name that is not "
                             f"'model' or an attack column, got {type(fixed_set).__name__}")
    rows = []
    with tqdm(total=len(models) * (len(columns) + len(fixed)), disable=not progress,
              desc="robustness table") as bar:
        for label, (model, params) in models.items():
            row = {"model": label}
            for column in columns:
                row[column] = accuracy_under_attack(
                    model, params, x, y, column, radius=radii.get(column, radius), seed=seed,
                    batch_size=batch_size, clip=clip, only_correct=only_correct,
                    attack_mode=attack_mode)
                bar.update()
            for name, fixed_set in fixed.items():
                row[name] = score_fixed_set(model, params, fixed_set, xp=xp,
                                            batch_size=batch_size)
                bar.update()
            rows.append(row)
    return rows


def accuracy_vs_magnitude(model, params: dict, x: Array, y: Array, *, attacks: Sequence[str],
                          magnitudes: Sequence[float], seed: int | None = 0,
                          batch_size: int = 500, only_correct: bool = False,
                          clip: tuple[float, float] | None = DEFAULT_CLIP,
                          attack_mode: str = "eval") -> dict[str, list[float]]:
    """Accuracy at each magnitude c of each attack.

    Every one-step attack (those with a ``direction``) is positively homogeneous in its
    radius: for the same gradient (or the same noise draw), delta(c) = c * delta(1). So each
    batch's direction is computed once, at radius 1, and the accuracy at c is that on
    clip(x + c * delta(1)): the value :func:`accuracy_under_attack` gives at radius c (up to
    rounding), for one attack step per batch instead of one per magnitude. Iterative attacks
    are not homogeneous and are run at every magnitude. At c = 0 (and no clip) the accuracy is
    the clean accuracy.

    Args:
        x: (N, ...) inputs; y: (N,) labels.
        attacks: names from :data:`ATTACKS`.
        magnitudes: the radii c >= 0, each in its attack's norm, in any order.
        seed: as in :func:`accuracy_under_attack`.
        batch_size: as there.
        only_correct: as there.
        clip: as there.
        attack_mode: as there.

    Returns:
        attack -> accuracies (Python floats in [0, 1]), one per magnitude.
    """
    xp = check_data(x, y)
    names = _attack_names(attacks, allow_clean=False)
    if isinstance(magnitudes, str) or not isinstance(magnitudes, Sequence) or not magnitudes:
        raise ValueError(f"magnitudes: expected a non-empty sequence of numbers >= 0, got "
                         f"{magnitudes!r}")
    magnitudes = [check_radius(c, "magnitudes") for c in magnitudes]
    check_attack_mode(attack_mode)
    curves = {}
    for name in names:
        if get_attack(name).direction is None:  # iterative: one run per magnitude
            curves[name] = [accuracy_under_attack(
                model, params, x, y, name, radius=c, only_correct=only_correct, seed=seed,
                batch_size=batch_size, clip=clip, attack_mode=attack_mode) for c in magnitudes]
            continue
        hits = [0] * len(magnitudes)
        for _, x_unit, yb, xb in _unit_batches(model, params, x, y, name, seed, batch_size,
                                                only_correct, attack_mode):
            for i, c in enumerate(magnitudes):
                x_adv = xb + c * (x_unit - xb)
                if clip is not None:
                    x_adv = xp.clip(x_adv, min=clip[0], max=clip[1])
                hits[i] += count_correct(model.apply(params, x_adv), yb)
        curves[name] = [h / x.shape[0] for h in hits]
    return curves


def _unit_batches(model, params, x, y, name, seed, batch_size, only_correct, attack_mode):
    """(start, x + delta(1), y, x) per batch, unclipped, rows left alone where only_correct."""
    walk = attack_batches(model, params, x, y, name, radius=1.0, only_correct=only_correct,
                          seed=seed, batch_size=batch_size, clip=None, attack_mode=attack_mode)
    for start, x_adv, yb in walk:
        yield start, x_adv, yb, x[start:start + yb.shape[0], ...]
