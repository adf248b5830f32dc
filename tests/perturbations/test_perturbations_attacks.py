"""One-step attacks: the linear-model margin identity, the attack contract, errors."""

import math

import numpy as np
import pytest
from conftest import assert_namespace
from pert_helpers import linear_model, random_linear_problem

from refimpl import ops
from refimpl.autodiff import grad, value_and_jacobian
from refimpl.backend import make_rng, to_numpy
from refimpl.perturbations import (AdvAlpha, GaussianNoise, KSupport, LossGradient, Lp, Noise,
                                   SignL2, UniformNoise, attacks, k_support, linearized, lp)

RULES = {"linf": LossGradient(Lp(math.inf)), "l2": LossGradient(Lp(2.0)),
         "l1": LossGradient(Lp(1.0)), "lp": LossGradient(Lp(3.0)),
         "sign_l2": LossGradient(SignL2()), "k_support": LossGradient(KSupport(0.5)),
         "adv_alpha": AdvAlpha(), "adv_alpha_logits": AdvAlpha(scores="logits"),
         "urn": Noise(UniformNoise()), "gaussian": Noise(GaussianNoise())}
ZERO_K = {"k_support": LossGradient(KSupport(2))}


def _binary_model(xp, w, b):
    """Two logits (-f/2, f/2) of f(x) = w.x + b: class 1 when f > 0, margin s f, s = +-1."""
    weight = np.stack([-w / 2, w / 2], axis=1)
    return linear_model(xp, weight, np.array([-b / 2, b / 2]))


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_worst_case_lowers_a_linear_margin_by_radius_times_dual_norm(xp, p):
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=6), 0.3
    x_np = rng.normal(size=(8, 6))
    y_np = rng.integers(0, 2, size=8)
    radius = 0.25
    result = attacks.one_step(_binary_model(xp, w, b), xp.asarray(x_np), xp.asarray(y_np),
                              family=Lp(p), radius=radius)
    s = 2.0 * y_np - 1.0
    before, after = s * (x_np @ w + b), s * (to_numpy(result.x_adv) @ w + b)
    q = lp.dual_exponent(p)
    np.testing.assert_allclose(before - after, radius * np.linalg.norm(w, ord=q), rtol=1e-12)
    assert result.zero_grad == 0


@pytest.mark.parametrize("family", list(RULES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_attack_contract(xp, family, dtype):
    x_np, w_np, b_np = random_linear_problem(1, n=5, d=6, k=3)
    x = xp.asarray(x_np, dtype=getattr(xp, dtype))
    y = xp.asarray(np.array([0, 1, 2, 0, 1]))
    logits_fn = linear_model(xp, w_np.astype(dtype), b_np.astype(dtype))
    result = attacks.one_step(logits_fn, x, y, direction=RULES[family], radius=0.5,
                              rng=make_rng(0, xp))
    assert_namespace(result.x_adv, xp)
    assert result.x_adv.dtype == x.dtype and tuple(result.x_adv.shape) == tuple(x.shape)
    assert result.delta.dtype == x.dtype
    np.testing.assert_array_equal(to_numpy(x), x_np.astype(dtype))  # x unchanged
    np.testing.assert_allclose(to_numpy(result.x_adv) - to_numpy(x), to_numpy(result.delta),
                               atol=1e-6)
    assert np.any(to_numpy(result.delta) != 0)
    assert int(result.zero_grad) == 0
    if family != "gaussian":  # per-pixel std: its norm is 0.5 only on average
        norm = RULES[family].family.norm(result.delta)
        np.testing.assert_allclose(to_numpy(norm), 0.5, rtol=1e-5)  # in the family's norm


def _relu_model(xp, w_np, b_np):
    """logits = relu(x) W + b: rows with x <= 0 everywhere have an exactly zero gradient."""
    w, b = xp.asarray(w_np), xp.asarray(b_np)
    return lambda x: ops.linear(ops.relu(x), w, b)


@pytest.mark.parametrize("family", ["linf", "l2", "l1", "sign_l2", "k_support", "adv_alpha"])
def test_zero_gradients_are_counted_and_left_unperturbed(xp, family):
    x_np, w_np, b_np = random_linear_problem(2, n=6, d=4, k=3)
    x_np[[1, 4]] = -np.abs(x_np[[1, 4]]) - 0.1  # flat loss for rows 1 and 4
    logits_fn = _relu_model(xp, w_np, b_np)
    x, y = xp.asarray(x_np), xp.asarray(np.array([0, 1, 2, 0, 1, 2]))
    result = attacks.one_step(logits_fn, x, y, direction=ZERO_K.get(family, RULES[family]),
                              radius=0.3)
    assert result.zero_grad == 2 and result.zero_grad.shape == ()  # a 0-d device array
    delta = to_numpy(result.delta)
    assert np.all(delta[[1, 4]] == 0) and np.all(np.isfinite(delta))
    grad = to_numpy(attacks.input_gradient(logits_fn, x, y))
    assert np.all(grad[[1, 4]] == 0) and np.all(np.any(grad[[0, 2, 3, 5]] != 0, axis=1))


@pytest.mark.parametrize("family", ["linf", "l2", "adv_alpha", "urn", "gaussian"])
def test_only_correct_leaves_misclassified_rows_unchanged(xp, family):
    x_np, w_np, b_np = random_linear_problem(3, n=8, d=5, k=3)
    predicted = np.argmax(x_np @ w_np + b_np, axis=1)
    y_np = predicted.copy()
    y_np[::2] = (predicted[::2] + 1) % 3  # even rows misclassified
    x, y = xp.asarray(x_np), xp.asarray(y_np)
    result = attacks.one_step(linear_model(xp, w_np, b_np), x, y, direction=RULES[family],
                              radius=0.4, only_correct=True, rng=make_rng(1, xp))
    delta = to_numpy(result.delta)
    np.testing.assert_array_equal(to_numpy(result.x_adv)[::2], x_np[::2])
    assert np.all(np.any(delta[1::2] != 0, axis=1))


def test_only_correct_counts_zero_gradients_among_correct_rows(xp):
    x_np, w_np, b_np = random_linear_problem(4, n=4, d=3, k=2)
    x_np[:2] = -1.0  # zero gradient in rows 0 and 1
    logits_fn = _relu_model(xp, w_np, b_np)
    predicted = np.argmax(np.maximum(x_np, 0) @ w_np + b_np, axis=1)
    y_np = predicted.copy()
    y_np[0] = 1 - predicted[0]  # row 0 misclassified: not counted
    result = attacks.one_step(logits_fn, xp.asarray(x_np), xp.asarray(y_np), family=Lp(2),
                              radius=1.0, only_correct=True)
    assert result.zero_grad == 1


@pytest.mark.parametrize("family", ["linf", "l2", "l1", "urn", "gaussian"])
def test_clip_keeps_the_box(xp, family):
    x_np, w_np, b_np = random_linear_problem(5, n=6, d=5, k=3)
    x_np = np.clip(x_np * 0.3 + 0.5, 0.0, 1.0)
    result = attacks.one_step(linear_model(xp, w_np, b_np), xp.asarray(x_np),
                              xp.asarray(np.zeros(6, dtype=np.int64)),
                              direction=RULES[family], radius=2.0, clip=(0.0, 1.0),
                              rng=make_rng(2, xp))
    x_adv = to_numpy(result.x_adv)
    assert np.all((x_adv >= 0.0) & (x_adv <= 1.0))
    assert np.any(x_adv != x_np)


def test_adv_alpha_moves_along_the_minimal_direction(xp):
    x_np, w_np, b_np = random_linear_problem(6, n=5, d=4, k=3)
    y_np = np.argmax(x_np @ w_np + b_np, axis=1)
    logits_fn = linear_model(xp, w_np, b_np)
    result = attacks.one_step(logits_fn, xp.asarray(x_np), xp.asarray(y_np),
                              direction=AdvAlpha(p=math.inf, scores="logits"), radius=100.0)
    np.testing.assert_allclose(to_numpy(lp.norm(result.delta, math.inf)), 100.0, rtol=1e-12)
    flipped = np.argmax(to_numpy(result.x_adv) @ w_np + b_np, axis=1)
    assert np.all(flipped != y_np)  # far past the (exact, linear) boundary


@pytest.mark.parametrize("scores", ["probs", "logits"])
@pytest.mark.parametrize("p", [2.0, math.inf, 1.0])
def test_adv_alpha_matches_algorithm_1_on_the_full_jacobian(xp, scores, p):
    # K - 1 backward passes seeded with e_j - e_y must give what Algorithm 1 gives on the
    # whole Jacobian (K passes, then T_j - T_y): same class, same direction
    rng = np.random.default_rng(11)
    w1, w2 = rng.normal(size=(5, 7)), rng.normal(size=(7, 4))
    x_np, y_np = rng.normal(size=(6, 5)), np.array([0, 1, 2, 3, 0, 2])
    w1x, w2x = xp.asarray(w1), xp.asarray(w2)

    def logits_fn(z):
        return ops.matmul(ops.tanh(ops.matmul(z, w1x)), w2x)

    def to_scores(z):
        return ops.softmax(logits_fn(z), axis=-1) if scores == "probs" else logits_fn(z)

    x, y = xp.asarray(x_np), xp.asarray(y_np)
    values, jac = value_and_jacobian(to_scores, batched=True)(x)
    expected = linearized.minimal_perturbation(jac, values, y, p).direction
    got = attacks.one_step(logits_fn, x, y, direction=AdvAlpha(p=p, scores=scores),
                           radius=1.0).delta
    np.testing.assert_allclose(to_numpy(got), to_numpy(expected), rtol=1e-9, atol=1e-12)


def test_adv_alpha_in_float32_keeps_the_float64_direction_on_saturated_softmax():
    # p_y rounds to 1 in float32 on every row here: forming 1 - p_y by subtraction (what
    # backpropagating e_j - e_y through the softmax does) loses T_y; the seeds must not
    rng = np.random.default_rng(5)
    w1, w2 = rng.normal(size=(20, 16)), rng.normal(size=(16, 5)) * 8.0
    x64 = rng.normal(size=(60, 20))
    logits64 = np.tanh(x64 @ w1) @ w2
    y = np.argmax(logits64, axis=1)
    gaps = np.sort(logits64, axis=1)[:, -1] - np.sort(logits64, axis=1)[:, -2]
    keep = gaps > 18.0  # exp(-18) < float32 eps / 2: softmax(..)[y] == 1 in float32
    x64, y = x64[keep], y[keep]
    assert x64.shape[0] >= 5

    def direction(dtype):
        a, b = w1.astype(dtype), w2.astype(dtype)
        fn = lambda z: ops.matmul(ops.tanh(ops.matmul(z, a)), b)  # noqa: E731
        z = x64.astype(dtype)
        assert dtype == np.float64 or np.all(to_numpy(ops.softmax(fn(z), axis=-1)).max(1) == 1)
        return to_numpy(attacks.one_step(fn, z, y, direction=AdvAlpha(), radius=1.0).delta)
    d32, d64 = direction(np.float32), direction(np.float64)
    cos = np.sum(d32 * d64, axis=1) / (np.linalg.norm(d32, axis=1) * np.linalg.norm(d64, axis=1))
    assert np.all(cos > 0.9999), cos


def test_input_gradient_is_per_example(xp):
    x_np, w_np, b_np = random_linear_problem(7, n=4, d=3, k=3)
    y_np = np.array([0, 1, 2, 1])
    grad = attacks.input_gradient(linear_model(xp, w_np, b_np), xp.asarray(x_np),
                                  xp.asarray(y_np))
    logits = x_np @ w_np + b_np
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    expected = (probs - np.eye(3)[y_np]) @ w_np.T  # d CE_n / d x_n, no batch mean
    np.testing.assert_allclose(to_numpy(grad), expected, rtol=1e-12)


def test_k_support_attack_is_k_sparse(xp):
    x_np, w_np, b_np = random_linear_problem(8, n=3, d=8, k=3)
    result = attacks.one_step(linear_model(xp, w_np, b_np), xp.asarray(x_np),
                              xp.asarray(np.array([0, 1, 2])), family=KSupport(3),
                              radius=1.2)
    delta = to_numpy(result.delta)
    assert np.all(np.sum(delta != 0, axis=1) == 3)
    np.testing.assert_allclose(to_numpy(k_support.norm(result.delta, 3)), 1.2, rtol=1e-12)


def test_bad_inputs_name_the_argument():
    x_np, w_np, b_np = random_linear_problem(9, n=2, d=3, k=2)
    f = linear_model(np, w_np, b_np)
    y = np.array([0, 1])
    cases = [
        (dict(radius=1.0), ValueError, "family, direction: pass exactly one"),
        (dict(family=Lp(2), direction=AdvAlpha(), radius=1.0), ValueError, "exactly one"),
        (dict(family="fgsm", radius=1.0), TypeError, "family: expected a value.*'fgsm'"),
        (dict(family=object(), radius=1.0), TypeError, "family: expected an object with"),
        (dict(family=Lp(2), radius=-1.0), ValueError, "radius: expected a finite number >= 0"),
        (dict(direction=Noise(), radius=1.0), ValueError, "rng: UniformNoise draws noise"),
        (dict(family=Lp(2), radius=1.0, clip=(1.0, 0.0)), ValueError, r"clip: expected"),
    ]
    for kwargs, kind, message in cases:
        with pytest.raises(kind, match=message):
            attacks.one_step(f, x_np, y, **kwargs)
    for bad, message in [(lambda: Lp(0.5), "p: expected a norm exponent"),
                         (lambda: KSupport(1.5), "k: expected"),
                         (lambda: AdvAlpha(scores="odds"), "scores: expected")]:
        with pytest.raises(ValueError, match=message):
            bad()
    with pytest.raises(ValueError, match=r"y: expected integer labels of shape \(2,\)"):
        attacks.one_step(f, x_np, np.array([0.0, 1.0]), family=Lp(2), radius=1.0)
    with pytest.raises(ValueError, match="x: expected finite values"):
        attacks.input_gradient(f, np.full((2, 3), np.nan), y)
    with pytest.raises(ValueError, match="x: expected at least one example"):
        attacks.one_step(f, x_np[:0], y[:0], family=Lp(2), radius=1.0)


@pytest.mark.parametrize("rule", ["linf", "adv_alpha", "urn"])
@pytest.mark.parametrize("labels", [[0, 2], [-1, 0]])
def test_labels_outside_the_classes_are_refused(xp, rule, labels):
    x_np, w_np, b_np = random_linear_problem(9, n=2, d=3, k=2)
    with pytest.raises(ValueError, match="^y: expected class labels"):
        attacks.one_step(linear_model(xp, w_np, b_np), xp.asarray(x_np), xp.asarray(labels),
                         direction=RULES[rule], radius=1.0, only_correct=True,
                         rng=make_rng(0, xp))


@pytest.mark.parametrize("family", ["l2", "adv_alpha"])
def test_inside_a_training_step_the_perturbation_is_a_constant(xp, family):
    x_np, w_np, b_np = random_linear_problem(10, n=4, d=3, k=3)
    x, y = xp.asarray(x_np), xp.asarray(np.array([0, 1, 2, 0]))
    params = {"weight": xp.asarray(w_np), "bias": xp.asarray(b_np)}

    def model(p):
        return lambda z: ops.linear(z, p["weight"], p["bias"])

    def adversarial_loss(p):  # logits_fn closes over TRACED parameters here
        x_adv = attacks.one_step(model(p), x, y, direction=RULES[family], radius=0.5).x_adv
        return ops.sum(ops.softmax_cross_entropy(model(p)(x_adv), y))

    x_adv = attacks.one_step(model(params), x, y, direction=RULES[family], radius=0.5).x_adv
    fixed = grad(lambda p: ops.sum(ops.softmax_cross_entropy(model(p)(x_adv), y)))(params)
    got = grad(adversarial_loss)(params)
    for key in params:
        np.testing.assert_allclose(to_numpy(got[key]), to_numpy(fixed[key]), rtol=1e-12)
    with pytest.raises(TypeError, match="x: expected a raw array, got a traced Tensor"):
        grad(lambda z: ops.sum(attacks.one_step(model(params), z, y, family=Lp(2),
                                                radius=0.5).x_adv))(x)
