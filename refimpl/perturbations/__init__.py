"""Perturbations: closed forms of the worst-case step, noise models, and attacks.

Closed forms (pure functions of a gradient batch, batched over axis 0, knowing nothing of
models): :mod:`.lp`, :mod:`.k_support`, :mod:`.linearized`. Families as values over them
(:mod:`.families`: ``Lp(p)``, ``KSupport(k)``, ``SignL2()``, ``UniformNoise()``,
``GaussianNoise()``) and direction rules (:mod:`.directions`: ``LossGradient(family)``,
``AdvAlpha(p, scores)``, ``Noise(family)``). Noise: :mod:`.random_noise` (uniform URN and
Gaussian), :mod:`.sign_noise` (paper 002, usable inside a traced forward pass). Attacks, which
compose autodiff with a closed form: :mod:`.attacks` (:func:`one_step`, the input gradient,
and the iterative attacks of :mod:`.search`: PGD, box-constrained L-BFGS, minimum
perturbation by line search).
"""

from . import (attacks, directions, families, k_support, linearized, lp, random_noise, search,
               sign_noise)
from .attacks import AttackResult, input_gradient, one_step
from .directions import AdvAlpha, LossGradient, Noise
from .families import GaussianNoise, KSupport, Lp, SignL2, UniformNoise

__all__ = ["lp", "k_support", "linearized", "random_noise", "sign_noise", "attacks", "search",
           "families", "directions", "AttackResult", "input_gradient", "one_step", "Lp",
           "KSupport", "SignL2", "UniformNoise", "GaussianNoise", "LossGradient", "AdvAlpha",
           "Noise"]
