"""Tensor contractions as NumPy names them: dot, inner, outer, tensordot, einsum.

None is a new primitive: each is a permutation and a reshape that turn the contraction into
one matrix product, whose VJPs (and theirs) already exist, so every order of derivative works.
``einsum`` takes the axes that appear in both of a pair of operands but not in what is kept as
the inner dimension, the shared kept axes as a batch, and sums an axis that only one operand
has before contracting; a letter repeated in one operand (``"ii->i"``) takes a diagonal.
"""

from __future__ import annotations

import math

from ._util import as_array, device_of, xp_of
from .arithmetic import multiply
from .linalg import matmul
from .reductions import sum
from .shape import broadcast_to, permute_dims, reshape

__all__ = ["dot", "inner", "outer", "tensordot", "einsum"]


def _permute(x, axes):
    return x if tuple(axes) == tuple(range(len(axes))) else permute_dims(x, axes=tuple(axes))


def tensordot(a, b, axes=2):
    """Sum of a * b over ``axes``: an int N (a's last N with b's first N) or two sequences.

    Result shape: a's free axes, then b's free axes, each in their original order.
    """
    if isinstance(axes, int):
        axes_a, axes_b = tuple(range(a.ndim - axes, a.ndim)), tuple(range(axes))
    else:
        axes_a, axes_b = ((ax,) if isinstance(ax, int) else tuple(ax) for ax in axes)
    axes_a = tuple(i % a.ndim for i in axes_a)
    axes_b = tuple(i % b.ndim for i in axes_b)
    if len(axes_a) != len(axes_b) or any(a.shape[i] != b.shape[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError(f"tensordot: axes {axes!r} do not pair equal lengths of shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    free_a = tuple(i for i in range(a.ndim) if i not in axes_a)
    free_b = tuple(i for i in range(b.ndim) if i not in axes_b)
    inner_size = math.prod(a.shape[i] for i in axes_a)
    a_mat = reshape(_permute(a, free_a + axes_a), shape=(-1, inner_size))  # (M, K)
    b_mat = reshape(_permute(b, axes_b + free_b), shape=(inner_size, -1))  # (K, N)
    shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b)
    return reshape(matmul(a_mat, b_mat), shape=shape)


def dot(a, b):
    """NumPy's dot: a product for a 0-d operand, matmul up to 2-D (and for 1-D b), else the sum
    over a's last axis and b's second-to-last."""
    a, b = as_array(a, like=b), as_array(b, like=a)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if (a.ndim <= 2 and b.ndim <= 2) or a.ndim == 1 or b.ndim == 1:
        return matmul(a, b)
    return tensordot(a, b, axes=((a.ndim - 1,), (b.ndim - 2,)))


def inner(a, b):
    """Sum over the last axes of a and b; shape a.shape[:-1] + b.shape[:-1]."""
    a, b = as_array(a, like=b), as_array(b, like=a)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=((a.ndim - 1,), (b.ndim - 1,)))


def outer(a, b):
    """out[i, j] = a.ravel()[i] * b.ravel()[j]."""
    return multiply(reshape(a, shape=(-1, 1)), reshape(b, shape=(1, -1)))


def _parse(subscripts, operands):
    """Input letter strings (ellipses spelt out as capitals) and the output letters."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    inputs = inputs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} names {len(inputs)} operands, got "
                         f"{len(operands)}")
    spelt = []
    longest = 0
    for letters, x in zip(inputs, operands):
        if "..." in letters:
            ell = x.ndim - (len(letters) - 3)
            longest = max(longest, ell)
            letters = letters.replace("...", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[26 - ell:] if ell else "")
        if len(letters) != x.ndim or not letters.isalpha():
            raise ValueError(f"einsum: subscripts {letters!r} do not fit an operand of shape "
                             f"{tuple(x.shape)}")
        spelt.append(letters)
    ellipsis = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[26 - longest:] if longest else ""
    if arrow:
        output = output.replace("...", ellipsis)
    else:  # implicit mode: the ellipsis, then the letters seen once, in alphabetical order
        joined = "".join(spelt)
        output = ellipsis + "".join(sorted(c for c in set(joined) if joined.count(c) == 1
                                           and c.islower()))
    return spelt, output


def _reduce(x, letters, keep):
    """Take diagonals of repeated letters and sum the letters not in ``keep``."""
    while len(set(letters)) < len(letters):
        c = next(c for c in letters if letters.count(c) > 1)
        i, j = letters.index(c), letters.index(c, letters.index(c) + 1)
        n = x.shape[i]
        eye = xp_of(x).eye(n, dtype=x.dtype, device=device_of(x))
        mask_shape = [1] * x.ndim
        mask_shape[i] = mask_shape[j] = n
        x = sum(multiply(x, reshape(eye, shape=tuple(mask_shape))), axis=j)  # x[.., k, .., k, ..]
        letters = letters[:j] + letters[j + 1:]
    dropped = tuple(i for i, c in enumerate(letters) if c not in keep)
    if dropped:
        x = sum(x, axis=dropped)
        letters = "".join(c for c in letters if c in keep)
    return x, letters


def _broadcast(x, letters, size):
    shape = tuple(size[c] for c in letters)
    return x if tuple(x.shape) == shape else broadcast_to(x, shape=shape)


def _contract(a, la, b, lb, keep):
    """One pairwise contraction as a batched matrix product; returns (array, its letters)."""
    batch = [c for c in la if c in lb and c in keep]
    inner_letters = [c for c in la if c in lb and c not in keep]
    free_a = [c for c in la if c not in lb]
    free_b = [c for c in lb if c not in la]
    size = {c: n for letters, x in ((la, a), (lb, b)) for c, n in zip(letters, x.shape)}
    for c in batch + inner_letters:  # a length-1 axis broadcasts against the other operand's
        size[c] = max(a.shape[la.index(c)], b.shape[lb.index(c)])
    a, b = _broadcast(a, la, size), _broadcast(b, lb, size)

    def prod_of(letters):
        return math.prod(size[c] for c in letters)
    a3 = reshape(_permute(a, [la.index(c) for c in batch + free_a + inner_letters]),
                 shape=(prod_of(batch), prod_of(free_a), prod_of(inner_letters)))
    b3 = reshape(_permute(b, [lb.index(c) for c in batch + inner_letters + free_b]),
                 shape=(prod_of(batch), prod_of(inner_letters), prod_of(free_b)))
    letters = batch + free_a + free_b
    out = reshape(matmul(a3, b3), shape=tuple(size[c] for c in letters))  # (B, Ma, Nb) unfolded
    return out, "".join(letters)


def einsum(subscripts: str, *operands):
    """Einstein summation as NumPy's einsum, for any number of operands (contracted pairwise,
    left to right), with ``...`` and implicit output.

    Example: ``einsum("bij,bjk->bik", a, b)`` is a batched matmul, ``einsum("ii", a)`` a trace.
    """
    operands = [as_array(x) for x in operands]
    letters, output = _parse(subscripts, operands)
    for c in output:
        if output.count(c) > 1 or not any(c in lt for lt in letters):
            raise ValueError(f"einsum: output subscript {c!r} of {subscripts!r} is repeated or "
                             "not in any input")
    def needed_after(k):  # the letters that the output or a later operand still uses
        return set(output).union(*letters[k + 1:])
    x, lx = _reduce(operands[0], letters[0], needed_after(0))
    for k in range(1, len(operands)):
        y, ly = _reduce(operands[k], letters[k], needed_after(k) | set(lx))
        x, lx = _contract(x, lx, y, ly, needed_after(k))
    x, lx = _reduce(x, lx, set(output))
    return _permute(x, [lx.index(c) for c in output])
