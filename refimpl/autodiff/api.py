"""The functional interface: grad, value_and_grad, vjp, jacobian, stop_gradient.

Each function opens a new trace, boxes the argument(s) being differentiated, runs ``f`` and
runs the backward pass of :mod:`refimpl.tracer`. Arguments may be arrays or dicts of arrays
(model parameters); gradients come back in the same structure.
"""

from __future__ import annotations

from typing import Any, Callable

from refimpl import ops
from refimpl.backend import get_namespace
from refimpl.tracer import Node, Tensor, backward, getval, new_trace

Array = Any

__all__ = ["grad", "value_and_grad", "vjp", "jacobian", "value_and_jacobian", "stop_gradient"]


def _box(arg, trace: int, name: str):
    """Box an array or every array of a dict; returns (boxed, flat list of source nodes)."""
    if isinstance(arg, dict):
        boxed, sources = {}, []
        for key, value in arg.items():
            boxed[key], (source,) = _box(value, trace, f"{name}[{key!r}]")
            sources.append(source)
        return boxed, sources
    raw = getval(arg)
    if not hasattr(raw, "dtype"):
        raise TypeError(f"{name}: expected an array or a dict of arrays, got {type(arg).__name__}")
    if not get_namespace(raw).isdtype(raw.dtype, "real floating"):
        raise TypeError(f"{name}: can only differentiate with respect to floating arrays "
                        f"(float32 or float64), got dtype {raw.dtype}")
    source = Node(None, (), {}, arg, (), ())
    return Tensor(arg, trace, source), [source]


def _unflatten(arg, grads: list):
    """Put per-source gradients back into the structure of ``arg`` (zeros where ``None``)."""
    if isinstance(arg, dict):
        return {key: _zeros_if_none(g, value) for (key, value), g in zip(arg.items(), grads)}
    return _zeros_if_none(grads[0], arg)


def _zeros_if_none(g, like):
    if g is not None:
        return g
    raw = getval(like)
    return get_namespace(raw).zeros_like(raw)


def _ones_like(x):
    raw = getval(x)
    return get_namespace(raw).ones_like(raw)


def _trace_of(out, trace: int, fname: str):
    """``out`` as a box of ``trace``, or ``None`` when it does not depend on the argument."""
    if type(out) is Tensor and out.trace == trace:
        return out
    if type(out) is Tensor and out.trace > trace:
        raise RuntimeError(f"{fname}: the output belongs to a trace that was opened inside f "
                           "and never closed")
    return None


def value_and_grad(f: Callable, argnum: int = 0) -> Callable:
    """``f`` -> a function returning ``(f(*args), d f / d args[argnum])``.

    ``f`` must return a scalar: a 0-d array, an array of one element, or a Python number (when
    it does not depend on the argument). The gradient has the structure, shape and dtype of
    ``args[argnum]``; where ``f`` does not depend on it, zeros.
    """
    def value_and_grad_f(*args, **kwargs):
        trace = new_trace()
        boxed, sources = _box(args[argnum], trace, f"argument {argnum} of {_name(f)}")
        out = f(*args[:argnum], boxed, *args[argnum + 1:], **kwargs)
        value = out.value if type(out) is Tensor and out.trace == trace else out
        size = 1 if type(out) in (int, float) else getattr(getval(out), "size", None)
        if size != 1:
            shape = getattr(getval(out), "shape", type(out).__name__)
            raise TypeError(f"grad: f ({_name(f)}) must return a scalar to be differentiated, "
                            f"got an output of shape {shape}; use vjp or jacobian instead")
        boxed_out = _trace_of(out, trace, "grad")
        grads = [None] * len(sources)
        if boxed_out is not None:
            grads = backward(boxed_out, _ones_like(value), sources)
        return value, _unflatten(args[argnum], grads)
    return value_and_grad_f


def grad(f: Callable, argnum: int = 0) -> Callable:
    """``f`` -> the function computing the gradient of scalar ``f`` in ``args[argnum]``."""
    value_and_grad_f = value_and_grad(f, argnum)
    return lambda *args, **kwargs: value_and_grad_f(*args, **kwargs)[1]


def vjp(f: Callable, *args):
    """Run ``f(*args)`` once and return ``(out, vjp_fn)``.

    ``vjp_fn(g)`` takes a cotangent shaped like ``out`` and returns the tuple
    ``(g^T d out / d args[0], ...)``, one gradient per argument. It can be called many times:
    each call is one backward pass over the same recorded forward pass.
    """
    trace = new_trace()
    boxed, sources = zip(*(_box(a, trace, f"argument {i} of {_name(f)}")
                           for i, a in enumerate(args)))
    out = f(*boxed)
    value = out.value if type(out) is Tensor and out.trace == trace else out
    boxed_out = _trace_of(out, trace, "vjp")

    def vjp_fn(g):
        flat = [s for group in sources for s in group]
        grads = backward(boxed_out, g, flat) if boxed_out is not None else [None] * len(flat)
        result, start = [], 0
        for arg, group in zip(args, sources):
            result.append(_unflatten(arg, grads[start:start + len(group)]))
            start += len(group)
        return tuple(result)
    return value, vjp_fn


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
    def batched_value_and_jacobian(*args, **kwargs):
        x = args[argnum]
        call = lambda z: f(*args[:argnum], z, *args[argnum + 1:], **kwargs)  # noqa: E731
        value, vjp_fn = vjp(call, x)
        raw = getval(value)
        if raw.ndim != 2 or raw.shape[0] != x.shape[0]:
            raise ValueError(f"jacobian: a batched f must map (N, ...) to (N, K), got "
                             f"{tuple(raw.shape)} for N = {x.shape[0]}; use batched=False")
        xp = get_namespace(raw)
        n, k = raw.shape
        eye = xp.eye(k, dtype=raw.dtype)
        rows = [vjp_fn(xp.broadcast_to(eye[j:j + 1, :], (n, k)))[0] for j in range(k)]
        return value, ops.stack(rows, axis=1)  # (N, K, ...)

    def full_value_and_jacobian(*args, **kwargs):
        x = args[argnum]
        call = lambda z: f(*args[:argnum], z, *args[argnum + 1:], **kwargs)  # noqa: E731
        value, vjp_fn = vjp(call, x)
        raw = getval(value)
        xp = get_namespace(raw)
        basis = xp.reshape(xp.eye(raw.size, dtype=raw.dtype), (raw.size,) + tuple(raw.shape))
        rows = [vjp_fn(basis[i, ...])[0] for i in range(raw.size)]
        jac = ops.reshape(ops.stack(rows, axis=0), shape=tuple(raw.shape) + tuple(x.shape))
        return value, jac

    return batched_value_and_jacobian if batched else full_value_and_jacobian


def jacobian(f: Callable, argnum: int = 0, *, batched: bool = True) -> Callable:
    """``f`` -> the function computing its Jacobian; see :func:`value_and_jacobian`."""
    value_and_jacobian_f = value_and_jacobian(f, argnum, batched=batched)
    return lambda *args, **kwargs: value_and_jacobian_f(*args, **kwargs)[1]


def _name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def stop_gradient(x):
    """``x`` as a constant: its raw value under every trace (dicts are handled entrywise)."""
    if isinstance(x, dict):
        return {key: getval(value) for key, value in x.items()}
    return getval(x)
