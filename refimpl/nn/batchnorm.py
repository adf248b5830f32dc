"""Layer state that is not trained: BatchNorm and its running statistics.

A stateful layer lists its state entries in ``state`` (kept in the parameter dict, so saved
in checkpoints, but never given a gradient step). A training-mode forward pass inside
:func:`collect_state` records each stateful layer's new state (:func:`record_state`, called by
``Sequential.apply``); the training loop writes the collected values into the parameters after
the optimizer update. :func:`state_keys` names a model's state entries.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from typing import Any

from refimpl import ops
from refimpl.backend import get_namespace
from refimpl.nn.layers import Layer

__all__ = ["BatchNorm", "collect_state", "record_state", "state_keys"]

Array = Any


_STATE_UPDATES: contextvars.ContextVar = contextvars.ContextVar("state_updates", default=None)


@contextlib.contextmanager
def collect_state():
    """Collect the new non-trainable state (BatchNorm running statistics) of every training-mode
    forward pass run inside the block: ``{"batchnorm1.running_mean": array, ...}``, raw arrays.

    The training loop wraps each step in it and writes the collected values into the
    parameters after the optimizer update (the last training-mode pass of a step wins).
    Outside such a block, training-mode passes leave the state alone.
    """
    updates: dict = {}
    token = _STATE_UPDATES.set(updates)
    try:
        yield updates
    finally:
        _STATE_UPDATES.reset(token)


def record_state(prefix: str, layer: "Layer", params: dict, x: Array) -> None:
    """Store ``layer.new_state(params, x)`` under ``prefix`` when a collector is active."""
    updates = _STATE_UPDATES.get()
    if updates is not None:
        raw = {key: ops.getval(value) for key, value in params.items()}
        updates.update({prefix + key: value
                        for key, value in layer.new_state(raw, ops.getval(x)).items()})


class BatchNorm(Layer):
    """Batch normalisation without affine parameters (Shaham et al.'s input layer, Torch7's
    nn.BatchNormalization / SpatialBatchNormalization with ``affine=false``).

    y = (x - mu) / sqrt(var + eps) per feature (flat inputs (N, D)) or per channel (images
    (N, C, H, W), statistics over N, H, W). In training mu and var are the batch's mean and
    biased variance, and the gradient flows through them; in evaluation they are the running
    statistics ``running_mean`` and ``running_var``, state kept in the parameter dict (saved
    in checkpoints with it) but never trained: after every training step the loop replaces
    them (see :func:`collect_state`) by
    running <- (1 - momentum) running + momentum batch, with the unbiased batch variance
    var * m / (m - 1) (m values per statistic), as Torch does. They start at 0 and 1.
    """

    kind = "batchnorm"
    state = ("running_mean", "running_var")

    def __init__(self, *, eps: float = 1e-5, momentum: float = 0.1):
        if not eps > 0:
            raise ValueError(f"BatchNorm: eps must be > 0, got {eps!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must be in [0, 1], got {momentum!r}")
        self.eps, self.momentum = eps, momentum

    def init(self, rng, in_shape, dtype):
        if len(in_shape) not in (1, 3):
            raise ValueError(f"BatchNorm: expects (N, D) or (N, C, H, W) inputs, got "
                             f"per-example shape {tuple(in_shape)}")
        c = in_shape[0]
        return ({"running_mean": rng.xp.zeros((c,), dtype=dtype, device=rng.device),
                 "running_var": rng.xp.ones((c,), dtype=dtype, device=rng.device)},
                tuple(in_shape))

    def _axes(self, x):
        return (0,) if x.ndim == 2 else (0, 2, 3)

    def _shape(self, x):
        return (1, -1) if x.ndim == 2 else (1, -1, 1, 1)

    def apply(self, params, x, *, train=False, rng=None):
        axes, shape = self._axes(x), self._shape(x)
        if train:
            mean = ops.mean(x, axis=axes, keepdims=True)
            centred = ops.subtract(x, mean)
            var = ops.mean(ops.square(centred), axis=axes, keepdims=True)
        else:
            centred = ops.subtract(x, ops.reshape(params["running_mean"], shape=shape))
            var = ops.reshape(params["running_var"], shape=shape)
        return ops.divide(centred, ops.sqrt(ops.add(var, self.eps)))

    def new_state(self, params, x):
        """The running statistics after one training batch ``x`` (raw arrays)."""
        xp = get_namespace(x)
        axes = self._axes(x)
        m = math.prod(x.shape[a] for a in axes)
        mean = xp.mean(x, axis=axes)
        var = xp.mean((x - xp.reshape(mean, self._shape(x))) ** 2, axis=axes) * (m / max(m - 1, 1))
        keep, take = 1.0 - self.momentum, self.momentum
        return {"running_mean": keep * params["running_mean"] + take * mean,
                "running_var": keep * params["running_var"] + take * var}


def state_keys(model) -> set:
    """The names of the non-trainable entries (running statistics) of ``model``'s parameters."""
    keys = set()
    for stack in (model.representation, model.classifier):
        for name, layer in zip(stack.names, stack.layers):
            keys.update(f"{name}.{key}" for key in getattr(layer, "state", ()))
    return keys
