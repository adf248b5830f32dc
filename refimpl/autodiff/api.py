"""The functional interface: grad, value_and_grad, vjp, jacobian, stop_gradient.

Each function opens a new trace, boxes the argument(s) being differentiated, runs ``f`` and
runs the backward pass of :mod:`refimpl.tracer`. Arguments may be arrays, Python floats, or
dicts, lists and tuples of them (model parameters); gradients come back in the same structure.
Derived transformations (hessian, hvp, jvp, elementwise_grad) are in :mod:`.transforms`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from refimpl import ops
from refimpl.backend import get_namespace
from refimpl.ops._util import as_array, device_of, size_of
from refimpl.tracer import Tensor, backward, getval, new_trace

from ._tree import box, tree_map, unbox_like

Array = Any

__all__ = ["grad", "value_and_grad", "vjp", "jacobian", "value_and_jacobian", "stop_gradient"]


def _name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _check_transform(f, argnum, fname: str) -> None:
    """At transform time: ``f`` callable, ``argnum`` an int or a tuple / list of ints."""
    if not callable(f):
        raise TypeError(f"{fname}: f must be a callable, got {type(f).__name__}")
    for i in argnum if isinstance(argnum, (tuple, list)) else (argnum,):
        if isinstance(i, bool) or not isinstance(i, int):
            raise ValueError(f"{fname}: argnum must be an int or a tuple of ints, got {i!r}")


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
    _check_transform(f, argnum if argnums is None else argnums, "grad")

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
    _check_transform(f, 0, "vjp")
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


def _partial(f, args, kwargs, i):
    def call(z):
        return f(*args[:i], z, *args[i + 1:], **kwargs)
    call.__name__ = _name(f)
    return call


def value_and_jacobian(f: Callable, argnum: int = 0, *, batched: bool = True) -> Callable:
    """``f`` -> a function returning ``(f(*args), J)``, J the Jacobian in ``args[argnum]``.

    Batched (the default): ``f`` maps a batch x (N, ...) to outputs (N, K) example by example
    (row n of the output depends on row n of x only). Then J (N, K, ...) holds
    J[n, k] = d out[n, k] / d x[n], from ONE forward pass over the batch and K backward passes
    over the recorded graph, pass k seeding every row with the one-hot cotangent e_k (because
    rows are independent, sum_m d out[m, k] / d x[n] is d out[n, k] / d x[n]). Sharing the
    forward pass makes the Jacobian cost about K input gradients' backward halves plus one
    forward, instead of K full passes.

    Unbatched: ``f`` is any map; J has shape out.shape + x.shape, from one backward pass per
    output element over a single shared forward pass.
    """
    _check_transform(f, argnum, "jacobian")

    def batched_value_and_jacobian(*args, **kwargs):
        (i,), _ = _argnums(argnum, None, len(args), f, "jacobian")
        x = as_array(args[i])
        if x.ndim == 0:
            raise ValueError("jacobian: a batched f needs an input with a batch axis (N, ...), "
                             "got a 0-d input; use jacobian(f, batched=False)")
        value, vjp_fn = vjp(_partial(f, args, kwargs, i), x)
        raw = getval(value)
        if getattr(raw, "ndim", 0) != 2 or raw.shape[0] != x.shape[0]:
            raise ValueError(f"jacobian: a batched f must map (N, ...) to (N, K), got "
                             f"{tuple(getattr(raw, 'shape', ()))} for N = {x.shape[0]}; use "
                             "batched=False")
        xp = get_namespace(raw)
        n, k = raw.shape
        eye = xp.eye(k, dtype=raw.dtype, device=device_of(raw))
        rows = [vjp_fn(xp.broadcast_to(eye[j:j + 1, :], (n, k)))[0] for j in range(k)]
        return value, ops.stack(rows, axis=1)  # (N, K, ...)

    def full_value_and_jacobian(*args, **kwargs):
        (i,), _ = _argnums(argnum, None, len(args), f, "jacobian")
        x = as_array(args[i])
        value, vjp_fn = vjp(_partial(f, args, kwargs, i), x)
        raw = as_array(getval(value), like=x)
        xp = get_namespace(raw)
        size = size_of(raw)
        basis = xp.reshape(xp.eye(size, dtype=raw.dtype, device=device_of(raw)),
                           (size,) + tuple(raw.shape))
        rows = [vjp_fn(basis[j, ...])[0] for j in range(size)]
        jac = ops.reshape(ops.stack(rows, axis=0), shape=tuple(raw.shape) + tuple(x.shape))
        return value, jac

    return batched_value_and_jacobian if batched else full_value_and_jacobian


def jacobian(f: Callable, argnum: int = 0, *, batched: bool = True) -> Callable:
    """``f`` -> the function computing its Jacobian; see :func:`value_and_jacobian`."""
    value_and_jacobian_f = value_and_jacobian(f, argnum, batched=batched)

    def jacobian_f(*args, **kwargs):
        return value_and_jacobian_f(*args, **kwargs)[1]
    return jacobian_f


def stop_gradient(x):
    """``x`` as a constant: its raw value under every trace (trees are handled leafwise)."""
    return tree_map(getval, x)
