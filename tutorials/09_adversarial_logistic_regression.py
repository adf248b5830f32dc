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
# # 09 · Adversarial logistic regression in closed form
#
# For a linear model everything about adversarial training can be worked out on paper. The
# appendix of "Learning with a strong adversary" (Huang, Xu, Schuurmans, Szepesvari) does it for
# binary logistic regression whose inputs an adversary may move within an lp ball; Goodfellow
# et al.'s linear example is its p = inf case. This tutorial checks each statement numerically.
#
# **You will learn**
#
# - the inner maximum in closed form, loss(y w.x - radius ||w||_q), against a numerical inner
#   maximum, and why refimpl's one-step lp attack finds it *exactly* for a linear model;
# - that the robust objective stays convex in w (Prop. B);
# - that the regulariser it induces is *not* convex (Prop. C, with radius 0.5 and x = y = 1);
# - that on separable data the adversary makes the solution bounded once the data's margin is
#   below the radius, while plain logistic regression has no minimiser and its weights grow
#   forever under gradient descent (Prop. D), and what uniqueness needs besides.
#
# **Read alongside**
#
# - `theory/logistic.py`: closed forms, numerical inner maximum, fitting, the Props. B-D helpers;
# - `theory/norms.py`: dual norms and the lp maximiser (the same closed form as
#   `refimpl/perturbations/lp.py`, tutorial 04);
# - `refimpl/data/synthetic.py`: `linearly_separable`, points with a known margin;
# - `tests/theory/test_theory_logistic.py`: the property tests behind this tutorial.

# %%
import math

import numpy as np
from matplotlib.figure import Figure

from refimpl import nn, ops
from refimpl.autodiff import grad
from refimpl.data import linearly_separable
from refimpl.perturbations import lp
from refimpl.tutorial_support import TINY, show
from theory import logistic as lg
from theory.norms import dual_lp_norm

rng = np.random.default_rng(0)
print("tiny setting" if TINY else "full setting")

# %% [markdown]
# ## 1. The inner maximum
#
# Labels are y in {-1, +1}, the score is w.x, and the loss softplus(-z) = log(1 + exp(-z)) of
# the margin z = y w.x decreases in z. The adversary picks r with ||r||_p <= radius to make the
# loss as large as possible, i.e. the margin y w.(x + r) as small as possible. The smallest
# value of y w.r over the ball is -radius ||w||_q (Hoelder again, q the dual exponent), so
#
#     max over ||r||_p <= radius of loss(y w.(x + r)) = softplus(-y w.x + radius ||w||_q),
#
# reached at r* = -y * (the steepest lp step of w). For p = inf the extra term is
# radius ||w||_1: Goodfellow's linear case, an l1 penalty that depends on the margin.
# `inner_max_numerical` solves the same problem with a linear program (p = 1, inf) or SLSQP,
# without using Hoelder.

# %%
d, radius = 5, 0.3
for p in (1, 2, 3, math.inf):
    for _ in range(3):
        w, x = rng.normal(size=d), rng.normal(size=d)
        y = rng.choice([-1.0, 1.0])
        closed = float(lg.softplus(-y * w @ x + radius * dual_lp_norm(w, p)))
        numeric = lg.inner_max_numerical(w, x, y, radius, p)
        at_r_star = float(lg.softplus(-y * w @ (x + lg.worst_perturbation(w, [y], radius, p)[0])))
        assert abs(closed - numeric) < 1e-6 and abs(closed - at_r_star) < 1e-12
    print(f"p = {p}: closed form = numerical inner max = loss at r* (last: {closed:.6f})")

# %% [markdown]
# ### One attack step is exact here
#
# The input gradient of the logistic loss is -y sigmoid(-y w.x) w, a positive multiple of -y w.
# The steepest lp step on it (tutorial 04) is therefore exactly r*: for a linear model the
# first-order picture is not an approximation, and FGSM (p = inf) or the l2 step solves the
# inner problem. Computed with refimpl's autodiff and closed form, compared with theory:

# %%
n = 16
X = rng.normal(size=(n, d))
y = rng.choice([-1.0, 1.0], size=n)
w = rng.normal(size=d)


def logistic_loss(X):  # scores w.x_n as a row sum (refimpl's matmul takes 2-d operands only)
    return nn.logistic(ops.sum(ops.multiply(X, w), axis=1), y)  # mean of the rows' losses


grad_X = grad(logistic_loss)(X)
for p in (1, 2, math.inf):
    step = lp.steepest_ascent(grad_X, radius, p)
    assert np.allclose(step, lg.worst_perturbation(w, y, radius, p), atol=1e-12)
    robust = float(nn.logistic((X + step) @ w, y))  # plain NumPy arrays here
    assert abs(robust - lg.adversarial_loss(w, X, y, radius, p)) < 1e-12
    print(f"p = {p}: loss after one refimpl step = closed-form robust loss = {robust:.6f}")
assert lg.goodfellow_loss(w, X, y, radius) == lg.adversarial_loss(w, X, y, radius, math.inf)

# %% [markdown]
# ## 2. Prop. B: the robust objective is convex
#
# Each term softplus(-y w.x + radius ||w||_q) is a convex, non-decreasing function (softplus)
# of a convex function of w (linear plus a norm), so it is convex, and so is their mean. On
# random chords, f(t w1 + (1 - t) w2) never rises above the chord:

# %%
X_sep, y_sep, w_planted = linearly_separable(60, 2, margin=0.5, seed=0)
worst_gap = math.inf
for _ in range(100 if TINY else 1000):
    p = rng.choice([1.0, 2.0, 3.0, math.inf])
    w1, w2, t = rng.normal(size=2) * 5, rng.normal(size=2) * 5, rng.uniform()
    gap = lg.convexity_gap(lambda v: lg.adversarial_loss(v, X_sep, y_sep, 0.8, p), w1, w2, t)
    worst_gap = min(worst_gap, gap)
print(f"smallest chord gap over random chords: {worst_gap:.2e}")
assert worst_gap >= -1e-12

# %% [markdown]
# ## 3. Prop. C: the induced regulariser is not convex
#
# Write the robust loss as the plain loss plus R_z(w) = robust - plain. R_z is what the
# adversary adds, and it is not a convex penalty. With one example x = y = 1 and radius 0.5,
# R_z(w) = softplus(-w + 0.5 |w|) - softplus(-w): zero at w = 0, positive elsewhere, and back to
# zero as w grows (the example is then classified with a margin the adversary cannot erase). A
# function is convex when it lies below every chord; one chord above which it rises is enough
# to refute it: R(4) = 0.109 lies above the chord's midpoint (R(0) + R(8)) / 2 = 0.009. The
# second derivative, by refimpl's grad of grad, is negative on the far side of the bump:

# %%
R = lambda v: lg.prop_c_regulariser(v, radius=0.5)  # noqa: E731
assert R(0.0) == 0.0 and np.all(R(np.array([-3.0, -0.5, 0.5, 3.0, 10.0])) > 0)
assert R(60.0) < 1e-12
chord_gap = lg.convexity_gap(R, 0.0, 8.0, 0.5)
print(f"R(0) = 0, R(4) = {float(R(4.0)):.4f}, R(8) = {float(R(8.0)):.4f}; "
      f"chord gap {chord_gap:.4f} < 0")
assert chord_gap < 0 and float(R(4.0)) > (float(R(0.0)) + float(R(8.0))) / 2


def regulariser(v):  # the same R_z with refimpl ops, so that it can be differentiated twice
    return nn.softplus(-v + 0.5 * abs(v)) - nn.softplus(-v)


second = grad(lambda v: grad(regulariser)(v))
curvature = float(second(np.array(3.0)))
h = 1e-4
difference = float((R(3.0 + h) - 2 * R(3.0) + R(3.0 - h)) / h ** 2)
print(f"R''(3) = {curvature:.6f} by grad of grad, {difference:.6f} by a central difference")
assert curvature < 0 and abs(curvature - difference) < 1e-5
# ... and still the robust objective, plain loss + R_z, is convex (Prop. B):
assert lg.convexity_gap(lambda v: lg.adversarial_loss(v, [[1.0]], [1.0], 0.5, 2.0),
                        np.array([0.0]), np.array([20.0]), 0.5) >= 0

# %% [markdown]
# ## 4. Prop. D: bounded solutions on separable data
#
# `linearly_separable` draws points whose planted unit normal w separates them with margin 0.5
# exactly. The best separating direction does a little better: gamma, the largest over unit
# normals w of the *smallest* margin min_i y_i w.x_i, that is of the smallest l2 distance from
# a point to the hyperplane through 0 (`separation_half_margin`, a small optimisation), is the
# half-width of the widest slab between the classes.
#
# - **Plain logistic regression** has no minimiser: scaling up any separating w lowers the loss
#   towards 0, and gradient descent's ||w|| grows without end, like log t (Soudry, Hoffer,
#   Nacson, Gunasekar, Srebro, "The implicit bias of gradient descent on separable data").
# - **With radius > gamma** (Prop. D), every direction has some point the adversary pushes
#   across, the robust loss grows along every ray, and the minimiser is bounded. The paper's
#   condition, "margin less than 2c", is this one if its margin is the full slab width
#   2 gamma: that reading is ours, the paper does not define its margin.
# - **With an adversary of radius < gamma**, the perturbed data are still separable: the same
#   happens as without an adversary, the robust loss tends to 0 along the planted direction.
#   This converse is ours; Prop. D states only the bounded case.
#
# Bounded is not unique. Prop. D's second part asks, besides, for a dual norm that is twice
# differentiable (almost everywhere) and for sum_i grad Q_i grad Q_i^T to be positive definite,
# Q_i = -y_i x_i.w + radius ||w||_q; then the Hessian is positive definite and the objective
# strictly convex. We check both at the minimiser, and that two starts agree.

# %%
gamma = lg.separation_half_margin(X_sep, y_sep, 2.0)
print(f"planted margin 0.5, widest slab half-width gamma = {gamma:.4f}")
assert gamma >= 0.5 - 1e-9

small_radius, large_radius = 0.3, 0.8
assert small_radius < gamma < large_radius
steps = 2000 if TINY else 20000


def gd_norms(radius):
    """||w_t|| along gradient descent (rate 1) on the robust loss from w = 0."""
    v, norms = np.zeros(2), np.empty(steps)
    for t in range(steps):
        v = v - lg.adversarial_loss_grad(v, X_sep, y_sep, radius, 2.0)[0]
        norms[t] = np.linalg.norm(v)
    return norms, v


plain_norms = lg.plain_logistic_gd_norms(X_sep, y_sep, steps)
small_norms, _ = gd_norms(small_radius)
large_norms, w_gd = gd_norms(large_radius)
checkpoints = [10, 100, 1000] + ([] if TINY else [10000])
print("||w_t|| at t =", checkpoints)
for label, norms in (("plain", plain_norms), (f"radius {small_radius}", small_norms),
                     (f"radius {large_radius}", large_norms)):
    print(f"  {label:12s}", " ".join(f"{norms[t - 1]:8.3f}" for t in checkpoints))
assert all(plain_norms[b - 1] - plain_norms[a - 1] > 2 for a, b in zip(checkpoints, checkpoints[1:]))
assert all(small_norms[b - 1] - small_norms[a - 1] > 2 for a, b in zip(checkpoints, checkpoints[1:]))

w_robust, _, result = lg.fit_adversarial_logistic(X_sep, y_sep, large_radius, 2.0)
w_other, _, _ = lg.fit_adversarial_logistic(X_sep, y_sep, large_radius, 2.0,
                                            w0=np.array([5.0, -3.0]))
print(f"radius {large_radius}: minimiser {w_robust.round(6)}, from another start "
      f"{w_other.round(6)}, ||w|| = {np.linalg.norm(w_robust):.4f}")
assert result.success and np.allclose(w_robust, w_other, atol=1e-6)
condition = lg.prop_d_condition(w_robust, X_sep, y_sep, large_radius, 2.0)
smallest_curvature = np.linalg.eigvalsh(lg.robust_hessian(w_robust, X_sep, y_sep,
                                                          large_radius, 2.0))[0]
print(f"uniqueness: smallest eigenvalue of mean grad Q grad Q^T {condition:.4f}, "
      f"of the Hessian {smallest_curvature:.4f} (both > 0)")
assert condition > 0 and smallest_curvature > 0
assert abs(large_norms[-1] - np.linalg.norm(w_robust)) < 1e-3  # gradient descent settles there
along_ray = [lg.adversarial_loss(s * w_planted, X_sep, y_sep, large_radius, 2.0)
             for s in (1, 10, 100, 1000)]
below = [lg.adversarial_loss(s * w_planted, X_sep, y_sep, small_radius, 2.0)
         for s in (1, 10, 100, 1000)]
print("robust loss along the planted direction, scale 1, 10, 100, 1000:")
print(f"  radius {large_radius}:", " ".join(f"{v:.3g}" for v in along_ray), "(grows)")
print(f"  radius {small_radius}:", " ".join(f"{v:.3g}" for v in below), "(tends to 0)")
assert along_ray[-1] > along_ray[1] and below[-1] < 1e-30

# %% [markdown]
# Two cautions for the fitting routine. Below the threshold there is no minimiser, yet L-BFGS
# stops and reports success, at some large w: check ||w||, not `result.success`. And the
# threshold moves with a bias: `fit_bias=True` lets the hyperplane leave the origin, which can
# only widen the best slab.

# %%
w_none, _, result_none = lg.fit_adversarial_logistic(X_sep, y_sep, 0.9 * gamma, 2.0)
gamma_bias = lg.separation_half_margin(X_sep, y_sep, 2.0, fit_bias=True)
print(f"radius 0.9 gamma: L-BFGS success = {result_none.success}, ||w|| = "
      f"{np.linalg.norm(w_none):.0f} (no minimiser exists); gamma without a bias "
      f"{gamma:.3f}, with one {gamma_bias:.3f}")
assert np.linalg.norm(w_none) > 50 * np.linalg.norm(w_robust) and gamma_bias >= gamma - 1e-9

# %% [markdown]
# ## A figure
#
# Left: Prop. C's R_z with the chord that passes below it. Middle: ||w_t|| along gradient
# descent, growing without bound (eventually like log t) without an adversary or with a small
# one, settling at the unique minimiser with a large one. Right: the data (filled) and where the
# adversary of radius 0.8 moves each point against the robust separator: several points end up
# on the wrong side, which is what keeps ||w|| from growing. The three panels are one-off
# drawings with matplotlib's object API.

# %%
fig = Figure(figsize=(13, 4), layout="constrained")
left, middle, right = fig.subplots(1, 3)
ws = np.linspace(-1.0, 14.0, 400)
left.plot(ws, R(ws), label="R_z(w), radius 0.5, x = y = 1")
left.plot([0, 8], [float(R(0.0)), float(R(8.0))], "--o", label="chord from 0 to 8")
left.plot([4], [float(R(4.0))], "o", color="C0")
left.set(xlabel="w", ylabel="robust loss - plain loss", title="Prop. C: not convex")
left.legend(fontsize=8)
t_axis = np.arange(1, steps + 1)
middle.semilogx(t_axis, plain_norms, label="plain")
middle.semilogx(t_axis, small_norms, label=f"radius {small_radius} < γ = {gamma:.2f}")
middle.semilogx(t_axis, large_norms, label=f"radius {large_radius} > γ")
middle.axhline(np.linalg.norm(w_robust), color="k", lw=0.8, ls=":", label="robust minimiser")
middle.set(xlabel="gradient-descent step t", ylabel="||w_t||_2",
           title="Prop. D: ||w|| along gradient descent")
middle.legend(fontsize=8)
moved = X_sep + lg.worst_perturbation(w_robust, y_sep, large_radius, 2.0)
for label, colour in ((1.0, "C0"), (-1.0, "C3")):
    mine = y_sep == label
    right.plot(*X_sep[mine].T, "o", ms=3, color=colour, label=f"class {label:+.0f}")
    right.plot(*moved[mine].T, "o", ms=4, mfc="none", color=colour,
               label=f"class {label:+.0f}, moved by the adversary")
    for start, end in zip(X_sep[mine], moved[mine]):
        right.plot(*np.stack([start, end]).T, "-", lw=0.5, color=colour)
span = np.abs(X_sep).max() * 1.1
line = np.linspace(-span, span, 2)
for normal, style, label in ((w_planted, "k-", "planted separator"),
                             (w_robust, "C2--", f"robust separator, radius {large_radius}")):
    tangent = np.array([-normal[1], normal[0]])
    right.plot(*(np.outer(line, tangent / np.linalg.norm(tangent)).T), style, label=label)
right.set(xlim=(-span, span), ylim=(-span, span), aspect="equal", xlabel="x_1",
          ylabel="x_2", title=f"points and their moves, radius {large_radius}")
right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
for ax in (left, middle, right):
    ax.grid(alpha=0.3)
path = show(fig, "09_adversarial_logistic_regression.png")

# %% [markdown]
# ## What to take away
#
# - For a linear model the inner maximisation has a closed form, and a single steepest-ascent
#   step of tutorial 04 solves it exactly.
# - The robust objective is convex even though the penalty it adds is not: an adversary is not
#   a convex regulariser in disguise.
# - The adversary bounds the solution when it can break the separation (gamma < radius, the
#   paper's "margin < 2c" in our reading); with a weaker adversary, as without one, the weights
#   run off to infinity (our converse), a weaker guarantee than an explicit norm penalty gives
#   (the paper's Remark E). Uniqueness needs Prop. D's extra condition, which we check.
