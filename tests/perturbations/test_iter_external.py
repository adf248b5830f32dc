"""Models from outside refimpl: the adapter equals the same model in refimpl.ops; clear errors."""

import math

import numpy as np
import pytest
from iter_helpers import foreign_device_errors_skipped, mlp, on_device1, random_mlp

from refimpl import ops
from refimpl.autodiff import grad
from refimpl.backend import to_numpy
from refimpl.perturbations.apgd import apgd_ce
from refimpl.perturbations.attacks import input_gradient
from refimpl.perturbations.deepfool_attack import deepfool
from refimpl.perturbations.external import external_model
from refimpl.perturbations.projected_gradient import pgd

PARAMS = random_mlp(0, d=6, hidden=8, k=3, scale=1.5)


def numpy_logits(x):
    """The 2-layer tanh MLP in plain NumPy: tanh(x W1 + b1) W2 + b2."""
    w1, b1, w2, b2 = PARAMS
    return np.tanh(x @ w1 + b1) @ w2 + b2


def numpy_input_gradient(x, cotangent):
    """Its vector-Jacobian product, by hand: ((g W2^T) * (1 - h^2)) W1^T."""
    w1, b1, w2, _ = PARAMS
    h = np.tanh(x @ w1 + b1)
    return (cotangent @ w2.T * (1 - h * h)) @ w1.T


def _batch(xp, seed=1, n=5):
    x = np.random.default_rng(seed).uniform(0, 1, size=(n, 6))
    return xp.asarray(x), xp.asarray(np.arange(n) % 3)


def _attacks(f, x, y):
    """(name, result array) of FGSM, PGD l2, APGD, DeepFool l2 and linf on the model ``f``."""
    fgsm = pgd(f, x, y, radius=0.1, p=math.inf, step_size=0.1, steps=1)  # one step from 0
    return [("gradient", input_gradient(f, x, y)), ("fgsm", fgsm.x_adv),
            ("pgd", pgd(f, x, y, radius=0.3, p=2, step_size=0.1, steps=4, clip=(0, 1)).x_adv),
            ("apgd", apgd_ce(f, x, y, radius=0.1, steps=6).x_adv),
            ("deepfool_l2", deepfool(f, x, y, p=2, steps=20).norm),
            ("deepfool_linf", deepfool(f, x, y, p=math.inf, steps=20).norm)]


def test_attacks_through_the_adapter_equal_the_refimpl_model(xp):
    x, y = _batch(xp)
    outside = external_model(numpy_logits, numpy_input_gradient)
    logits = outside(x)
    assert type(logits) is type(x) and logits.dtype == x.dtype and tuple(logits.shape) == (5, 3)
    for (name, a), (_, b) in zip(_attacks(outside, x, y), _attacks(mlp(xp, PARAMS), x, y)):
        assert type(a) is type(b), name
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-11, atol=1e-13,
                                   err_msg=name)
    np.testing.assert_array_equal(to_numpy(x), to_numpy(_batch(xp)[0]))


@pytest.mark.slow  # importing torch takes 3 to 12 s here
def test_a_torch_model_through_the_adapter():
    torch = pytest.importorskip("torch")
    w1, b1, w2, b2 = (torch.from_numpy(p) for p in PARAMS)

    def model(t):
        return torch.tanh(t @ w1 + b1) @ w2 + b2

    def logits_fn(x):
        with torch.no_grad():
            return model(torch.from_numpy(x))

    def input_gradient_fn(x, cotangent):
        t = torch.from_numpy(x).requires_grad_()
        return torch.autograd.grad(model(t), t, torch.from_numpy(cotangent))[0]

    x, y = _batch(np, seed=2)
    outside = external_model(logits_fn, input_gradient_fn)
    for (name, a), (_, b) in zip(_attacks(outside, x, y), _attacks(mlp(np, PARAMS), x, y)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13, err_msg=name)


def test_second_derivatives_of_an_external_model_are_refused():
    outside = external_model(numpy_logits, numpy_input_gradient)
    x, y = _batch(np)

    def gradient_norm(z):
        g = grad(lambda v: ops.sum(ops.softmax_cross_entropy(outside(v), y)))(z)
        return ops.sum(ops.multiply(g, g))

    with pytest.raises(TypeError, match="differentiable once"):
        grad(gradient_norm)(x)


def test_the_adapter_checks_what_the_user_returns():
    x, y = _batch(np)
    with pytest.raises(ValueError, match=r"logits_fn: expected logits of shape \(5, K\)"):
        external_model(lambda v: numpy_logits(v)[0], numpy_input_gradient)(x)
    with pytest.raises(ValueError, match="input_gradient_fn: expected a gradient shaped like x"):
        input_gradient(external_model(numpy_logits, lambda v, g: g), x, y)
    with pytest.raises(TypeError, match="logits_fn: expected a floating array"):
        external_model(lambda v: np.argmax(v, axis=1)[:, None], numpy_input_gradient)(x)
    with pytest.raises(TypeError, match="input_gradient_fn: expected a callable"):
        external_model(numpy_logits, None)


TORCH = pytest.mark.slow  # importing torch takes 3 to 12 s here


@pytest.mark.parametrize("kind", ["numpy_ufunc", "numpy_asarray",
                                  pytest.param("torch", marks=TORCH),
                                  pytest.param("returns_torch", marks=TORCH)])
def test_a_model_not_written_with_refimpl_ops_gets_an_error_naming_the_fix(kind):
    x, y = _batch(np)
    w1, b1, w2, b2 = PARAMS
    if kind == "numpy_ufunc":
        def f(z):
            return np.tanh(z @ w1 + b1) @ w2 + b2
    elif kind == "numpy_asarray":
        def f(z):
            return np.asarray(z) @ w1 @ w2
    else:
        torch = pytest.importorskip("torch")
        layer = torch.nn.Linear(6, 3).double()

        def f(z):
            t = torch.as_tensor(z) if kind == "torch" else torch.from_numpy(np.array(z.value))
            return layer(t)
    with pytest.raises(TypeError, match=r"not written with refimpl\.ops.*external_model"):
        input_gradient(f, x, y)
    with pytest.raises(TypeError, match="external_model"):
        deepfool(f, x, y, steps=1)


def test_the_adapter_keeps_the_device_of_its_inputs(xp):
    x_np, y_np = _batch(np)
    x, y = on_device1(xp, x_np, y_np)
    outside = external_model(numpy_logits, numpy_input_gradient)
    with foreign_device_errors_skipped():
        assert outside(x).device == x.device
        assert input_gradient(outside, x, y).device == x.device
        assert deepfool(outside, x, y, steps=3).norm.device == x.device
