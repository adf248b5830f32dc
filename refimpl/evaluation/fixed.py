"""Fixed adversarial sets: perturbed once against a baseline, stored, scored on every model.

Paper 001's A_mnist keeps the test points a baseline classifies correctly and then misclassifies
after one of the one-step attacks l1, l2, linf (``keep="fooled"``: the baseline scores 0 on it
by construction). Paper 004's "Fixed" set moves every test point 1.5 along a Normal net's
l2-normalised loss gradient (``keep="all"``). Unlike the other columns of a robustness table,
these points are not recomputed against the model scored.

A set is stored as an ``.npz`` archive (loaded with ``allow_pickle=False``): ``x`` (M, ...),
``y`` (M,) int64, ``index`` (M,) int64, ``attack`` (M,) unicode, ``meta`` a 0-d JSON string,
``format`` a 0-d int. It is written to a temporary file, flushed, and renamed over the target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from refimpl.backend import get_namespace, to_numpy
from refimpl.training.checkpoint import read_npz, write_npz

from ._common import (batches, check_batch_size, check_data, check_radius, count_correct,
                      logits_of, predicted_right)
from .attacks import DEFAULT_CLIP, attack_batches, get_attack

__all__ = ["FixedSet", "build_fixed_set", "save_fixed_set", "load_fixed_set", "score_fixed_set",
           "FORMAT_VERSION"]

FORMAT_VERSION = 1
_ENTRIES = ("x", "y", "index", "attack", "meta", "format")


@dataclass(eq=False)
class FixedSet:
    """A stored perturbed test set: M rows, each from one source point and one attack.

    Attributes:
        x: (M, ...) perturbed inputs, NumPy, floating.
        y: (M,) int64 true labels.
        index: (M,) int64 row of the source point in the test set.
        attack: (M,) unicode attack name of each row (a list is converted).
        meta: JSON-friendly description (attacks, radii, keep rule, baseline, ...).
    """

    x: Any
    y: Any
    index: Any
    attack: Any
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.x, self.y, self.index = (_as_numpy(a) for a in (self.x, self.y, self.index))
        self.y, self.index = (a.astype(np.int64, copy=False) if a.dtype.kind in "iu" else a
                              for a in (self.y, self.index))
        self.attack = np.asarray(self.attack, dtype=str) if isinstance(
            self.attack, (list, tuple)) else _as_numpy(self.attack)
        m = self.x.shape[0] if self.x.ndim >= 1 else -1
        if self.x.ndim < 2 or not np.issubdtype(self.x.dtype, np.floating):
            raise ValueError(f"x: expected floating inputs (M, ...), got {self.x.dtype} of shape "
                             f"{self.x.shape}")
        for name, value, kind in (("y", self.y, "i"), ("index", self.index, "i"),
                                  ("attack", self.attack, "U")):
            if value.shape != (m,) or value.dtype.kind != kind:
                raise ValueError(f"{name}: expected shape ({m},) and kind {kind!r}, got "
                                 f"{value.dtype} of shape {value.shape}")
        if m and int(self.index.min()) < 0:
            raise ValueError("index: expected rows of the test set (>= 0), got a negative one")
        if not isinstance(self.meta, dict):
            raise ValueError(f"meta: expected a dict, got {type(self.meta).__name__}")

    def __len__(self) -> int:
        return int(self.x.shape[0])


def _as_numpy(a: Any) -> np.ndarray:
    """An array of any library (or a list) as NumPy."""
    return to_numpy(a) if hasattr(a, "shape") else np.asarray(a)


def build_fixed_set(model, params: dict, x: Any, y: Any, *, attacks: Sequence[str],
                    radius: float | Mapping[str, float], keep: str = "fooled",
                    seed: int | None = 0, batch_size: int = 500, meta: dict | None = None,
                    clip: tuple[float, float] | None = DEFAULT_CLIP,
                    attack_mode: str = "eval") -> FixedSet:
    """Perturb the test set against a baseline with each attack and keep the rows ``keep`` says.

    keep="fooled": attacks move only correctly classified points, and a row is kept when
    argmax f(x) = y and argmax f(x_adv) != y (the baseline's accuracy on the set is 0, up to
    a logit tie that rounding in another batch composition could break).
    keep="all": every point is moved (``only_correct`` off) and kept: N rows per attack.
    Rows are grouped by attack, in the order of ``attacks``, then by test index.

    Args:
        model: the baseline.
        params: its parameters.
        x: (N, ...) the test inputs.
        y: (N,) their labels.
        attacks: names from :data:`ATTACKS` (paper 001: "l1", "l2", "fgsm").
        radius: one magnitude, or attack -> magnitude (covering every attack).
        seed: the seed of the random attacks (one generator per attack, as in ``perturb``).
        clip: the box of x_adv, (0, 1) by default (None: the papers' unclipped setting).
        attack_mode: "eval" or "train" (gradients with dropout active), as in ``perturb``.
        meta: more JSON-friendly description, merged over the one built here.

    Returns:
        A :class:`FixedSet` in NumPy.
    """
    xp = check_data(x, y)
    if isinstance(attacks, str) or not isinstance(attacks, Sequence) or not attacks:
        raise ValueError(f"attacks: expected a non-empty sequence of attack names, got {attacks!r}")
    names = list(dict.fromkeys(attacks))
    for name in names:
        get_attack(name)  # "clean" is not an attack here
    if keep not in ("fooled", "all"):
        raise ValueError(f"keep: expected 'fooled' or 'all', got {keep!r}")
    radii = dict(radius) if isinstance(radius, Mapping) else {name: radius for name in names}
    missing = [name for name in names if name not in radii]
    if missing:
        raise ValueError(f"radius: expected a magnitude for every attack, missing {missing}")
    radii = {name: check_radius(radii[name], f"radius[{name!r}]") for name in names}
    check_batch_size(batch_size)
    logits_fn = logits_of(model, params)
    right = np.concatenate([to_numpy(predicted_right(logits_fn(x[start:stop, ...]),
                                                     y[start:stop]))
                            for start, stop in batches(x.shape[0], batch_size)])
    clean_hits = int(right.sum())
    kept = {name: ([], []) for name in names}  # name -> (x_adv parts, index parts)
    for name in names:
        walk = attack_batches(model, params, x, y, name, radius=radii[name],
                              only_correct=keep == "fooled", seed=seed, batch_size=batch_size,
                              clip=clip, attack_mode=attack_mode)
        for start, x_adv, yb in walk:
            rows = np.ones(yb.shape[0], dtype=bool)
            if keep == "fooled":
                rows = right[start:start + yb.shape[0]] & ~to_numpy(
                    predicted_right(logits_fn(x_adv), yb))
            kept[name][0].append(to_numpy(x_adv)[rows])
            kept[name][1].append(start + np.flatnonzero(rows))
    index = np.concatenate([np.concatenate(kept[name][1]) for name in names]).astype(np.int64)
    info = {"attacks": names, "radii": radii, "keep": keep, "only_correct": keep == "fooled",
            "attack_mode": attack_mode,
            "seed": seed, "clip": None if clip is None else [float(c) for c in clip],
            "baseline": getattr(model, "name", type(model).__name__),
            "source_points": int(x.shape[0]), "baseline_clean_accuracy": clean_hits / x.shape[0],
            "rows": {name: int(sum(len(i) for i in kept[name][1])) for name in names},
            **(meta or {})}
    try:
        json.dumps(info)
    except (TypeError, ValueError) as err:
        raise ValueError(f"meta: expected JSON-serialisable values: {err}") from err
    return FixedSet(x=np.concatenate([np.concatenate(kept[name][0]) for name in names]),
                    y=to_numpy(xp.astype(y, xp.int64))[index], index=index,
                    attack=np.repeat(np.asarray(names, dtype=str),
                                     [info["rows"][name] for name in names]), meta=info)


def save_fixed_set(path, fixed: FixedSet) -> Path:
    """Write ``fixed`` atomically to ``path`` (an ``.npz`` archive; see the module docstring)."""
    path = Path(path)
    try:
        meta = json.dumps(fixed.meta)
    except (TypeError, ValueError) as err:
        raise ValueError(f"fixed.meta: expected JSON-serialisable values: {err}") from err
    arrays = {"x": fixed.x, "y": fixed.y, "index": fixed.index, "attack": fixed.attack,
              "meta": np.asarray(meta), "format": np.asarray(FORMAT_VERSION)}
    return write_npz(path, arrays)


def load_fixed_set(path) -> FixedSet:
    """Read a set written by :func:`save_fixed_set` (NumPy arrays; pickles refused).

    Raises:
        ValueError: naming the file when it is missing, not an ``.npz`` archive, corrupt, or
            lacks an entry, has an unexpected one, or holds arrays of the wrong shape or kind.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"fixed set {path}: no such file")
    entries = read_npz(path, "fixed set")
    try:
        missing = sorted(set(_ENTRIES) - set(entries))
        extra = sorted(set(entries) - set(_ENTRIES))
        if missing or extra:
            raise ValueError(f"missing entries {missing}, unexpected entries {extra}")
        if entries["format"].shape != () or int(entries["format"]) != FORMAT_VERSION:
            raise ValueError(f"format {entries['format']!r}, expected {FORMAT_VERSION}")
        meta = json.loads(str(entries["meta"]))
        return FixedSet(entries["x"], entries["y"], entries["index"], entries["attack"], meta)
    except Exception as err:  # zipfile, NumPy and json raise many kinds on bad bytes
        raise ValueError(f"fixed set {path}: not a valid refimpl fixed set: "
                         f"{type(err).__name__}: {err}") from err


def score_fixed_set(model, params: dict, fixed: FixedSet, *, xp: Any = None,
                    batch_size: int = 1000) -> float:
    """Accuracy of (model, params) on the stored set, as a Python float (NaN if it is empty).

    Args:
        xp: the namespace to score in; by default that of the parameters.
    """
    if not isinstance(fixed, FixedSet):
        raise ValueError(f"fixed: expected a FixedSet, got {type(fixed).__name__}")
    check_batch_size(batch_size)
    if len(fixed) == 0:
        return float("nan")
    xp = xp or (get_namespace(*params.values(), name="params") if params else np)
    device = next(iter(params.values())).device if params else None  # the model's device
    x, y = xp.asarray(fixed.x, device=device), xp.asarray(fixed.y, device=device)
    hits = sum(count_correct(model.apply(params, x[start:stop, ...]), y[start:stop])
               for start, stop in batches(len(fixed), batch_size))
    return hits / len(fixed)
