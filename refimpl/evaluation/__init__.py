"""Evaluation: how trained models fare on clean, attacked, noisy and fixed adversarial test sets.

- :mod:`.registry`: the one table of attack names (:data:`ATTACKS`, :func:`get_attack`,
  :func:`register_attack`, :func:`label`), each an :class:`Attack` value.
- :mod:`.attacks`: :func:`perturb`, :func:`accuracy`, :func:`accuracy_under_attack` (white
  box: each model is attacked itself); clipping to (0, 1) and ``only_correct=False`` by
  default, ``attack_mode="eval" | "train"``.
- :mod:`.tables`: :func:`robustness_table` (models x test sets, papers 000 and 004) and
  :func:`accuracy_vs_magnitude` (paper 000 Fig. 4, paper 004 Fig. 1, paper 001 Fig. 3).
- :mod:`.fixed`: fixed adversarial sets (paper 001's A_mnist, paper 004's "Fixed"), built
  against a baseline, saved, loaded, and scored on every model.
- :mod:`.curves`: micro-averaged precision-recall (paper 000), error under Gaussian noise
  (paper 003), minimum perturbations along the loss gradient (paper 003).

Every routine works batch by batch (``batch_size``) on arrays of any backend; accuracies are
Python floats in [0, 1]. A magnitude is measured in its attack's norm (``ATTACKS[name].norm``).
"""

from .attacks import ATTACKS, RANDOM_ATTACKS, TITLES, accuracy, accuracy_under_attack, perturb
from .registry import ALIASES, Attack, get_attack, label, register_attack
from .curves import gaussian_noise_error, minimum_perturbations, precision_recall
from .fixed import FixedSet, build_fixed_set, load_fixed_set, save_fixed_set, score_fixed_set
from .tables import accuracy_vs_magnitude, robustness_table

__all__ = ["ATTACKS", "ALIASES", "Attack", "get_attack", "label", "register_attack", "TITLES",
           "RANDOM_ATTACKS", "perturb", "accuracy", "accuracy_under_attack",
           "robustness_table", "accuracy_vs_magnitude", "FixedSet", "build_fixed_set",
           "save_fixed_set", "load_fixed_set", "score_fixed_set", "precision_recall",
           "gaussian_noise_error", "minimum_perturbations"]
