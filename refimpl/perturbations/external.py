"""Models from outside refimpl: an adapter, and a clear error for models it cannot trace.

refimpl differentiates a model by tracing it, so an attack's ``logits_fn`` must be written with
:mod:`refimpl.ops`. A model written in NumPy, PyTorch, JAX or anything else can still be
attacked through :func:`external_model`, given its logits and the vector-Jacobian product of
its logits (one backward pass of the user's framework).

The model contract (what ``external_model`` needs from the user's two functions):

- ``logits_fn(x) -> logits``: x is a NumPy array (N, ...) of the attack's dtype; the result is
  (N, K) floats as a NumPy array, a torch Tensor (on any device; it is detached and copied to
  the host) or anything ``numpy.asarray`` accepts. Row n depends only on x[n] (evaluation
  mode: no dropout, batch norm with running statistics) and the same x gives the same logits.
- ``input_gradient_fn(x, cotangent) -> (N, ...)``: x as above, cotangent a NumPy array (N, K);
  returns sum_k cotangent[n, k] * d logits[n, k] / d x[n] for every n, shaped like x, in the
  same kinds of array. In PyTorch: ``torch.autograd.grad(model(x), x, cotangent)[0]`` with
  ``x.requires_grad_()``.

The adapter returns a refimpl ``logits_fn`` (a primitive whose VJP calls
``input_gradient_fn``), so every attack and closed form of :mod:`refimpl.perturbations` runs on
it, on any backend: inputs on a GPU are copied to the host and the results copied back to the
device of x. Its VJP is not differentiable again: a second derivative (double backprop,
gradient regularisation, Hessian-vector products) raises a TypeError.
"""

from __future__ import annotations

import os
import traceback
from typing import Any, Callable

import numpy as np

from refimpl.backend import get_namespace, to_numpy
from refimpl.tracer import Tensor, getval, primitive

Array = Any

__all__ = ["external_model", "checked_logits", "NOT_TRACEABLE"]

NOT_TRACEABLE = ("{name}: the model is not written with refimpl.ops ({detail}); refimpl traces "
                 "the model to differentiate it. Write it with refimpl.ops, or wrap your own "
                 "code with refimpl.perturbations.external.external_model(logits_fn, "
                 "input_gradient_fn) (see that module's docstring for the contract).")

_REFIMPL = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def external_model(logits_fn: Callable, input_gradient_fn: Callable) -> Callable:
    """A refimpl-traceable ``logits_fn`` from a model written with any other library.

    Args:
        logits_fn: NumPy x (N, ...) -> logits (N, K) (NumPy, torch, array-like).
        input_gradient_fn: (NumPy x, NumPy cotangent (N, K)) -> (N, ...), the vector-Jacobian
            product of the logits.

    Returns:
        ``model(x) -> logits (N, K)`` in the namespace, dtype and device of x, differentiable
        once with respect to x.
    """
    for fn, name in ((logits_fn, "logits_fn"), (input_gradient_fn, "input_gradient_fn")):
        if not callable(fn):
            raise TypeError(f"{name}: expected a callable, got {type(fn).__name__}")

    @primitive
    def external_logits(x):
        """The user's logits at x: (N, ...) -> (N, K)."""
        logits = _from_user(logits_fn(_to_user(x)), x, "logits_fn")
        if logits.ndim != 2 or logits.shape[0] != x.shape[0]:
            raise ValueError(f"logits_fn: expected logits of shape ({x.shape[0]}, K), got "
                             f"{tuple(logits.shape)}")
        return logits

    @external_logits.defvjp
    def external_logits_vjp(g, out, x):
        if type(g) is Tensor or type(x) is Tensor:
            raise TypeError("external_model: the input gradient of an external model is "
                            "differentiable once only (its VJP runs outside refimpl); a second "
                            "derivative (double backprop, gradient regularisation) needs the "
                            "model written with refimpl.ops")
        gradient = _from_user(input_gradient_fn(_to_user(x), _to_user(g)), x,
                              "input_gradient_fn")
        if tuple(gradient.shape) != tuple(x.shape):
            raise ValueError(f"input_gradient_fn: expected a gradient shaped like x "
                             f"{tuple(x.shape)}, got {tuple(gradient.shape)}")
        return gradient

    return external_logits


def _to_user(a: Array) -> np.ndarray:
    """A writable NumPy copy for the user's code (which may then change it freely)."""
    return np.array(to_numpy(a), copy=True)


def _from_user(value: Any, like: Array, name: str) -> Array:
    """A user's result (NumPy, torch, array-like) in the namespace, dtype and device of ``like``."""
    if type(value) is Tensor:
        raise TypeError(f"{name}: returned a traced refimpl value; external functions get and "
                        f"return plain arrays")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch Tensor, possibly on a GPU
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{name}: expected a floating array, got dtype {array.dtype}")
    xp = get_namespace(like)
    return xp.astype(xp.asarray(array, device=like.device), like.dtype)


def checked_logits(logits_fn: Callable, x: Any, name: str = "logits_fn") -> Any:
    """``logits_fn(x)``, raising a TypeError that names the fix when ``logits_fn`` is not
    written with refimpl.ops: it fails on a traced value inside NumPy, PyTorch or other
    outside code, or it returns an array of another library than x's."""
    if not callable(logits_fn):
        raise TypeError(f"{name}: expected a callable x -> logits (N, K), got "
                        f"{type(logits_fn).__name__}")
    try:
        logits = logits_fn(x)
    except (TypeError, AttributeError) as err:
        if ("Tensor" in str(err) or "traced" in str(err)) and _raised_outside_refimpl(err):
            raise TypeError(NOT_TRACEABLE.format(name=name, detail=f"{type(err).__name__}: "
                                                 f"{err}")) from err
        raise
    raw, inputs = getval(logits), getval(x)
    try:
        same = get_namespace(raw) is get_namespace(inputs)
    except TypeError:
        same = False
    if not same:
        raise TypeError(NOT_TRACEABLE.format(
            name=name, detail=f"it returned {type(raw).__module__}.{type(raw).__name__} for an "
                              f"input of {type(inputs).__module__}.{type(inputs).__name__}"))
    if raw.ndim != 2 or raw.shape[0] != inputs.shape[0]:
        raise ValueError(f"{name}: expected logits of shape ({inputs.shape[0]}, K) for "
                         f"{inputs.shape[0]} inputs, got {tuple(raw.shape)}")
    return logits


def _raised_outside_refimpl(err: BaseException) -> bool:
    """True unless the innermost frame of ``err`` is refimpl's own code (a genuine refimpl
    error); the tracer's refusals to convert a traced value (``__array__``, ``len``) count as
    outside, since outside code asked for the conversion."""
    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return True
    where = os.path.abspath(frames[-1].filename)
    return not where.startswith(_REFIMPL + os.sep) or where == os.path.join(_REFIMPL, "tracer.py")
