"""Layers: parameter shapes and dtypes, declared output shapes, values against plain NumPy,
gradients against central differences (and HIPS autograd), dropout's statistics, and errors."""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from conftest import assert_namespace, distinct, rand
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from refimpl import nn, ops
from refimpl.autodiff import check_grads, grad
from refimpl.backend import make_rng, to_numpy


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def np_windows(x, kernel, stride, padding):
    """(N, C, OH, OW, KH, KW) windows of the zero-padded x, by NumPy's sliding_window_view."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    return sliding_window_view(xpad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def np_conv2d(x, weight, bias, stride, padding):
    windows = np_windows(x, weight.shape[2:], stride, padding)
    return np.einsum("ncijab,ocab->noij", windows, weight) + bias[None, :, None, None]


def np_max_pool2d(x, kernel, stride, padding):
    return np_windows(x, kernel, kernel if stride is None else stride, padding).max(axis=(4, 5))


def np_max_pool2d_ceil(x, kernel, stride, padding):
    """ceil_mode: the zero-padded x framed at the bottom and right with -inf up to the last
    window."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel), _pair(stride), _pair(padding)
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (ops.pool_output_size(n, k, s, p, True) for n, k, s, p
              in ((x.shape[2], kh, sh, ph), (x.shape[3], kw, sw, pw)))
    extra = ((0, 0), (0, 0), (0, (oh - 1) * sh + kh - xpad.shape[2]),
             (0, (ow - 1) * sw + kw - xpad.shape[3]))
    return np_max_pool2d(np.pad(xpad, extra, constant_values=-np.inf), kernel, stride, 0)


def np_maxout(x, pieces):
    n, f = x.shape[:2]
    return x.reshape((n, f // pieces, pieces) + x.shape[2:]).max(axis=2)


# id -> (layer, per-example input shape, NumPy reference (params, x) -> y, expected output shape,
#        expected parameter shapes, whether inputs must avoid kinks)
CASES = {
    "dense": (nn.Dense(5), (7,), lambda p, x: x @ p["weight"] + p["bias"], (5,),
              {"weight": (7, 5), "bias": (5,)}, False),
    "dense-no-bias": (nn.Dense(3, bias=False), (4,), lambda p, x: x @ p["weight"], (3,),
                      {"weight": (4, 3)}, False),
    "conv": (nn.Conv2d(4, 3), (2, 6, 5),
             lambda p, x: np_conv2d(x, p["weight"], p["bias"], 1, 0), (4, 4, 3),
             {"weight": (4, 2, 3, 3), "bias": (4,)}, False),
    "conv-stride-pad": (nn.Conv2d(3, (3, 2), stride=2, padding=1), (2, 7, 6),
                        lambda p, x: np_conv2d(x, p["weight"], p["bias"], 2, 1), (3, 4, 4),
                        {"weight": (3, 2, 3, 2), "bias": (3,)}, False),
    "conv-stride-pad-pairs": (nn.Conv2d(2, 2, stride=(1, 2), padding=(0, 1)), (3, 5, 5),
                              lambda p, x: np_conv2d(x, p["weight"], p["bias"], (1, 2), (0, 1)),
                              (2, 4, 3), {"weight": (2, 3, 2, 2), "bias": (2,)}, False),
    "conv-untied-bias": (nn.Conv2d(3, 3, padding=1, tied_bias=False), (2, 5, 4),
                         lambda p, x: np_conv2d(x, p["weight"], np.zeros(3), 1, 1) + p["bias"],
                         (3, 5, 4), {"weight": (3, 2, 3, 3), "bias": (3, 5, 4)}, False),
    "pool": (nn.MaxPool2d(2), (3, 4, 6), lambda p, x: np_max_pool2d(x, 2, None, 0), (3, 2, 3),
             {}, True),
    "pool-overlap": (nn.MaxPool2d(3, stride=2), (2, 7, 8),
                     lambda p, x: np_max_pool2d(x, 3, 2, 0), (2, 3, 3), {}, True),
    "pool-pad": (nn.MaxPool2d(2, stride=2, padding=1), (2, 5, 5),
                 lambda p, x: np_max_pool2d(x, 2, 2, 1), (2, 3, 3), {}, True),
    "pool-ceil": (nn.MaxPool2d(4, stride=2, ceil_mode=True), (2, 9, 7),
                  lambda p, x: np_max_pool2d_ceil(x, 4, 2, 0), (2, 4, 3), {}, True),
    "pool-ceil-pad": (nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 6, 6),
                      lambda p, x: np_max_pool2d_ceil(x, 3, 2, 1), (2, 4, 4), {}, True),
    "flatten": (nn.Flatten(), (2, 3, 4), lambda p, x: x.reshape(x.shape[0], -1), (24,), {}, False),
    "dropout-eval": (nn.Dropout(0.5), (6,), lambda p, x: x, (6,), {}, False),
    "relu": (nn.ReLU(), (2, 3, 3), lambda p, x: np.maximum(x, 0.0), (2, 3, 3), {}, True),
    "sigmoid": (nn.Sigmoid(), (7,), lambda p, x: 1.0 / (1.0 + np.exp(-x)), (7,), {}, False),
    "tanh": (nn.Tanh(), (7,), lambda p, x: np.tanh(x), (7,), {}, False),
    "maxout": (nn.Maxout(3), (9,), lambda p, x: np_maxout(x, 3), (3,), {}, True),
    "maxout-channels": (nn.Maxout(2), (4, 3, 3), lambda p, x: np_maxout(x, 2), (2, 3, 3), {}, True),
}


def _input(xp, rng, case, n=3):
    layer, in_shape, _, _, _, kinks = CASES[case]
    draw = distinct if kinks else rand
    return draw(xp, rng, (n, *in_shape))


def _random_params(xp, rng, params):
    """Replace init's values (zero biases) by random float64 ones of the same shapes."""
    return {k: rand(xp, rng, tuple(v.shape)) for k, v in params.items()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
def test_init_shapes_and_dtypes(xp, case, dtype):
    layer, in_shape, _, out_shape, param_shapes, _ = CASES[case]
    params, shape = layer.init(make_rng(0, xp), in_shape, getattr(xp, dtype))
    assert shape == out_shape
    assert {k: tuple(v.shape) for k, v in params.items()} == param_shapes
    for value in params.values():
        assert_namespace(value, xp)
        assert value.dtype == getattr(xp, dtype)
    if "bias" in params:  # biases start at zero, weights do not
        assert np.all(to_numpy(params["bias"]) == 0)
        assert np.any(to_numpy(params["weight"]) != 0)


@pytest.mark.parametrize("case", list(CASES))
def test_apply_matches_numpy(xp, case):
    layer, in_shape, reference, out_shape, _, _ = CASES[case]
    rng = np.random.default_rng(1)
    params, shape = layer.init(make_rng(0, xp), in_shape, xp.float64)
    params = _random_params(xp, rng, params)
    x = _input(xp, rng, case)
    y = layer.apply(params, x)
    assert_namespace(y, xp)
    assert y.dtype == xp.float64
    assert tuple(y.shape) == (3, *shape)
    expected = reference({k: to_numpy(v) for k, v in params.items()}, to_numpy(x))
    np.testing.assert_allclose(to_numpy(y), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_check(xp, case):
    """d/dparams and d/dx together, along random directions, in float64."""
    layer, in_shape, _, _, _, _ = CASES[case]
    rng = np.random.default_rng(2)
    params, _ = layer.init(make_rng(0, xp), in_shape, xp.float64)
    params = _random_params(xp, rng, params)
    x = _input(xp, rng, case)
    if params:
        check_grads(lambda p, x: layer.apply(p, x), (params, x))
    else:
        check_grads(lambda x: layer.apply({}, x), (x,))


def test_float32_in_float32_out(xp):
    model = nn.Sequential([nn.Conv2d(2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                           nn.Dense(4), nn.Tanh(), nn.Maxout(2), nn.Sigmoid()])
    params, shape = model.init(make_rng(0, xp), (1, 4, 4), xp.float32)
    y = model.apply(params, xp.asarray(np.ones((2, 1, 4, 4), dtype=np.float32)))
    assert_namespace(y, xp)
    assert y.dtype == xp.float32 and tuple(y.shape) == (2, *shape) == (2, 2)


def test_stack_gradients_agree_with_autograd():
    """A small conv net's gradient in its parameters and input, against HIPS autograd."""
    rng = np.random.default_rng(3)
    stack = nn.Sequential([nn.Conv2d(3, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(),
                           nn.Dense(6), nn.Maxout(2), nn.Dense(2), nn.Sigmoid()])
    params, _ = stack.init(make_rng(0), (2, 5, 5), np.float64)
    params = {k: rng.normal(0.0, 0.5, size=v.shape) for k, v in params.items()}
    x = rng.normal(size=(4, 2, 5, 5))
    weights = rng.normal(size=(4, 2))

    def ours(params, x):
        return ops.sum(ops.multiply(stack.apply(params, x), weights))

    def theirs(params, x):
        xpad = anp.concatenate([anp.zeros((4, 2, 1, 5)), x, anp.zeros((4, 2, 1, 5))], axis=2)
        xpad = anp.concatenate([anp.zeros((4, 2, 7, 1)), xpad, anp.zeros((4, 2, 7, 1))], axis=3)
        w = params["conv1.weight"]
        h = sum(anp.einsum("nchw,oc->nohw", xpad[:, :, a:a + 5:2, b:b + 5:2], w[:, :, a, b])
                for a in range(3) for b in range(3))
        h = anp.tanh(h + params["conv1.bias"][None, :, None, None])
        h = anp.dot(anp.reshape(h, (4, -1)), params["dense1.weight"]) + params["dense1.bias"]
        h = anp.max(anp.reshape(h, (4, 3, 2)), axis=2)
        h = anp.dot(h, params["dense2.weight"]) + params["dense2.bias"]
        return anp.sum(weights / (1.0 + anp.exp(-h)))

    np.testing.assert_allclose(float(ours(params, x)), theirs(params, x), rtol=1e-12)
    for argnum in (0, 1):
        mine, oracle = grad(ours, argnum)(params, x), autograd.grad(theirs, argnum)(params, x)
        if argnum == 1:
            mine, oracle = {"x": mine}, {"x": oracle}
        assert list(mine) == list(oracle)
        for key in oracle:
            assert np.any(oracle[key] != 0), key
            np.testing.assert_allclose(mine[key], oracle[key], rtol=1e-9, atol=1e-12, err_msg=key)


# ---- dropout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_dropout_in_training(xp, rate):
    layer = nn.Dropout(rate)
    x = xp.asarray(np.full((200, 500), 3.0, dtype=np.float32))
    y = to_numpy(layer.apply({}, x, train=True, rng=make_rng(0, xp)))
    assert y.dtype == np.float32 and y.shape == (200, 500)
    dropped = y == 0
    assert abs(dropped.mean() - rate) < 0.01  # 100,000 draws: a standard error below 0.002
    np.testing.assert_allclose(y[~dropped], 3.0 / (1.0 - rate), rtol=1e-6)  # survivors rescaled
    assert abs(y.mean() - 3.0) < 0.05 * 3.0 / (1.0 - rate)  # the mean is kept


def test_dropout_is_the_identity_in_evaluation(xp):
    x = rand(xp, np.random.default_rng(4), (5, 6))
    for rng in (None, make_rng(0, xp)):
        assert np.array_equal(to_numpy(nn.Dropout(0.5).apply({}, x, train=False, rng=rng)),
                              to_numpy(x))
    assert np.array_equal(to_numpy(nn.Dropout(0.0).apply({}, x, train=True)), to_numpy(x))


def test_dropout_masks_follow_the_seed(xp):
    layer, x = nn.Dropout(0.5), xp.ones((20, 30))
    first = to_numpy(layer.apply({}, x, train=True, rng=make_rng(7, xp)))
    again = to_numpy(layer.apply({}, x, train=True, rng=make_rng(7, xp)))
    other = to_numpy(layer.apply({}, x, train=True, rng=make_rng(8, xp)))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_dropout_needs_an_rng_in_training():
    with pytest.raises(ValueError, match="rng"):
        nn.Dropout(0.5).apply({}, np.ones((2, 3)), train=True)


def test_dropout_gradient_is_the_mask(xp):
    """The mask is a constant of the step: d/dx sum(dropout(x) * u) = mask * u."""
    layer, rng = nn.Dropout(0.3), np.random.default_rng(5)
    x, u = rand(xp, rng, (6, 8)), rand(xp, rng, (6, 8))
    mask = to_numpy(layer.apply({}, xp.ones((6, 8), dtype=xp.float64), train=True,
                                rng=make_rng(1, xp)))
    g = grad(lambda x: ops.sum(ops.multiply(layer.apply({}, x, train=True, rng=make_rng(1, xp)),
                                            u)))(x)
    assert_namespace(g, xp)
    np.testing.assert_allclose(to_numpy(g), mask * to_numpy(u), rtol=1e-12)
    check_grads(lambda x: layer.apply({}, x, train=True, rng=make_rng(1, xp)), (x,))


# ---- errors ----------------------------------------------------------------------------------


def test_dense_rejects_unflattened_input():
    with pytest.raises(ValueError, match="Flatten"):
        nn.Dense(3).init(make_rng(0), (1, 4, 4), np.float32)


@pytest.mark.parametrize("layer, in_shape", [
    (nn.Conv2d(2, 5), (1, 4, 4)), (nn.Conv2d(2, (2, 6)), (1, 8, 5)),
    (nn.Conv2d(2, 5, stride=2), (1, 3, 9)), (nn.MaxPool2d(3), (2, 2, 5))], ids=str)
def test_kernel_bigger_than_input(layer, in_shape):
    with pytest.raises(ValueError, match="does not fit"):
        layer.init(make_rng(0), in_shape, np.float32)


def test_padding_lets_a_kernel_fit():
    _, shape = nn.Conv2d(2, 5, padding=1).init(make_rng(0), (1, 3, 3), np.float32)
    assert shape == (2, 1, 1)


def test_conv_rejects_flat_input():
    with pytest.raises(ValueError, match="images"):
        nn.Conv2d(2, 3).init(make_rng(0), (16,), np.float32)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_bad_dropout_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(rate)


@pytest.mark.parametrize("pieces", [0, -2, 2.0])
def test_bad_maxout_pieces(pieces):
    with pytest.raises(ValueError, match="pieces"):
        nn.Maxout(pieces)


def test_maxout_features_must_split():
    with pytest.raises(ValueError, match="groups of 3"):
        nn.Maxout(3).init(make_rng(0), (10,), np.float32)


@pytest.mark.parametrize("make", [lambda: nn.Dense(0), lambda: nn.Dense(2.5),
                                  lambda: nn.Conv2d(2, (3, 3, 3)), lambda: nn.Conv2d(2, -1),
                                  lambda: nn.MaxPool2d(2, stride=(1,)),
                                  lambda: nn.Dense(2, init="nope")])
def test_bad_hyper_parameters(make):
    with pytest.raises(ValueError):
        make()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2), st.booleans())
def test_declared_shape_is_the_applied_shape(h, w, kh, kw, sh, sw, ph, pw, pool):
    """For any window that fits, init's declared shape is what apply returns, and it equals
    NumPy's windows; a window that does not fit is refused at init."""
    if pool:
        ph, pw = min(ph, kh // 2), min(pw, kw // 2)  # pooling pads at most half a window
        layer = nn.MaxPool2d((kh, kw), stride=(sh, sw), padding=(ph, pw))
    else:
        layer = nn.Conv2d(2, (kh, kw), stride=(sh, sw), padding=(ph, pw))
    fits = h + 2 * ph >= kh and w + 2 * pw >= kw
    if not fits:
        with pytest.raises(ValueError, match="does not fit"):
            layer.init(make_rng(0), (3, h, w), np.float64)
        return
    params, shape = layer.init(make_rng(0), (3, h, w), np.float64)
    x = np.random.default_rng(0).normal(size=(2, 3, h, w))
    y = layer.apply(params, x)
    expected = (np_max_pool2d(x, (kh, kw), (sh, sw), (ph, pw)) if pool else
                np_conv2d(x, params["weight"], params["bias"], (sh, sw), (ph, pw)))
    assert y.shape == (2, *shape) == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)
