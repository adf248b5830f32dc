"""Transformations built from vjp and grad: hessian, hvp, jvp (forward mode), elementwise_grad.

    hessian:   the jacobian of the gradient (:func:`~refimpl.autodiff.api.jacobian`)
    hvp:       H v = grad_x <grad_x f(x), v>, two reverse passes, never forming H
    jvp:       J v = grad_u <J^T u, v>: the VJP is linear in its cotangent u, so the gradient of
               <vjp(u), v> in u is J v (forward mode from two reverse passes)
"""

from __future__ import annotations

from typing import Callable

from refimpl.backend import get_namespace
from refimpl.ops._util import as_array
from refimpl.tracer import getval

from ._tree import inner_product, leaves
from .api import _argnums, _check_transform, grad, jacobian, vjp

__all__ = ["hessian", "hvp", "jvp", "elementwise_grad"]


def hessian(f: Callable, argnum: int = 0) -> Callable:
    """``f`` (scalar) -> its Hessian in ``args[argnum]``, of shape x.shape + x.shape."""
    return jacobian(grad(f, argnum), argnum, batched=False)


def hvp(f: Callable, argnum: int = 0) -> Callable:
    """``f`` (scalar) -> ``hvp_f(*args, v)``, the Hessian-vector product H v in ``args[argnum]``.

    H v = grad_x <grad_x f(x), v> (reverse over reverse), at the cost of about two gradients
    and without forming H; ``v`` has the structure of the argument (as autograd's
    ``hessian_vector_product``).
    """
    _check_transform(f, argnum, "hvp")

    def hvp_f(*args, **kwargs):
        *args, v = args
        (i,), _ = _argnums(argnum, None, len(args), f, "hvp")
        shape, v_shape = getattr(args[i], "shape", None), getattr(v, "shape", None)
        if shape is not None and v_shape is not None and tuple(shape) != tuple(v_shape):
            raise ValueError(f"hvp: v must have the shape of argument {i}, {tuple(shape)}, got "
                             f"{tuple(v_shape)}")
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
    _check_transform(f, 0, "jvp")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: expected one tangent per primal, got {len(tangents)} tangents "
                         f"for {len(primals)} primals")
    for i, (primal, tangent) in enumerate(zip(primals, tangents)):
        shape, t_shape = getattr(primal, "shape", None), getattr(tangent, "shape", None)
        if shape is not None and t_shape is not None and tuple(shape) != tuple(t_shape):
            raise ValueError(f"jvp: tangent {i} must have the shape of primal {i}, "
                             f"{tuple(shape)}, got {tuple(t_shape)}")
    out, vjp_fn = vjp(f, *primals)
    first = leaves(primals)
    raw = as_array(getval(out), like=getval(first[0]) if first else None)

    def pulled_back(u):
        return inner_product(vjp_fn(u), tangents)
    return out, grad(pulled_back)(get_namespace(raw).zeros_like(raw))


def elementwise_grad(f: Callable, argnum: int = 0) -> Callable:
    """``f`` -> the gradient of ``sum(f(...))`` in ``args[argnum]``: for an elementwise ``f``, the
    derivative at each entry (as autograd's elementwise_grad)."""
    _check_transform(f, argnum, "elementwise_grad")

    def elementwise_grad_f(*args, **kwargs):
        (i,), _ = _argnums(argnum, None, len(args), f, "elementwise_grad")

        def call(z):
            return f(*args[:i], z, *args[i + 1:], **kwargs)
        out, vjp_fn = vjp(call, args[i])
        raw = as_array(getval(out))
        return vjp_fn(get_namespace(raw).ones_like(raw))[0]
    return elementwise_grad_f
