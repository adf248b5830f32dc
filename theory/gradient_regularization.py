"""Gradient regularization as a Taylor expansion (Lyu, Huang, Liang, "A unified gradient
regularization family for adversarial examples", sec. III and appendix B), checked on a small
float64 model written with refimpl.ops; Hessians come from refimpl's double backprop.

For one example x (D,) with label t and loss L(x) = cross-entropy of a softmax model:

- First order (eq. 2-4): with eps = lp_maximiser(grad L, sigma, p), ||eps||_p = sigma and
  L(x + eps) = L(x) + sigma ||grad L||_q + O(sigma^2).
- Second order (eq. 13): L(x + eps) = L(x) + sigma ||grad L||_q + 1/2 eps^T H eps + O(sigma^3),
  H = d^2 L / dx^2 (D, D).
- Lemma B.1: let y = softmax(logits(x)) be the model's class probabilities (K,), J = (dy/dx)^T
  (D, K) the transposed Jacobian (so grad_x L = J grad_y L), and H_L(y) the Hessian of
  L = -sum_i t_i log y_i in y, treated as free variables: diag(t_i / y_i^2). For a one-hot t,
  grad_y L grad_y L^T = H_L(y) (both are (1/y_l^2) e_l e_l^T), hence
  grad_x L grad_x L^T = J H_L(y) J^T. (The Hessian of L in the LOGITS, diag(y) - y y^T, gives
  the usual Gauss-Newton matrix instead, which is not grad L grad L^T.)
- Gaussian noise (eq. 20): for n ~ N(0, sigma^2 I), E[L(x + n)] - L(x) = sigma^2/2 tr(H)
  + O(sigma^4) (odd terms vanish by symmetry).
- The paper's chain (eqs. 13-20, its sec. II.D, p = 2) links the two: it replaces H in the
  second-order term 1/2 eps^T H eps by J H_L(y) J^T (a Gauss-Newton-like step, eq. 14, not an
  identity), which by Lemma B.1 gives sigma^2/2 ||grad L||^2 (eqs. 15-18), and then replaces
  J H_L(y) J^T by H again inside a trace (eq. 20) to reach sigma^2/2 tr(H). Quantified by
  :func:`second_order_terms`: with u = grad L / ||grad L||, the true term is sigma^2/2 u^T H u,
  one Rayleigh quotient of H, while sigma^2/2 tr(H) sums all D eigenvalues; when H is positive
  semi-definite (softmax regression, for one) u^T H u <= lambda_max <= tr(H), so eq. 20 can only
  overstate the term: tr(H) counts every direction (up to rank(H) times lambda_max) where the
  step sees one, which may be far below lambda_max. On 30 random 8-input, 5-class softmax
  regressions the ratio tr(H) / u^T H u has median 3.3 and reaches 22. ||grad L||^2 falls on
  either side of both (the tests and tutorial 07 measure all three).
"""

from __future__ import annotations

import numpy as np

from refimpl import ops
from refimpl.autodiff import grad, jacobian
from theory.norms import check_p, check_radius, dual_lp_norm, lp_maximiser


def init_mlp(rng, sizes) -> dict:
    """float64 parameters of a tanh MLP with layer sizes (D, ..., K); (D, K) is softmax
    regression. Keys "w0", "b0", "w1", ...; weights N(0, 1/fan_in), biases N(0, 0.1^2)."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"w{i}"] = rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=(fan_in, fan_out))
        params[f"b{i}"] = rng.normal(0.0, 0.1, size=(fan_out,))
    return params


def logits(params: dict, x):
    """Logits (N, K) of a batch x (N, D): tanh hidden layers, a linear last layer."""
    layers = len(params) // 2
    h = x
    for i in range(layers):
        h = ops.matmul(h, params[f"w{i}"]) + params[f"b{i}"]
        if i < layers - 1:
            h = ops.tanh(h)
    return h


def example_loss(params: dict, x, label: int):
    """Cross-entropy of one example x (D,) with integer label: a scalar (traceable)."""
    z = logits(params, ops.reshape(x, shape=(1, -1)))
    return ops.sum(ops.softmax_cross_entropy(z, np.array([label])))


def batch_losses(params: dict, X, label: int) -> np.ndarray:
    """Loss of each row of X (M, D) with the same label: (M,) NumPy, no tracing."""
    return np.asarray(ops.softmax_cross_entropy(logits(params, X), np.full(len(X), label)))


def input_grad(params, x, label):
    """grad_x L (D,) by refimpl reverse mode (traceable: it can be differentiated again)."""
    return grad(lambda z: example_loss(params, z, label))(x)


def input_hessian(params, x, label) -> np.ndarray:
    """H = d^2 L / dx^2 (D, D): the Jacobian of the gradient (double backprop)."""
    return np.asarray(jacobian(lambda z: input_grad(params, z, label), batched=False)(x))


def hessian_vector_product(params, x, label, v) -> np.ndarray:
    """H v (D,) as the gradient of the directional derivative <grad L(x), v>."""
    return np.asarray(grad(lambda z: ops.sum(input_grad(params, z, label) * v))(x))


def hessian_fd(params, x, label, step: float = 1e-5) -> np.ndarray:
    """H by central differences of the (first-order) gradient, column by column (D, D)."""
    x = np.asarray(x, float)
    cols = []
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = step
        cols.append((np.asarray(input_grad(params, x + e, label))
                     - np.asarray(input_grad(params, x - e, label))) / (2 * step))
    h = np.stack(cols, axis=1)
    return 0.5 * (h + h.T)


def expansion_errors(params, x, label, sigma: float, p: float) -> dict:
    """L(x + eps) for the worst first-order eps of size sigma, beside its expansions.

    Returns {"exact", "first_order" = L + sigma ||g||_q, "second_order" = that + 1/2 eps^T H
    eps, "first_error", "second_error"} (errors are exact - expansion; O(sigma^2), O(sigma^3)).
    """
    sigma, p = check_radius(sigma, "sigma"), check_p(p)
    x = np.asarray(x, float)
    g = np.asarray(input_grad(params, x, label))
    eps = lp_maximiser(g, sigma, p)
    base = float(batch_losses(params, x[None], label)[0])
    exact = float(batch_losses(params, (x + eps)[None], label)[0])
    first = base + sigma * float(dual_lp_norm(g, p))
    second = first + 0.5 * float(eps @ hessian_vector_product(params, x, label, eps))
    return {"exact": exact, "first_order": first, "second_order": second,
            "first_error": exact - first, "second_error": exact - second}


def probabilities(params, x):
    """Class probabilities y = softmax(logits) of one example x (D,): (K,)."""
    return ops.softmax(logits(params, ops.reshape(x, shape=(1, -1))), axis=-1)[0]


def probability_jacobian(params, x) -> np.ndarray:
    """J = (dy/dx)^T (D, K), in one batched reverse pass."""
    x = np.asarray(x, float)
    jac = jacobian(lambda z: ops.softmax(logits(params, z), axis=-1))(x[None])  # (1, K, D)
    return np.asarray(jac)[0].T


def lemma_b1_sides(params, x, label) -> tuple[np.ndarray, np.ndarray]:
    """(grad L grad L^T, J H_L(y) J^T) for one example; Lemma B.1 says they are equal."""
    g = np.asarray(input_grad(params, x, label))
    y = np.asarray(probabilities(params, x))
    target = np.eye(len(y))[label]
    hess_y = np.diag(target / y ** 2)  # Hessian of -sum t log y in y
    jac = probability_jacobian(params, x)
    return np.outer(g, g), jac @ hess_y @ jac.T


def gaussian_smoothing_gap(params, x, label, sigma: float, n_pairs: int, rng):
    """(Monte Carlo E[L(x + n)] - L(x), sigma^2/2 tr(H), its standard error).

    Antithetic pairs (n, -n) cancel the odd Taylor terms, so the estimator's noise is of order
    sigma^2 / sqrt(n_pairs).
    """
    sigma = check_radius(sigma, "sigma")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 2:
        raise ValueError(f"n_pairs must be an int >= 2, got {n_pairs!r}")
    x = np.asarray(x, float)
    noise = rng.normal(0.0, sigma, size=(n_pairs, len(x)))
    base = batch_losses(params, x[None], label)[0]
    pair_means = 0.5 * (batch_losses(params, x + noise, label)
                        + batch_losses(params, x - noise, label)) - base
    predicted = 0.5 * sigma ** 2 * np.trace(input_hessian(params, x, label))
    return (float(pair_means.mean()), float(predicted),
            float(pair_means.std(ddof=1) / np.sqrt(n_pairs)))


def second_order_terms(params, x, label, sigma: float) -> dict:
    """The three second-order terms of the paper's chain (eqs. 13, 17, 20) for p = 2:

    {"hessian": 1/2 eps^T H eps with eps = sigma grad L / ||grad L|| (the true term, eq. 13),
     "gradient": sigma^2/2 ||grad L||^2 (eqs. 15-18, after H -> J H_L(y) J^T and Lemma B.1),
     "trace": sigma^2/2 tr(H) (eq. 20, the Gaussian-noise term)}. Floats.
    """
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma!r}")
    x = np.asarray(x, float)
    g = np.asarray(input_grad(params, x, label))
    hessian = input_hessian(params, x, label)
    eps = sigma * g / np.linalg.norm(g)
    return {"hessian": float(0.5 * eps @ hessian @ eps),
            "gradient": float(0.5 * sigma ** 2 * g @ g),
            "trace": float(0.5 * sigma ** 2 * np.trace(hessian))}
