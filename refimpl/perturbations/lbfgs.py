"""Untargeted box-constrained L-BFGS (after Szegedy et al.), the whole batch as one problem.

Per example n, with its own constant c_n,

    minimise  c_n ||delta_n||_2^2 + loss(x_n + delta_n, y_n)   s.t.  x_n + delta_n in [lo, hi],

with the untargeted loss -log(1 - p_y) = logsumexp(z) - logsumexp_{j != y}(z) by default
(small exactly when the label's probability is small). The objectives are separable, so the
batch is ONE scipy L-BFGS-B problem over the flat (N * D) vector: its minimiser is every
example's own minimiser, and each function evaluation is one batched forward and backward pass.
Then c is searched per example for the largest value (the smallest perturbation) whose
solution is misclassified: doubled while the solution succeeds, halved while it fails, and
bisected in log c once both are seen; ``search_steps`` solves in all. NumPy appears only at
the scipy edge.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from refimpl import ops
from refimpl.autodiff import value_and_grad
from refimpl.backend import get_namespace, to_numpy
from refimpl.tracer import getval

from ._batch import count_true, flat, l2_norm
from ._checks import (MinimumNormResult, check_clip, check_count, check_label_range,
                      check_positive, one_hot_like)
from ._model import check_input, check_labels, correct, logits_and_input_gradient

Array = Any

__all__ = ["lbfgs_untargeted", "not_label_loss"]


def not_label_loss(logits: Any, y: Array) -> Any:
    """(N,) -log(1 - softmax(z)_y) = logsumexp(z) - logsumexp_{j != y}(z), traceable."""
    raw = getval(logits)
    xp = get_namespace(raw)
    others = ops.where(one_hot_like(y, raw) > 0, xp.full_like(raw, -math.inf), logits)
    return ops.subtract(ops.logsumexp(logits, axis=1), ops.logsumexp(others, axis=1))


def lbfgs_untargeted(logits_fn: Callable, x: Array, y: Array, *,
                     clip: tuple[float, float] = (0.0, 1.0), c: float = 1.0,
                     search_steps: int = 8, max_iter: int = 200,
                     loss_fn: Callable | None = None) -> MinimumNormResult:
    """The smallest misclassified solution over the c search, per example, batched.

    Args:
        logits_fn: x (N, ...) -> logits (N, K), written with refimpl.ops.
        x: (N, ...) inputs (unchanged); y: (N,) integer labels in [0, K).
        clip: the box (lo, hi). c: > 0, the first constant of every example.
        search_steps: >= 1 solves; max_iter: >= 1 L-BFGS-B iterations per solve.
        loss_fn: (logits, y) -> (N,), :func:`not_label_loss` by default.

    Returns:
        :class:`MinimumNormResult` (norm: l2 norm of delta, 0 for rows misclassified at x,
        inf where no solve succeeded; x_adv = x there).
    """
    from scipy.optimize import minimize  # noqa: PLC0415  (scipy.optimize is slow to import)

    xp = get_namespace(x)
    check_input(x)
    check_labels(y, x)
    lo, hi = check_clip(clip, required=True)
    check_positive(c, "c")
    check_count(search_steps, "search_steps")
    check_count(max_iter, "max_iter")
    loss_fn = loss_fn or not_label_loss
    logits, gradient = logits_and_input_gradient(logits_fn, x, y, loss_fn)
    check_label_range(y, logits.shape[1])
    already = to_numpy(~correct(logits, y))
    zero = xp.all(flat(gradient) == 0, axis=1) & correct(logits, y)
    n, shape = x.shape[0], tuple(x.shape)
    x_np = to_numpy(x).astype(np.float64)
    bounds = np.stack([(lo - x_np).ravel(), (hi - x_np).ravel()], axis=1)

    def objective(d_flat, c_rows):
        d = xp.asarray(np.reshape(d_flat, shape), dtype=x.dtype, device=x.device)
        weights = xp.asarray(c_rows, dtype=x.dtype, device=x.device)

        def total(dd):
            size = ops.sum(ops.reshape(ops.multiply(dd, dd), shape=(n, -1)), axis=1)
            return ops.sum(ops.add(ops.multiply(weights, size),
                                   loss_fn(logits_fn(ops.add(x, dd)), y)))
        value, g = value_and_grad(total)(d)
        return float(getval(value)), to_numpy(getval(g)).astype(np.float64).ravel()

    c_now = np.full(n, float(c))
    c_ok, c_fail = np.full(n, np.nan), np.full(n, np.nan)
    best, best_norm = np.zeros_like(x_np), np.where(already, 0.0, np.inf)
    for _ in range(search_steps):
        d = minimize(objective, np.zeros(x_np.size), args=(c_now,), jac=True, method="L-BFGS-B",
                     bounds=bounds, options={"maxiter": max_iter}).x
        d = np.clip(np.reshape(d, shape), bounds[:, 0].reshape(shape), bounds[:, 1].reshape(shape))
        d_xp = xp.asarray(d, dtype=x.dtype, device=x.device)
        won = to_numpy(~correct(getval(logits_fn(x + d_xp)), y)) & ~already
        size = to_numpy(l2_norm(d_xp))
        better = won & (size < best_norm)
        best[better], best_norm[better] = d[better], size[better]
        c_ok, c_fail = np.where(won, c_now, c_ok), np.where(won, c_fail, c_now)
        c_now = np.where(np.isnan(c_fail), c_now * 2.0,
                         np.where(np.isnan(c_ok), c_now / 2.0, np.sqrt(c_ok * c_fail)))
    x_adv = x + xp.asarray(best, dtype=x.dtype, device=x.device)
    delta = x_adv - x
    success = xp.asarray(np.isfinite(best_norm), device=x.device)
    norm = xp.where(success, l2_norm(delta), math.inf)
    return MinimumNormResult(x_adv, delta, count_true(zero), success, norm)
