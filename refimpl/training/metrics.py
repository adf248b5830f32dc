"""Batched evaluation of a model: logits, loss and accuracy over a whole data set."""

from __future__ import annotations

from typing import Any

from refimpl import ops
from refimpl.backend import get_namespace, to_numpy

__all__ = ["predict_logits", "evaluate"]

Array = Any


def predict_logits(model, params: dict, x: Array, *, batch_size: int = 1000) -> Array:
    """Logits (N, K) of ``x`` in evaluation mode, ``batch_size`` examples at a time."""
    xp = get_namespace(x)
    n = x.shape[0]
    parts = [model.apply(params, x[i:min(i + batch_size, n), ...]) for i in range(0, n, batch_size)]
    return xp.concat(parts, axis=0)


def evaluate(model, params: dict, x: Array, y: Array, *, batch_size: int = 1000) -> dict:
    """``{"loss": mean cross-entropy, "accuracy": fraction correct, "n": N}`` as Python floats."""
    xp = get_namespace(x)
    if x.shape[0] == 0:
        raise ValueError("evaluate: x is empty")
    total_loss, correct = 0.0, 0
    n = int(x.shape[0])
    for i in range(0, n, batch_size):
        stop = min(i + batch_size, n)  # array-api-strict refuses slices past the end
        logits = model.apply(params, x[i:stop, ...])
        labels = y[i:stop]
        total_loss += float(to_numpy(xp.sum(ops.softmax_cross_entropy(logits, labels))))
        correct += int(to_numpy(xp.sum(xp.astype(xp.argmax(logits, axis=1) == labels, xp.int64))))
    return {"loss": total_loss / n, "accuracy": correct / n, "n": n}
