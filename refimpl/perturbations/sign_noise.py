"""Sign-multiplicative noise (paper 002): g(x) = x + eps * x * l(x), drawn fresh each call.

Each entry gets l(x) = sign(x) with probability p and -sign(x) otherwise, so x * l(x) = +|x|
or -|x|: an entry is raised by eps |x| (probability p) or lowered by eps |x| (a positive entry
is scaled by 1 + eps or 1 - eps, a negative one by 1 - eps or 1 + eps), and zeros stay zero. The noise is applied in the
forward pass of training only, to inputs and hidden activations; it is a constant for
differentiation, so

    d g / d x = 1 + eps * l(x)      (elementwise; the paper's Jacobian, sec. 3).

The function is written with :mod:`refimpl.ops`, so it works on raw arrays and on traced
values inside ``grad``. Defaults (the paper leaves them open): eps = 0.1, p = 0.5.
"""

from __future__ import annotations

import math
from typing import Any

from refimpl import ops
from refimpl.backend import Random
from refimpl.tracer import getval, namespace_of

Array = Any

__all__ = ["sign_noise", "sign_noise_factor"]


def _check(eps: float, p: float) -> None:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps):
        raise ValueError(f"eps: expected a finite number (the noise scale, e.g. 0.1), got {eps!r}")
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p: expected a probability in [0, 1], got {p!r}")


def sign_noise_factor(x: Array, rng: Random, *, eps: float = 0.1, p: float = 0.5) -> Array:
    """The constant factor 1 + eps * l(x) (same shape and dtype as ``x``), a raw array."""
    _check(eps, p)
    raw = getval(x)
    xp = namespace_of(x)
    if not xp.isdtype(raw.dtype, "real floating"):
        raise TypeError(f"x: expected a floating array (float32 or float64), got dtype "
                        f"{raw.dtype}")
    if not isinstance(rng, Random):
        raise TypeError(f"rng: expected a refimpl.backend.Random, got {type(rng).__name__}")
    keep = rng.uniform(tuple(raw.shape), dtype=raw.dtype) < p  # l = sign(x) w.p. p
    sign = xp.sign(raw)
    return 1 + eps * xp.where(keep, sign, -sign)


def sign_noise(x: Array, rng: Random, *, eps: float = 0.1, p: float = 0.5) -> Array:
    """g(x) = x * (1 + eps * l(x)) with fresh random signs; differentiable in ``x``.

    Args:
        x: (N, ...) raw or traced array (inputs or hidden activations).
        rng: the generator of the sign flips, drawing in the namespace of ``x``.
        eps: the noise scale; p: the probability that l(x) = sign(x).

    Returns:
        An array (traced when ``x`` is) of the shape and dtype of ``x``.
    """
    return ops.multiply(x, sign_noise_factor(x, rng, eps=eps, p=p))
