"""The model interface every attack shares: labels, the input gradient, the result type.

A model is a callable ``logits_fn(x) -> logits (N, K)``, a closure over fixed parameters
written with :mod:`refimpl.ops` so that it can be traced; labels ``y`` (N,) are integers.
The loss ``loss_fn(logits, y) -> (N,)`` (softmax cross-entropy by default) is SUMMED over the
batch before differentiating, so row n of the gradient is example n's own gradient, and only
the input is differentiated, so the engine skips every weight-gradient product.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from refimpl.backend import get_namespace
from refimpl.tracer import Tensor

from ._batch import check_finite, per_example
from .directions import loss_and_input_gradient

Array = Any

__all__ = ["AttackResult", "check_input", "check_labels", "logits_and_input_gradient", "input_gradient",
           "finish", "correct", "check_label_range", "count"]


class AttackResult(NamedTuple):
    """What every attack returns.

    Attributes:
        x_adv: (N, ...) the perturbed inputs, dtype of x.
        delta: (N, ...) x_adv - x (zero for rows left alone).
        zero_grad: how many of the rows the attack was asked to perturb had an exactly zero
            gradient (with ``only_correct``, counted among the correctly classified rows): a
            0-d integer array on the device of x (``int(result.zero_grad)`` reads it), so
            that an attack inside a training step never waits for the device.
        success: (N,) bool where the attack reports success per example (L-BFGS: the target
            label was reached), else ``None``.
    """

    x_adv: Array
    delta: Array
    zero_grad: Any
    success: Array | None = None


def check_input(x: Array) -> None:
    """Raise unless ``x`` is a raw, finite floating batch (not a traced value).

    Attacks hold the model fixed and return constants; to perturb a traced value (a hidden
    representation in LWA_Rep, say), attack ``stop_gradient(h)`` and add ``result.delta``.
    """
    if isinstance(x, Tensor):
        raise TypeError("x: expected a raw array, got a traced Tensor; attack stop_gradient(x) "
                        "and add result.delta to the traced value")
    check_finite(x, "x")


def check_labels(y: Array, x: Array, name: str = "y") -> None:
    """Raise a ValueError naming ``name`` unless ``y`` is an integer array of shape (N,).

    Also refuses an empty batch. Shapes and dtypes only: no host synchronisation.
    """
    xp = get_namespace(x, y, name=f"x, {name}") if hasattr(y, "shape") else get_namespace(x)
    if not hasattr(y, "shape") or tuple(y.shape) != (x.shape[0],) or not xp.isdtype(
            y.dtype, "integral"):
        raise ValueError(f"{name}: expected integer labels of shape ({x.shape[0]},), got "
                         f"{getattr(y, 'dtype', type(y).__name__)} of shape "
                         f"{tuple(getattr(y, 'shape', ()))}")
    if x.shape[0] == 0:
        raise ValueError("x: expected at least one example, got an empty batch")


def check_label_range(y: Array, num_classes: int, name: str = "y") -> None:
    """Raise a ValueError naming ``name`` unless every label is in [0, num_classes).

    Reads one boolean from the device: for public entries only, never inside a training step.
    """
    xp = get_namespace(y)
    if y.shape[0] and not bool(xp.all((y >= 0) & (y < num_classes))):
        raise ValueError(f"{name}: expected class labels in [0, {num_classes}) (the model has "
                         f"{num_classes} outputs), got labels from {int(xp.min(y))} to "
                         f"{int(xp.max(y))}")


def logits_and_input_gradient(logits_fn: Callable, x: Array, y: Array,
                              loss_fn: Callable | None = None) -> tuple[Array, Array]:
    """(logits (N, K) at x, d sum_n loss_n / d x (N, ...)) from one forward and backward pass."""
    if not callable(logits_fn):
        raise TypeError(f"logits_fn: expected a callable x -> logits, got "
                        f"{type(logits_fn).__name__}")
    check_input(x)
    check_labels(y, x)
    logits, gradient = loss_and_input_gradient(logits_fn, x, y, loss_fn)
    check_label_range(y, logits.shape[1])
    return logits, gradient


def input_gradient(logits_fn: Callable, x: Array, y: Array,
                   loss_fn: Callable | None = None) -> Array:
    """The gradient of each example's loss with respect to its input, (N, ...) like x."""
    return logits_and_input_gradient(logits_fn, x, y, loss_fn)[1]


def finish(x: Array, delta: Array, *, perturb: Array | None = None,
           clip: tuple[float, float] | None = None) -> tuple[Array, Array]:
    """(x_adv, delta): rows outside ``perturb`` (N,) bool kept as x, the rest clipped to the box."""
    xp = get_namespace(x)
    x_adv = x + delta
    if clip is not None:
        lo, hi = clip
        if not lo <= hi:
            raise ValueError(f"clip: expected a box (lo, hi) with lo <= hi, got {clip}")
        x_adv = xp.clip(x_adv, min=lo, max=hi)
    if perturb is not None:
        x_adv = xp.where(per_example(perturb, x.ndim), x_adv, x)
    return x_adv, x_adv - x


def count(mask: Array) -> Array:
    """The number of True entries of a boolean array, as a 0-d int64 array on its device."""
    xp = get_namespace(mask)
    return xp.sum(xp.astype(mask, xp.int64))


def correct(logits: Array, y: Array) -> Array:
    """(N,) bool: the rows whose largest logit is the label."""
    xp = get_namespace(logits)
    return xp.argmax(logits, axis=1) == xp.astype(y, xp.int64)
