"""perturb, accuracy and accuracy_under_attack: the whole set batch by batch equals one_step on
the whole set, only correctly classified rows move, radius 0 and "clean" give clean accuracy."""

import numpy as np
import pytest
from conftest import assert_namespace
from eval_helpers import DETERMINISTIC, FEW, linear_problem, mlp_problem
from hypothesis import given
from hypothesis import strategies as st

from refimpl.backend import make_rng, to_numpy
from refimpl.evaluation import (ATTACKS, RANDOM_ATTACKS, TITLES, accuracy, accuracy_under_attack,
                                perturb)
from refimpl.perturbations.attacks import one_step
from refimpl.training import evaluate


def _kwargs(attack):
    return {key: value for key, value in ATTACKS[attack].items() if key != "title"}


def test_the_attack_table_holds_the_papers_settings():
    assert _kwargs("linf") == _kwargs("adv_loss_sign") == {"family": "linf", "magnitude": "l2"}
    assert _kwargs("l2") == _kwargs("adv_loss") == {"family": "l2"}
    assert _kwargs("k_support") == {"family": "k_support", "k": 0.5}
    assert _kwargs("fgsm") == {"family": "linf", "magnitude": "own"}
    assert RANDOM_ATTACKS == {"urn", "gaussian"}
    assert set(TITLES) == set(ATTACKS) | {"clean"} and TITLES["adv_loss_sign"] == "Adv_Loss_Sign"


@pytest.mark.parametrize("attack", DETERMINISTIC)
def test_perturb_in_batches_equals_one_step_on_the_whole_set(xp, attack):
    model, params, x, y = mlp_problem(xp)
    before = to_numpy(x).copy()
    x_adv = perturb(model, params, x, y, attack, radius=0.7, batch_size=7)  # 7 does not divide 20
    assert_namespace(x_adv, xp)
    assert x_adv.dtype == x.dtype and tuple(x_adv.shape) == tuple(x.shape)
    whole = one_step(lambda z: model.apply(params, z), x, y, radius=0.7, only_correct=True,
                     **_kwargs(attack)).x_adv
    np.testing.assert_allclose(to_numpy(x_adv), to_numpy(whole), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(to_numpy(x), before)  # nothing mutates its inputs
    assert not np.array_equal(to_numpy(x_adv), before)


@FEW
@given(batch_size=st.integers(1, 23))
def test_perturb_does_not_depend_on_the_batch_size(xp, batch_size):
    model, params, x, y = linear_problem(xp, changed=4)
    one = perturb(model, params, x, y, "k_support", radius=1.0, batch_size=20)
    np.testing.assert_allclose(to_numpy(perturb(model, params, x, y, "k_support", radius=1.0,
                                                batch_size=batch_size)),
                               to_numpy(one), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("attack", ["linf", "adv_alpha", "urn", "gaussian", "l1"])
def test_only_correct_leaves_misclassified_rows_alone(xp, attack):
    model, params, x, y = mlp_problem(xp)
    right = np.argmax(to_numpy(model.apply(params, x)), axis=1) == to_numpy(y)
    assert 0 < right.sum() < len(right)
    moved = np.any(to_numpy(perturb(model, params, x, y, attack, radius=0.5)) != to_numpy(x),
                   axis=1)
    np.testing.assert_array_equal(moved, right)
    moved = np.any(to_numpy(perturb(model, params, x, y, attack, radius=0.5,
                                    only_correct=False)) != to_numpy(x), axis=1)
    assert moved.all()


@pytest.mark.parametrize("attack", ["clean", "linf", "adv_alpha", "urn", "gaussian"])
def test_radius_zero_and_clean_give_the_clean_accuracy_of_evaluate(xp, attack):
    model, params, x, y = mlp_problem(xp)
    clean = evaluate(model, params, x, y)["accuracy"]
    assert accuracy(model, params, x, y, batch_size=3) == clean
    assert accuracy_under_attack(model, params, x, y, attack, radius=0.0, batch_size=6) == clean
    assert type(clean) is float and 0 < clean < 1


def test_accuracy_under_attack_is_the_accuracy_of_the_perturbed_set(xp):
    model, params, x, y = linear_problem(xp, changed=5)
    for attack in ("l2", "urn"):
        x_adv = perturb(model, params, x, y, attack, radius=1.5, batch_size=8, seed=3)
        expected = accuracy(model, params, x_adv, y)
        assert accuracy_under_attack(model, params, x, y, attack, radius=1.5, batch_size=8,
                                     seed=3) == expected
    assert accuracy_under_attack(model, params, x, y, "l2", radius=1.5) < 0.75


def test_random_attacks_are_reproducible_from_the_seed_and_have_the_stated_magnitude():
    model, params, x, y = linear_problem(np)
    first = perturb(model, params, x, y, "urn", radius=1.5, seed=5)
    np.testing.assert_array_equal(perturb(model, params, x, y, "urn", radius=1.5, seed=5), first)
    assert not np.array_equal(perturb(model, params, x, y, "urn", radius=1.5, seed=6), first)
    np.testing.assert_allclose(np.linalg.norm(first - x, axis=1), 1.5, rtol=1e-12)
    noise = perturb(model, params, x, y, "gaussian", radius=0.3, seed=5) - x
    assert 0.2 < noise.std() < 0.4


def test_overrides_reach_one_step():
    model, params, x, y = linear_problem(np)
    delta = perturb(model, params, x, y, "k_support", radius=1.0, k=0.25) - x
    assert np.all(np.count_nonzero(delta, axis=1) <= 4)  # K = 25 % of 16 pixels
    np.testing.assert_allclose(np.linalg.norm(delta, axis=1), 1.0, rtol=1e-12)
    clipped = perturb(model, params, x, y, "fgsm", radius=5.0, clip=(-1.0, 1.0))
    assert clipped.min() >= -1.0 and clipped.max() <= 1.0


def test_clear_errors_name_the_argument():
    model, params, x, y = linear_problem(np)
    with pytest.raises(ValueError, match=r"attack: expected one of clean, linf, .*got 'pgd'"):
        perturb(model, params, x, y, "pgd", radius=1.0)
    with pytest.raises(ValueError, match="radius: expected a finite number >= 0"):
        accuracy_under_attack(model, params, x, y, "l2", radius=-1.0)
    with pytest.raises(ValueError, match="x, y: expected one label per input, got 20 inputs"):
        accuracy(model, params, x, y[:19])
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1"):
        perturb(model, params, x, y, "l2", radius=1.0, batch_size=0)
    with pytest.raises(ValueError, match="overrides: rng cannot be overridden"):
        perturb(model, params, x, y, "urn", radius=1.0, rng=make_rng(0))
    with pytest.raises(ValueError, match="y: expected integer labels"):
        accuracy(model, params, x, np.asarray(y, dtype=np.float64))
    with pytest.raises(ValueError, match="x: expected at least one example"):
        accuracy(model, params, x[:0], y[:0])
