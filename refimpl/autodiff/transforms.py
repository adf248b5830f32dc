"""Transformations built from vjp and grad: jacobian, hessian, hvp and jvp (forward mode).

    jacobian:  rows of J from one forward pass and one backward pass per output (or per class,
               batched: all examples at once)
    hessian:   the jacobian of the gradient
    hvp:       H v = grad_x <grad_x f(x), v>, two reverse passes, never forming H
    jvp:       J v = grad_u <J^T u, v>: the VJP is linear in its cotangent u, so the gradient of
               <vjp(u), v> in u is J v (forward mode from two reverse passes)
"""

from __future__ import annotations

from typing import Callable

from refimpl import ops
from refimpl.backend import get_namespace
from refimpl.ops._util import as_array, device_of, size_of
from refimpl.tracer import getval

from ._tree import leaves
from .api import _argnums, _name, grad, inner_product, vjp

__all__ = ["jacobian", "value_and_jacobian", "hessian", "hvp", "jvp"]


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


def hessian(f: Callable, argnum: int = 0) -> Callable:
    """``f`` (scalar) -> its Hessian in ``args[argnum]``, of shape x.shape + x.shape."""
    return jacobian(grad(f, argnum), argnum, batched=False)


def hvp(f: Callable, argnum: int = 0) -> Callable:
    """``f`` (scalar) -> ``hvp_f(*args, v)``, the Hessian-vector product H v in ``args[argnum]``.

    H v = grad_x <grad_x f(x), v> (reverse over reverse), at the cost of about two gradients
    and without forming H; ``v`` has the structure of the argument (as autograd's
    ``hessian_vector_product``).
    """
    def hvp_f(*args, **kwargs):
        *args, v = args
        (i,), _ = _argnums(argnum, None, len(args), f, "hvp")
        gradient = grad(f, i)

        def directional(*inner_args):
            return inner_product(gradient(*inner_args, **kwargs), v)
        return grad(directional, i)(*args)
    return hvp_f


def jvp(f: Callable, primals, tangents):
    """Forward mode: ``(f(*primals), J v)`` with v = ``tangents`` (one per primal), from two VJPs.

    u -> vjp_fn(u) = J^T u is linear, so grad_u <J^T u, v> = J v whatever u (zeros here).
    The result has the shape of ``f``'s output.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: expected one tangent per primal, got {len(tangents)} tangents "
                         f"for {len(primals)} primals")
    out, vjp_fn = vjp(f, *primals)
    first = leaves(primals)
    raw = as_array(getval(out), like=getval(first[0]) if first else None)

    def pulled_back(u):
        return inner_product(vjp_fn(u), tangents)
    return out, grad(pulled_back)(get_namespace(raw).zeros_like(raw))
