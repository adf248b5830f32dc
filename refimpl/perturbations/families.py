"""Perturbation families as values: a norm ball with its steepest-ascent step and projection.

A family is built once from its settings and passed to the code that needs it, instead of a
name and the family's options (STYLE.md). Every family has, batched over axis 0 (each example
measured over all its other axes):

- ``norm(x) -> (N,)``: the norm in which ``radius`` is measured;
- ``dual_norm(g) -> (N,)``: the optimal value of steepest ascent per unit radius,
  max { <g, delta> : norm(delta) <= 1 };
- ``steepest_ascent(grad, radius) -> delta``: the maximiser of <grad, delta> subject to
  norm(delta) <= radius (zero for a zero gradient);
- ``project(delta, radius)``: the l2-closest point of the ball (where it has a closed form;
  otherwise a NotImplementedError that says so);
- ``label``: a short name of the norm ("linf", "l2", "k-support 50%", ...) for tables.

The gradient families (:class:`Lp`, :class:`KSupport`, :class:`SignL2`) are thin values over
the closed forms of :mod:`.lp` and :mod:`.k_support`. The noise families
(:class:`UniformNoise`, :class:`GaussianNoise`) ignore the gradient: they ``draw`` a
perturbation instead, and their ``steepest_ascent`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from refimpl.backend import Random, get_namespace

from . import k_support, lp
from ._batch import check_radius, flat, per_example
from .random_noise import gaussian_noise, uniform_noise

Array = Any

__all__ = ["Lp", "KSupport", "SignL2", "UniformNoise", "GaussianNoise", "LINF", "L2", "L1"]


def _exponent_label(p: float) -> str:
    return "linf" if p == math.inf else f"l{p:g}"


@dataclass(frozen=True)
class Lp:
    """The lp ball, p in [1, inf] (:mod:`.lp`): p = inf is FGSM's linf ball, p = 2 the
    normalised gradient, p = 1 the single-pixel step (the whole radius on the largest |g|)."""

    p: float = 2.0

    def __post_init__(self):
        object.__setattr__(self, "p", lp.check_p(self.p))

    @property
    def label(self) -> str:
        return _exponent_label(self.p)

    def norm(self, x: Array) -> Array:
        """||x_n||_p per example, (N, ...) -> (N,)."""
        return lp.norm(x, self.p)

    def dual_norm(self, g: Array) -> Array:
        """||g_n||_q, 1/p + 1/q = 1."""
        return lp.dual_norm(g, self.p)

    def steepest_ascent(self, grad: Array, radius: Any) -> Array:
        """radius * sign(g) (|g| / ||g||_q)^(q - 1); optimal value radius ||g||_q."""
        return lp.steepest_ascent(grad, radius, self.p)

    def project(self, delta: Array, radius: Any) -> Array:
        """Closest point of the lp ball: defined for p in {1, 2, inf} (ValueError otherwise)."""
        return lp.project(delta, radius, self.p)


LINF, L2, L1 = Lp(math.inf), Lp(2.0), Lp(1.0)


@dataclass(frozen=True)
class KSupport:
    """The k-support ball (:mod:`.k_support`, paper 000): k an int in 1..D or a fraction of D.

    Its steepest ascent keeps the k largest |g| and scales them to l2 norm ``radius``. The
    ball's projection has no closed form here: :meth:`project` raises NotImplementedError.
    """

    k: Any = 0.5

    def __post_init__(self):
        k_support.resolve_k(self.k, 10**9)  # type and range; D is checked per call

    @property
    def label(self) -> str:
        return f"k-support {self.k:.0%}" if isinstance(self.k, float) else f"k-support {self.k}"

    def norm(self, x: Array) -> Array:
        return k_support.norm(x, self.k)

    def dual_norm(self, g: Array) -> Array:
        """The l2 norm of the k largest magnitudes."""
        return k_support.dual_norm(g, self.k)

    def steepest_ascent(self, grad: Array, radius: Any) -> Array:
        return k_support.steepest_ascent(grad, radius, self.k)

    def project(self, delta: Array, radius: Any) -> Array:
        raise NotImplementedError("KSupport.project: the k-support ball has no closed-form "
                                  "projection here; use Lp(2) or Lp(1) for iterative attacks")


def _sqrt_d(x: Array) -> float:
    return math.sqrt(math.prod(x.shape[1:]))


def _times(radius: Any, c: float) -> Any:
    """radius * c, keeping a Python number a number (checked by the closed form, no sync)."""
    if isinstance(radius, (int, float)) and not isinstance(radius, bool) and radius >= 0:
        return radius * c
    return radius * c if hasattr(radius, "shape") else radius  # a bad value fails in lp


@dataclass(frozen=True)
class SignL2:
    """The sign step measured in l2 (papers 000/004's "linf" test set, Adv_Loss_Sign).

    The ball is the linf ball whose corners have l2 norm ``radius``: norm(x) = sqrt(D) ||x||_inf,
    dual_norm(g) = ||g||_1 / sqrt(D), and steepest ascent radius sign(g) / sqrt(D) (0.054 per
    pixel at radius 1.5 on 28x28), of l2 norm exactly ``radius`` when no gradient entry is
    zero. (Rescaling sign(g) to l2 norm ``radius`` would give the same step there; where
    entries are exactly zero it spreads the radius over the others, which is no norm's
    steepest ascent.)
    """

    label = "sign_l2"

    def norm(self, x: Array) -> Array:
        return lp.norm(x, math.inf) * _sqrt_d(x)

    def dual_norm(self, g: Array) -> Array:
        return lp.norm(g, 1.0) / _sqrt_d(g)

    def steepest_ascent(self, grad: Array, radius: Any) -> Array:
        return lp.steepest_ascent(grad, _times(radius, 1 / _sqrt_d(grad)), math.inf)

    def project(self, delta: Array, radius: Any) -> Array:
        return lp.project(delta, _times(radius, 1 / _sqrt_d(delta)), math.inf)


class _Noise:
    """Shared by the noise families: no gradient, a draw from ``rng`` instead."""

    def steepest_ascent(self, grad: Array, radius: Any) -> Array:
        raise NotImplementedError(f"{type(self).__name__}.steepest_ascent: a noise family "
                                  f"ignores the gradient; use draw(rng, x, radius)")


@dataclass(frozen=True)
class UniformNoise(_Noise):
    """URN (paper 000): U(-sqrt 3, sqrt 3) per entry (zero mean, unit variance), each example
    rescaled to l2 norm ``radius``. Its norm is the l2 norm."""

    label = "l2"

    def norm(self, x: Array) -> Array:
        return lp.norm(x, 2.0)

    def dual_norm(self, g: Array) -> Array:
        return lp.norm(g, 2.0)

    def project(self, delta: Array, radius: Any) -> Array:
        return lp.project(delta, radius, 2.0)

    def draw(self, rng: Random, x: Array, radius: Array) -> Array:
        """(N, ...) like x: one draw per example, of l2 norm radius (N,)."""
        return _on_device_of(x, uniform_noise(_checked_rng(rng, self), x, radius))


@dataclass(frozen=True)
class GaussianNoise(_Noise):
    """N(0, radius^2) per entry, not rescaled (paper 003; the k-support authors' code).

    ``radius`` is the per-entry standard deviation, so the norm is the root mean square
    ||x||_2 / sqrt(D), whose expected square is radius^2.
    """

    label = "std"

    def norm(self, x: Array) -> Array:
        return lp.norm(x, 2.0) / _sqrt_d(x)

    def dual_norm(self, g: Array) -> Array:
        return lp.norm(g, 2.0) * _sqrt_d(g)

    def project(self, delta: Array, radius: Any) -> Array:
        return lp.project(delta, _times(radius, _sqrt_d(delta)), 2.0)

    def draw(self, rng: Random, x: Array, radius: Array) -> Array:
        """(N, ...) like x: standard normal entries times each example's radius (N,)."""
        noise = _on_device_of(x, gaussian_noise(_checked_rng(rng, self), x, 1.0))
        return noise * per_example(check_radius(radius, x), x.ndim)


def _checked_rng(rng: Any, family: Any) -> Random:
    if not isinstance(rng, Random):
        raise ValueError(f"rng: {type(family).__name__} draws noise and needs a "
                         f"refimpl.backend.Random (make_rng(seed, xp)), got {rng!r}")
    return rng


def _on_device_of(x: Array, a: Array) -> Array:
    """``a`` on the device of ``x`` (the generator may draw on its library's default device)."""
    return a if a.device == x.device else a.to_device(x.device)


def is_zero_row(a: Array) -> Array:
    """(N,) bool: the examples of ``a`` (N, ...) that are exactly zero."""
    xp = get_namespace(a)
    return xp.all(flat(a) == 0, axis=1)
