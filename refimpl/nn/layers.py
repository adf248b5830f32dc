"""Layers as (init, apply) pairs over explicit parameter dicts.

A layer is a small object holding its hyper-parameters (sizes, stride, rate). It owns no
arrays: ``init(rng, in_shape, dtype)`` returns a fresh dict of its parameters (local names
``"weight"``, ``"bias"``) and the shape of its output, and ``apply(params, x, train=, rng=)``
computes the output from that dict. Shapes exclude the batch axis: ``in_shape`` is (D,) for a
dense layer and (C, H, W) for a convolution; arrays are (N, D) and (N, C, H, W).

The model (:mod:`refimpl.nn.models`) names each layer and keeps one flat dict
``{"dense1.weight": ..., "dense1.bias": ...}`` for the whole net, which is what gradients,
optimizers and checkpoints work on.
"""

from __future__ import annotations

import math
from typing import Any

from refimpl import ops
from refimpl.backend import get_namespace
from refimpl.nn.init import get_initializer

__all__ = ["Layer", "Dense", "Conv2d", "MaxPool2d", "Flatten", "Dropout", "ReLU", "Sigmoid",
           "Tanh", "Maxout"]

Array = Any
Shape = tuple


class Layer:
    """A layer without parameters whose output has the shape of its input (the default)."""

    kind = "layer"  # the stem of the names a model gives its layers ("dense" -> "dense1")
    activation = False  # a nonlinearity whose output is a hidden activation (noise hooks)

    def init(self, rng, in_shape: Shape, dtype) -> tuple[dict, Shape]:
        return {}, tuple(in_shape)

    def apply(self, params: dict, x: Array, *, train: bool = False, rng=None) -> Array:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class Dense(Layer):
    """y = x @ weight + bias, weight (in_features, out_features), bias (out_features,).

    The weight is stored input-major so the forward pass is one matrix product with no
    transpose; a unit's incoming weights are a column (what a max-norm constraint bounds).
    """

    kind = "dense"

    def __init__(self, out_features: int, *, init="he", bias: bool = True, bias_init="zeros"):
        _check_size(out_features, "out_features", "Dense")
        self.out_features = out_features
        self.init_fn = get_initializer(init)
        self.bias = bias
        self.bias_init = get_initializer(bias_init)

    def init(self, rng, in_shape, dtype):
        if len(in_shape) != 1:
            raise ValueError(f"Dense: expects flat inputs (N, D), got per-example shape "
                             f"{tuple(in_shape)}; put a Flatten() before it")
        (d,) = in_shape
        params = {"weight": self.init_fn(rng, (d, self.out_features), d, self.out_features, dtype)}
        if self.bias:
            params["bias"] = self.bias_init(rng, (self.out_features,), d, self.out_features, dtype)
        return params, (self.out_features,)

    def apply(self, params, x, *, train=False, rng=None):
        _check_param(self, params, "weight", (x.shape[-1], self.out_features))
        if self.bias:
            _check_param(self, params, "bias", (self.out_features,))
        if self.bias:
            return ops.linear(x, params["weight"], params["bias"])
        return ops.matmul(x, params["weight"])


class Conv2d(Layer):
    """2-D convolution (cross-correlation): weight (out_channels, C, KH, KW), bias (out_channels,).

    out[n, o, i, j] = bias[o] + sum_{c,a,b} weight[o, c, a, b] xpad[n, c, i*stride + a, j*stride + b].

    ``tied_bias=False`` gives every output position its own bias, bias (out_channels, OH, OW)
    and out[n, o, i, j] = bias[o, i, j] + ... (pylearn2's default, used by the maxout paper).
    """

    kind = "conv"

    def __init__(self, out_channels: int, kernel_size, *, stride=1, padding=0, init="he",
                 bias_init="zeros", tied_bias: bool = True):
        self.out_channels = _check_size(out_channels, "out_channels", "Conv2d")
        self.bias_init = get_initializer(bias_init)
        self.kernel_size = _pair(kernel_size, "kernel_size", low=1)
        self.stride = _pair(stride, "stride", low=1)
        self.padding = _pair(padding, "padding")
        self.init_fn = get_initializer(init)
        self.tied_bias = bool(tied_bias)

    def init(self, rng, in_shape, dtype):
        if len(in_shape) != 3:
            raise ValueError(f"Conv2d: expects images (N, C, H, W), got per-example shape "
                             f"{tuple(in_shape)}")
        c, h, w = in_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        oh, ow = ops.conv_output_size(h, kh, sh, ph), ops.conv_output_size(w, kw, sw, pw)
        if oh < 1 or ow < 1:
            raise ValueError(f"Conv2d: a {kh}x{kw} kernel does not fit a {h}x{w} input")
        shape = (self.out_channels, c, kh, kw)
        weight = self.init_fn(rng, shape, c * kh * kw, self.out_channels * kh * kw, dtype)
        bias_shape = (self.out_channels,) if self.tied_bias else (self.out_channels, oh, ow)
        bias = self.bias_init(rng, bias_shape, c * kh * kw, self.out_channels, dtype)
        return {"weight": weight, "bias": bias}, (self.out_channels, oh, ow)

    def apply(self, params, x, *, train=False, rng=None):
        if x.ndim != 4:
            raise ValueError(f"Conv2d: x: expected images (N, C, H, W), got shape {tuple(x.shape)}")
        _check_param(self, params, "weight", (self.out_channels, x.shape[1], *self.kernel_size))
        if self.tied_bias:
            _check_param(self, params, "bias", (self.out_channels,))
            return ops.conv2d(x, params["weight"], params["bias"], stride=self.stride,
                              padding=self.padding)
        out = ops.conv2d(x, params["weight"], stride=self.stride, padding=self.padding)
        _check_param(self, params, "bias", tuple(out.shape[1:]))
        return ops.add(out, params["bias"])  # (N, O, OH, OW) + (O, OH, OW)


class MaxPool2d(Layer):
    """Max over (KH, KW) windows; ``stride`` defaults to the kernel size (no overlap).

    ``ties``: where a window with several equal maxima sends its gradient (``ops.max_pool2d``);
    ``ceil_mode``: keep a last window that runs past the edge (cuda-convnet's, pylearn2's rule).
    """

    kind = "pool"

    def __init__(self, kernel_size, *, stride=None, padding=0, ties="share",
                 ceil_mode: bool = False):
        if ties not in ops.pool.TIES:
            raise ValueError(f"ties: expected one of {ops.pool.TIES}, got {ties!r}")
        self.ties = ties
        self.kernel_size = _pair(kernel_size, "kernel_size", low=1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", low=1)
        self.padding = _pair(padding, "padding")
        self.ceil_mode = bool(ceil_mode)

    def init(self, rng, in_shape, dtype):
        if len(in_shape) != 3:
            raise ValueError(f"MaxPool2d: expects images (N, C, H, W), got per-example shape "
                             f"{tuple(in_shape)}")
        c, h, w = in_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        oh = ops.pool_output_size(h, kh, sh, ph, self.ceil_mode)
        ow = ops.pool_output_size(w, kw, sw, pw, self.ceil_mode)
        if oh < 1 or ow < 1:
            raise ValueError(f"MaxPool2d: a {kh}x{kw} window does not fit a {h}x{w} input")
        return {}, (c, oh, ow)

    def apply(self, params, x, *, train=False, rng=None):
        return ops.max_pool2d(x, self.kernel_size, stride=self.stride, padding=self.padding,
                              ties=self.ties, ceil_mode=self.ceil_mode)


class Flatten(Layer):
    """(N, C, H, W) (or any (N, ...)) -> (N, D)."""

    kind = "flatten"

    def init(self, rng, in_shape, dtype):
        return {}, (math.prod(in_shape),)

    def apply(self, params, x, *, train=False, rng=None):
        return ops.flatten(x) if x.ndim != 2 else x


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate`` and scale the
    survivors by 1 / (1 - rate), so evaluation (the identity) needs no rescaling.

    The mask is drawn from the ``rng`` passed to ``apply``; it is a constant of the step.
    """

    kind = "dropout"

    def __init__(self, rate: float):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = rate

    def apply(self, params, x, *, train=False, rng=None):
        if not train or self.rate == 0.0:
            return x
        if rng is None:
            raise ValueError("Dropout: training mode needs an rng (pass rng= to apply)")
        value = ops.getval(x)
        keep = rng.uniform(tuple(value.shape), dtype=value.dtype) >= self.rate
        xp = get_namespace(value)
        mask = xp.astype(keep, value.dtype) * (1.0 / (1.0 - self.rate))
        return ops.multiply(x, mask)


class ReLU(Layer):
    """max(x, 0)."""

    kind = "relu"
    activation = True

    def apply(self, params, x, *, train=False, rng=None):
        return ops.relu(x)


class Sigmoid(Layer):
    """1 / (1 + exp(-x))."""

    kind = "sigmoid"
    activation = True

    def apply(self, params, x, *, train=False, rng=None):
        return ops.sigmoid(x)


class Tanh(Layer):
    """tanh(x)."""

    kind = "tanh"
    activation = True

    def apply(self, params, x, *, train=False, rng=None):
        return ops.tanh(x)


class Maxout(Layer):
    """Keep the max of each group of ``pieces`` consecutive features (axis 1): F*pieces -> F."""

    kind = "maxout"
    activation = True

    def __init__(self, pieces: int):
        self.pieces = _check_size(pieces, "pieces", "Maxout")

    def init(self, rng, in_shape, dtype):
        if in_shape[0] % self.pieces:
            raise ValueError(f"Maxout: {in_shape[0]} features do not split into groups of "
                             f"{self.pieces}")
        return {}, (in_shape[0] // self.pieces, *in_shape[1:])

    def apply(self, params, x, *, train=False, rng=None):
        return ops.maxout(x, self.pieces, axis=1)


def _pair(v, name, *, low=0):
    """``v`` or ``(v, v)`` as a pair of ints >= ``low`` (sizes 1, padding 0)."""
    pair = (v, v) if isinstance(v, int) else tuple(v) if isinstance(v, (tuple, list)) else ()
    if len(pair) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= low
                                 for n in pair):
        raise ValueError(f"{name}: expected an int >= {low} or a pair of them, got {v!r}")
    return pair


def _check_size(value, name, layer):
    """``value`` if it is a positive int (a number of units, channels or pieces)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value!r}")
    return value


def _check_param(layer, params, key, shape):
    """Raise a ValueError naming the layer and parameter ``key`` when it is missing from
    ``params`` or not of ``shape`` (a shape comparison: no device synchronisation)."""
    value = params.get(key)
    if value is not None and tuple(value.shape) == shape:
        return
    size = getattr(layer, "out_features", None) or getattr(layer, "out_channels", None)
    name = f"{type(layer).__name__}({size})"
    if value is None:
        raise ValueError(f"{name}: parameter {key!r} is missing (got {sorted(params)}); were "
                         "the parameters made for another model?")
    raise ValueError(f"{name}: parameter {key!r} has shape {tuple(value.shape)}, expected "
                     f"{shape}; were the parameters made for another model?")
