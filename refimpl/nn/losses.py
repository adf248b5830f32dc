"""Losses, each the mean over a batch of a per-example loss.

- ``cross_entropy(logits, labels)``: mean of -log softmax(logits)[y], through the fused, stable
  :func:`refimpl.ops.softmax_cross_entropy` (labels int (N,) or soft targets (N, K)).
- ``logistic(scores, labels)``: binary labels in {-1, +1}, mean of log(1 + exp(-y s)), written
  as a stable softplus: softplus(z) = max(z, 0) + log1p(exp(-|z|)).
"""

from __future__ import annotations

from typing import Any

from refimpl import ops

__all__ = ["cross_entropy", "cross_entropy_unchecked", "logistic", "softplus"]

Array = Any


def cross_entropy(logits: Array, labels: Array) -> Array:
    """Mean softmax cross-entropy of logits (N, K) against labels (N,) in [0, K) or targets
    (N, K). Bad labels raise a ValueError naming ``y`` (the range check reads the device once;
    training steps use :func:`cross_entropy_unchecked`)."""
    return ops.mean_softmax_cross_entropy(logits, labels)


def cross_entropy_unchecked(logits: Array, labels: Array) -> Array:
    """:func:`cross_entropy` without the label-range check: no host synchronisation, for
    training steps on labels checked once at the training entry."""
    return ops.mean_softmax_cross_entropy(logits, labels, check=False)


def softplus(z: Array) -> Array:
    """log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|))."""
    return ops.relu(z) + ops.log1p(ops.exp(-ops.abs(z)))


def logistic(scores: Array, labels: Array) -> Array:
    """Mean of log(1 + exp(-y s)) for scores (N,) and labels (N,) in {-1, +1}."""
    if tuple(scores.shape) != tuple(labels.shape):
        raise ValueError(f"logistic: scores {tuple(scores.shape)} and labels "
                         f"{tuple(labels.shape)} must have the same shape")
    return ops.mean(softplus(ops.negative(ops.multiply(labels, scores))))
