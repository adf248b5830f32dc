"""Tiny models and data sets shared by the evaluation tests.

``mlp_problem``: paper 004's MLP 100-100 on 16 inputs, 3 classes, freshly initialised (8 of
its 20 points classified correctly). ``linear_problem``: a softmax-regression model whose
labels come from its own argmax, so it is a perfect classifier, optionally with a fraction of
labels changed (then those points are misclassified).
"""

import numpy as np
from hypothesis import HealthCheck, settings

from refimpl import nn
from refimpl.backend import make_rng

D, K = 16, 3
DETERMINISTIC = ["linf", "adv_loss_sign", "l2", "adv_loss", "k_support", "adv_alpha", "fgsm", "l1"]

# The xp fixture is function-scoped but constant per test: safe to reuse across examples.
FEW = settings(max_examples=8, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture])


def mlp_problem(xp, n=20, seed=4):
    """(model, params, x (n, D), y (n,)) in float64, from a freshly initialised MLP."""
    model = nn.build("mlp-100-100", (D,), K)
    params = model.init(make_rng(seed, xp), xp.float64)
    rng = np.random.default_rng(seed + 1)
    x = xp.asarray(rng.normal(size=(n, D)))
    y = xp.asarray(rng.integers(0, K, size=n))
    return model, params, x, y


def linear_problem(xp, n=20, seed=0, changed=0):
    """(model, params, x, y): logits = x @ W + b and y = argmax (accuracy 1), except for the
    first ``changed`` labels, which are moved to another class (misclassified)."""
    model = nn.Model("linear", (D,), [], [nn.Dense(K)])
    rng = np.random.default_rng(seed)
    weight, bias = rng.normal(size=(D, K)), rng.normal(size=K)
    x = rng.normal(size=(n, D))
    y = np.argmax(x @ weight + bias, axis=1)
    y[:changed] = (y[:changed] + 1) % K
    params = {"dense1.weight": xp.asarray(weight), "dense1.bias": xp.asarray(bias)}
    return model, params, xp.asarray(x), xp.asarray(y)
