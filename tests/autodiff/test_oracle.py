"""Gradients against HIPS autograd, an independent reverse mode, in float64 (NumPy only).

The same MLP and CNN losses are written twice: with refimpl.ops, and with autograd.numpy
(its own naive convolution from shifted slices, and pooling by reshape and max).
"""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.scipy.special import logsumexp as anp_logsumexp

from refimpl import ops
from refimpl.autodiff import grad

RTOL = 1e-6


def assert_trees_close(ours, theirs):
    """Equal gradients (arrays or dicts of arrays), none of them trivially zero."""
    if not isinstance(theirs, dict):
        ours, theirs = {"": ours}, {"": theirs}
    assert list(ours) == list(theirs)
    for key in theirs:
        assert np.any(theirs[key] != 0), f"the oracle's gradient {key} is zero: a useless test"
        np.testing.assert_allclose(ours[key], theirs[key], rtol=RTOL, atol=1e-12, err_msg=key)


def anp_cross_entropy(logits, labels):
    log_probs = logits - anp_logsumexp(logits, axis=1, keepdims=True)
    return -anp.mean(log_probs[np.arange(logits.shape[0]), labels])


def mlp_params(rng, sizes=(6, 8, 7, 4)):
    """An MLP D=6 -> 8 -> 7 -> K=4 with two hidden layers."""
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"dense{i}.weight"] = rng.normal(0, 1 / np.sqrt(n_in), size=(n_in, n_out))
        params[f"dense{i}.bias"] = rng.normal(0, 0.1, size=(n_out,))
    return params


def mlp_loss(params, x, labels, activation):
    h = x
    for i in (1, 2):
        h = activation(ops.matmul(h, params[f"dense{i}.weight"]) + params[f"dense{i}.bias"])
    logits = ops.matmul(h, params["dense3.weight"]) + params["dense3.bias"]
    return ops.mean(ops.softmax_cross_entropy(logits, labels))


def anp_mlp_loss(params, x, labels, activation):
    h = x
    for i in (1, 2):
        h = activation(anp.dot(h, params[f"dense{i}.weight"]) + params[f"dense{i}.bias"])
    return anp_cross_entropy(anp.dot(h, params["dense3.weight"]) + params["dense3.bias"], labels)


ACTIVATIONS = {"tanh": (ops.tanh, anp.tanh), "relu": (ops.relu, lambda z: anp.maximum(z, 0.0))}


@pytest.fixture
def mlp_data():
    rng = np.random.default_rng(0)
    return mlp_params(rng), rng.normal(size=(10, 6)), rng.integers(0, 4, size=10)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("argnum", [0, 1], ids=["params", "inputs"])
def test_mlp_gradients(mlp_data, activation, argnum):
    params, x, labels = mlp_data
    ours_act, their_act = ACTIVATIONS[activation]
    ours = grad(mlp_loss, argnum)(params, x, labels, ours_act)
    theirs = autograd.grad(anp_mlp_loss, argnum)(params, x, labels, their_act)
    assert_trees_close(ours, theirs)


def test_mlp_double_backprop(mlp_data):
    """d/dparams of ||grad_x loss||_2, the gradient-norm penalty (second derivatives of tanh)."""
    params, x, labels = mlp_data

    def penalty(params):
        g = grad(mlp_loss, 1)(params, x, labels, ops.tanh)
        return ops.sqrt(ops.sum(ops.square(g)))

    def anp_penalty(params):
        g = autograd.grad(anp_mlp_loss, 1)(params, x, labels, anp.tanh)
        return anp.sqrt(anp.sum(g ** 2))
    np.testing.assert_allclose(float(penalty(params)), anp_penalty(params), rtol=1e-12)
    assert_trees_close(grad(penalty)(params), autograd.grad(anp_penalty)(params))


def cnn_params(rng):
    """conv 3x3 pad 1, relu, pool 2, conv 3x3, relu, pool 2 (stride 1), flatten, dense."""
    return {"conv1.weight": rng.normal(0, 0.4, size=(4, 2, 3, 3)),
            "conv1.bias": rng.normal(0, 0.1, size=4),
            "conv2.weight": rng.normal(0, 0.3, size=(5, 4, 3, 3)),
            "conv2.bias": rng.normal(0, 0.1, size=5),
            "dense.weight": rng.normal(0, 0.3, size=(5 * 2 * 2, 3)),
            "dense.bias": rng.normal(0, 0.1, size=3)}


def cnn_loss(params, x, labels):
    h = ops.relu(ops.conv2d(x, params["conv1.weight"], params["conv1.bias"], padding=1))
    h = ops.max_pool2d(h, 2)  # (N, 4, 5, 5)
    h = ops.relu(ops.conv2d(h, params["conv2.weight"], params["conv2.bias"]))  # (N, 5, 3, 3)
    h = ops.max_pool2d(h, 2, stride=1)  # (N, 5, 2, 2): overlapping windows, the im2col path
    logits = ops.matmul(ops.flatten(h), params["dense.weight"]) + params["dense.bias"]
    return ops.mean(ops.softmax_cross_entropy(logits, labels))


def anp_conv2d(x, weight, bias, padding=0):
    """A direct convolution: one einsum per kernel offset over a shifted slice of the input."""
    if padding:
        n, c, h, w = x.shape
        zeros_h = anp.zeros((n, c, padding, w))
        x = anp.concatenate([zeros_h, x, zeros_h], axis=2)
        zeros_w = anp.zeros((n, c, h + 2 * padding, padding))
        x = anp.concatenate([zeros_w, x, zeros_w], axis=3)
    kh, kw = weight.shape[2:]
    oh, ow = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    out = 0.0
    for a in range(kh):
        for b in range(kw):
            out = out + anp.einsum("nchw,oc->nohw", x[:, :, a:a + oh, b:b + ow], weight[:, :, a, b])
    return out + bias[None, :, None, None]


def anp_max_pool(x, size, stride):
    if stride == size:  # tiles: reshape and max
        n, c, h, w = x.shape
        return anp.max(anp.reshape(x, (n, c, h // size, size, w // size, size)), axis=(3, 5))
    oh, ow = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    shifted = [x[:, :, a:a + stride * (oh - 1) + 1:stride, b:b + stride * (ow - 1) + 1:stride]
               for a in range(size) for b in range(size)]
    return anp.max(anp.stack(shifted), axis=0)


def anp_cnn_loss(params, x, labels):
    h = anp.maximum(anp_conv2d(x, params["conv1.weight"], params["conv1.bias"], padding=1), 0.0)
    h = anp_max_pool(h, 2, 2)
    h = anp.maximum(anp_conv2d(h, params["conv2.weight"], params["conv2.bias"]), 0.0)
    h = anp_max_pool(h, 2, 1)
    flat = anp.reshape(h, (h.shape[0], -1))
    logits = anp.dot(flat, params["dense.weight"]) + params["dense.bias"]
    return anp_cross_entropy(logits, labels)


@pytest.mark.parametrize("argnum", [0, 1], ids=["params", "inputs"])
def test_cnn_gradients(argnum):
    rng = np.random.default_rng(1)
    params, x, labels = cnn_params(rng), rng.normal(size=(3, 2, 10, 10)), rng.integers(0, 3, size=3)
    np.testing.assert_allclose(float(cnn_loss(params, x, labels)), anp_cnn_loss(params, x, labels),
                               rtol=1e-12)
    ours = grad(cnn_loss, argnum)(params, x, labels)
    theirs = autograd.grad(anp_cnn_loss, argnum)(params, x, labels)
    assert_trees_close(ours, theirs)
