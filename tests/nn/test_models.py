"""The papers' models by name: parameter names and shapes derived from the table in
refimpl/nn/architectures.py, output and representation shapes, represent + classify = apply,
forward passes against NumPy, and errors."""

import math

import numpy as np
import pytest
from conftest import assert_namespace, rand

from refimpl import nn
from refimpl.autodiff import check_grads
from refimpl.backend import make_rng, to_numpy

MNIST, CIFAR = (1, 28, 28), (3, 32, 32)


def _dense(i, n_in, n_out):
    return {f"dense{i}.weight": (n_in, n_out), f"dense{i}.bias": (n_out,)}


def _conv(i, c_in, c_out, k):
    return {f"conv{i}.weight": (c_out, c_in, k, k), f"conv{i}.bias": (c_out,)}


def mlp_shapes(d, hidden, k=10):
    sizes = [d, *hidden, k]
    return {key: s for i in range(len(sizes) - 1)
            for key, s in _dense(i + 1, sizes[i], sizes[i + 1]).items()}


def lenet_shapes(c, h, filters, fc, pools, k=10):
    """conv 5x5, pool, conv 5x5, pool (non-overlapping), FC, output."""
    side = h
    for pool in pools:
        side = (side - 4) // pool
    return {**_conv(1, c, filters[0], 5), **_conv(2, filters[0], filters[1], 5),
            **_dense(1, filters[1] * side * side, fc), **_dense(2, fc, k)}


def vgg_shapes(c, h, filters, fc, k=10):
    shapes, c_in, side = {}, c, h
    for stage, width in enumerate(filters):
        for j in range(3):
            shapes.update(_conv(3 * stage + j + 1, c_in, width, 3))  # padding 1 keeps the side
            c_in = width
        side = (side - 3) // 2 + 1  # pool 3, stride 2
    return {**shapes, **_dense(1, c_in * side * side, fc[0]), **_dense(2, fc[0], fc[1]),
            **_dense(3, fc[1], k)}


def conv_maxout_shapes():
    """The maxout paper's pylearn2 net: untied biases, pools with a ragged last window (28
    -conv 8-> 21 -pool 4/2-> 10; pad 3: 16 -conv 8-> 9 -pool-> 4; pad 3: 10 -conv 5-> 6 -> 3)."""
    shapes = {}
    for i, (c_in, k, side) in enumerate(((1, 8, 21), (48, 8, 9), (48, 5, 6)), start=1):
        shapes.update({f"conv{i}.weight": (96, c_in, k, k), f"conv{i}.bias": (96, side, side)})
    return {**shapes, **_dense(1, 24 * 3 * 3, 10)}


# name -> (input shape, parameter shapes, representation shape)
ARCHITECTURES = {
    "mlp-400-400": (MNIST, mlp_shapes(784, (400, 400)), (400,)),
    "mlp-400-400-dropout": (MNIST, mlp_shapes(784, (400, 400)), (400,)),
    "mlp-100-100": (MNIST, mlp_shapes(784, (100, 100)), (100,)),
    "mlp-200-200-dropout": (MNIST, mlp_shapes(784, (200, 200)), (200,)),
    "mlp-500-500": (MNIST, mlp_shapes(784, (500, 500)), (500,)),
    "mlp-200-500": (MNIST, mlp_shapes(784, (200, 500)), (200,)),
    "mlp-sigmoid-600-600": (MNIST, mlp_shapes(784, (600, 600)), (600,)),
    "lenet": (MNIST, lenet_shapes(1, 28, (32, 64), 400, (2, 2)), (400,)),
    "lenet-dropout-25": (MNIST, lenet_shapes(1, 28, (32, 64), 400, (2, 2)), (400,)),
    "lenet-dropout-50": (MNIST, lenet_shapes(1, 28, (32, 64), 400, (2, 2)), (400,)),
    "lenet-tanh-100": (MNIST, lenet_shapes(1, 28, (20, 50), 100, (2, 2)), (100,)),
    "lenet-tanh-400-dropout": (MNIST, lenet_shapes(1, 28, (20, 50), 400, (2, 2)), (400,)),
    "shaham-cnn": (MNIST, lenet_shapes(1, 28, (32, 64), 200, (3, 2)), (200,)),
    "shaham-cnn@32": ((1, 32, 32), {**_conv(1, 1, 32, 5), **_conv(2, 32, 64, 5),
                                    **_dense(1, 64 * 2 * 2, 200), **_dense(2, 200, 10)}, (200,)),
    "shaham-cnn-torch": ((1, 32, 32), {**_conv(1, 1, 32, 5), **_conv(2, 32, 64, 5),
                                       **_dense(1, 64 * 2 * 2, 200), **_dense(2, 200, 10)},
                         (200,)),
    "shaham-cnn-torch-bn": ((1, 32, 32), {"batchnorm1.running_mean": (1,),
                                          "batchnorm1.running_var": (1,),
                                          **_conv(1, 1, 32, 5), **_conv(2, 32, 64, 5),
                                          **_dense(1, 64 * 2 * 2, 200), **_dense(2, 200, 10)},
                            (200,)),
    "maxout-240x5-dropout": (MNIST, {**_dense(1, 784, 1200), **_dense(2, 240, 1200),
                                     **_dense(3, 240, 10)}, (240,)),
    "conv-maxout-48-48-24-dropout": (MNIST, conv_maxout_shapes(), (216,)),
    "mlp-400-400-u07": (MNIST, mlp_shapes(784, (400, 400)), (400,)),
    "mlp-400-400-dropout-u07": (MNIST, mlp_shapes(784, (400, 400)), (400,)),
    "vgg-40-80": (CIFAR, vgg_shapes(3, 32, (40, 80), (400, 400)), (400,)),
    "vgg-128-256": (CIFAR, vgg_shapes(3, 32, (128, 256), (2048, 2048)), (2048,)),
}
CHEAP = [name for name in ARCHITECTURES if name != "vgg-128-256"]


def _build(case, num_classes=10):
    return nn.build(case.split("@")[0], ARCHITECTURES[case][0], num_classes)


def test_every_model_has_a_case():
    assert set(nn.MODELS) == {case.split("@")[0] for case in ARCHITECTURES}


class ShapeOnlyRng:
    """Stands in for a Random where only shapes matter: draws are free broadcast zeros."""

    xp, device = np, "cpu"

    def normal(self, shape, *, dtype=None, **_):
        return np.broadcast_to(np.zeros((), dtype=dtype), shape)

    uniform = normal


@pytest.mark.parametrize("case", list(ARCHITECTURES))
def test_parameter_names_and_shapes(case):
    input_shape, shapes, rep_shape = ARCHITECTURES[case]
    model = _build(case)
    params = model.init(ShapeOnlyRng(), np.float32)
    assert {k: tuple(v.shape) for k, v in params.items()} == shapes
    assert model.representation_shape == rep_shape and model.output_shape == (10,)
    names = model.representation.names + model.classifier.names
    assert len(set(names)) == len(names), names
    assert nn.count_parameters(params) == sum(math.prod(s) for s in shapes.values())


def test_mlp_400_400_parameter_count():
    params = nn.build("mlp-400-400", (784,)).init(make_rng(0))
    assert nn.count_parameters(params) == 784 * 400 + 400 + 400 * 400 + 400 + 400 * 10 + 10


@pytest.mark.parametrize("case", CHEAP)
def test_apply_and_split(xp, case):
    """Logits (N, 10) in xp, float32, and classify(represent(x)) = apply(x)."""
    model = _build(case)
    params = model.init(make_rng(0, xp))
    assert all(v.dtype == xp.float32 for v in params.values())
    x = xp.asarray(np.random.default_rng(1).uniform(0, 1, (2, *model.input_shape)),
                   dtype=xp.float32)
    logits = model.apply(params, x)
    assert_namespace(logits, xp)
    assert logits.dtype == xp.float32 and tuple(logits.shape) == (2, 10)
    assert np.all(np.isfinite(to_numpy(logits)))
    h = model.represent(params, x)
    assert tuple(h.shape) == (2, *model.representation_shape)
    np.testing.assert_array_equal(to_numpy(model.classify(params, h)), to_numpy(logits))
    np.testing.assert_array_equal(to_numpy(model(params, x)), to_numpy(logits))


def test_vgg_128_256_runs_on_one_example():
    model = nn.build("vgg-128-256", CIFAR)
    params = model.init(make_rng(0))
    x = np.random.default_rng(2).uniform(0, 1, (1, *CIFAR)).astype(np.float32)
    logits = model.apply(params, x)
    assert logits.dtype == np.float32 and logits.shape == (1, 10)
    assert np.all(np.isfinite(logits))
    np.testing.assert_array_equal(model.classify(params, model.represent(params, x)), logits)


def test_num_classes():
    model = nn.build("lenet", MNIST, num_classes=3)
    params = model.init(make_rng(0))
    assert params["dense2.weight"].shape == (400, 3)
    assert model.apply(params, np.zeros((4, *MNIST), dtype=np.float32)).shape == (4, 3)
    for bad in (1, 2.0, "10"):
        with pytest.raises(ValueError, match="num_classes"):
            nn.build("lenet", MNIST, num_classes=bad)


def test_mlp_200_500_representation_is_the_first_hidden_layer():
    model = nn.build("mlp-200-500", MNIST)
    assert model.representation.names == ["flatten1", "dense1", "relu1"]
    assert model.classifier.names == ["dense2", "relu2", "dense3"]
    params = model.init(make_rng(0))
    x = np.random.default_rng(3).uniform(0, 1, (5, *MNIST))
    h = model.represent(params, x)
    expected = np.maximum(x.reshape(5, -1) @ params["dense1.weight"] + params["dense1.bias"], 0)
    np.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-6)


def test_mlp_forward_matches_numpy(xp):
    """mlp-400-400 is relu(relu(x W1 + b1) W2 + b2) W3 + b3 on the flattened input."""
    model = nn.build("mlp-400-400", MNIST)
    rng = np.random.default_rng(4)
    params = {k: rand(xp, rng, tuple(v.shape), -0.1, 0.1)
              for k, v in model.init(make_rng(0, xp), xp.float64).items()}
    x = rand(xp, rng, (3, *MNIST), 0, 1)
    p = {k: to_numpy(v) for k, v in params.items()}
    h = to_numpy(x).reshape(3, -1)
    for i in (1, 2):
        h = np.maximum(h @ p[f"dense{i}.weight"] + p[f"dense{i}.bias"], 0)
    expected = h @ p["dense3.weight"] + p["dense3.bias"]
    np.testing.assert_allclose(to_numpy(model.apply(params, x)), expected, rtol=1e-10, atol=1e-12)


def test_lenet_tanh_forward_matches_numpy():
    """conv 5x5, tanh, pool 2, conv 5x5, tanh, pool 2, flatten, FC 100, tanh, FC 10."""
    from numpy.lib.stride_tricks import sliding_window_view
    model = nn.build("lenet-tanh-100", MNIST)
    rng = np.random.default_rng(5)
    p = {k: rng.uniform(-0.1, 0.1, v.shape) for k, v in model.init(make_rng(0), np.float64).items()}
    x = rng.uniform(0, 1, (2, *MNIST))

    def conv(x, w, b):
        windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))
        return np.einsum("ncijab,ocab->noij", windows, w) + b[None, :, None, None]

    def pool(x):
        n, c, h, w = x.shape
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

    h = pool(np.tanh(conv(x, p["conv1.weight"], p["conv1.bias"])))
    h = pool(np.tanh(conv(h, p["conv2.weight"], p["conv2.bias"])))
    h = np.tanh(h.reshape(2, -1) @ p["dense1.weight"] + p["dense1.bias"])
    np.testing.assert_allclose(model.represent(p, x), h, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.apply(p, x), h @ p["dense2.weight"] + p["dense2.bias"],
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, low, high", [("mlp-sigmoid-600-600", 0.0, 1.0),
                                             ("lenet-tanh-100", -1.0, 1.0), ("lenet", 0.0, None)])
def test_representation_activation(name, low, high):
    model = nn.build(name, MNIST)
    params = model.init(make_rng(0))
    h = model.represent(params, np.random.default_rng(6).normal(size=(4, *MNIST)))
    assert np.all(h >= low) and (high is None or np.all(h <= high))


def test_paper_004_init_is_uniform_007():
    params = nn.build("mlp-100-100", MNIST).init(make_rng(0))
    w = params["dense1.weight"]
    assert np.max(np.abs(w)) <= 0.07 and np.max(np.abs(w)) > 0.069
    assert abs(np.var(w) / (0.07 ** 2 / 3) - 1) < 0.05


def test_noise_hook_sees_every_hidden_activation_in_training_only():
    model = nn.build("lenet", MNIST)  # activations: relu1, relu2 (conv), relu3 (FC 400)
    params = model.init(make_rng(0))
    x = np.random.default_rng(7).uniform(0, 1, (2, *MNIST)).astype(np.float32)
    seen = []

    def noise(h):
        seen.append(tuple(h.shape))
        return h * 2.0
    assert np.array_equal(model.apply(params, x, noise=noise), model.apply(params, x))
    assert seen == []  # evaluation mode: no noise
    doubled = model.apply(params, x, train=True, rng=make_rng(0), noise=noise)
    assert seen == [(2, 32, 24, 24), (2, 64, 8, 8), (2, 400)]
    scaled = dict(params)  # doubling h is the same as doubling the next layer's weights
    for key in ("conv2.weight", "dense1.weight", "dense2.weight"):
        scaled[key] = params[key] * 2.0
    np.testing.assert_allclose(doubled, model.apply(scaled, x), rtol=1e-5)


@pytest.mark.parametrize("name", ["mlp-200-200-dropout", "mlp-400-400-dropout",
                                  "lenet-dropout-50", "lenet-tanh-400-dropout"])
def test_dropout_models(name):
    model = nn.build(name, MNIST)
    params = model.init(make_rng(0))
    x = np.random.default_rng(7).uniform(0, 1, (3, *MNIST)).astype(np.float32)
    evaluation = model.apply(params, x)
    np.testing.assert_array_equal(model.apply(params, x, train=False, rng=make_rng(1)), evaluation)
    first = model.apply(params, x, train=True, rng=make_rng(1))
    assert not np.allclose(first, evaluation)
    np.testing.assert_array_equal(model.apply(params, x, train=True, rng=make_rng(1)), first)
    with pytest.raises(ValueError, match="rng"):
        model.apply(params, x, train=True)


def test_init_follows_the_seed_and_dtype(xp):
    model = nn.build("lenet-tanh-100", MNIST)
    a, b, c = (model.init(make_rng(s, xp)) for s in (0, 0, 1))
    assert all(np.array_equal(to_numpy(a[k]), to_numpy(b[k])) for k in a)
    assert not np.array_equal(to_numpy(a["conv1.weight"]), to_numpy(c["conv1.weight"]))
    assert all(v.dtype == xp.float64 for v in model.init(make_rng(0, xp), xp.float64).values())


def test_model_gradients_check(xp):
    """A small CNN model: d/dparams and d/dx of its logits against central differences."""
    model = nn.Model("tiny", (2, 6, 6),
                     [nn.Conv2d(3, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten()],
                     [nn.Dense(4, init="glorot"), nn.Sigmoid(), nn.Dense(3)])
    rng = np.random.default_rng(8)
    params = {k: rand(xp, rng, tuple(v.shape)) for k, v in
              model.init(make_rng(0, xp), xp.float64).items()}
    assert sorted(params) == ["conv1.bias", "conv1.weight", "dense1.bias", "dense1.weight",
                              "dense2.bias", "dense2.weight"]
    x = rand(xp, rng, (3, 2, 6, 6))
    check_grads(lambda p, x: model.apply(p, x), (params, x))


def test_unknown_name_lists_the_models():
    with pytest.raises(ValueError, match="unknown name 'resnet'") as info:
        nn.build("resnet", CIFAR)
    for name in nn.MODELS:
        assert name in str(info.value)


@pytest.mark.parametrize("shape", [(2, 784), (2, 1, 28, 27), (2, 3, 28, 28)])
def test_wrong_input_shape(shape):
    model = nn.build("mlp-100-100", MNIST)
    params = model.init(make_rng(0))
    with pytest.raises(ValueError, match=r"expected inputs \(N, 1, 28, 28\)"):
        model.apply(params, np.zeros(shape, dtype=np.float32))


def test_input_too_small_for_a_cnn():
    with pytest.raises(ValueError, match="does not fit"):
        nn.build("lenet", (1, 8, 8)).init(make_rng(0))


def _plain_order(model, params, x, **kw):
    """model.apply with every layer in its listed order (no ReLU / max-pool swap)."""
    from refimpl.nn import models  # noqa: PLC0415

    def listed(layers, *, pool_first=True):
        return list(range(len(layers)))
    saved = models.execution_order
    models.execution_order = listed
    try:
        return model.apply(params, x, **kw)
    finally:
        models.execution_order = saved


@pytest.mark.parametrize("name, ties", [("lenet", "share"), ("lenet", "first"),
                                        ("shaham-cnn", "share"), ("vgg-40-80", "share")])
def test_pooling_before_relu_changes_no_value_or_gradient(name, ties):
    # max-pool and ReLU commute (values and gradients, ties included): the swapped order
    # must be bitwise the listed one, forward and backward, on inputs with many ties
    from refimpl.autodiff import value_and_grad  # noqa: PLC0415
    from refimpl.nn import models  # noqa: PLC0415
    shape = (3, 32, 32) if name.startswith("vgg") else MNIST
    model = nn.build(name, shape)
    for layer in model.representation.layers:
        if isinstance(layer, nn.layers.MaxPool2d):
            layer.ties = ties
    order = models.execution_order(model.representation.layers)
    assert order != sorted(order)  # the swap does happen here
    params = model.init(make_rng(0))
    x = np.random.default_rng(3).uniform(0, 1, (2, *shape)).astype(np.float32)
    x[:, :, :8, :] = 0.0  # blank rows: windows that tie (at the conv bias) after the first conv
    params = {k: (v + 0.05 if k.endswith("bias") else v) for k, v in params.items()}
    y = np.array([1, 7])

    def loss(p, z, plain):
        logits = _plain_order(model, p, z) if plain else model.apply(p, z)
        return nn.cross_entropy(logits, y)
    fast = value_and_grad(lambda p, z: loss(p, z, False), argnum=(0, 1))(params, x)
    plain = value_and_grad(lambda p, z: loss(p, z, True), argnum=(0, 1))(params, x)
    assert np.array_equal(to_numpy(fast[0]), to_numpy(plain[0]))
    for key in params:
        assert np.array_equal(to_numpy(fast[1][0][key]), to_numpy(plain[1][0][key])), key
    assert np.array_equal(to_numpy(fast[1][1]), to_numpy(plain[1][1]))


def test_a_noise_hook_sees_relu_before_pooling():
    from refimpl.nn import models  # noqa: PLC0415
    layers = nn.build("lenet", MNIST).representation.layers
    assert models.execution_order(layers, pool_first=False) == list(range(len(layers)))


def test_a_training_step_records_one_op_per_layer_and_one_for_the_loss():
    # the graph a training step builds: linear (weight and bias in one op), relu, linear, and
    # the batch loss as one op (not losses, sum and scale); a ReLU before a max-pool runs after
    from refimpl.autodiff._tree import box
    from refimpl.tracer import new_trace
    rng = np.random.default_rng(0)

    def recorded(model, x):
        params = model.init(make_rng(0))
        out = nn.cross_entropy_unchecked(
            model.apply(box(params, new_trace(), "params", []), x, train=True),
            np.array([0, 2]))
        seen, stack, names = set(), [out.node], []
        while stack:
            node = stack.pop()
            if id(node) not in seen and node.fun is not None:
                seen.add(id(node))
                inputs = sorted(p.fun.__name__ for p in node.parents if p.fun is not None)
                names.append((node.fun.__name__, *inputs))
                stack.extend(node.parents)
        return sorted(names)
    mlp = nn.Model("mlp", (5,), [nn.Dense(4), nn.ReLU()], [nn.Dense(3)])
    assert recorded(mlp, rng.normal(size=(2, 5)).astype(np.float32)) == [
        ("linear",), ("linear", "relu"), ("mean_softmax_cross_entropy", "linear"),
        ("relu", "linear")]
    cnn = nn.Model("cnn", (1, 6, 6), [nn.Conv2d(2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()],
                   [nn.Dense(3)])
    assert recorded(cnn, rng.normal(size=(2, 1, 6, 6)).astype(np.float32)) == [
        ("conv_windows",), ("linear", "reshape"), ("max_pool", "conv_windows"),
        ("mean_softmax_cross_entropy", "linear"), ("relu", "max_pool"), ("reshape", "relu")]
