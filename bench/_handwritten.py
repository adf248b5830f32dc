"""Hand-written NumPy training steps: the baselines that ``autodiff_overhead.py`` races.

Each function computes the loss and the gradients the way a competent NumPy programmer would
without an autodiff: the forward pass keeps exactly the activations the backward pass needs,
the softmax cross-entropy backward is fused (``softmax - one_hot``), ReLU runs in place and
its backward is a mask, and the SGD update writes into the gradient buffers instead of
allocating ``lr * g`` and ``p - lr * g``.

The convolutional network works channels-last (NHWC) internally, because then the GEMM of a
convolution produces its output directly, without a transpose: an ``(N*OH*OW, O)`` matrix is
an ``(N, OH, OW, O)`` image. Windows are ordered (KH, KW, C) so that ``col2im`` adds
contiguous runs of C channels; the weights (O, C, KH, KW) are reordered to match (they are
small). Parameters and gradients keep refimpl's layouts and names, so both sides of the
benchmark take and return the same dicts.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["softmax_cross_entropy", "mlp_loss_and_grads", "mlp_input_grad",
           "cnn_loss_and_grads", "sgd_update"]


# --------------------------------------------------------------------------- shared pieces

def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of (N, K) logits against (N,) integer labels, and d loss / d logits.

    The gradient is ``(softmax(logits) - one_hot(labels)) / N``, computed in the buffer of the
    shifted logits. ``logits`` is not modified.
    """
    n = logits.shape[0]
    rows = np.arange(n)
    z = logits - logits.max(axis=1, keepdims=True)
    picked = z[rows, labels]
    np.exp(z, out=z)
    total = z.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(total[:, 0]) - picked)
    z /= total
    z[rows, labels] -= 1.0
    z *= 1.0 / n
    return loss, z


def _dense(x, weight, bias, relu):
    """x @ weight + bias, with the ReLU applied in place when ``relu``."""
    out = x @ weight
    out += bias
    if relu:
        np.maximum(out, 0.0, out=out)
    return out


def _relu_backward(g, activation):
    """g *= (activation > 0), in place: ReLU's output is positive exactly where it passes."""
    np.multiply(g, activation > 0, out=g)
    return g


def sgd_update(params, grads, lr):
    """A new params dict ``p - lr * g``, written into the gradient buffers (no temporaries).

    The old params are left untouched; ``grads`` must not be used afterwards.
    """
    new = {}
    for name, p in params.items():
        g = grads[name]
        g *= -lr
        g += p
        new[name] = g
    return new


# --------------------------------------------------------------------------- the MLP

_MLP_LAYERS = ("dense1", "dense2", "dense3")


def _mlp_forward(params, x):
    """Activations of the MLP: [x, h1, h2, ..., logits]."""
    acts = [x]
    for i, name in enumerate(_MLP_LAYERS):
        acts.append(_dense(acts[-1], params[f"{name}.weight"], params[f"{name}.bias"],
                           relu=i < len(_MLP_LAYERS) - 1))
    return acts


def mlp_loss_and_grads(params, x, labels):
    """Loss and the gradient of every parameter of the ReLU MLP, by hand."""
    acts = _mlp_forward(params, x)
    loss, g = softmax_cross_entropy(acts[-1], labels)
    grads = {}
    for i in reversed(range(len(_MLP_LAYERS))):
        name, inputs = _MLP_LAYERS[i], acts[i]
        grads[f"{name}.weight"] = inputs.T @ g
        grads[f"{name}.bias"] = g.sum(axis=0)
        if i > 0:  # the input gradient of the first layer is not needed
            g = _relu_backward(g @ params[f"{name}.weight"].T, inputs)
    return loss, grads


def mlp_input_grad(params, x, labels):
    """d loss / d x (the FGSM direction): the same backward pass without weight gradients."""
    acts = _mlp_forward(params, x)
    _, g = softmax_cross_entropy(acts[-1], labels)
    for i in reversed(range(len(_MLP_LAYERS))):
        g = g @ params[f"{_MLP_LAYERS[i]}.weight"].T
        if i > 0:
            _relu_backward(g, acts[i])
    return g


# --------------------------------------------------------------------------- the CNN

def _im2col(x, k):
    """Windows of an NHWC image: (N, H, W, C) -> (N*OH*OW, KH*KW*C), each row (kh, kw, c).

    ``sliding_window_view`` is free (a strided view); the reshape is the one copy.
    """
    n, h, w, c = x.shape
    windows = sliding_window_view(x, (k, k), axis=(1, 2))  # (N, OH, OW, C, KH, KW)
    windows = windows.transpose(0, 1, 2, 4, 5, 3)  # (N, OH, OW, KH, KW, C)
    return windows.reshape(n * (h - k + 1) * (w - k + 1), k * k * c)


def _col2im(cols, shape, k):
    """Adjoint of :func:`_im2col`: add every window row back into an (N, H, W, C) image."""
    n, h, w, c = shape
    oh, ow = h - k + 1, w - k + 1
    cols = cols.reshape(n, oh, ow, k, k, c)
    out = np.zeros(shape, dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, i:i + oh, j:j + ow, :] += cols[:, :, :, i, j, :]
    return out


def _conv_matrix(weight):
    """Conv weight (O, C, KH, KW) -> (KH*KW*C, O), matching the window rows of _im2col."""
    return weight.transpose(2, 3, 1, 0).reshape(-1, weight.shape[0])


def _conv_weight_grad(cols, g, weight_shape):
    """d loss / d weight in refimpl's layout (O, C, KH, KW) from windows and output grads."""
    o, c, kh, kw = weight_shape
    dw = cols.T @ g  # (KH*KW*C, O)
    return np.ascontiguousarray(dw.reshape(kh, kw, c, o).transpose(3, 2, 0, 1))


def _tiles(x):
    """(N, H, W, C) -> (N, H/2, 2, W/2, 2, C), a view: the 2x2 pooling windows."""
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c)


def _max_pool2(x):
    """2x2 max-pooling with stride 2 of an NHWC image.

    The max of the four strided corners is about 4x faster than ``_tiles(x).max(axis=(2, 4))``,
    a reduction whose inner loops are only two elements long.
    """
    t = _tiles(x)
    return np.maximum(np.maximum(t[:, :, 0, :, 0], t[:, :, 0, :, 1]),
                      np.maximum(t[:, :, 1, :, 0], t[:, :, 1, :, 1]))


def _relu_max_pool2_backward(activation, pooled, g):
    """Gradient through ReLU then 2x2 max-pooling, from ``g`` shaped like ``pooled``.

    The gradient goes to the entries equal to their window's max; ReLU's mask folds in at the
    pooled size (the max is positive iff the winning entry is). Windows that tie on a positive
    value would pass the gradient to every tied entry (refimpl shares it); with real-valued
    data they do not occur.
    """
    g = g * (pooled > 0)
    winners = _tiles(activation) == pooled[:, :, None, :, None, :]
    return (winners * g[:, :, None, :, None, :]).reshape(activation.shape)


def cnn_loss_and_grads(params, x, labels, k=5):
    """Loss and all parameter gradients of the LeNet-style CNN, by hand.

    ``x`` is (N, C, H, W) as refimpl takes it; the work is done channels-last.
    """
    n = x.shape[0]
    w1, w2 = params["conv1.weight"], params["conv2.weight"]

    # forward
    x = x.transpose(0, 2, 3, 1)  # NHWC view
    cols1 = _im2col(x, k)  # (N*24*24, 25)
    a1 = _dense(cols1, _conv_matrix(w1), params["conv1.bias"], relu=True)
    a1 = a1.reshape(n, x.shape[1] - k + 1, x.shape[2] - k + 1, -1)  # (N, 24, 24, 32)
    p1 = _max_pool2(a1)  # (N, 12, 12, 32)
    cols2 = _im2col(p1, k)  # (N*8*8, 800)
    w2_matrix = _conv_matrix(w2)
    a2 = _dense(cols2, w2_matrix, params["conv2.bias"], relu=True)
    a2 = a2.reshape(n, p1.shape[1] - k + 1, p1.shape[2] - k + 1, -1)  # (N, 8, 8, 64)
    p2 = _max_pool2(a2)  # (N, 4, 4, 64)
    flat = p2.transpose(0, 3, 1, 2).reshape(n, -1)  # flatten in NCHW order, as refimpl does
    h3 = _dense(flat, params["dense1.weight"], params["dense1.bias"], relu=True)
    logits = _dense(h3, params["dense2.weight"], params["dense2.bias"], relu=False)
    loss, g = softmax_cross_entropy(logits, labels)

    # backward
    grads = {"dense2.weight": h3.T @ g, "dense2.bias": g.sum(axis=0)}
    g = _relu_backward(g @ params["dense2.weight"].T, h3)
    grads["dense1.weight"] = flat.T @ g
    grads["dense1.bias"] = g.sum(axis=0)
    g = g @ params["dense1.weight"].T  # (N, 1024)
    g = g.reshape(p2.shape[0], p2.shape[3], p2.shape[1], p2.shape[2]).transpose(0, 2, 3, 1)
    g = _relu_max_pool2_backward(a2, p2, g).reshape(-1, a2.shape[3])  # (N*8*8, 64)
    grads["conv2.weight"] = _conv_weight_grad(cols2, g, w2.shape)
    grads["conv2.bias"] = g.sum(axis=0)
    g = _col2im(g @ w2_matrix.T, p1.shape, k)  # (N, 12, 12, 32)
    g = _relu_max_pool2_backward(a1, p1, g).reshape(-1, a1.shape[3])  # (N*24*24, 32)
    grads["conv1.weight"] = _conv_weight_grad(cols1, g, w1.shape)
    grads["conv1.bias"] = g.sum(axis=0)
    # no input gradient: x is data, not a parameter
    return loss, grads
