"""Training methods: each turns a batch into the loss that one descent step lowers.

A method is a function ``method(model, params, x, y, *, rng) -> scalar loss``; the training loop
differentiates it in ``params``. Methods that perturb the batch compute the perturbation with
the parameters held fixed (a constant of the step) and then return the loss on the perturbed
batch, so the loop never needs to know which method it runs.
"""

from __future__ import annotations

from typing import Any, Callable

from refimpl.nn.losses import cross_entropy

__all__ = ["normal", "METHODS", "get_method"]

Array = Any
Method = Callable[..., Array]


def normal(model, params: dict, x: Array, y: Array, *, rng=None) -> Array:
    """L(x): the mean cross-entropy of the model in training mode (dropout on, if it has any)."""
    return cross_entropy(model.apply(params, x, train=True, rng=rng), y)


METHODS: dict[str, Method] = {"normal": normal}


def get_method(name: str) -> Method:
    """The training method called ``name``."""
    if name not in METHODS:
        raise ValueError(f"method: unknown name {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]
