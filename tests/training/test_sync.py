"""No device-to-host synchronisation inside a training step, for every training method.

A synchronisation is anything that makes the host wait for a device array's value: ``bool()``,
``float()``, ``int()``, ``operator.index()`` of an array, or a copy to NumPy (``__array__``,
``__dlpack__``). On array-api-strict arrays those six methods are counted (with the refimpl
line that called each) during one step -- the method's loss and its gradient in the parameters,
then the optimizer's update and the max-norm constraint -- and the count must be zero. The loop
itself may read the losses between steps, once every ``check_every`` steps and at the end of
an epoch; that is counted too.
"""

import collections
import math
import traceback
from pathlib import Path

import array_api_strict
import numpy as np
import pytest

from refimpl import nn
from refimpl.autodiff import value_and_grad
from refimpl.backend import make_rng
from refimpl.nn.layers import Conv2d, Dense, Dropout, Flatten, MaxPool2d, ReLU
from refimpl.training import fit, get_method

SYNCS = ("__bool__", "__float__", "__int__", "__index__", "__array__", "__dlpack__")
ROOT = str(Path(__file__).resolve().parents[2] / "refimpl")
ARRAY = type(array_api_strict.asarray(0.0))
N, D, K = 8, 12, 3


@pytest.fixture
def syncs(monkeypatch):
    """A Counter of 'refimpl/file.py:line (method)' for every synchronising call on a strict
    array made while the test runs."""
    calls = collections.Counter()

    def counting(name, original):
        def method(self, *args, **kwargs):
            frames = [f for f in traceback.extract_stack()[:-1] if f.filename.startswith(ROOT)]
            site = f"{frames[-1].filename[len(ROOT) - 7:]}:{frames[-1].lineno}" if frames else "?"
            calls[f"{site} ({name})"] += 1
            return original(self, *args, **kwargs)
        return method

    for name in SYNCS:
        monkeypatch.setattr(ARRAY, name, counting(name, getattr(ARRAY, name)))
    return calls


def mlp(dropout=0.0):
    layers = [Flatten(), Dense(10), ReLU()] + ([Dropout(dropout)] if dropout else [])
    return nn.Model("tiny-mlp", (D,), layers + [Dense(8), ReLU()], [Dense(K)])


def cnn():
    layers = [Conv2d(4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Dense(8), ReLU()]
    return nn.Model("tiny-cnn", (1, 4, 4), layers, [Dense(K)])


def batch(model, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, *model.input_shape)).astype(np.float32)
    return array_api_strict.asarray(x), array_api_strict.asarray(np.arange(N) % K)


# (label, method name, options): every training method, both Adv_Alpha variants included.
METHODS = [
    ("normal", "normal", {}),
    ("dropout", "dropout", {}),
    ("goodfellow", "goodfellow", {"radius": 0.3}),
    ("robust_lp-1", "robust_lp", {"p": 1}),
    ("robust_lp-2", "robust_lp", {"p": 2}),
    ("robust_lp-inf", "robust_lp", {"p": math.inf}),
    ("ksup", "ksup", {"radius": 0.5}),
    ("urn", "urn", {"radius": 0.5}),
    ("lwa-adv_loss", "lwa", {"radius": 0.5}),
    ("lwa-adv_alpha", "lwa", {"radius": 0.5, "direction": "adv_alpha"}),
    ("lwa_rep", "lwa_rep", {"radius": 0.5}),
    ("lwa_rep-adv_alpha", "lwa_rep", {"radius": 0.5, "direction": "adv_alpha"}),
    ("gradreg", "gradreg", {"sigma": 0.1}),
    ("gradreg_penalty", "gradreg_penalty", {"sigma": 0.1}),
    ("sign_noise", "sign_noise", {}),
]


def cases():
    for label, name, options in METHODS:
        yield pytest.param(name, options, id=label)


def one_step(model, method, optimizer, state, params, x, y, rng):
    loss, grads = value_and_grad(lambda p: method(model, p, x, y, rng=rng))(params)
    params, state = optimizer.update(params, grads, state, lr=0.1)
    return loss, nn.max_norm(params, 3.0), state


@pytest.mark.parametrize("name, options", cases())
@pytest.mark.parametrize("optimizer", [nn.SGD(0.1, momentum=0.9), nn.Adam(1e-3)],
                         ids=["sgd", "adam"])
def test_a_training_step_makes_no_host_sync(name, options, optimizer, syncs):
    model = mlp(dropout=0.5 if name == "dropout" else 0.0)
    params = model.init(make_rng(0, array_api_strict))
    x, y = batch(model)
    method, state = get_method(name, **options), optimizer.init(params)
    rng = make_rng(1, array_api_strict)
    for _ in range(2):  # the first step and a later one (optimizers branch on step 0)
        loss, params, state = one_step(model, method, optimizer, state, params, x, y, rng)
    assert sum(syncs.values()) == 0, f"{name}: host syncs in a step: {dict(syncs)}"
    assert loss.shape == () and all(v.device == x.device for v in params.values())


def test_a_convolutional_step_makes_no_host_sync(syncs):
    model = cnn()
    params = model.init(make_rng(0, array_api_strict))
    x, y = batch(model)
    optimizer = nn.SGD(0.1, momentum=0.9)
    one_step(model, get_method("normal"), optimizer, optimizer.init(params), params, x, y,
             make_rng(1, array_api_strict))
    assert sum(syncs.values()) == 0, f"host syncs in a step: {dict(syncs)}"


@pytest.mark.parametrize("check_every, reads", [(1, 10), (3, 4), (4, 3), (25, 1)])
def test_the_loop_reads_the_losses_every_check_every_steps(check_every, reads, syncs):
    """10 steps an epoch: reads after steps check_every, 2 check_every, ... and the last step;
    each read is one copy of the stacked losses to the host (one __dlpack__), nothing else."""
    model = mlp()
    rng = np.random.default_rng(0)
    x = array_api_strict.asarray(rng.normal(size=(40, D)).astype(np.float32))
    y = array_api_strict.asarray(np.arange(40) % K)
    params = model.init(make_rng(0, array_api_strict))
    result = fit(model, params, (x, y), optimizer=nn.SGD(0.1, momentum=0.9), epochs=2,
                 batch_size=4, quiet=True, check_every=check_every)
    assert len(result.history) == 2 and all(math.isfinite(r["train_loss"]) for r in result.history)
    entry = 2  # fit's entry checks (labels in range, finite inputs): once per call, not per step
    assert sum(syncs.values()) == 2 * reads + entry, dict(syncs)
    assert all(site.startswith("refimpl/backend.py:") and site.endswith("(__dlpack__)")
               for site in syncs), dict(syncs)  # to_numpy of the stacked losses, only


def test_check_every_is_validated():
    model = mlp()
    x = array_api_strict.zeros((4, D))
    y = array_api_strict.zeros((4,), dtype=array_api_strict.int64)
    with pytest.raises(ValueError, match="check_every"):
        fit(model, model.init(make_rng(0)), (x, y), optimizer=nn.SGD(0.1), epochs=1,
            check_every=0)


def test_params_on_another_device_are_refused():
    model = mlp()
    device1 = array_api_strict.Device("device1")
    x = array_api_strict.zeros((4, D), device=device1)
    y = array_api_strict.zeros((4,), dtype=array_api_strict.int64, device=device1)
    with pytest.raises(ValueError, match="params: 'dense1.weight' lives on .*CPU_DEVICE"):
        fit(model, model.init(make_rng(0, array_api_strict)), (x, y), optimizer=nn.SGD(0.1),
            epochs=1)
