# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Gradient regularization: one family, two forms
#
# "A unified gradient regularization family for adversarial examples" (Lyu, Huang, Liang)
# starts from the worst case in an lp ball of radius sigma and linearises the loss in the
# input. The inner maximum then has a closed form (tutorial 04), and the robust loss becomes
#
#     L(x + eps)  ~  L(x) + sigma * ||grad_x L||_q          (1/p + 1/q = 1).
#
# Training on the left side is the **perturbation form** (one ascent step, then a descent step
# on the loss of the perturbed batch alone, L(x + eps): refimpl's `gradreg`). Goodfellow's
# method takes the same step for p = inf but trains on the *average*
# alpha L(x) + (1 - alpha) L(x + eps), alpha = 1/2 (for a linear model:
# `theory.logistic.goodfellow_mixed_loss`). Training on the right side is the
# **penalty form**, a regulariser on the input gradient, which needs the gradient of a gradient
# (double backpropagation). This tutorial measures how close the two are, looks at the next
# term of the expansion, and trains with both.
#
# **You will learn**
#
# - the two forms in refimpl (`gradreg` and `gradreg_penalty`) and why they agree to first
#   order in sigma: their difference shrinks like sigma^2 (slope 2 on log axes);
# - the second-order term 1/2 eps^T H eps, computed with Hessian-vector products by double
#   backpropagation, and the paper's Gauss-Newton lemma (its Lemma B.1);
# - why Gaussian input noise of std sigma adds about sigma^2/2 tr(H) to the loss;
# - what each form does to robustness in a short training comparison.
#
# **Read alongside**
#
# - `refimpl/training/adversarial.py`: `gradreg` (perturbation form);
# - `refimpl/training/methods.py`: `gradreg_penalty` and `dual_norm_traced` (the penalty form,
#   a norm of a gradient that can itself be differentiated);
# - `theory/gradient_regularization.py`: the expansions, Lemma B.1 and Gaussian smoothing on a
#   small float64 tanh network, with Hessians from refimpl's double backprop;
# - `refimpl/evaluation/curves.py`: `gaussian_noise_error` (the paper's Tables IV, V, VII).

# %%
import math
import time

import numpy as np
from matplotlib.figure import Figure

from refimpl import nn, ops
from refimpl.autodiff import grad
from refimpl.backend import make_rng
from refimpl.evaluation import TITLES, gaussian_noise_error, robustness_table
from refimpl.perturbations import Lp, input_gradient, lp, one_step
from refimpl.plotting import attack_labels, bar_table, perturbation_grid
from refimpl.training import fit, get_method
from refimpl.tutorial_support import TINY, figure_path, image_data, show
from theory import gradient_regularization as theory_gr

print("tiny setting" if TINY else "full setting")

# %% [markdown]
# ## 1. A trained network
#
# Full setting: MNIST (when its files are found), MLP 784-400-400-10, a few epochs; tiny
# setting: the 8x8 digits, MLP 64-100-100-10. (The paper's own net is a sigmoid MLP 600-600
# with a max-norm constraint of sqrt(15), `nn.build("mlp-sigmoid-600-600", ...)` with
# `fit(..., max_norm_limit=15 ** 0.5)`; it trains much more slowly with plain SGD, so these
# quick runs use ReLU nets.)

# %%
data = image_data()
mnist = data.name == "mnist"
arch, epochs, batch_size, n_eval = (("mlp-400-400", 3, 128, 2000) if mnist
                                    else ("mlp-100-100", 20, 64, 360))
x_test, y_test = data.x_test[:n_eval], data.y_test[:n_eval]


def train(method):
    began = time.perf_counter()
    model = nn.build(arch, data.input_shape)
    run = fit(model, model.init(make_rng(0)), (data.x_train, data.y_train),
              optimizer=nn.SGD(lr=0.05, momentum=0.9), epochs=epochs, batch_size=batch_size,
              method=method, test=(x_test, y_test), seed=0, quiet=True)
    print(f"{method.name:16s} {str(method.options):28s} test accuracy "
          f"{100 * run.history[-1]['test_accuracy']:.1f} % ({time.perf_counter() - began:.1f} s)")
    return model, run.params


model, params = train(get_method("normal"))

# %% [markdown]
# ## 2. Perturbation form against penalty form
#
# For a batch, with g_n the input gradient of example n's loss L_n:
#
# - `get_method("gradreg", sigma=s, p=p)`: mean_n L_n(x_n + eps_n), eps_n the lp steepest
#   ascent step of size s (held constant, as in tutorial 06);
# - `get_method("gradreg_penalty", sigma=s, p=p)`: mean_n [L_n(x_n) + s ||g_n||_q], whose
#   descent step differentiates through g_n.
#
# Taylor's theorem with the optimal eps_n says L_n(x_n + eps_n) = L_n + s ||g_n||_q + O(s^2),
# so the two losses differ by O(s^2). We evaluate both on one batch, in float64 so that
# rounding does not hide the small differences, for s from 1e-4 up.

# %%
params64 = {name: value.astype(np.float64) for name, value in params.items()}
x64, y_b = x_test[:100].astype(np.float64), y_test[:100]
sigmas = np.logspace(-4, 0, 9)
gaps = {}
for p in (2, math.inf, 1):
    values = []
    for s in sigmas:
        perturbed = get_method("gradreg", sigma=float(s), p=p)(model, params64, x64, y_b)
        penalised = get_method("gradreg_penalty", sigma=float(s), p=p)(model, params64, x64, y_b)
        values.append(abs(float(perturbed) - float(penalised)))
    gaps[p] = np.array(values)
    small = sigmas <= 1e-2
    slope = np.polyfit(np.log(sigmas[small]), np.log(gaps[p][small]), 1)[0]
    print(f"p = {p}: |difference| from {gaps[p][0]:.2e} (sigma 1e-4) to {gaps[p][-1]:.2e} "
          f"(sigma 1); slope on log axes for sigma <= 0.01: {slope:.3f}")
    assert abs(slope - 2) < 0.1  # a ReLU net is only piecewise smooth: kinks bend it a little

# %% [markdown]
# ## 3. The second-order term
#
# The next term of the expansion is 1/2 eps^T H eps, with H = d^2 L / dx^2 the Hessian of the
# loss in the input. For p = 2, eps = s u with u = g/||g||_2, so the gap above should be about
# s^2/2 * mean_n u_n^T H_n u_n. A Hessian-vector product needs no Hessian: H u is the
# gradient of the directional derivative <grad L(x), u> (u held fixed), one more backward
# pass through the backward pass. Since examples are independent, one call gives every H_n u_n.

# %%
def summed_loss(z):
    return ops.sum(ops.softmax_cross_entropy(model.apply(params64, z), y_b))


g = input_gradient(lambda z: model.apply(params64, z), x64, y_b)
u = lp.steepest_ascent(g, 1.0, 2)                                       # unit l2 directions
H_u = grad(lambda z: ops.sum(ops.multiply(grad(summed_loss)(z), u)))(x64)  # rows H_n u_n
curvature = float(np.sum(u * H_u)) / len(x64)                            # mean_n u^T H u
predicted = 0.5 * sigmas ** 2 * curvature
ratio = gaps[2] / predicted
print(f"mean u^T H u = {curvature:.4f}; measured gap / (s^2/2 mean u^T H u) at sigma = "
      + ", ".join(f"{s:.0e}: {r:.4f}" for s, r in zip(sigmas[:5], ratio[:5])))
assert np.all(np.abs(ratio[sigmas <= 1e-2] - 1) < 0.025)  # third-order terms: O(sigma)

# %% [markdown]
# `theory.gradient_regularization` does the same on a small smooth network (tanh, 6 inputs,
# 4 classes, float64) and with the exact Hessian, for one example: the error of the
# first-order expansion shrinks like sigma^2, that of the second-order one like sigma^3.

# %%
rng = np.random.default_rng(0)
toy = theory_gr.init_mlp(rng, (6, 8, 4))
x_toy, label = rng.normal(size=6), 1
toy_sigmas = np.logspace(-4, -1.5, 6)
errors = [theory_gr.expansion_errors(toy, x_toy, label, float(s), 2) for s in toy_sigmas]
first = np.abs([e["first_error"] for e in errors])
second = np.abs([e["second_error"] for e in errors])
slope1 = np.polyfit(np.log(toy_sigmas), np.log(first), 1)[0]
slope2 = np.polyfit(np.log(toy_sigmas), np.log(second), 1)[0]
print(f"toy network: first-order error slope {slope1:.3f}, second-order error slope {slope2:.3f}")
assert abs(slope1 - 2) < 0.05 and abs(slope2 - 3) < 0.05

H = theory_gr.input_hessian(toy, x_toy, label)            # (6, 6) by double backprop
assert np.allclose(H, theory_gr.hessian_fd(toy, x_toy, label), atol=1e-7)  # vs differences
assert np.allclose(H, H.T, atol=1e-12)

# %% [markdown]
# ### The Gauss-Newton lemma and the paper's heuristic
#
# The paper turns the second-order term into something cheaper. Write y = softmax(logits(x))
# for the class probabilities, J = (dy/dx)^T (D x K) and H_L(y) for the Hessian of
# L = -sum_i t_i log y_i in y *taken as free variables*, diag(t_i / y_i^2). Lemma B.1: for a
# one-hot target t, grad_y L grad_y L^T = H_L(y) (both are e_l e_l^T / y_l^2), so
#
#     grad_x L grad_x L^T = J H_L(y) J^T.
#
# The paper then reads J H_L(y) J^T as a Gauss-Newton approximation of H and concludes that
# the second-order term is about sigma^2/2 ||grad L||^2 = sigma^2/2 tr(grad L grad L^T), and
# "approximately" sigma^2/2 tr(H): gradient regularization behaves like training with Gaussian
# noise (the paper's sec. II.D, eqs. 13-20). The lemma is exact; the step from H to
# J H_L(y) J^T is not (the usual
# Gauss-Newton matrix uses the Hessian in the logits, diag(y) - y y^T, and drops the curvature
# of the network). On the toy network:

# %%
outer, gauss_newton = theory_gr.lemma_b1_sides(toy, x_toy, label)
assert np.allclose(outer, gauss_newton, rtol=1e-10, atol=1e-14)  # Lemma B.1, exactly
g_toy = np.asarray(theory_gr.input_grad(toy, x_toy, label))
u_toy = g_toy / np.linalg.norm(g_toy)
print(f"u^T H u = {u_toy @ H @ u_toy:.4f} (the true second-order coefficient), "
      f"||grad L||^2 = {g_toy @ g_toy:.4f} (the paper's, via the lemma), tr(H) = "
      f"{np.trace(H):.4f}")

# %% [markdown]
# Three different numbers: the chain (13) -> (20) is a heuristic link between gradient
# regularization and Gaussian noise, not an identity. How far apart, over many examples? For
# a positive semi-definite H, u^T H u <= lambda_max <= tr(H), so eq. 20 can only overstate the
# true term; `theory_gr.second_order_terms` gives all three at once:

# %%
rows_terms = [theory_gr.second_order_terms(toy, rng.normal(size=x_toy.shape), int(t), 0.1)
              for t in rng.integers(0, 4, size=30)]
to_trace = np.array([r["trace"] / r["hessian"] for r in rows_terms])
to_gradient = np.array([r["gradient"] / r["hessian"] for r in rows_terms])
print(f"30 random inputs to the toy network: tr(H) / u^T H u median {np.median(to_trace):.2f} "
      f"(range {to_trace.min():.2f} .. {to_trace.max():.2f}); ||grad L||^2 / u^T H u median "
      f"{np.median(to_gradient):.2f} (range {to_gradient.min():.2f} .. {to_gradient.max():.2f})")

# %% [markdown]
# The trace and the true term differ by factors well away from 1 (and, where H is indefinite,
# by sign), so "approximately" in eq. 20 hides a factor that depends on the example.
#
# ## 4. Gaussian noise adds about sigma^2/2 tr(H)
#
# What does hold exactly, to second order, is the classical result the paper builds on: for
# n ~ N(0, sigma^2 I), E[L(x + n)] = L(x) + sigma^2/2 tr(H) + O(sigma^4) (the odd terms vanish
# by symmetry, and E[n n^T] = sigma^2 I). `gaussian_smoothing_gap` estimates the left side by
# Monte Carlo with antithetic pairs (n, -n):

# %%
pairs = 5000 if TINY else 40000
for s in (0.01, 0.03, 0.1):
    measured, predicted_gap, stderr = theory_gr.gaussian_smoothing_gap(toy, x_toy, label, s,
                                                                       pairs, rng)
    print(f"sigma = {s}: Monte Carlo {measured:.3e} +- {stderr:.1e}, sigma^2/2 tr(H) "
          f"{predicted_gap:.3e}")
    assert abs(measured - predicted_gap) < 4 * stderr + 10 * s ** 4

# %% [markdown]
# ## 5. Training with each form
#
# Three runs with the same optimiser and seed: Normal, the perturbation form and the penalty
# form, both with p = 2 and the same sigma (1.0 on MNIST, the paper's value; 0.4 on the digits,
# whose images have about 0.4 times the l2 norm of an MNIST digit). We score clean accuracy,
# accuracy under the l2 and sign (rescaled to l2) attacks at l2 magnitude 1.5 (0.6 on the
# digits), and accuracy under Gaussian noise of per-pixel std 0.1 and 0.3 (the paper's
# Tables IV, V and VII report these as errors).

# %%
sigma_train, test_radius = (1.0, 1.5) if mnist else (0.4, 0.6)
models = {"Normal": (model, params),
          "gradreg (perturbation)": train(get_method("gradreg", sigma=sigma_train, p=2)),
          "gradreg_penalty": train(get_method("gradreg_penalty", sigma=sigma_train, p=2))}
rows = robustness_table(models, x_test, y_test, attacks=["sign_l2", "l2"], radius=test_radius,
                        only_correct=True, clip=None)  # the paper's protocol
for row in rows:
    errors = gaussian_noise_error(*models[row["model"]], x_test, y_test, sigmas=(0.1, 0.3),
                                  draws=1 if TINY else 3, seed=0)
    row.update({f"noise {s}": 1.0 - e for s, e in errors.items()})
columns = ["clean", "sign_l2", "l2", "noise 0.1", "noise 0.3"]
print(f"{'model':24s}" + "".join(f"{c:>11s}" for c in columns))
for row in rows:
    print(f"{row['model']:24s}" + "".join(f"{100 * row[c]:10.1f}%" for c in columns))
table = {row["model"]: row for row in rows}
path = bar_table(rows, columns, figure_path("07_training_comparison.png"),
                 column_labels=attack_labels(columns, test_radius, TITLES),
                 title=f"{arch} on {data.name}: sigma {sigma_train}, p = 2, {epochs} epochs")
show(path)

# %% [markdown]
# Both forms make the net much more robust to the l2 attack than normal training. At a
# training sigma that is not small they are no longer the same objective: the perturbation
# form also sees the curvature along the step (section 3) and every higher term, and in our
# runs it gives the more robust net of the two, at a lower cost (one extra backward pass
# instead of a double backward pass).

# %%
for trained in ("gradreg (perturbation)", "gradreg_penalty"):
    assert table[trained]["l2"] > table["Normal"]["l2"] + 0.1
    assert table[trained]["clean"] > table["Normal"]["clean"] - 0.05
assert table["gradreg (perturbation)"]["l2"] > table["gradreg_penalty"]["l2"]

# %% [markdown]
# ## 6. Figures
#
# The gaps of section 2 on log axes (a straight line of slope 2), with the second-order
# prediction of section 3 for p = 2; and, as in the paper's Figs. 3-4, worst-case l2 steps,
# magnified by a factor of 10 as the paper does (`magnify=10`: a perturbation of a tenth of the
# pixel range fills the colour scale; larger entries saturate). The paper observes that such a step can reshape the digit, erasing part of it and
# drawing strokes of the class it is confused with. We draw the steps against the normal net
# and against the perturbation-form net: on MNIST (the committed full-setting figure) the
# regularised net's steps are far more structured and stroke-like than the normal net's
# speckle. `refimpl.plotting` has no log-log panel, so the first figure is drawn with
# matplotlib's object API.

# %%
fig = Figure(figsize=(6, 4.2), layout="constrained")
ax = fig.subplots()
for p, marker in ((2, "o"), (math.inf, "s"), (1, "^")):
    ax.loglog(sigmas, gaps[p], marker=marker, label=f"p = {p}: |gradreg - gradreg_penalty|")
ax.loglog(sigmas, predicted, "k--", label="p = 2: sigma^2/2 mean u^T H u")
ax.set(xlabel="sigma", ylabel="|difference of the two losses|",
       title=f"perturbation vs penalty form ({arch}, {data.name})")
ax.grid(alpha=0.3, which="both")
ax.legend(fontsize=8)
path = show(fig, "07_first_order_agreement.png")

show_x, show_y = x_test[:6], y_test[:6]
steps = {name: one_step(lambda z, m=m, prm=prm: m.apply(prm, z), show_x, show_y, family=Lp(2),
                        radius=test_radius).delta
         for name, (m, prm) in list(models.items())[:2]}
both = np.concatenate([steps["Normal"], steps["gradreg (perturbation)"]])
captions = [f"Normal {int(t)}" for t in show_y] + [f"gradreg {int(t)}" for t in show_y]
path = perturbation_grid(np.concatenate([show_x, show_x]), both,
                         figure_path("07_worst_case_steps.png"), captions=captions, magnify=10,
                         title=f"l2 steps of size {test_radius}: normal net (left six), "
                               f"gradient-regularised net (right six)")
show(path)

# %% [markdown]
# ## What to take away
#
# - The perturbation form L(x + eps) and the penalty form L(x) + sigma ||grad L||_q agree to
#   first order; their gap is sigma^2/2 eps-direction curvature plus higher terms.
# - Double backpropagation gives both the penalty's gradient and Hessian-vector products.
# - Lemma B.1 is exact; its use to equate gradient regularization with Gaussian-noise training
#   is an approximation. Gaussian noise itself adds sigma^2/2 tr(H) to second order.
# - Tutorial 08 continues with the paper's section V: minimum perturbations and the
#   misclassification rate under Gaussian noise.
