"""Training methods: each turns a batch into the loss that one descent step lowers.

A method is a function ``method(model, params, x, y, *, rng, **options) -> scalar loss``; the
training loop differentiates it in ``params``. :func:`get_method` binds the options and
returns a :class:`Method`, the callable the loop takes. Methods that perturb the batch compute
the perturbation with the parameters held fixed (a constant of the step) and return the loss
on the perturbed batch (see :mod:`.adversarial`), so the loop never knows which method it runs.

| name | loss on a batch (x, y) |
|---|---|
| normal | L(x) (dropout layers, if any, active) |
| dropout | as normal, but refuses a model without dropout layers |
| goodfellow | alpha L(x) + (1 - alpha) L(x + radius sign(grad_x L)) |
| robust_lp | L(x + lp steepest ascent), p in {1, 2, inf} |
| ksup | L(x + k-support steepest ascent) |
| urn | L(x + uniform noise of l2 norm radius) |
| lwa | L(x + radius r / ||r||_2), r from Adv_Loss or Adv_Alpha |
| lwa_rep | L(classifier(h + radius r / ||r||_2)), h = representation(x) |
| gradreg | L(x + lp steepest ascent of size sigma) |
| gradreg_penalty | L(x) + sigma ||grad_x L||_q, by double backpropagation |
| sign_noise | L(g(x)), g(x) = x (1 + eps l(x)) on inputs and hidden activations |
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable

from refimpl import ops
from refimpl.autodiff import value_and_grad
from refimpl.nn.losses import cross_entropy_unchecked as cross_entropy
from refimpl.perturbations.lp import check_p, dual_exponent
from refimpl.perturbations.sign_noise import sign_noise as sign_noise_map
from refimpl.tracer import namespace_of
from refimpl.perturbations.families import KSupport
from refimpl.training.adversarial import (DIRECTIONS, SHAHAM_RADII, check_sigma, goodfellow,
                                          gradreg, ksup, lwa, lwa_rep, robust_lp, urn)

__all__ = ["normal", "dropout", "gradreg_penalty", "sign_noise", "Method", "METHODS",
           "get_method", "dual_norm_traced"]

Array = Any


def normal(model, params: dict, x: Array, y: Array, *, rng=None) -> Array:
    """L(x): the mean cross-entropy of the model in training mode (dropout on, if it has any)."""
    return cross_entropy(model.apply(params, x, train=True, rng=rng), y)


def dropout(model, params: dict, x: Array, y: Array, *, rng=None) -> Array:
    """L(x) with the model's dropout layers active (papers 000, 004): ``normal`` on a model
    built with dropout, such as ``mlp-200-200-dropout``; other models are refused."""
    layers = model.representation.layers + model.classifier.layers
    if not any(layer.kind == "dropout" and layer.rate > 0 for layer in layers):
        raise ValueError(f"model: method 'dropout' needs a model with dropout layers, and "
                         f"{model.name!r} has none (try mlp-200-200-dropout or "
                         f"mlp-400-400-dropout)")
    return normal(model, params, x, y, rng=rng)


def dual_norm_traced(g: Array, q: float) -> Array:
    """||g_n||_q per row of a traced (N, ...) batch, differentiable everywhere (0 at g_n = 0):
    ``ops.vector_norm`` over the non-batch axes (its subgradient at 0 is 0)."""
    return ops.vector_norm(ops.reshape(g, shape=(g.shape[0], -1)), q, axis=1)


def gradreg_penalty(model, params: dict, x: Array, y: Array, *, rng=None, sigma: float = 1.0,
                    p: float = 2.0) -> Array:
    """mean_n [L_n(x) + sigma ||grad_{x_n} L_n||_q]: paper 003's penalty form (eq. 4).

    The input gradient is computed inside the traced loss, so the descent step differentiates
    through it (double backpropagation); q is the dual exponent of ``p``. One forward pass
    gives both L and grad_x L, so dropout masks are shared by the two terms.
    """
    q = dual_exponent(check_p(p))
    check_sigma(sigma)

    def summed_loss(z):  # rows are independent, so row n of its gradient is grad_{x_n} L_n
        return ops.sum(ops.softmax_cross_entropy(model.apply(params, z, train=True, rng=rng), y,
                                                 check=False))

    total, input_grad = value_and_grad(summed_loss)(x)
    penalty = ops.mean(dual_norm_traced(input_grad, q))
    return ops.add(ops.divide(total, x.shape[0]), ops.multiply(sigma, penalty))


def sign_noise(model, params: dict, x: Array, y: Array, *, rng=None, eps: float = 0.1,
               prob: float = 0.5, hidden: bool = True) -> Array:
    """L(g(x)) with g(v) = v (1 + eps l(v)) on the inputs and (``hidden``) every hidden
    activation (paper 002); l(v) = sign(v) with probability ``prob``, else -sign(v), drawn
    fresh per element and step. The paper leaves eps, prob and the layers open; these defaults
    are ours. The noise is a constant factor, so gradients flow through g as 1 + eps l(v)."""
    if rng is None:
        raise ValueError("rng: method 'sign_noise' draws random signs and needs an rng")

    def noise(v):
        return sign_noise_map(v, rng, eps=eps, p=prob)

    logits = model.apply(params, noise(x), train=True, rng=rng, noise=noise if hidden else None)
    return cross_entropy(logits, y)


METHODS: dict[str, Callable] = {
    "normal": normal, "dropout": dropout, "goodfellow": goodfellow, "robust_lp": robust_lp,
    "ksup": ksup, "urn": urn, "lwa": lwa, "lwa_rep": lwa_rep, "gradreg": gradreg,
    "gradreg_penalty": gradreg_penalty, "sign_noise": sign_noise,
}


def options_of(name: str) -> dict:
    """The options of method ``name`` with their defaults."""
    signature = inspect.signature(get_function(name))
    return {key: value.default for key, value in signature.parameters.items()
            if value.kind is inspect.Parameter.KEYWORD_ONLY and key != "rng"}


def get_function(name: str) -> Callable:
    """The bare method function called ``name``."""
    if name not in METHODS:
        raise ValueError(f"method: unknown name {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


class Method:
    """A training method with its options bound: ``method(model, params, x, y, rng=)``.

    ``name`` and ``options`` are saved in checkpoints; a resumed run must match both.
    """

    def __init__(self, name: str, **options):
        function, allowed = get_function(name), options_of(name)
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"{unknown[0]}: method {name!r} has no such option; its options are "
                             f"{', '.join(allowed) or 'none'}")
        _check_options(name, options)
        self.name, self.function, self._bound = name, function, dict(options)
        self.options = _jsonable(options)  # what checkpoints record (values by their repr)
        self.__name__ = name

    def __call__(self, model, params: dict, x: Array, y: Array, *, rng=None) -> Array:
        return self.function(model, params, x, y, rng=rng, **self._bound)

    def settings(self) -> dict:
        """Every option with its value, defaults included (for printing and metadata).

        An attack value is given by its repr ("LossGradient(family=SignL2())"), so settings
        stay JSON-friendly and compare equal across runs; ``attack=None`` (the method's own
        default) is left out.
        """
        found = {**options_of(self.name), **self._bound}
        if found.get("attack", 0) is None:  # the paper's default attack: recorded as before
            del found["attack"]
        return _jsonable(found)

    def __repr__(self) -> str:
        return f"Method({self.name!r}, {self.settings()})"


_CHOICES = {"magnitude": ("l2", "own"), "noise": ("uniform", "gaussian"),
            "direction": tuple(DIRECTIONS)}


def _check_options(name: str, options: dict) -> None:
    """Refuse a bad option value when the method is made, not at its first training step.

    Only what needs no data: k against the input size is checked at the first step.
    """
    for key, value in options.items():
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ValueError(f"{key}: expected one of {_CHOICES[key]}, got {value!r}")
        if key in ("radius", "sigma", "eps") and not (value is None and key == "radius"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and (value >= 0 or key == "eps")):
                bound = "" if key == "eps" else " >= 0"
                raise ValueError(f"{key}: expected a finite number{bound}, got {value!r}")
        if key in ("alpha", "prob") and (isinstance(value, bool) or not isinstance(
                value, (int, float)) or not 0 <= value <= 1):
            raise ValueError(f"{key}: expected a number in [0, 1], got {value!r}")
        if key == "p":
            check_p(value)
        if key == "k":
            KSupport(value)  # a count >= 1 or a fraction in (0, 1]; a ValueError naming k
        if key == "attack" and value is not None and not callable(value):
            raise TypeError(f"attack: expected a direction rule such as LossGradient(Lp(2)) or "
                            f"AdvAlpha(), got {value!r}")
    if name == "robust_lp" and options.get("radius") is None:
        p = check_p(options.get("p", math.inf))
        if p not in SHAHAM_RADII:
            raise ValueError(f"radius: no default for p = {p}; pass radius (defaults exist for "
                             f"p = 1, 2, inf)")


def _jsonable(options: dict) -> dict:
    """Options with every non-JSON value (an attack value) replaced by its repr."""
    return {key: value if value is None or isinstance(value, (bool, int, float, str))
            else repr(value) for key, value in options.items()}


def get_method(name: str, **options) -> Method:
    """The training method ``name`` with ``options`` (``None`` values mean: the default)."""
    return Method(name, **{key: value for key, value in options.items() if value is not None})
