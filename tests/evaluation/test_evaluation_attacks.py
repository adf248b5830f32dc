"""perturb, accuracy and accuracy_under_attack: the registry's names and values, the whole set
batch by batch equals one_step on the whole set, the defaults (clip to (0, 1), every point
attacked), only_correct, attack_mode, radius 0 and "clean", and errors naming the argument."""

import math

import numpy as np
import pytest
from conftest import assert_namespace
from eval_helpers import DETERMINISTIC, FEW, linear_problem, mlp_problem
from hypothesis import given
from hypothesis import strategies as st

from refimpl import nn
from refimpl.backend import make_rng, to_numpy
from refimpl.evaluation import (ALIASES, ATTACKS, RANDOM_ATTACKS, TITLES, accuracy,
                                accuracy_under_attack, get_attack, label, perturb,
                                register_attack)
from refimpl.perturbations import (AdvAlpha, GaussianNoise, KSupport, LossGradient, Lp, Noise,
                                   SignL2, UniformNoise, one_step)
from refimpl.training import evaluate


def test_the_registry_holds_the_field_names_and_the_papers_aliases():
    assert ATTACKS["fgsm"].direction == ATTACKS["linf"].direction == LossGradient(Lp(math.inf))
    assert ATTACKS["sign_l2"].direction == ATTACKS["adv_loss_sign"].direction == \
        LossGradient(SignL2())
    assert ATTACKS["l2"].direction == ATTACKS["adv_loss"].direction == LossGradient(Lp(2))
    assert ATTACKS["l1"].direction == ATTACKS["single_pixel"].direction == LossGradient(Lp(1))
    assert ATTACKS["k_support"].direction == ATTACKS["ksup"].direction == \
        LossGradient(KSupport(0.5))
    assert ATTACKS["urn"].direction == Noise(UniformNoise())
    assert ATTACKS["gaussian"].direction == Noise(GaussianNoise())
    assert ATTACKS["adv_alpha"].direction == AdvAlpha(2.0, "probs")
    assert ATTACKS["adv_alpha_logits"].direction == AdvAlpha(2.0, "logits")
    assert {name: ATTACKS[name].norm for name in ("fgsm", "sign_l2", "l1", "gaussian")} == \
        {"fgsm": "linf", "sign_l2": "l2", "l1": "l1", "gaussian": "std"}
    assert RANDOM_ATTACKS == {"urn", "gaussian"}
    assert set(ALIASES) <= set(ATTACKS) and set(TITLES) == set(ATTACKS) | {"clean"}
    assert TITLES["adv_loss_sign"] == "Adv_Loss_Sign (l2)"
    assert label("sign_l2", 1.5) == "sign_l2 (l2 1.5)" and label("fgsm", 0.1) == "fgsm (linf 0.1)"
    assert label("clean") == "clean" and get_attack(ATTACKS["l2"]) is ATTACKS["l2"]


def test_fgsm_is_the_linf_ball_and_sign_l2_its_l2_scaled_sign_step():
    model, params, x, y = mlp_problem(np)
    fgsm = perturb(model, params, x, y, "fgsm", radius=0.1, clip=None) - x
    sign = perturb(model, params, x, y, "sign_l2", radius=0.1, clip=None) - x
    np.testing.assert_allclose(np.abs(fgsm).max(axis=1), 0.1, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(sign, axis=1), 0.1, rtol=1e-12)
    np.testing.assert_allclose(sign, fgsm / math.sqrt(x.shape[1]), rtol=1e-12)


@pytest.mark.parametrize("attack", DETERMINISTIC)
def test_perturb_in_batches_equals_one_step_on_the_whole_set(xp, attack):
    model, params, x, y = mlp_problem(xp)
    x = (x - xp.min(x)) / (xp.max(x) - xp.min(x))  # in [0, 1], where the default clip acts
    before = to_numpy(x).copy()
    x_adv = perturb(model, params, x, y, attack, radius=0.7, batch_size=7)  # 7 does not divide 20
    assert_namespace(x_adv, xp)
    assert x_adv.dtype == x.dtype and tuple(x_adv.shape) == tuple(x.shape)
    whole = one_step(lambda z: model.apply(params, z), x, y, radius=0.7, clip=(0.0, 1.0),
                     direction=ATTACKS[attack].direction).x_adv
    np.testing.assert_allclose(to_numpy(x_adv), to_numpy(whole), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(to_numpy(x), before)  # nothing mutates its inputs
    assert not np.array_equal(to_numpy(x_adv), before)
    assert to_numpy(x_adv).min() >= 0.0 and to_numpy(x_adv).max() <= 1.0


@FEW
@given(batch_size=st.integers(1, 23))
def test_perturb_does_not_depend_on_the_batch_size(xp, batch_size):
    model, params, x, y = linear_problem(xp, changed=4)
    one = perturb(model, params, x, y, "k_support", radius=1.0, batch_size=20, clip=None)
    np.testing.assert_allclose(to_numpy(perturb(model, params, x, y, "k_support", radius=1.0,
                                                batch_size=batch_size, clip=None)),
                               to_numpy(one), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("attack", ["fgsm", "adv_alpha", "urn", "gaussian", "l1"])
def test_every_point_is_attacked_by_default_and_only_correct_leaves_the_others(xp, attack):
    model, params, x, y = mlp_problem(xp)
    right = np.argmax(to_numpy(model.apply(params, x)), axis=1) == to_numpy(y)
    assert 0 < right.sum() < len(right)
    moved = np.any(to_numpy(perturb(model, params, x, y, attack, radius=0.5, clip=None))
                   != to_numpy(x), axis=1)
    assert moved.all()
    moved = np.any(to_numpy(perturb(model, params, x, y, attack, radius=0.5, clip=None,
                                    only_correct=True)) != to_numpy(x), axis=1)
    np.testing.assert_array_equal(moved, right)


@pytest.mark.parametrize("attack", ["clean", "fgsm", "adv_alpha", "urn", "gaussian"])
def test_radius_zero_and_clean_give_the_clean_accuracy_of_evaluate(xp, attack):
    model, params, x, y = mlp_problem(xp)
    clean = evaluate(model, params, x, y)["accuracy"]
    assert accuracy(model, params, x, y, batch_size=3) == clean
    assert accuracy_under_attack(model, params, x, y, attack, radius=0.0, batch_size=6,
                                 clip=None) == clean
    assert type(clean) is float and 0 < clean < 1


def test_accuracy_under_attack_is_the_accuracy_of_the_perturbed_set(xp):
    model, params, x, y = linear_problem(xp, changed=5)
    for attack in ("l2", "urn"):
        x_adv = perturb(model, params, x, y, attack, radius=1.5, batch_size=8, seed=3)
        expected = accuracy(model, params, x_adv, y)
        assert accuracy_under_attack(model, params, x, y, attack, radius=1.5, batch_size=8,
                                     seed=3) == expected
    assert accuracy_under_attack(model, params, x, y, "l2", radius=1.5, clip=None) < 0.75


def test_random_attacks_are_reproducible_from_the_seed_and_have_the_stated_magnitude():
    model, params, x, y = linear_problem(np)
    first = perturb(model, params, x, y, "urn", radius=1.5, seed=5, clip=None)
    np.testing.assert_array_equal(perturb(model, params, x, y, "urn", radius=1.5, seed=5,
                                          clip=None), first)
    assert not np.array_equal(perturb(model, params, x, y, "urn", radius=1.5, seed=6,
                                      clip=None), first)
    np.testing.assert_allclose(np.linalg.norm(first - x, axis=1), 1.5, rtol=1e-12)
    noise = perturb(model, params, x, y, "gaussian", radius=0.3, seed=5, clip=None) - x
    assert 0.2 < noise.std() < 0.4


def test_overrides_reach_the_attack_and_clip_bounds_the_result():
    model, params, x, y = linear_problem(np)
    delta = perturb(model, params, x, y, "k_support", radius=1.0, k=0.25, clip=None) - x
    assert np.all(np.count_nonzero(delta, axis=1) <= 4)  # K = 25 % of 16 pixels
    np.testing.assert_allclose(np.linalg.norm(delta, axis=1), 1.0, rtol=1e-12)
    clipped = perturb(model, params, x, y, "fgsm", radius=5.0, clip=(-1.0, 1.0))
    assert clipped.min() >= -1.0 and clipped.max() <= 1.0
    default = perturb(model, params, x, y, "fgsm", radius=5.0)
    assert default.min() >= 0.0 and default.max() <= 1.0


def test_train_mode_takes_gradients_with_dropout_and_predicts_in_eval_mode():
    model = nn.build("mlp-200-200-dropout", (16,), 3)
    params = model.init(make_rng(0, np), np.float64)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(size=(12, 16)), rng.integers(0, 3, size=12)
    kwargs = dict(radius=0.3, clip=None, seed=4)
    evaluated = perturb(model, params, x, y, "l2", **kwargs)
    trained = perturb(model, params, x, y, "l2", attack_mode="train", **kwargs)
    assert not np.allclose(trained, evaluated)  # dropout masks changed the gradient
    np.testing.assert_array_equal(perturb(model, params, x, y, "l2", attack_mode="train",
                                          **kwargs), trained)  # seeded masks
    acc = accuracy_under_attack(model, params, x, y, "l2", attack_mode="train", **kwargs)
    assert acc == accuracy(model, params, trained, y)  # scored in eval mode
    plain, plain_params, xs, ys = linear_problem(np)  # no dropout: both modes agree
    np.testing.assert_array_equal(perturb(plain, plain_params, xs, ys, "l2", attack_mode="train",
                                          **kwargs),
                                  perturb(plain, plain_params, xs, ys, "l2", **kwargs))


def test_registered_attacks_run_by_name():
    calls = []

    def shift(logits_fn, x, y, *, radius, clip=None, rng=None):
        calls.append(radius)
        return one_step(logits_fn, x, y, family=Lp(2.0), radius=radius, clip=clip)
    register_attack("test_shift", shift, norm="l2", title="Shift")
    try:
        model, params, x, y = linear_problem(np)
        np.testing.assert_array_equal(perturb(model, params, x, y, "test_shift", radius=0.5),
                                      perturb(model, params, x, y, "l2", radius=0.5))
        assert calls == [0.5] and label("test_shift", 0.5) == "test_shift (l2 0.5)"
    finally:
        del ATTACKS["test_shift"]


def test_clear_errors_name_the_argument():
    model, params, x, y = linear_problem(np)
    with pytest.raises(ValueError, match=r"attack: expected one of fgsm, .*got 'nope'"):
        perturb(model, params, x, y, "nope", radius=1.0)
    with pytest.raises(ValueError, match="radius: expected a finite number >= 0"):
        accuracy_under_attack(model, params, x, y, "l2", radius=-1.0)
    with pytest.raises(ValueError, match="x, y: expected one label per input, got 20 inputs"):
        accuracy(model, params, x, y[:19])
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1"):
        perturb(model, params, x, y, "l2", radius=1.0, batch_size=0)
    with pytest.raises(ValueError, match="options"):
        perturb(model, params, x, y, "urn", radius=1.0, k=3)
    with pytest.raises(ValueError, match="attack_mode"):
        perturb(model, params, x, y, "l2", radius=1.0, attack_mode="training")
    with pytest.raises(ValueError, match="y: expected integer labels"):
        accuracy(model, params, x, np.asarray(y, dtype=np.float64))
    with pytest.raises(ValueError, match="x: expected at least one example"):
        accuracy(model, params, x[:0], y[:0])


@pytest.mark.parametrize("labels", [[0] * 19 + [3], [-1] + [0] * 19])
def test_labels_outside_the_classes_are_refused(xp, labels):
    model, params, x, _ = linear_problem(xp)
    y = xp.asarray(labels)
    for call in (lambda: accuracy(model, params, x, y),
                 lambda: accuracy_under_attack(model, params, x, y, "fgsm", radius=0.1),
                 lambda: perturb(model, params, x, y, "adv_alpha", radius=0.1)):
        with pytest.raises(ValueError, match=r"^y: expected class labels"):
            call()


def test_accuracy_refuses_nan_inputs(xp):
    model, params, x, y = linear_problem(xp)
    bad = xp.where(xp.arange(x.shape[0])[:, None] == 3, math.nan, x)
    with pytest.raises(ValueError, match="x: expected finite"):
        accuracy(model, params, bad, y)
