"""Reductions and the softmax family, each numerically stable and twice differentiable.

Shapes: ``axis`` may be an int, a tuple or ``None`` (all axes). ``softmax_cross_entropy`` takes
logits (N, K) and labels, either integer classes (N,) or target distributions (N, K), and
returns the per-example losses (N,): take their mean for a batch loss.
"""

from __future__ import annotations

from refimpl.backend import get_namespace
from refimpl.tracer import getval, primitive

from ._util import array_and_namespace, as_array, xp_of
from .arithmetic import multiply, subtract
from .elementwise import exp
from .shape import broadcast_to, reshape

__all__ = ["sum", "mean", "max", "min", "logsumexp", "log_softmax", "softmax",
           "softmax_cross_entropy", "one_hot"]


def _xp(*xs):
    return xp_of(*xs)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def _keepdims_shape(shape, axis):
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand_back(g, x, axis, keepdims):
    """Reshape a reduced gradient so that it broadcasts against ``x``."""
    return g if keepdims else reshape(g, shape=_keepdims_shape(x.shape, axis))


@primitive
def sum(x, *, axis=None, keepdims=False):  # noqa: A001  (array-API name)
    """Sum over ``axis``; its VJP broadcasts the gradient back over the summed axes."""
    x, xp = array_and_namespace(x)
    return xp.sum(x, axis=axis, keepdims=keepdims)


@sum.defvjp
def sum_vjp(g, out, x, *, axis=None, keepdims=False):
    return broadcast_to(_expand_back(g, x, axis, keepdims), shape=x.shape)


def mean(x, *, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``."""
    x = as_array(x)
    count = 1
    for a in _axes(axis, x.ndim):
        count *= x.shape[a]
    return multiply(sum(x, axis=axis, keepdims=keepdims), 1.0 / count)


def _arg_extreme_vjp(g, out, x, *, axis=None, keepdims=False):
    """Gradient of max/min: shared equally among the entries that attain the extreme."""
    xr = getval(x)
    xp = _xp(xr)
    attained = xp.astype(xr == getval(_expand_back(out, x, axis, keepdims)), xr.dtype)
    ties = xp.sum(attained, axis=axis, keepdims=True)  # reduced shape: cheap to divide by
    return multiply(attained, _expand_back(g, x, axis, keepdims) / ties)


@primitive
def max(x, *, axis=None, keepdims=False):  # noqa: A001
    """Largest entry over ``axis``; ties share the gradient equally."""
    x, xp = array_and_namespace(x)
    return xp.max(x, axis=axis, keepdims=keepdims)


max.defvjp(_arg_extreme_vjp)


@primitive
def min(x, *, axis=None, keepdims=False):  # noqa: A001
    """Smallest entry over ``axis``; ties share the gradient equally."""
    x, xp = array_and_namespace(x)
    return xp.min(x, axis=axis, keepdims=keepdims)


min.defvjp(_arg_extreme_vjp)


@primitive
def logsumexp(x, *, axis=-1, keepdims=False):
    """log sum_i exp(x_i) over ``axis``, shifted by the max so that it never overflows.

    d/dx = softmax(x) = exp(x - logsumexp(x)).
    """
    xp = _xp(x)
    shift = xp.max(x, axis=axis, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0.0)
    out = xp.log(xp.sum(xp.exp(x - shift), axis=axis, keepdims=True)) + shift
    if keepdims:
        return out
    axes = _axes(axis, x.ndim)
    return xp.reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))


@logsumexp.defvjp
def logsumexp_vjp(g, out, x, *, axis=-1, keepdims=False):
    return multiply(_expand_back(g, x, axis, keepdims),
                    exp(subtract(x, _expand_back(out, x, axis, keepdims))))


def log_softmax(x, *, axis=-1):
    """x - logsumexp(x): log-probabilities, stable for any logits."""
    return subtract(x, logsumexp(x, axis=axis, keepdims=True))


@primitive
def softmax(x, *, axis=-1):
    """exp(x) / sum exp(x) along ``axis``, computed from shifted logits.

    VJP: s * (g - sum(g * s)), with s the output.
    """
    xp = _xp(x)
    z = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return z / xp.sum(z, axis=axis, keepdims=True)


@softmax.defvjp
def softmax_vjp(g, out, x, *, axis=-1):
    return multiply(out, subtract(g, sum(multiply(g, out), axis=axis, keepdims=True)))


def one_hot(labels, num_classes: int, dtype=None):
    """(N,) integer labels -> (N, K) one-hot rows (float32 unless ``dtype`` is given)."""
    labels = getval(labels)
    xp = _xp(labels)
    classes = xp.arange(num_classes, dtype=labels.dtype)
    return xp.astype(labels[:, None] == classes, dtype or xp.float32)


def _targets(logits, labels):
    """Target distributions (N, K) from integer labels (N,) or from targets (N, K)."""
    logits, labels = getval(logits), getval(labels)
    if labels.ndim == logits.ndim:
        if labels.shape != logits.shape:
            raise ValueError(f"softmax_cross_entropy: labels of shape {labels.shape} do not match "
                             f"logits of shape {logits.shape}")
        return labels
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0] or logits.ndim != 2:
        raise ValueError(f"softmax_cross_entropy: expected logits (N, K) and labels (N,), got "
                         f"logits {logits.shape} and labels {labels.shape}")
    return one_hot(labels, logits.shape[1], logits.dtype)


@primitive
def softmax_cross_entropy(logits, labels):
    """Per-example cross-entropy -log softmax(logits)[label], fused and stable. Shape (N,).

    L = logsumexp(z) - <t, z> for targets t (one-hot or a distribution); dL/dz = softmax(z) - t.
    The labels have no derivative.
    """
    xp = _xp(logits)
    targets = _targets(logits, labels)
    shift = xp.max(logits, axis=-1, keepdims=True)
    lse = xp.log(xp.sum(xp.exp(logits - shift), axis=-1)) + shift[..., 0]
    return lse - xp.sum(targets * logits, axis=-1)


def softmax_cross_entropy_vjp(g, out, logits, labels):
    targets = _targets(logits, labels)
    return multiply(reshape(g, shape=(-1, 1)), subtract(softmax(logits, axis=-1), targets))


softmax_cross_entropy.defvjp(softmax_cross_entropy_vjp, None)  # labels: no derivative
