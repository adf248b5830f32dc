"""Beyond one accuracy: precision-recall, error under Gaussian noise, minimum perturbations.

Precision-recall curves are paper 000's Figs. 5-11; the error rate under Gaussian noise of
std 0, 0.1, 0.3 is paper 003's Tables IV, V and VII; the distribution of minimum perturbations
along the loss gradient is the input of paper 003's misclassification estimate (sec. V).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from refimpl.backend import device_of, make_rng, to_numpy
from refimpl.perturbations._model import check_label_range
from refimpl.perturbations.random_noise import gaussian_noise
from refimpl.perturbations.search import minimum_perturbation

from ._common import (batches, check_batch_size, check_data, check_radius, check_seed,
                      count_correct, logits_of, predicted_right)

Array = Any

__all__ = ["precision_recall", "gaussian_noise_error", "minimum_perturbations"]


def precision_recall(model, params: dict, x: Array, y: Array, *, batch_size: int = 1000) -> dict:
    """Micro-averaged precision-recall of the one-vs-rest softmax scores (scikit-learn).

    Every (example n, class k) pair is one binary decision with score alpha_nk =
    softmax(f(x_n))_k and truth [y_n = k]; the curve is that of these N*K pairs pooled (the
    indicator is scikit-learn's ``label_binarize(y, classes=range(K))``, also for K = 2), and the
    average precision is ``average_precision_score(indicator, alpha, average="micro")``:
    AP = sum_i (R_i - R_{i-1}) P_i over the thresholds.

    Args:
        x: (N, ...) inputs, clean or already perturbed (e.g. by :func:`perturb`); y: (N,).

    Returns:
        ``{"precision": (T,) ndarray, "recall": (T,) ndarray, "average_precision": float}``.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve  # noqa: PLC0415

    xp = check_data(x, y)
    check_batch_size(batch_size)
    parts = []
    for start, stop in batches(x.shape[0], batch_size):
        logits = model.apply(params, x[start:stop, ...])
        shifted = xp.exp(logits - xp.max(logits, axis=1, keepdims=True))  # stable softmax
        parts.append(to_numpy(shifted / xp.sum(shifted, axis=1, keepdims=True)))
    probs = np.concatenate(parts)  # (N, K)
    labels = to_numpy(y).astype(np.int64)
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"y: expected labels in 0..{probs.shape[1] - 1} (the model's classes), "
                         f"got {labels.min()}..{labels.max()}")
    indicator = (labels[:, None] == np.arange(probs.shape[1])).astype(np.int64)  # (N, K)
    precision, recall, _ = precision_recall_curve(indicator.ravel(), probs.ravel())
    ap = average_precision_score(indicator, probs, average="micro")
    return {"precision": precision, "recall": recall, "average_precision": float(ap)}


def gaussian_noise_error(model, params: dict, x: Array, y: Array, *,
                         sigmas: Sequence[float] = (0.0, 0.1, 0.3), draws: int = 1,
                         seed: int | None = 0, batch_size: int = 1000) -> dict[float, float]:
    """Error rate under per-pixel Gaussian noise: 1 - accuracy on x + N(0, sigma^2 I).

    For each sigma, ``draws`` independent noise draws of the whole set are scored and their
    error rates averaged; every point is perturbed (not only the correct ones). sigma = 0 is
    the clean error, computed once. One ``make_rng(seed, xp)`` draws for every sigma in turn.

    Args:
        x: (N, ...) inputs; y: (N,) labels.
        sigmas: per-pixel standard deviations >= 0 (paper 003: 0, 0.1, 0.3 on [0, 1] pixels).
        draws: noise draws per sigma, >= 1.

    Returns:
        sigma (float) -> mean error rate (Python float in [0, 1]).
    """
    xp = check_data(x, y)
    check_batch_size(batch_size)
    if isinstance(sigmas, str) or not isinstance(sigmas, Sequence) or not sigmas:
        raise ValueError(f"sigmas: expected a non-empty sequence of numbers >= 0, got {sigmas!r}")
    sigmas = [check_radius(s, "sigmas") for s in sigmas]
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws: expected an int >= 1, got {draws!r}")
    rng = make_rng(check_seed(seed), xp, device=device_of(x))
    n, errors = x.shape[0], {}
    for sigma in sigmas:
        hits = 0
        for _ in range(1 if sigma == 0 else draws):
            for start, stop in batches(n, batch_size):
                xb = x[start:stop, ...]
                if sigma > 0:
                    xb = xb + gaussian_noise(rng, xb, sigma)
                logits, yb = model.apply(params, xb), y[start:stop]
                check_label_range(yb, logits.shape[1])
                hits += count_correct(logits, yb)
        errors[sigma] = 1.0 - hits / (n * (1 if sigma == 0 else draws))
    return errors


def minimum_perturbations(model, params: dict, x: Array, y: Array, *, max_radius: float,
                          batch_size: int = 500, **kw) -> np.ndarray:
    """l2 norms of the minimum perturbations along the normalised loss gradient (paper 003).

    For each correctly classified point, the smallest t in (0, max_radius] with
    argmax f(x + t g/||g||_2) != y, g = grad_x L(f(x), y), found by a grid and bisection
    (:func:`refimpl.perturbations.search.minimum_perturbation`; t is the upper end of the
    final bracket, so the prediction at x + t g/||g||_2 has changed).

    Args:
        x: (N, ...) inputs; y: (N,) labels.
        max_radius: the longest step searched, > 0.
        **kw: more arguments of ``minimum_perturbation`` (grid_points, bisection_steps, loss_fn).

    Returns:
        (C,) float64 NumPy array, one entry per correctly classified point in test-set order
        (misclassified points are left out); inf ("not found", the convention of every
        minimum-perturbation routine) where no change was found within ``max_radius`` or the
        gradient was exactly zero. For a histogram, keep ``np.isfinite`` entries.
    """
    check_data(x, y)
    check_batch_size(batch_size)
    if isinstance(max_radius, bool) or not isinstance(max_radius, (int, float)) or not (
            math.isfinite(max_radius) and max_radius > 0):
        raise ValueError(f"max_radius: expected a finite number > 0, got {max_radius!r}")
    logits_fn, parts = logits_of(model, params), []
    for start, stop in batches(x.shape[0], batch_size):
        xb, yb = x[start:stop, ...], y[start:stop]
        right = to_numpy(predicted_right(logits_fn(xb), yb))
        found = minimum_perturbation(logits_fn, xb, yb, max_radius=max_radius, **kw)
        radius = to_numpy(found.radius).astype(np.float64)[right]
        parts.append(np.where(np.isfinite(radius), radius, np.inf))
    return np.concatenate(parts)
