"""Helpers shared by the perturbation tests: hypothesis settings and small linear models."""

import numpy as np
from hypothesis import HealthCheck, settings

from refimpl import ops

# The xp fixture is function-scoped but constant per test: safe to reuse across examples.
PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def linear_model(xp, weight, bias):
    """logits_fn(x) = x @ weight + bias for x (N, D), written with ops so it can be traced."""
    w, b = xp.asarray(weight), xp.asarray(bias)
    return lambda x: ops.linear(ops.flatten(x), w, b)


def random_linear_problem(seed, n=6, d=5, k=3):
    """(x, weight, bias) as float64 NumPy arrays."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(d, k)), rng.normal(size=k)
