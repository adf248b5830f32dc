"""Perturbations: closed forms of the worst-case step, noise models, and attacks.

Closed forms (pure functions of a gradient batch, batched over axis 0, knowing nothing of
models): :mod:`.lp`, :mod:`.k_support`, :mod:`.linearized`. Families as values over them
(:mod:`.families`: ``Lp(p)``, ``KSupport(k)``, ``SignL2()``, ``UniformNoise()``,
``GaussianNoise()``) and direction rules (:mod:`.directions`: ``LossGradient(family)``,
``AdvAlpha(p, scores)``, ``Noise(family)``). Noise: :mod:`.random_noise` (uniform URN and
Gaussian), :mod:`.sign_noise` (paper 002, usable inside a traced forward pass). Attacks, which
compose autodiff with a closed form: :mod:`.attacks` (:func:`one_step`, the input gradient,
the line search and targeted L-BFGS of :mod:`.search`) and the iterative attacks, each in its
own module: :mod:`.projected_gradient` (PGD in the l1 / l2 / linf balls, random start,
restarts), :mod:`.apgd` (APGD-CE, Croce and Hein 2020), :mod:`.deepfool_attack` (DeepFool l2 /
linf), :mod:`.carlini_wagner` (CW l2), :mod:`.lbfgs` (batched untargeted L-BFGS). Models from
outside refimpl enter through :func:`external_model` (:mod:`.external`).
"""

from . import (apgd, attacks, carlini_wagner, deepfool_attack, directions, external, families,
               k_support, lbfgs, linearized, lp, projected_gradient, random_noise, search,
               sign_noise)
from ._checks import MinimumNormResult, within_radius
from .apgd import apgd_ce
from .attacks import AttackResult, input_gradient, one_step
from .carlini_wagner import cw_l2
from .deepfool_attack import deepfool
from .directions import AdvAlpha, LossGradient, Noise
from .external import external_model
from .families import GaussianNoise, KSupport, Lp, SignL2, UniformNoise
from .lbfgs import lbfgs_untargeted
from .projected_gradient import pgd

__all__ = ["lp", "k_support", "linearized", "random_noise", "sign_noise", "attacks", "search",
           "families", "directions", "AttackResult", "input_gradient", "one_step", "Lp",
           "KSupport", "SignL2", "UniformNoise", "GaussianNoise", "LossGradient", "AdvAlpha",
           "Noise", "projected_gradient", "apgd", "deepfool_attack", "carlini_wagner", "lbfgs",
           "external", "pgd", "apgd_ce", "deepfool", "cw_l2", "lbfgs_untargeted", "external_model",
           "MinimumNormResult", "within_radius"]
