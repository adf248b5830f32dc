"""Perturbations: closed forms of the worst-case step, noise models, and attacks.

Closed forms (pure functions of a gradient batch, batched over axis 0, knowing nothing of
models): :mod:`.lp`, :mod:`.k_support`, :mod:`.linearized`. Noise: :mod:`.random_noise`
(uniform URN and Gaussian), :mod:`.sign_noise` (paper 002, usable inside a traced forward
pass). Attacks, which compose autodiff with a closed form: :mod:`.attacks` (one-step attacks,
the input gradient, and the iterative attacks of :mod:`.search`: PGD, box-constrained L-BFGS,
minimum perturbation by line search).
"""

from . import attacks, k_support, linearized, lp, random_noise, search, sign_noise
from .attacks import AttackResult, input_gradient, one_step

__all__ = ["lp", "k_support", "linearized", "random_noise", "sign_noise", "attacks", "search",
           "AttackResult", "input_gradient", "one_step"]
