"""Weight initialisers: He, Glorot and a plain uniform(-a, a), each a pure function of an rng.

Every initialiser has the signature ``init(rng, shape, fan_in, fan_out, dtype) -> array`` where
``rng`` is a :class:`refimpl.backend.Random` (it draws in its own namespace, on its own device,
so parameters land where ``make_rng(seed, xp, device=...)`` was told). ``fan_in`` is the
number of inputs feeding one output unit (in_features for a dense layer, C * KH * KW for a
convolution) and ``fan_out`` the number of units one input feeds.

- He (Kaiming) normal, for ReLU nets: N(0, 2 / fan_in), so the variance of the pre-activations
  is kept from layer to layer when half the units are off.
- Glorot (Xavier) uniform, for tanh / sigmoid nets: U(-a, a), a = sqrt(6 / (fan_in + fan_out)),
  the variance 2 / (fan_in + fan_out) averaging the forward and backward conditions.
- ``uniform(a)``: U(-a, a) whatever the fan, as in "Learning with a strong adversary"
  (a = 0.07 for its MNIST nets).
- Torch7's default (``"torch"``): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), for weights and biases
  alike (Shaham et al.'s code).
"""

from __future__ import annotations

import math
from typing import Any, Callable

__all__ = ["he_normal", "glorot_uniform", "uniform", "torch_default", "zeros", "get_initializer"]

Array = Any
Initializer = Callable[..., Array]


def he_normal(rng, shape, fan_in: int, fan_out: int, dtype) -> Array:
    """Samples of N(0, 2 / fan_in)."""
    return rng.normal(shape, dtype=dtype, scale=math.sqrt(2.0 / fan_in))


def glorot_uniform(rng, shape, fan_in: int, fan_out: int, dtype) -> Array:
    """Samples of U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(shape, low=-a, high=a, dtype=dtype)


def uniform(a: float) -> Initializer:
    """The initialiser drawing U(-a, a) for every weight, whatever the fan."""
    if not a > 0:
        raise ValueError(f"uniform: a must be > 0, got {a!r}")

    def uniform_init(rng, shape, fan_in: int, fan_out: int, dtype) -> Array:
        return rng.uniform(shape, low=-a, high=a, dtype=dtype)
    uniform_init.__name__ = f"uniform({a:g})"
    return uniform_init


def torch_default(rng, shape, fan_in: int, fan_out: int, dtype) -> Array:
    """Samples of U(-a, a) with a = 1 / sqrt(fan_in) (Torch7's nn.Linear / SpatialConvolution)."""
    a = 1.0 / math.sqrt(fan_in)
    return rng.uniform(shape, low=-a, high=a, dtype=dtype)


def zeros(rng, shape, fan_in: int, fan_out: int, dtype) -> Array:
    """All zeros (biases)."""
    return rng.xp.zeros(shape, dtype=dtype, device=rng.device)


_BY_NAME = {"he": he_normal, "glorot": glorot_uniform, "torch": torch_default, "zeros": zeros}


def get_initializer(init) -> Initializer:
    """An initialiser from a callable, a name ("he", "glorot", "torch", "zeros") or
    ("uniform", a)."""
    if callable(init):
        return init
    if isinstance(init, tuple) and len(init) == 2 and init[0] == "uniform":
        return uniform(init[1])
    if init in _BY_NAME:
        return _BY_NAME[init]
    raise ValueError(f"init: expected a callable, one of {sorted(_BY_NAME)} or ('uniform', a), "
                     f"got {init!r}")
