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

from refimpl import ops
from refimpl.backend import get_namespace, make_rng
from refimpl.tracer import getval

from .api import vjp

__all__ = ["check_grads", "directional_derivatives"]


def _map(fn, tree):
    return {k: fn(v) for k, v in tree.items()} if isinstance(tree, dict) else fn(tree)


def _leaves(tree):
    return list(tree.values()) if isinstance(tree, dict) else [tree]


def _to_float64(x):
    raw = getval(x)
    xp = get_namespace(raw)
    return xp.astype(raw, xp.float64)


def _inner(a_trees, b_trees):
    """sum over all leaves of <a, b>, for two tuples of trees; differentiable."""
    total = 0.0
    pairs = zip((x for t in a_trees for x in _leaves(t)), (x for t in b_trees for x in _leaves(t)))
    for a, b in pairs:
        total = ops.add(total, ops.sum(ops.multiply(a, b)))
    return total


def directional_derivatives(f: Callable, args: Sequence, *, order: int = 1, eps: float = 1e-6,
                            seed: int = 0) -> list[tuple[float, float]]:
    """For each order 1..``order``, the pair (reverse mode, central differences).

    Order 1 compares <J^T u, v> with <u, f(x + eps v) - f(x - eps v)> / (2 eps); order m + 1
    does the same for the scalar function x -> <vjp(f, x)(u), v> of order m. Arguments are
    cast to float64; ``seed`` fixes the random directions u and v.
    """
    if order < 1:
        raise ValueError(f"check_grads: order must be >= 1, got {order}")
    args = tuple(_map(_to_float64, a) for a in args)
    xp = get_namespace(*(leaf for a in args for leaf in _leaves(a)))
    rng = make_rng(seed, xp)
    directions = tuple(_map(lambda a: rng.normal(a.shape, dtype=xp.float64), a) for a in args)

    out, vjp_fn = vjp(f, *args)
    cotangent = rng.normal(getval(out).shape, dtype=xp.float64)
    reverse = float(getval(_inner(vjp_fn(cotangent), directions)))

    def shifted(sign):
        return tuple(_map_pair(lambda a, v: a + sign * eps * v, a, d)
                     for a, d in zip(args, directions))
    difference = getval(f(*shifted(1.0))) - getval(f(*shifted(-1.0)))
    numeric = float(xp.sum(cotangent * difference)) / (2 * eps)
    pairs = [(reverse, numeric)]

    if order > 1:
        def directional_vjp(*inner_args):
            _, inner_vjp = vjp(f, *inner_args)
            return _inner(inner_vjp(cotangent), directions)
        pairs += directional_derivatives(directional_vjp, args, order=order - 1, eps=eps,
                                         seed=seed + 1)
    return pairs


def check_grads(f: Callable, args: Sequence, *, order: int = 1, eps: float = 1e-6,
                rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> None:
    """Check the derivatives of ``f`` at ``args`` up to ``order`` against finite differences.

    Args:
        f: a function of arrays (or dicts of arrays) returning one array.
        args: the point: a sequence of arrays or dicts of arrays, cast to float64 here.
        order: 1 checks the VJPs; 2 also the VJPs of the VJPs; and so on.
        eps: the finite-difference step along the unit-scale random direction.
        rtol, atol: tolerance on the two directional derivatives.
        seed: seed of the random directions.

    Raises:
        AssertionError: with both numbers, when reverse mode and the difference disagree.
    """
    pairs = directional_derivatives(f, args, order=order, eps=eps, seed=seed)
    for m, (reverse, numeric) in enumerate(pairs, start=1):
        if not abs(reverse - numeric) <= atol + rtol * max(abs(reverse), abs(numeric)):
            raise AssertionError(
                f"check_grads (order {m}) failed for {getattr(f, '__name__', f)}: reverse mode "
                f"gives {reverse!r}, central differences give {numeric!r} "
                f"(difference {abs(reverse - numeric):.3g})")


def _map_pair(fn, a_tree, b_tree):
    if isinstance(a_tree, dict):
        return {k: fn(a_tree[k], b_tree[k]) for k in a_tree}
    return fn(a_tree, b_tree)
