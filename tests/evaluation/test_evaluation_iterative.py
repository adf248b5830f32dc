"""The iterative attacks by name: PGD, APGD-CE, DeepFool, CW and L-BFGS through evaluation.

Each runs through ``accuracy_under_attack`` on every backend, stays inside its ball and the
box, is at least as strong as its one-step counterpart where one exists, and counts a
minimum-norm attack at radius r only where its perturbation has norm <= r.
"""

import math

import numpy as np
import pytest
from eval_helpers import linear_problem

from refimpl.backend import to_numpy
from refimpl.evaluation import ATTACKS, accuracy_under_attack, perturb
from refimpl.evaluation.attacks import RANDOM_ATTACKS
from refimpl.evaluation._common import logits_of
from refimpl.perturbations import deepfool

ITERATIVE = ["pgd_linf", "pgd_l2", "pgd_l1", "apgd_ce", "apgd_ce_l2", "deepfool_l2",
             "deepfool_linf", "cw_l2", "lbfgs"]
NORM_P = {"linf": math.inf, "l2": 2.0, "l1": 1.0}


def _box_problem(xp, n=12):
    """The perfect linear classifier of eval_helpers with inputs squeezed into [0.2, 0.8]."""
    model, params, x, _ = linear_problem(xp, n=n)
    x = 0.5 + 0.3 * xp.tanh(x)
    logits = to_numpy(logits_of(model, params)(x))
    return model, params, x, xp.asarray(np.argmax(logits, axis=1), device=x.device)


def test_every_iterative_attack_is_registered_with_its_norm():
    assert set(ITERATIVE) <= set(ATTACKS)
    assert {name: ATTACKS[name].norm for name in ITERATIVE} == {
        "pgd_linf": "linf", "pgd_l2": "l2", "pgd_l1": "l1", "apgd_ce": "linf",
        "apgd_ce_l2": "l2", "deepfool_l2": "l2", "deepfool_linf": "linf", "cw_l2": "l2",
        "lbfgs": "l2"}
    assert not set(ITERATIVE) & RANDOM_ATTACKS  # they use the gradient; random starts aside


@pytest.mark.parametrize("name", ITERATIVE)
def test_iterative_attacks_stay_in_the_ball_and_the_box(xp, name):
    model, params, x, y = _box_problem(xp)
    radius = 0.3 if ATTACKS[name].norm == "linf" else 1.0
    x_adv = perturb(model, params, x, y, name, radius=radius, seed=0)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and x_adv.device == x.device
    delta = to_numpy(x_adv - x).reshape(x.shape[0], -1)
    p = NORM_P[ATTACKS[name].norm]
    assert np.all(np.linalg.norm(delta, ord=p, axis=1) <= radius * (1 + 1e-6) + 1e-9)
    assert np.all(to_numpy(x_adv) >= -1e-12) and np.all(to_numpy(x_adv) <= 1 + 1e-12)


@pytest.mark.parametrize("iterative, one_step, radius", [("pgd_linf", "fgsm", 0.15),
                                                        ("apgd_ce", "fgsm", 0.15),
                                                        ("pgd_l2", "l2", 0.6)])
def test_iterative_attacks_are_at_least_as_strong_as_one_step(xp, iterative, one_step, radius):
    model, params, x, y = _box_problem(xp, n=30)
    strong = accuracy_under_attack(model, params, x, y, iterative, radius=radius, seed=0)
    weak = accuracy_under_attack(model, params, x, y, one_step, radius=radius)
    assert strong <= weak


def test_a_minimum_norm_attack_counts_only_within_the_radius(xp):
    model, params, x, y = _box_problem(xp, n=16)
    found = deepfool(logits_of(model, params), x, y, p=2)
    norms = np.sort(to_numpy(found.norm))
    radius = float(norms[len(norms) // 2])  # about half the points fall within it
    expected = 1.0 - np.mean(to_numpy(found.success) & (to_numpy(found.norm) <= radius))
    measured = accuracy_under_attack(model, params, x, y, "deepfool_l2", radius=radius)
    assert measured == pytest.approx(expected)
    assert accuracy_under_attack(model, params, x, y, "deepfool_l2", radius=0.0) == 1.0


def test_pgd_by_name_is_reproducible_from_the_seed():
    import numpy as xp  # noqa: PLC0415
    model, params, x, y = _box_problem(xp)
    first = perturb(model, params, x, y, "pgd_l2", radius=1.0, seed=3)
    again = perturb(model, params, x, y, "pgd_l2", radius=1.0, seed=3)
    np.testing.assert_array_equal(first, again)
