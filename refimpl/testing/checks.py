"""Property checks for closed-form perturbations: point them at a closed form of your own.

A steepest-ascent closed form solves, per example n,

    maximise <grad[n], delta[n]>  subject to  norm(delta[n]) <= radius[n],

with optimal value radius[n] * dual_norm(grad[n]). :func:`check_steepest_ascent` asserts
exactly that and the invariances that follow from it; :func:`check_projection` does the same
for a projection onto a norm ball. Each raises an AssertionError saying which property failed.
Extra keyword arguments (``p=3.0``, ``k=5``) are passed to every function checked.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from refimpl.backend import device_of, get_namespace, make_rng, to_numpy

Array = Any

__all__ = ["check_steepest_ascent", "check_projection", "check_hoelder"]


def _np(a) -> np.ndarray:
    return np.asarray(to_numpy(a), dtype=np.float64)


def _close(actual, expected, what: str, rtol: float, atol: float) -> None:
    actual, expected = _np(actual), _np(expected)
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        worst = np.max(np.abs(actual - expected))
        raise AssertionError(f"{what}: expected {expected}, got {actual} (max abs error {worst})")


def _radii(radius, n: int) -> np.ndarray:
    r = _np(radius)
    return np.broadcast_to(r, (n,)).copy()


def _inner(a, b) -> np.ndarray:
    a, b = _np(a), _np(b)
    return np.sum((a * b).reshape(a.shape[0], -1), axis=1)


def _random_feasible(xp, norm: Callable, shape, dtype, radius: np.ndarray, count: int, seed: int,
                     params: dict, around=None, device=None):
    """``count`` random batches on the sphere norm = radius.

    They cycle through Gaussian points, sign vectors, sparse points, signed one-hot vertices
    and, when ``around`` (a candidate) is given, small random moves away from the candidate:
    a candidate that is not a local maximiser loses to about half of those.
    """
    rng = make_rng(seed, xp, device=device)
    n, d = shape[0], math.prod(shape[1:])
    r = xp.asarray(radius, dtype=dtype, device=device)
    for i in range(count):
        kind = i % (5 if around is not None else 4)
        z = rng.normal(shape, dtype=dtype)
        if kind == 1:
            z = xp.sign(z)
        elif kind == 2:  # sparse: a few coordinates only
            z = z * xp.astype(rng.uniform(shape, dtype=dtype) < 0.2, dtype)
        elif kind == 3:  # a signed vertex e_j
            hot = xp.arange(d, device=device)[None, :] == rng.integers(0, d, (n, 1))
            z = xp.reshape(xp.where(hot, xp.reshape(xp.sign(z), (n, d)), 0.0), shape)
        elif kind == 4:
            z = around + z * (0.05 * float(np.max(radius, initial=0.0)) / math.sqrt(d))
        length = norm(z, **params)
        scale = xp.where(length > 0, r / xp.where(length > 0, length, 1.0), 0.0)
        yield z * xp.reshape(scale, (n,) + (1,) * (len(shape) - 1))


def check_steepest_ascent(steepest_ascent: Callable, norm: Callable, dual_norm: Callable,
                          grad: Array, radius: Any, *, rtol: float = 1e-7, atol: float = 1e-12,
                          random_points: int = 30, seed: int = 0, **params) -> None:
    """Assert that ``steepest_ascent(grad, radius, **params)`` is the exact maximiser.

    Checked: namespace, shape and dtype kept, ``grad`` unchanged; the norm bound is tight
    (norm(delta) = radius, or 0 for a zero gradient); the objective <grad, delta> equals
    radius * dual_norm(grad); no random point of the ball does better; positive scale
    invariance in grad; batch independence (row by row and in reverse order); a zero gradient
    and a zero radius give a zero delta; an (N,) radius acts row by row.

    Args:
        steepest_ascent: ``(grad, radius, **params) -> delta``.
        norm: ``(x, **params) -> (N,)``.
        dual_norm: ``(g, **params) -> (N,)``.
        grad: (N, ...) a gradient batch; radius: a number >= 0 or (N,).
        rtol: the checks' relative tolerance (at the scale of radius * dual_norm(grad)).
        atol: their absolute tolerance.
    """
    xp = get_namespace(grad)
    before = _np(grad).copy()
    n = grad.shape[0]
    delta = steepest_ascent(grad, radius, **params)
    if get_namespace(delta) is not xp:
        raise AssertionError(f"namespace: delta lives in {get_namespace(delta).__name__}, the "
                             f"gradient in {xp.__name__}")
    if tuple(delta.shape) != tuple(grad.shape) or delta.dtype != grad.dtype:
        raise AssertionError(f"shape/dtype: expected {tuple(grad.shape)} {grad.dtype}, got "
                             f"{tuple(delta.shape)} {delta.dtype}")
    if not np.array_equal(_np(grad), before):
        raise AssertionError("grad was mutated")
    if not np.all(np.isfinite(_np(delta))):
        raise AssertionError(f"delta holds NaN or inf: {_np(delta)}")
    r = _radii(radius, n)
    dual = _np(dual_norm(grad, **params))
    nonzero = np.any(_np(grad).reshape(n, -1) != 0, axis=1)
    best = r * dual
    scale = np.maximum(best, 1e-300)
    _close(_np(norm(delta, **params)), np.where(nonzero, r, 0.0),
           "norm bound: norm(delta) should equal radius (0 for a zero gradient)", rtol, atol)
    _close(_inner(grad, delta) / scale, best / scale,
           "objective: <grad, delta> should equal radius * dual_norm(grad)", rtol, atol)
    for z in _random_feasible(xp, norm, tuple(grad.shape), grad.dtype, r, random_points, seed,
                              params, around=delta, device=device_of(grad)):
        value = _inner(grad, z)
        if np.any(value > best + rtol * scale + atol):
            raise AssertionError(f"optimality: a random feasible point reaches {value}, more than "
                                 f"the closed form's {best}")
    for c in (2.0 ** -7, 3.0):
        _close(steepest_ascent(grad * c, radius, **params), delta,
               f"scale invariance: steepest_ascent({c} * grad) should equal steepest_ascent(grad)",
               rtol, atol * 1e3 + rtol * np.max(r, initial=0.0))
    _check_batch(steepest_ascent, grad, radius, delta, r, rtol, atol, params)
    zero = steepest_ascent(xp.zeros_like(grad), radius, **params)
    _close(zero, np.zeros(tuple(grad.shape)), "zero gradient: delta should be 0", 0.0, 0.0)
    _close(steepest_ascent(grad, 0.0, **params), np.zeros(tuple(grad.shape)),
           "radius 0: delta should be 0", 0.0, 0.0)


def _check_batch(steepest_ascent, grad, radius, delta, r, rtol, atol, params) -> None:
    """Row i alone, a reversed batch and an (N,) radius all give the rows of ``delta``."""
    xp = get_namespace(grad)
    n = grad.shape[0]
    tol = rtol * np.max(r, initial=0.0) + atol
    expected = _np(delta)
    for i in range(n):
        alone = steepest_ascent(grad[i:i + 1, ...], float(r[i]), **params)
        _close(alone[0, ...], expected[i], f"batch independence: row {i} alone", rtol, tol)
    reverse = xp.flip(grad, axis=0)
    _close(steepest_ascent(reverse, xp.asarray(r[::-1].copy(), dtype=grad.dtype, device=device_of(grad)), **params),
           expected[::-1], "batch independence: reversed batch, (N,) radius", rtol, tol)


def check_projection(project: Callable, norm: Callable, delta: Array, radius: Any, *,
                     rtol: float = 1e-7, atol: float = 1e-12, random_points: int = 30,
                     seed: int = 0, **params) -> None:
    """Assert that ``project(delta, radius, **params)`` is the l2-closest point of the ball.

    Checked: shape, dtype, input unchanged; the result is in the ball; projecting twice
    changes nothing; points already inside stay put; and no random point of the ball is closer
    (in l2) to ``delta`` than the projection.
    """
    xp = get_namespace(delta)
    before = _np(delta).copy()
    n = delta.shape[0]
    r = _radii(radius, n)
    out = project(delta, radius, **params)
    if tuple(out.shape) != tuple(delta.shape) or out.dtype != delta.dtype:
        raise AssertionError(f"shape/dtype: expected {tuple(delta.shape)} {delta.dtype}, got "
                             f"{tuple(out.shape)} {out.dtype}")
    if not np.array_equal(_np(delta), before):
        raise AssertionError("delta was mutated")
    size = np.max(np.abs(before), initial=0.0) + np.max(r, initial=0.0)
    lengths = _np(norm(out, **params))
    if np.any(lengths > r * (1 + rtol) + atol * size):
        raise AssertionError(f"feasibility: norms {lengths} exceed the radius {r}")
    _close(project(out, radius, **params), out, "idempotence: project(project(d)) should equal "
           "project(d)", rtol, atol * size)
    inside = _np(norm(delta, **params)) <= r
    _close(_np(out)[inside], before[inside], "points inside the ball should not move", 0.0, 0.0)
    gap = np.sqrt(np.sum(((_np(out) - before) ** 2).reshape(n, -1), axis=1))
    for z in _random_feasible(xp, norm, tuple(delta.shape), delta.dtype, r, random_points, seed,
                              params):
        other = np.sqrt(np.sum(((_np(z) - before) ** 2).reshape(n, -1), axis=1))
        if np.any(other < gap * (1 - rtol) - atol * size):
            raise AssertionError(f"optimality: a random point of the ball is closer ({other}) "
                                 f"than the projection ({gap})")


def check_hoelder(norm: Callable, dual_norm: Callable, w: Array, g: Array, *,
                  rtol: float = 1e-9, atol: float = 1e-12, **params) -> None:
    """Assert Hoelder's inequality <w, g> <= norm(w) * dual_norm(g) row by row."""
    bound = _np(norm(w, **params)) * _np(dual_norm(g, **params))
    value = _inner(w, g)
    if np.any(value > bound * (1 + rtol) + atol):
        raise AssertionError(f"Hoelder: <w, g> = {value} exceeds norm(w) * dual_norm(g) = {bound}")
