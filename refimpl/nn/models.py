"""Models: a named stack of layers, split into a representation part and a classifier part.

``Sequential`` names its layers by kind and position ("conv1", "relu1", "dense3", ...) and keeps
one flat parameter dict ``{"conv1.weight": ..., "conv1.bias": ...}``. ``Model`` joins two of
them, logits = classifier(representation(x)); learning with a strong adversary at the
representation layer (LWA_Rep) perturbs h = representation(x) instead of x, so both halves are
callable on their own.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from refimpl.backend import default_float
from refimpl.nn.batchnorm import record_state
from refimpl.nn.layers import Layer, MaxPool2d, ReLU

__all__ = ["Sequential", "Model", "count_parameters"]

Array = Any


class Sequential:
    """Layers applied in order, with their parameters in one flat dict.

    Args:
        layers: the layers, first to last.
        start: numbering offset per kind, so that two stacks of one model get distinct names.
    """

    def __init__(self, layers: Sequence[Layer], *, start: dict | None = None):
        self.layers = list(layers)
        counts = dict(start or {})
        self.names = []
        for layer in self.layers:
            counts[layer.kind] = counts.get(layer.kind, 0) + 1
            self.names.append(f"{layer.kind}{counts[layer.kind]}")
        self.counts = counts

    def init(self, rng, in_shape, dtype) -> tuple[dict, tuple]:
        """Fresh parameters ``{"<layer>.<param>": array}`` and the output shape (no batch axis)."""
        params, shape = {}, tuple(in_shape)
        for name, layer in zip(self.names, self.layers):
            local, shape = layer.init(rng, shape, dtype)
            params.update({f"{name}.{key}": value for key, value in local.items()})
        return params, shape

    def apply(self, params: dict, x: Array, *, train: bool = False, rng=None,
              noise=None) -> Array:
        """Run every layer; ``train`` turns dropout (and any training-only noise) on.

        ``noise``: an optional map h -> h applied, in training only, to the output of every
        activation layer (the hidden activations), e.g. paper 002's sign noise.
        """
        hooked = train and noise is not None  # the hook needs every activation's own output
        for prefix, layer, has_params, has_state in self._plan(pool_first=not hooked):
            local = {key[len(prefix):]: value for key, value in params.items()
                     if key.startswith(prefix)} if has_params else {}
            if train and has_state:
                record_state(prefix, layer, local, x)  # BatchNorm's running statistics
            x = layer.apply(local, x, train=train, rng=rng)
            if hooked and layer.activation:
                x = noise(x)
        return x

    def _plan(self, *, pool_first: bool) -> list[tuple]:
        """(parameter prefix, layer, has parameters, has state) in execution order; worked out
        once per ``pool_first``, since the layers of a Sequential never change."""
        plans = self.__dict__.setdefault("_plans", {})
        plan = plans.get(pool_first)
        if plan is None:
            plan = plans[pool_first] = [
                (self.names[i] + ".", self.layers[i], _has_params(self.layers[i]),
                 bool(getattr(self.layers[i], "state", None)))
                for i in execution_order(self.layers, pool_first=pool_first)]
        return plan

    def __repr__(self) -> str:
        return "\n".join(f"  {name}: {layer!r}" for name, layer in zip(self.names, self.layers))


def execution_order(layers: Sequence[Layer], *, pool_first: bool = True) -> list[int]:
    """The indices of ``layers`` in the order they run: with ``pool_first``, a ReLU directly
    followed by a MaxPool2d runs after it.

    Max-pooling commutes with ReLU: max_i relu(x_i) = relu(max_i x_i), and so do the
    gradients, ties included (relu' = 0 wherever a window's max is <= 0, and above 0 both
    orders route the gradient to the same maxima). Pooling first, ReLU and its backward pass
    touch 1 / (window area) of the entries: about 7 % of a LeNet step. Only where no noise hook
    needs ReLU's own, unpooled output (``Sequential.apply`` with ``noise`` in training).
    """
    order, i = [], 0
    while i < len(layers):
        if (pool_first and i + 1 < len(layers) and type(layers[i]) is ReLU
                and type(layers[i + 1]) is MaxPool2d):
            order += [i + 1, i]
            i += 2
        else:
            order.append(i)
            i += 1
    return order


def _has_params(layer: Layer) -> bool:
    return type(layer).init is not Layer.init


class Model:
    """logits = classifier(representation(x)), with one flat parameter dict for both.

    Args:
        name: the builder name (saved in checkpoints so a model can be rebuilt).
        input_shape: the per-example input shape, (D,) or (C, H, W).
        representation: lower layers, x (N, ...) -> h (N, ...).
        classifier: upper layers, h -> logits (N, num_classes).
        config: the builder's keyword arguments (saved with checkpoints).
    """

    def __init__(self, name: str, input_shape, representation: Sequence[Layer],
                 classifier: Sequence[Layer], *, config: dict | None = None):
        self.name = name
        self.input_shape = tuple(input_shape)
        self.representation = Sequential(representation)
        self.classifier = Sequential(classifier, start=self.representation.counts)
        self.config = dict(config or {})

    def init(self, rng, dtype=None) -> dict:
        """Fresh parameters, drawn by ``rng`` (a :class:`refimpl.backend.Random`) in its namespace."""
        dtype = dtype or default_float(rng.xp)
        params, h_shape = self.representation.init(rng, self.input_shape, dtype)
        more, out_shape = self.classifier.init(rng, h_shape, dtype)
        self.representation_shape, self.output_shape = h_shape, out_shape
        return {**params, **more}

    def represent(self, params: dict, x: Array, *, train: bool = False, rng=None,
                  noise=None) -> Array:
        """h = representation(x)."""
        return self.representation.apply(params, x, train=train, rng=rng, noise=noise)

    def classify(self, params: dict, h: Array, *, train: bool = False, rng=None,
                 noise=None) -> Array:
        """logits = classifier(h)."""
        return self.classifier.apply(params, h, train=train, rng=rng, noise=noise)

    def apply(self, params: dict, x: Array, *, train: bool = False, rng=None,
              noise=None) -> Array:
        """logits (N, num_classes) of x (N, *input_shape); ``noise`` as in Sequential.apply."""
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{self.name}: x: expected inputs (N, {', '.join(map(str, self.input_shape))}), "
                             f"got {tuple(x.shape)}")
        h = self.represent(params, x, train=train, rng=rng, noise=noise)
        return self.classify(params, h, train=train, rng=rng, noise=noise)

    def __call__(self, params, x, **kwargs):
        return self.apply(params, x, **kwargs)

    def __repr__(self) -> str:
        return (f"Model {self.name!r}, input {self.input_shape}\n representation:\n"
                f"{self.representation!r}\n classifier:\n{self.classifier!r}")


def count_parameters(params: dict) -> int:
    """Total number of scalars in a parameter dict."""
    return sum(math.prod(v.shape) for v in params.values())
