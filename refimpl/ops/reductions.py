"""Reductions and the softmax family, each numerically stable and twice differentiable.

Shapes: ``axis`` may be an int, a tuple or ``None`` (all axes). ``softmax_cross_entropy`` takes
logits (N, K) and labels, either integer classes (N,) or target distributions (N, K), and
returns the per-example losses (N,); ``mean_softmax_cross_entropy`` is their mean, the batch
loss, as one recorded operation.
"""

from __future__ import annotations

from refimpl.backend import dtype_is
from refimpl.tracer import getval, primitive

from ._util import array_and_namespace, as_array, untraced, xp_of
from .arithmetic import multiply, subtract
from .elementwise import exp
from .shape import broadcast_to, reshape

__all__ = ["sum", "mean", "max", "min", "logsumexp", "log_softmax", "softmax",
           "softmax_cross_entropy", "mean_softmax_cross_entropy", "one_hot", "check_labels"]


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
    """log softmax(x) = (x - m) - logsumexp(x - m), m = max x held constant: stable for any logits.

    Shifting by the max first keeps the result exact for large equal logits (1e6 in float32
    gives -log 3, not the -1.125 that x - logsumexp(x) rounds to); the shift is a constant
    (the result does not depend on it), so the derivative is still I - softmax(x).
    """
    shifted = subtract(x, _constant_max(x, axis))
    return subtract(shifted, logsumexp(shifted, axis=axis, keepdims=True))


def _constant_max(x, axis):
    """max x over ``axis`` (kept), as a raw constant; 0 where it is not finite (all -inf)."""
    xr = getval(x)
    xp = _xp(xr)
    top = xp.max(xr, axis=axis, keepdims=True)
    return xp.where(xp.isfinite(top), top, xp.zeros_like(top))


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
    """(N,) integer labels -> (N, K) one-hot rows (float32 unless ``dtype`` is given).

    A label outside [0, K) gives a zero row; the public losses refuse such labels first.
    """
    labels = getval(labels)
    xp = _xp(labels)
    if not dtype_is(xp, labels.dtype, "integral"):
        raise ValueError(f"labels (y): expected integer class labels, got dtype {labels.dtype}")
    classes = xp.arange(num_classes, dtype=labels.dtype, device=labels.device)
    return xp.astype(labels[:, None] == classes, dtype or xp.float32)


def check_labels(logits, labels, *, name: str = "y") -> None:
    """Raise a ValueError naming ``name`` unless labels fit logits (N, K).

    Accepted: integer classes (N,) in [0, K), or target rows (N, K) of a floating dtype.
    Refused: float labels of shape (N,), 1-D logits, a length mismatch, an empty batch and
    classes outside [0, K). The range check reads one boolean from the device (a host
    synchronisation): call this once at a public entry, never inside a training step.
    """
    logits, labels = getval(logits), getval(labels)
    xp = _xp(logits)
    _check_shapes(logits, labels, name)
    if labels.ndim == 1 and not bool(xp.all((labels >= 0) & (labels < logits.shape[1]))):
        raise ValueError(f"{name}: expected class labels in [0, {logits.shape[1]}) (one per "
                         f"logit column), got a label outside that range")


def _check_shapes(logits, labels, name):
    """The host-free part of :func:`check_labels`: shapes and dtypes only."""
    if getattr(logits, "ndim", 0) != 2:
        raise ValueError(f"logits: expected a batch of shape (N, K), got shape "
                         f"{tuple(getattr(logits, 'shape', ()))} (a single example? add a "
                         f"leading axis)")
    xp = _xp(logits)
    n, k = logits.shape
    if labels.ndim == 1:
        if not dtype_is(xp, labels.dtype, "integral"):
            raise ValueError(f"{name}: expected integer class labels of shape ({n},), got dtype "
                             f"{labels.dtype} (soft targets must have shape ({n}, {k}))")
        if labels.shape[0] != n:
            raise ValueError(f"{name}: expected {n} labels (one per row of logits), got "
                             f"{labels.shape[0]}")
    elif tuple(labels.shape) != (n, k) or not dtype_is(xp, labels.dtype, "real floating"):
        raise ValueError(f"{name}: expected integer labels ({n},) or floating targets ({n}, {k}),"
                         f" got {labels.dtype} of shape {tuple(labels.shape)}")
    if n == 0:
        raise ValueError(f"{name}: expected at least one example, got an empty batch")


def _is_classes(labels) -> bool:
    return getval(labels).ndim == 1


@primitive
def softmax_cross_entropy(logits, labels, *, check: bool = True):
    """Per-example cross-entropy -log softmax(logits)[label], fused and stable. Shape (N,).

    L = log sum_j exp(z_j - m) - <t, z - m> for targets t (one-hot from integer labels (N,),
    or distributions (N, K)) and m = max_j z_j: subtracting m before the inner product keeps
    log 3 exact for three equal logits of 1e6 (float32) or 1e4 (float16), and a -inf logit on
    a class with t_j = 0 contributes 0 (not 0 * inf = NaN). The labels have no derivative.

    Args:
        logits: (N, K); labels: (N,) integers in [0, K) or (N, K) targets.
        check: also check the label range (one host synchronisation, see
            :func:`check_labels`); training steps, whose labels were checked once at the
            entry, pass ``check=False``. Shapes and dtypes are checked either way.
    """
    xp = _xp(logits)
    if check:
        check_labels(logits, labels, name="labels (y)")
    else:
        _check_shapes(logits, labels, "labels (y)")
    shifted = logits - _constant_max(logits, -1)  # (N, K), max 0 per row
    lse = xp.log(xp.sum(xp.exp(shifted), axis=-1))
    if _is_classes(labels):  # <t, z - m> is the label's entry, the one nonzero of its row
        return lse - xp.sum(xp.where(_is_label(logits, labels), shifted, 0.0), axis=-1)
    t = labels != 0
    return lse - xp.sum(xp.where(t, labels * xp.where(t, shifted, 0.0), 0.0), axis=-1)


def softmax_cross_entropy_vjp(g, out, logits, labels, *, check=True):
    """dL/dz = softmax(z) - t, computed without cancellation for integer labels.

    For one-hot t the true-class entry p_y - 1 is -(sum_{j != y} p_j) (p_y rounds to 1 long
    before the other probabilities vanish, and 1 - p_y would then be 0), so the gradient is
    p (1 - t) - t sum_j p_j (1 - t_j). Targets (N, K) use p - t. Written with differentiable
    ops, so second derivatives work.
    """
    if _is_classes(labels) and untraced(g, logits):
        return _class_gradient(g, logits, labels)  # first order: the same values, fewer calls
    p = softmax(logits, axis=-1)
    if _is_classes(labels):
        t = one_hot(labels, logits.shape[1], getval(logits).dtype)
        others = multiply(p, 1.0 - t)  # p_j (1 - t_j)
        grad = subtract(others, multiply(t, sum(others, axis=-1, keepdims=True)))
    else:
        grad = subtract(p, getval(labels))
    return multiply(reshape(g, shape=(-1, 1)), grad)


def _class_gradient(g, logits, labels):
    """g[:, None] * (p (1 - t) - t sum_j p_j (1 - t_j)) for integer labels, on raw arrays.

    The VJP above in plain array calls, for the common first-order case (no trace through
    the VJP): no primitive dispatch, one softmax, one selection.
    """
    xp = _xp(logits)
    p = softmax(logits, axis=-1)  # raw in, raw out
    is_y = _is_label(logits, labels)
    others = xp.where(is_y, 0.0, p)  # p_j (1 - t_j)
    grad = xp.where(is_y, -xp.sum(others, axis=-1, keepdims=True), others)
    return xp.reshape(g, (-1, 1)) * grad


def _is_label(logits, labels):
    """(N, K) bool, True at each row's label: column j == labels[n], on raw arrays.

    Selecting by this mask (a where and a row sum) is cheaper than ``take_along_axis`` on
    (N, 10) logits and reads nothing out of bounds: an unchecked label outside [0, K) matches
    no column, so its row has no label term (the public losses refuse such labels first).
    """
    xp = _xp(logits)
    classes = xp.arange(logits.shape[1], dtype=xp.int64, device=logits.device)
    return classes[None, :] == xp.astype(labels, xp.int64, copy=False)[:, None]


softmax_cross_entropy.defvjp(softmax_cross_entropy_vjp, None)  # labels: no derivative


@primitive
def mean_softmax_cross_entropy(logits, labels, *, check: bool = True):
    """The batch loss mean(softmax_cross_entropy(logits, labels)), recorded as one operation.

    Bit for bit ``mean`` of the per-example losses (their sum times 1 / N), but one node of the
    graph instead of three (losses, sum, scale): a training step's backward pass runs one VJP
    here, the per-example one with the cotangent g / N in every row. Arguments as in
    :func:`softmax_cross_entropy`; returns a 0-d loss.
    """
    losses = softmax_cross_entropy(logits, labels, check=check)  # raw arguments: not recorded
    return _xp(losses).sum(losses) * (1.0 / losses.shape[0])


def mean_softmax_cross_entropy_vjp(g, out, logits, labels, *, check=True):
    n = getval(logits).shape[0]
    if _is_classes(labels) and untraced(g, logits):  # first order: (g / N) broadcasts by row
        return _class_gradient(g * (1.0 / n), logits, labels)
    per_example = broadcast_to(multiply(g, 1.0 / n), shape=(n,))
    return softmax_cross_entropy_vjp(per_example, None, logits, labels)


mean_softmax_cross_entropy.defvjp(mean_softmax_cross_entropy_vjp, None)
