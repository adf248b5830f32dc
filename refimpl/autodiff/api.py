"""The functional interface: grad, value_and_grad, vjp, elementwise_grad, stop_gradient.

Each function opens a new trace, boxes the argument(s) being differentiated, runs ``f`` and
runs the backward pass of :mod:`refimpl.tracer`. Arguments may be arrays, Python floats, or
dicts, lists and tuples of them (model parameters); gradients come back in the same structure.
Derived transformations (jacobian, hessian, hvp, jvp) are in :mod:`.transforms`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from refimpl import ops
from refimpl.backend import get_namespace
from refimpl.ops._util import as_array
from refimpl.tracer import Tensor, backward, getval, new_trace

from ._tree import box, leaves, tree_map, unbox_like

Array = Any

__all__ = ["grad", "value_and_grad", "vjp", "elementwise_grad", "stop_gradient"]


def _name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _argnums(argnum, argnums, nargs: int, f, fname: str):
    """The tuple of argument positions to differentiate, checked against the call."""
    chosen = argnum if argnums is None else argnums
    many = isinstance(chosen, (tuple, list))
    positions = tuple(chosen) if many else (chosen,)
    for i in positions:
        if isinstance(i, bool) or not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{fname}: argnum {i!r} is out of range for {_name(f)} called with "
                             f"{nargs} positional argument(s)")
    return tuple(i % nargs for i in positions), many


def _trace_of(out, trace: int, fname: str):
    """``out`` as a box of ``trace``, or ``None`` when it does not depend on the argument."""
    if type(out) is Tensor and out.trace == trace:
        return out
    if type(out) is Tensor and out.trace > trace:
        raise RuntimeError(f"{fname}: the output belongs to a trace that was opened inside f "
                           "and never closed")
    return None


def _gradients(boxed_out, g, trees, sources) -> tuple:
    """One backward pass from ``boxed_out`` (``None``: f ignored its inputs, so zeros); the
    gradients in the structure of each tree, whose source nodes are ``sources[i]``."""
    flat = [s for group in sources for s in group]
    found = backward(boxed_out, g, flat) if boxed_out is not None else [None] * len(flat)
    result, start = [], 0
    for tree, group in zip(trees, sources):
        result.append(unbox_like(tree, found[start:start + len(group)]))
        start += len(group)
    return tuple(result)


def _ones_like(x):
    raw = as_array(getval(x))
    return get_namespace(raw).ones_like(raw)


def value_and_grad(f: Callable, argnum: int = 0, *, has_aux: bool = False,
                   argnums=None) -> Callable:
    """``f`` -> a function returning ``(f(*args), d f / d args[argnum])``.

    Args:
        f: returns a scalar (a 0-d array, an array of one element, or a Python number when
            it does not depend on the argument); with ``has_aux``, a pair (scalar, aux).
        argnum: the position of the argument to differentiate, or a tuple of positions
            (then the gradient is a tuple, one entry per position). ``argnums`` is JAX's name.
        has_aux: ``f`` returns (loss, aux); aux (e.g. logits) comes back without derivative.

    Returns:
        A function of f's arguments returning ``(value, gradient)``, or with ``has_aux``
        ``((value, aux), gradient)``. Each gradient has the structure, shape and dtype of its
        argument; where ``f`` does not depend on it, zeros.
    """
    def value_and_grad_f(*args, **kwargs):
        positions, many = _argnums(argnum, argnums, len(args), f, "grad")
        trace = new_trace()
        sources = [[] for _ in positions]
        boxed = list(args)
        for i, group in zip(positions, sources):
            boxed[i] = box(args[i], trace, f"argument {i} of {_name(f)}", group)
        out = f(*boxed, **kwargs)
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"grad: with has_aux=True, f ({_name(f)}) must return a pair "
                                f"(scalar, aux), got {type(out).__name__}")
            out, aux = out
        value = out.value if type(out) is Tensor and out.trace == trace else out
        if not hasattr(getval(value), "shape") and type(value) not in (int, float):
            raise TypeError(f"grad: f ({_name(f)}) must return a scalar to be differentiated, "
                            f"got {type(value).__name__}")
        shape = tuple(getattr(getval(value), "shape", ()))
        if math.prod(shape) != 1:
            raise TypeError(f"grad: f ({_name(f)}) must return a scalar to be differentiated, "
                            f"got an output of shape {shape}; use vjp or jacobian instead")
        boxed_out = _trace_of(out, trace, "grad")
        grads = _gradients(boxed_out, _ones_like(value) if boxed_out is not None else None,
                           [args[i] for i in positions], sources)
        g = grads if many else grads[0]
        return ((value, stop_gradient(aux)), g) if has_aux else (value, g)
    return value_and_grad_f


def grad(f: Callable, argnum: int = 0, *, has_aux: bool = False, argnums=None) -> Callable:
    """``f`` -> the function computing the gradient of scalar ``f`` in ``args[argnum]``.

    As :func:`value_and_grad` without the value: returns the gradient, or ``(gradient, aux)``
    with ``has_aux``.
    """
    value_and_grad_f = value_and_grad(f, argnum, has_aux=has_aux, argnums=argnums)

    def grad_f(*args, **kwargs):
        value, g = value_and_grad_f(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return grad_f


def vjp(f: Callable, *args):
    """Run ``f(*args)`` once and return ``(out, vjp_fn)``.

    ``vjp_fn(g)`` takes a cotangent of the shape of ``out`` and returns the tuple
    ``(g^T d out / d args[0], ...)``, one gradient per argument. It can be called many times:
    each call is one backward pass over the same recorded forward pass.

    Raises (from ``vjp_fn``):
        ValueError: naming the expected shape when ``g`` is not shaped like ``out``.
    """
    trace = new_trace()
    sources = [[] for _ in args]
    boxed = [box(a, trace, f"argument {i} of {_name(f)}", group)
             for i, (a, group) in enumerate(zip(args, sources))]
    out = f(*boxed)
    value = out.value if type(out) is Tensor and out.trace == trace else out
    boxed_out = _trace_of(out, trace, "vjp")
    expected = tuple(getattr(getval(value), "shape", ()))

    def vjp_fn(g):
        g = as_array(g, like=value) if hasattr(getval(value), "shape") else g
        if tuple(getattr(g, "shape", ())) != expected:
            raise ValueError(f"vjp: the cotangent g must have the output's shape {expected}, got "
                             f"shape {tuple(getattr(g, 'shape', ()))}")
        return _gradients(boxed_out, g, args, sources)
    return value, vjp_fn


def elementwise_grad(f: Callable, argnum: int = 0) -> Callable:
    """``f`` -> the gradient of ``sum(f(...))`` in ``args[argnum]``: for an elementwise ``f``, the
    derivative at each entry (as autograd's elementwise_grad)."""
    def elementwise_grad_f(*args, **kwargs):
        (i,), _ = _argnums(argnum, None, len(args), f, "elementwise_grad")

        def call(z):
            return f(*args[:i], z, *args[i + 1:], **kwargs)
        out, vjp_fn = vjp(call, args[i])
        return vjp_fn(_ones_like(out))[0]
    return elementwise_grad_f


def stop_gradient(x):
    """``x`` as a constant: its raw value under every trace (trees are handled leafwise)."""
    return tree_map(getval, x)


def inner_product(a_trees, b_trees):
    """sum over all leaves of <a, b> for two trees (or tuples of trees); differentiable."""
    total = 0.0
    for a, b in zip(leaves(a_trees), leaves(b_trees)):
        total = ops.add(total, ops.sum(ops.multiply(a, b)))
    return total
