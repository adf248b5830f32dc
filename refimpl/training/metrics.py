"""Batched evaluation of a model: logits, loss and accuracy over a whole data set."""

from __future__ import annotations

from typing import Any

from refimpl import ops
from refimpl._checks import check_all_finite, check_labels, check_positive_int
from refimpl.backend import get_namespace, to_numpy

__all__ = ["predict_logits", "evaluate", "check_data", "check_pairs"]

Array = Any


def predict_logits(model, params: dict, x: Array, *, batch_size: int = 1000) -> Array:
    """Logits (N, K) of ``x`` in evaluation mode, ``batch_size`` examples at a time."""
    xp = get_namespace(x)
    check_positive_int(batch_size, "batch_size")
    n = x.shape[0]
    parts = [model.apply(params, x[i:min(i + batch_size, n), ...]) for i in range(0, n, batch_size)]
    return xp.concat(parts, axis=0)


def check_pairs(**pairs) -> None:
    """Raise a TypeError naming the keyword unless each value is None or a pair (x, y)."""
    for name, pair in pairs.items():
        if pair is not None and not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"{name}: expected a pair (x, y) of inputs and labels, got "
                            f"{type(pair).__name__}")


def check_data(model, params: dict, x: Array, y: Array, *, name: str = "") -> int:
    """Check a labelled batch against a model once, at a public entry; return K.

    ``x`` must be a finite floating array (N, *model.input_shape), N > 0, of the parameters'
    dtype (no silent promotion: float64 inputs with float32 parameters are refused, cast one
    of them first), in the parameters' namespace; ``y`` integer labels (N,) in 0..K-1, K the
    model's number of outputs (one forward pass of one example finds it).

    Raises:
        TypeError / ValueError: naming the argument, ``"x"`` or ``"y"`` after ``name``
            (``name="train"``: ``"train x"``, ``"train y"``).
    """
    label_name, name = f"{name} y".strip(), f"{name} x".strip()
    xp = get_namespace(x, *params.values(), y, name=f"{name} and the parameters")
    if not hasattr(x, "ndim") or x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty batch (N, ...), got shape "
                         f"{tuple(getattr(x, 'shape', ()))}")
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"{name}: expected floating inputs, got dtype {x.dtype}")
    dtypes = {p.dtype for p in params.values() if xp.isdtype(p.dtype, "real floating")}
    if dtypes and x.dtype not in dtypes:
        raise TypeError(f"{name}: dtype {x.dtype} differs from the parameters' "
                        f"{', '.join(map(str, dtypes))}; cast x (xp.astype(x, dtype)) or "
                        "initialise the model in its dtype")
    input_shape = getattr(model, "input_shape", None)
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
        raise ValueError(f"{name}: expected examples of shape {tuple(input_shape)} (model "
                         f"{getattr(model, 'name', '')}), got a batch of shape {tuple(x.shape)}")
    check_all_finite(x, name)
    num_classes = int(model.apply(params, x[:1, ...]).shape[1])
    check_labels(y, num_classes, n=int(x.shape[0]), name=label_name)
    return num_classes


def evaluate(model, params: dict, x: Array, y: Array, *, batch_size: int = 1000) -> dict:
    """``{"loss": mean cross-entropy, "accuracy": fraction correct, "n": N}`` as Python floats.

    Raises:
        TypeError / ValueError: naming ``x`` or ``y`` (see :func:`check_data`) or
            ``batch_size``.
    """
    xp = get_namespace(x)
    check_positive_int(batch_size, "batch_size")
    check_data(model, params, x, y)
    total_loss, correct = 0.0, 0
    n = int(x.shape[0])
    for i in range(0, n, batch_size):
        stop = min(i + batch_size, n)  # array-api-strict refuses slices past the end
        logits = model.apply(params, x[i:stop, ...])
        labels = y[i:stop]
        total_loss += float(to_numpy(xp.sum(ops.softmax_cross_entropy(logits, labels))))
        correct += int(to_numpy(xp.sum(xp.astype(xp.argmax(logits, axis=1) == labels, xp.int64))))
    return {"loss": total_loss / n, "accuracy": correct / n, "n": n}
