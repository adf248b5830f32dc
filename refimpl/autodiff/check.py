"""A gradient checker: VJPs against central differences along one random direction.

For f with inputs x and a random input direction v and output cotangent u,

    <u, J v>  ~  <u, f(x + eps v) - f(x - eps v)> / (2 eps)      (error O(eps^2))
    <J^T u, v>  is what reverse mode computes.

Two evaluations of f check every input at once, whatever their size. For order 2 the same
check is applied to the scalar function x -> <vjp(f, x)(u), v>, which exercises the VJPs of
the VJPs (double backprop), and so on for higher orders. Everything runs in float64.
"""

from __future__ import annotations

from typing import Callable, Sequence

from refimpl._checks import check_positive_float, check_positive_int
from refimpl.backend import get_namespace, make_rng
from refimpl.ops._util import as_array, device_of
from refimpl.tracer import getval

from ._tree import inner_product, leaves, tree_map
from .api import vjp

__all__ = ["check_grads", "directional_derivatives"]


def _to_float64(x):
    raw = as_array(getval(x))
    xp = get_namespace(raw)
    return xp.astype(raw, xp.float64)


def directional_derivatives(f: Callable, args: Sequence, *, order: int = 1, eps: float = 1e-6,
                            seed: int = 0) -> list[tuple[float, float]]:
    """For each order 1..``order``, the pair (reverse mode, central differences).

    Order 1 compares <J^T u, v> with <u, f(x + eps v) - f(x - eps v)> / (2 eps); order m + 1
    does the same for the scalar function x -> <vjp(f, x)(u), v> of order m. Arguments are
    cast to float64; ``seed`` fixes the random directions u and v.
    """
    if order < 1:
        raise ValueError(f"check_grads: order must be >= 1, got {order}")
    args = tree_map(_to_float64, tuple(args))
    first = leaves(args)[0]
    xp = get_namespace(*leaves(args))
    rng = make_rng(seed, xp)

    def draw(shape):
        return xp.asarray(rng.normal(shape, dtype=xp.float64), device=device_of(first))
    directions = tree_map(lambda a: draw(a.shape), args)

    out, vjp_fn = vjp(f, *args)
    cotangent = draw(tuple(getattr(getval(out), "shape", ())))
    reverse = float(getval(inner_product(vjp_fn(cotangent), directions)))

    def shifted(sign):
        return tree_map(lambda a, v: a + sign * eps * v, args, directions)
    difference = as_array(getval(f(*shifted(1.0)))) - as_array(getval(f(*shifted(-1.0))))
    numeric = float(xp.sum(cotangent * difference)) / (2 * eps)
    pairs = [(reverse, numeric)]

    if order > 1:
        def directional_vjp(*inner_args):
            _, inner_vjp = vjp(f, *inner_args)
            return inner_product(inner_vjp(cotangent), directions)
        pairs += directional_derivatives(directional_vjp, args, order=order - 1, eps=eps,
                                         seed=seed + 1)
    return pairs


def check_grads(f: Callable, args: Sequence, *, order: int = 1, eps: float = 1e-6,
                rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> None:
    """Check the derivatives of ``f`` at ``args`` up to ``order`` against finite differences.

    Args:
        f: a function of arrays (or dicts, lists and tuples of arrays) returning one array.
        args: the point: a sequence of arrays, floats or trees of them, cast to float64 here.
        order: 1 checks the VJPs; 2 also the VJPs of the VJPs; and so on.
        eps: the finite-difference step along the unit-scale random direction.
        rtol: relative tolerance on the two directional derivatives.
        atol: absolute tolerance on them.
        seed: seed of the random directions.

    Raises:
        AssertionError: with both numbers, when reverse mode and the difference disagree.
    """
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"args: expected a sequence (tuple or list) of arguments, got "
                        f"{type(args).__name__}")
    check_positive_int(order, "order")
    check_positive_float(eps, "eps")
    check_positive_float(rtol, "rtol", allow_zero=True)
    check_positive_float(atol, "atol", allow_zero=True)
    pairs = directional_derivatives(f, args, order=order, eps=eps, seed=seed)
    for m, (reverse, numeric) in enumerate(pairs, start=1):
        if not abs(reverse - numeric) <= atol + rtol * max(abs(reverse), abs(numeric)):
            raise AssertionError(
                f"check_grads (order {m}) failed for {getattr(f, '__name__', f)}: reverse mode "
                f"gives {reverse!r}, central differences give {numeric!r} "
                f"(difference {abs(reverse - numeric):.3g})")
