"""Training methods: each perturbation is a constant of the step, each loss is the one the
method states, one descent step lowers it, and gradreg agrees with its penalty form.

The reference for every perturbing method is computed here independently: the attack is run by
:func:`refimpl.perturbations.one_step` on a raw copy of the parameters, and the reference loss
is the cross-entropy at x + delta with delta a plain array. If a method let gradient flow
through its perturbation, its parameter gradient would differ from the reference's.
"""

import math

import numpy as np
import pytest

from refimpl import nn, ops
from refimpl.autodiff import check_grads, grad, value_and_grad
from refimpl.backend import make_rng, to_numpy
from refimpl.nn.layers import Dense, Flatten, ReLU, Tanh
from refimpl.nn.losses import cross_entropy
from refimpl.perturbations import (AdvAlpha, GaussianNoise, KSupport, LossGradient, Lp, Noise,
                                   SignL2, UniformNoise, input_gradient, lp, one_step)
from refimpl.training import METHODS, Method, get_method
from refimpl.training.methods import dual_norm_traced, options_of

N, D, K = 6, 12, 3


def tiny(activation=ReLU, hidden=(10, 8), dropout=0.0):
    """D-hidden-K MLP; the representation is everything below the output layer."""
    layers = [Flatten()]
    for width in hidden:
        layers += [Dense(width), activation()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Model("tiny", (D,), layers, [Dense(K)])


def setup(xp=np, dtype="float64", seed=0, **kw):
    model = tiny(**kw)
    params = model.init(make_rng(seed, xp), getattr(xp, dtype))
    rng = np.random.default_rng(seed)
    x = xp.asarray(rng.normal(size=(N, D)).astype(dtype))
    y = xp.asarray((np.arange(N) % K).astype(np.int64))
    return model, params, x, y


def raw_logits(model, params):
    frozen = {k: v for k, v in params.items()}
    return lambda z: model.apply(frozen, z)


def _rule(family, p=None, k=None, magnitude="own"):
    """The direction rule a method should use, built independently of the method's code."""
    if family == "linf":
        return LossGradient(SignL2() if magnitude == "l2" else Lp(math.inf))
    return {"lp": lambda: LossGradient(Lp(p)), "l2": lambda: LossGradient(Lp(2.0)),
            "k_support": lambda: LossGradient(KSupport(k)), "urn": lambda: Noise(UniformNoise()),
            "gaussian": lambda: Noise(GaussianNoise()), "adv_alpha": AdvAlpha}[family]()


# (method, options, reference perturbation: (model, params, x, y, seed) -> delta)
def _attack(family, radius, **kw):
    def delta(model, params, x, y, seed):
        rng = make_rng(seed, np) if family in ("urn", "gaussian") else None
        return one_step(raw_logits(model, params), x, y, direction=_rule(family, **kw),
                        radius=radius, rng=rng).delta
    return delta


def _rep_attack(family, radius):
    def delta(model, params, x, y, seed):
        h = model.represent(params, x)
        return one_step(lambda z: model.classify(params, z), h, y, direction=_rule(family),
                        radius=radius).delta
    return delta


PERTURBING = {
    "robust_lp-inf": ("robust_lp", {}, _attack("lp", 0.2, p=math.inf)),
    "robust_lp-2": ("robust_lp", {"p": 2}, _attack("lp", 2.0, p=2.0)),
    "robust_lp-1": ("robust_lp", {"p": 1, "radius": 0.7}, _attack("lp", 0.7, p=1.0)),
    "ksup": ("ksup", {"k": 0.25}, _attack("k_support", 1.7, k=0.25)),
    "urn": ("urn", {}, _attack("urn", 1.7)),
    "urn-gaussian": ("urn", {"noise": "gaussian", "radius": 0.3}, _attack("gaussian", 0.3)),
    "lwa": ("lwa", {}, _attack("l2", 1.7)),
    "lwa-alpha": ("lwa", {"direction": "adv_alpha", "radius": 1.2}, _attack("adv_alpha", 1.2)),
    "gradreg": ("gradreg", {"sigma": 0.5, "p": 3}, _attack("lp", 0.5, p=3.0)),
}


def reference_loss(model, x, y, delta, name, options):
    """The stated loss with delta a constant: a function of the parameters."""
    def loss(params):
        if name == "lwa_rep":
            h = model.represent(params, x)
            return cross_entropy(model.classify(params, ops.add(h, delta)), y)
        return cross_entropy(model.apply(params, x + delta), y)
    return loss


def goodfellow_reference(model, x, y, delta, alpha):
    def loss(params):
        clean = cross_entropy(model.apply(params, x), y)
        return ops.add(ops.multiply(alpha, clean),
                       ops.multiply(1 - alpha, cross_entropy(model.apply(params, x + delta), y)))
    return loss


def cases():
    for label, (name, options, attack) in PERTURBING.items():
        yield pytest.param(name, options, attack, id=label)
    yield pytest.param("lwa_rep", {}, _rep_attack("l2", 1.7), id="lwa_rep")
    yield pytest.param("lwa_rep", {"direction": "adv_alpha", "radius": 0.5},
                       _rep_attack("adv_alpha", 0.5), id="lwa_rep-alpha")


def assert_grads_close(a, b, rtol=1e-9, atol=1e-12):
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_allclose(to_numpy(a[key]), to_numpy(b[key]), rtol=rtol, atol=atol,
                                   err_msg=key)


def sgd_step(params, grads, lr):
    return {k: params[k] - lr * grads[k] for k in params}


@pytest.mark.parametrize("name, options, attack", cases())
def test_perturbation_is_a_constant_and_one_step_lowers_the_loss(name, options, attack):
    model, params, x, y = setup()
    x_before = x.copy()
    method = get_method(name, **options)
    value, grads = value_and_grad(lambda p: method(model, p, x, y, rng=make_rng(7, np)))(params)
    delta = attack(model, params, x, y, 7)
    assert np.any(delta != 0)
    target = reference_loss(model, x, y, delta, name, options)
    ref_value, ref_grads = value_and_grad(target)(params)
    assert float(value) == pytest.approx(float(ref_value), rel=1e-12)
    assert_grads_close(grads, ref_grads)  # no gradient flowed through delta
    assert float(target(sgd_step(params, grads, 0.05))) < float(ref_value)
    np.testing.assert_array_equal(x, x_before)


def test_a_gradient_through_the_perturbation_would_be_detected():
    """The comparison above can fail: differentiating through delta changes the gradient."""
    model, params, x, y = setup()

    def through(p):  # delta(p) traced: the wrong way to train
        g = grad(lambda z: ops.sum(ops.softmax_cross_entropy(model.apply(p, z), y)))(x)
        unit = ops.divide(g, ops.sqrt(ops.sum(ops.square(g), axis=1, keepdims=True)))
        return cross_entropy(model.apply(p, ops.add(x, ops.multiply(1.7, unit))), y)
    wrong = grad(through)(params)
    right = grad(lambda p: get_method("lwa")(model, p, x, y))(params)
    assert not all(np.allclose(wrong[k], right[k]) for k in right)


@pytest.mark.parametrize("alpha, magnitude, radius", [(0.5, "l2", 1.5), (0.3, "own", 0.1)])
def test_goodfellow_mixes_clean_and_sign_losses(alpha, magnitude, radius):
    model, params, x, y = setup()
    method = get_method("goodfellow", alpha=alpha, magnitude=magnitude, radius=radius)
    value, grads = value_and_grad(lambda p: method(model, p, x, y))(params)
    delta = _attack("linf", radius, magnitude=magnitude)(model, params, x, y, 0)
    flat = delta.reshape(N, -1)
    if magnitude == "l2":
        np.testing.assert_allclose(np.linalg.norm(flat, axis=1), radius, rtol=1e-12)
    else:
        np.testing.assert_allclose(np.abs(flat).max(axis=1), radius, rtol=1e-12)
    target = goodfellow_reference(model, x, y, delta, alpha)
    ref_value, ref_grads = value_and_grad(target)(params)
    assert float(value) == pytest.approx(float(ref_value), rel=1e-12)
    assert_grads_close(grads, ref_grads)
    assert float(target(sgd_step(params, grads, 0.05))) < float(ref_value)


def test_normal_and_dropout():
    model, params, x, y = setup(dropout=0.5)
    rng_a, rng_b = make_rng(3, np), make_rng(3, np)
    a = get_method("dropout")(model, params, x, y, rng=rng_a)
    b = cross_entropy(model.apply(params, x, train=True, rng=rng_b), y)
    assert float(a) == float(b)
    assert float(a) != float(cross_entropy(model.apply(params, x), y))  # masks were active
    plain, p2, _, _ = setup()
    with pytest.raises(ValueError, match="dropout layers"):
        get_method("dropout")(plain, p2, x, y, rng=rng_a)
    loss = lambda p: get_method("normal")(plain, p, x, y)  # noqa: E731
    value, grads = value_and_grad(loss)(p2)
    assert float(loss(sgd_step(p2, grads, 0.05))) < float(value)


def test_sign_noise_scales_inputs_and_hidden_activations():
    # prob = 1: l(v) = sign(v) always, so g(v) = v + eps |v|: inputs move by eps |x|, and the
    # ReLU hidden units (never negative) are scaled by 1 + eps, which the next layer's weights
    # can absorb.
    model, params, x, y = setup()
    eps = 0.3
    noisy = get_method("sign_noise", eps=eps, prob=1.0)(model, params, x, y, rng=make_rng(0, np))
    scaled = dict(params)
    scaled["dense2.weight"] = params["dense2.weight"] * (1 + eps)  # absorbs hidden layer 1
    scaled["dense3.weight"] = params["dense3.weight"] * (1 + eps)  # absorbs hidden layer 2
    expected = cross_entropy(model.apply(scaled, x + eps * np.abs(x)), y)
    assert float(noisy) == pytest.approx(float(expected), rel=1e-12)
    inputs_only = get_method("sign_noise", eps=eps, prob=1.0, hidden=False)(
        model, params, x, y, rng=make_rng(0, np))
    assert float(inputs_only) == pytest.approx(
        float(cross_entropy(model.apply(params, x + eps * np.abs(x)), y)), rel=1e-12)


def test_sign_noise_is_fresh_each_call_and_one_step_lowers_its_loss():
    model, params, x, y = setup()
    method = get_method("sign_noise", eps=0.2)
    losses = {float(method(model, params, x, y, rng=make_rng(s, np))) for s in range(4)}
    assert len(losses) == 4
    assert float(get_method("sign_noise", eps=0.0)(model, params, x, y, rng=make_rng(0, np))) \
        == pytest.approx(float(cross_entropy(model.apply(params, x), y)), rel=1e-12)
    loss = lambda p: method(model, p, x, y, rng=make_rng(5, np))  # noqa: E731  same draws
    value, grads = value_and_grad(loss)(params)
    assert float(loss(sgd_step(params, grads, 0.05))) < float(value)


@pytest.mark.parametrize("p", [2.0, math.inf, 1.0, 3.0])
def test_gradreg_penalty_is_loss_plus_sigma_dual_norm(p):
    model, params, x, y = setup(activation=Tanh)
    sigma = 0.7
    method = get_method("gradreg_penalty", sigma=sigma, p=p)
    value = method(model, params, x, y)
    g = input_gradient(raw_logits(model, params), x, y)
    expected = float(cross_entropy(model.apply(params, x), y)) + sigma * float(
        np.mean(lp.dual_norm(g, p)))
    assert float(value) == pytest.approx(expected, rel=1e-12)
    # double backprop: the parameter gradient against central differences
    check_grads(lambda q: method(model, q, x, y), [params])
    value, grads = value_and_grad(lambda q: method(model, q, x, y))(params)
    assert float(method(model, sgd_step(params, grads, 0.05), x, y)) < float(value)


def test_dual_norm_traced_at_zero_rows_has_zero_gradient():
    g = np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 0.0]])
    for q in (1.0, 1.5, 2.0, math.inf):
        value = dual_norm_traced(g, q)
        np.testing.assert_allclose(value, [0.0, np.linalg.norm(g[1], ord=q)], rtol=1e-12)
        d = grad(lambda v: ops.sum(dual_norm_traced(v, q)))(g)
        assert np.all(np.isfinite(d)) and np.all(d[0] == 0)


@pytest.mark.parametrize("p", [2.0, math.inf, 4.0])
def test_gradreg_agrees_with_the_penalty_form_to_first_order(p):
    """gradreg - gradreg_penalty = C sigma^2 + O(sigma^3), for the loss and its gradient.

    The two differ in the second-order term of the Taylor expansion, so (a - b) / sigma^2
    settles to a constant as sigma shrinks (signed: per-example terms may cancel in the mean).
    """
    model, params, x, y = setup(activation=Tanh)
    sigmas = [5e-3, 2.5e-3, 1.25e-3]
    ratios, grad_ratios = [], []
    for sigma in sigmas:
        a, ga = value_and_grad(lambda q: get_method("gradreg", sigma=sigma, p=p)(
            model, q, x, y))(params)
        b, gb = value_and_grad(lambda q: get_method("gradreg_penalty", sigma=sigma, p=p)(
            model, q, x, y))(params)
        ratios.append((float(a) - float(b)) / sigma ** 2)
        grad_ratios.append(math.sqrt(sum(float(np.sum((ga[k] - gb[k]) ** 2)) for k in ga))
                           / sigma ** 2)
    first_order = float(get_method("gradreg_penalty", sigma=1.0, p=p)(model, params, x, y)) - \
        float(cross_entropy(model.apply(params, x), y))  # ||grad_x L||_q, averaged
    assert abs(ratios[-1]) * sigmas[-1] < 1e-2 * first_order  # far below the first-order term
    assert abs(ratios[-1] - ratios[-2]) < abs(ratios[-2] - ratios[-3]) + 1e-12
    assert abs(ratios[-1] - ratios[-2]) <= 0.15 * abs(ratios[-1])
    assert max(grad_ratios) <= 1.05 * min(grad_ratios)


def test_methods_run_on_array_api_strict_like_numpy():
    strict = pytest.importorskip("array_api_strict")
    for name in METHODS:
        kw = {"dropout": 0.5} if name == "dropout" else {}
        results = []
        for xp in (np, strict):
            model, params, x, y = setup(xp, **kw)
            value, grads = value_and_grad(lambda p: get_method(name)(
                model, p, x, y, rng=make_rng(1, xp)))(params)
            results.append((float(value), {k: to_numpy(v) for k, v in grads.items()}))
        (a, ga), (b, gb) = results
        if name in ("urn", "sign_noise", "dropout"):  # the generators differ by backend
            assert math.isfinite(b)
            continue
        assert a == pytest.approx(b, rel=1e-10), name
        assert_grads_close(ga, gb, rtol=1e-8, atol=1e-10)


def test_methods_do_not_mutate_their_inputs():
    model, params, x, y = setup(dropout=0.5)
    before = ({k: v.copy() for k, v in params.items()}, x.copy(), y.copy())
    for name in METHODS:
        grad(lambda p: get_method(name)(model, p, x, y, rng=make_rng(0, np)))(params)
    assert_grads_close(params, before[0], rtol=0, atol=0)
    np.testing.assert_array_equal(x, before[1])
    np.testing.assert_array_equal(y, before[2])


def test_method_objects():
    method = get_method("ksup", radius=None, k=0.25)
    assert isinstance(method, Method) and method.__name__ == "ksup"
    assert method.options == {"k": 0.25}
    assert method.settings() == {"radius": 1.7, "k": 0.25}
    assert options_of("lwa") == {"radius": 1.7, "direction": "adv_loss", "attack": None}
    with pytest.raises(ValueError, match="k: method 'lwa' has no such option"):
        get_method("lwa", k=3)
    with pytest.raises(ValueError, match="method: unknown name 'fgsm'"):
        get_method("fgsm")
    model, params, x, y = setup()
    with pytest.raises(ValueError, match="direction"):
        get_method("lwa", direction="sideways")(model, params, x, y)
    with pytest.raises(ValueError, match="alpha"):
        get_method("goodfellow", alpha=1.5)(model, params, x, y)
    with pytest.raises(ValueError, match="rng"):
        get_method("urn")(model, params, x, y)
    with pytest.raises(ValueError, match="p"):
        get_method("robust_lp", p=0.5)(model, params, x, y)
    with pytest.raises(ValueError, match="radius"):
        get_method("robust_lp", p=3)(model, params, x, y)
    with pytest.raises(ValueError, match="radius"):
        get_method("ksup", radius=-1.0)(model, params, x, y)


def test_training_with_each_method_learns_blobs():
    """Every method trains a tiny net above chance in a few epochs through fit."""
    from refimpl.training import evaluate, fit
    rng = np.random.default_rng(0)
    y = (np.arange(120) % K).astype(np.int64)
    centers = rng.normal(0.0, 1.0, size=(K, D))
    x = (centers[y] + 0.3 * rng.normal(size=(120, D))).astype(np.float32)
    for name in METHODS:
        model = tiny(dropout=0.2 if name == "dropout" else 0.0)
        params = model.init(make_rng(0, np), np.float32)
        options = {"radius": 0.3} if name in ("goodfellow", "ksup", "urn", "lwa", "lwa_rep") \
            else {"sigma": 0.1} if name.startswith("gradreg") else {}
        result = fit(model, params, (x, y), optimizer=nn.SGD(0.1, momentum=0.9), epochs=3,
                     batch_size=20, method=get_method(name, **options), quiet=True)
        assert evaluate(model, result.params, x, y)["accuracy"] > 0.8, name


def test_methods_take_an_attack_value_and_record_it_in_their_settings():
    model, params, x, y = setup()
    fgsm = LossGradient(Lp(math.inf))
    method = get_method("goodfellow", radius=0.1, attack=fgsm)
    assert method.settings()["attack"] == repr(fgsm)  # JSON-friendly, equal across runs
    same = get_method("goodfellow", radius=0.1, magnitude="own")
    np.testing.assert_allclose(float(method(model, params, x, y)), float(same(model, params, x, y)),
                               rtol=1e-12)
    lwa = get_method("lwa", radius=1.2, attack=AdvAlpha())
    reference = get_method("lwa", radius=1.2, direction="adv_alpha")
    assert float(lwa(model, params, x, y)) == float(reference(model, params, x, y))


@pytest.mark.parametrize("name", ["gradreg", "gradreg_penalty"])
def test_gradreg_blames_sigma(name):
    model, params, x, y = setup()
    with pytest.raises(ValueError, match="^sigma: expected a finite number >= 0"):
        get_method(name, sigma=-1.0)(model, params, x, y)


SYNC_FREE = [("normal", {}), ("goodfellow", {}), ("robust_lp", {}), ("robust_lp", {"p": 2.0}),
             ("robust_lp", {"p": 1.0}), ("ksup", {}), ("urn", {}),
             ("urn", {"noise": "gaussian"}), ("lwa", {}), ("lwa_rep", {}), ("gradreg", {}),
             ("gradreg_penalty", {}), ("sign_noise", {}),
             ("lwa", {"direction": "adv_alpha"})]


@pytest.mark.parametrize("name, options", SYNC_FREE)
def test_a_training_step_reads_nothing_back_from_the_device(monkeypatch, name, options):
    xp = pytest.importorskip("array_api_strict")
    from array_api_strict._array_object import Array  # noqa: PLC0415
    model = nn.build("mlp-100-100", (16,), 3)
    params = model.init(make_rng(0, xp), xp.float64)
    rng = np.random.default_rng(0)
    x, y = xp.asarray(rng.uniform(size=(10, 16))), xp.asarray(rng.integers(0, 3, size=10))
    method = get_method(name, **options)

    def host_sync(self, *args):
        raise AssertionError(f"{name}: a host synchronisation inside the training step")
    for dunder in ("__bool__", "__float__", "__int__", "__index__"):
        monkeypatch.setattr(Array, dunder, host_sync)
    loss, grads = value_and_grad(lambda p: method(model, p, x, y, rng=make_rng(0, xp)))(params)
    monkeypatch.undo()  # the checks below read values back on purpose
    assert loss.shape == () and math.isfinite(float(loss))
    assert set(grads) == set(params)
    assert all(grads[k].shape == params[k].shape for k in params)
