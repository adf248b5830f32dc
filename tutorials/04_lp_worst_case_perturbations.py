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
# # 04 · The worst case in an lp ball
#
# An adversary that may move an input x by at most `radius` in some norm, and that trusts the
# first-order picture loss(x + delta) ~ loss(x) + <g, delta> with g the input gradient, has to
# solve one small problem: **maximise <g, delta> subject to ||delta||_p <= radius**. Its answer
# in closed form is the common root of FGSM (p = inf), the l2 step and the single-pixel attack
# (p = 1). "A unified gradient regularization family for adversarial examples" (Lyu, Huang,
# Liang; eq. 3 and appendix A) derives the whole family; "Understanding adversarial training:
# increasing local stability of neural nets through robust optimization" (Shaham, Yamada,
# Negahban; sec. 4.1) trains with its p = 1, 2 and inf members and finds single-pixel attacks.
#
# **You will learn**
#
# - the dual exponent q (1/p + 1/q = 1) and why the best value is radius * ||g||_q (Hoelder's
#   inequality, with equality at the closed form), checked numerically;
# - the closed forms for p = 1, 2, inf and any p in between, and how they meet at the limits;
# - why dividing the gradient by its l1 norm (a known bug in other libraries) is *not* the
#   steepest l1 step, with the lost value computed;
# - FGSM as the p = inf step, the single-pixel attack as the p = 1 step, run on a trained
#   network, and how accuracy falls with the size of the step.
#
# **Read alongside**
#
# - `refimpl/perturbations/lp.py`: `norm`, `dual_norm`, `dual_exponent`, `steepest_ascent`;
# - `refimpl/perturbations/attacks.py`: `one_step` (an attack = input gradient + closed form)
#   and `refimpl/perturbations/_model.py`: `input_gradient`;
# - `theory/norms.py`: the same closed forms in plain float64, and `lp_maximiser_numerical`
#   (SLSQP), which we use as an independent check;
# - `refimpl/plotting/images.py` and `refimpl/plotting/curves.py`: the figures.

# %%
import itertools
import math

import numpy as np

from refimpl import nn, ops
from refimpl.backend import make_rng
from refimpl.perturbations import Lp, Noise, SignL2, UniformNoise, input_gradient, lp, one_step
from refimpl.plotting import accuracy_vs_magnitude, example_grid, perturbation_grid
from refimpl.training import evaluate, fit
from refimpl.tutorial_support import TINY, figure_path, image_data, show
from theory.norms import lp_maximiser_numerical

rng = np.random.default_rng(0)
print("tiny setting" if TINY else "full setting")

# %% [markdown]
# ## 1. Dual norms and Hoelder's equality
#
# For 1/p + 1/q = 1, Hoelder's inequality says <g, delta> <= ||g||_q ||delta||_p, so no delta in
# the ball of `radius` can do better than radius * ||g||_q. The bound is reached by
#
#     delta = radius * sign(g) * (|g| / ||g||_q) ** (q - 1)          (1 < p < inf)
#
# (take the q-norm and p-norm of it: every factor is chosen so that both inequalities in the
# proof of Hoelder are equalities). Lyu et al. write the exponent as 1/(p - 1) (their eq. 3):
# the same number, since q = p/(p - 1) gives q - 1 = 1/(p - 1). `lp.steepest_ascent(grad, radius, p)` computes it for a whole
# batch, one row per example; `lp.dual_norm(grad, p)` is ||g||_q per row.

# %%
g = rng.normal(size=(6, 20))  # six "gradients", one per row
radius = 0.7
for p in (1.5, 2, 3, 10):
    assert math.isclose(lp.dual_exponent(p) - 1, 1 / (p - 1))  # the paper's exponent
print(f"{'p':>6} {'q':>6} {'||delta||_p':>12} {'<g, delta>':>12} {'radius*||g||_q':>15}")
for p in (1, 1.5, 2, 3, 10, math.inf):
    delta = lp.steepest_ascent(g, radius, p)
    value = np.sum(g * delta, axis=1)
    bound = radius * lp.dual_norm(g, p)
    q = lp.dual_exponent(p)
    print(f"{p:>6} {q:>6.3g} {lp.norm(delta, p)[0]:>12.6f} {value[0]:>12.6f} {bound[0]:>15.6f}")
    assert np.allclose(lp.norm(delta, p), radius, rtol=1e-12)   # on the sphere of the ball
    assert np.allclose(value, bound, rtol=1e-12)                 # Hoelder with equality

# %% [markdown]
# An independent check: solve the same problem with a general-purpose optimiser (SLSQP in
# `theory.norms.lp_maximiser_numerical`, which knows nothing of Hoelder), and throw many random
# points of the ball at it. For p = 1 and p = inf the ball is a polytope, and a linear function
# is maximised at a vertex: the 2D points +-radius e_i of the l1 ball, or the 2^D sign patterns
# of the linf ball, few enough to enumerate for D = 10.

# %%
g1 = g[0]
for p in (1.5, 2, 3):
    _, numeric = lp_maximiser_numerical(g1, radius, p)
    closed = float(radius * lp.dual_norm(g1[None], p)[0])
    print(f"p = {p}: SLSQP {numeric:.8f}, closed form {closed:.8f}")
    assert abs(numeric - closed) < 1e-6 * closed

    directions = rng.normal(size=(20000, g1.size))
    feasible = radius * directions / lp.norm(directions, p)[:, None]  # random points on the sphere
    assert np.max(feasible @ g1) <= closed * (1 + 1e-12)

g10 = g1[:10]
l1_vertices = radius * np.concatenate([np.eye(10), -np.eye(10)])
linf_vertices = radius * np.array(list(itertools.product([-1.0, 1.0], repeat=10)))
assert np.isclose(np.max(l1_vertices @ g10), radius * lp.dual_norm(g10[None], 1)[0])
assert np.isclose(np.max(linf_vertices @ g10), radius * lp.dual_norm(g10[None], math.inf)[0])
print("p = 1 and p = inf: the best vertex reaches radius * ||g||_q")

# %% [markdown]
# ## 2. The three cases the papers use, and the limits between them
#
# - **p = inf** (q = 1): delta = radius * sign(g): every coordinate moves by the full radius.
#   This is the fast gradient sign method (FGSM) of Goodfellow et al.
# - **p = 2** (q = 2): delta = radius * g / ||g||_2, the normalised gradient. "Learning with a
#   strong adversary" (Adv_Loss), Shaham et al.'s l2 step and Lyu et al.'s p = 2 are this step.
# - **p = 1** (q = inf): the whole radius goes to the single coordinate of largest |g| (the first
#   one in C order at a tie), with its sign: a single-pixel change.
#
# The general formula moves continuously between them: as p -> 1 the weight (|g_i|/||g||_q)^(q-1)
# of every coordinate but the largest vanishes, and as p -> inf it tends to 1 everywhere. The
# code computes the power in the log domain so that p = 1.0001 (q = 10001) stays exact.

# %%
near_one = lp.steepest_ascent(g, radius, 1.0001)
share_of_top = np.max(np.abs(near_one), axis=1) / np.sum(np.abs(near_one), axis=1)
near_inf = lp.steepest_ascent(g, radius, 1e6)
print("p = 1.0001: share of the l1 mass on the largest coordinate", share_of_top.round(4))
assert np.all(share_of_top > 0.99) and np.all(np.isfinite(near_one))
assert np.allclose(near_inf, radius * np.sign(g), atol=1e-4)
assert np.array_equal(lp.steepest_ascent(g, radius, math.inf), radius * np.sign(g))
assert np.allclose(lp.steepest_ascent(g, radius, 2),
                   radius * g / np.linalg.norm(g, axis=1, keepdims=True))
single = lp.steepest_ascent(g, radius, 1)
assert np.all(np.count_nonzero(single, axis=1) == 1)
assert np.array_equal(np.argmax(np.abs(single), axis=1), np.argmax(np.abs(g), axis=1))

# A zero gradient gives a zero step (sign(0) = 0), never NaN:
zero = lp.steepest_ascent(np.zeros((1, 20)), radius, 3)
assert np.array_equal(zero, np.zeros((1, 20)))

# %% [markdown]
# ## 3. Dividing by the l1 norm is not the steepest l1 step
#
# A tempting "l1 normalisation", delta = radius * g / ||g||_1, has l1 norm `radius`, so it is
# feasible, and it points along the gradient. Some libraries once shipped it as their l1 step
# (cleverhans issue 828, "Wrong implementation of ord=1", about `optimize_linear`).
# But its value is radius * ||g||_2^2 / ||g||_1, and ||g||_2^2 <= ||g||_inf ||g||_1, so it never
# beats radius * ||g||_inf and falls short of it unless every non-zero |g_i| is equal. The
# optimum puts everything on one coordinate.

# %%
spread = radius * g / np.sum(np.abs(g), axis=1, keepdims=True)
spread_value = np.sum(g * spread, axis=1)
best_value = np.sum(g * lp.steepest_ascent(g, radius, 1), axis=1)
assert np.allclose(lp.norm(spread, 1), radius)                      # feasible ...
assert np.all(best_value > spread_value)                             # ... but not optimal
print("value of g/||g||_1 as a fraction of the optimum:", (spread_value / best_value).round(3))
assert np.all(spread_value / best_value < 0.8)  # with 20 Gaussian coordinates, well below

# %% [markdown]
# ## 4. On a trained network
#
# An attack composes the two halves: autodiff gives the input gradient of the loss, the closed
# form turns it into a step. `one_step(logits_fn, x, y, family=..., radius=...)` does both;
# `only_correct=True` perturbs only the examples the model gets right (the others count as
# errors either way). We train an MLP (on MNIST in the full setting when the files are present,
# else on the 8x8 digits; pixels in [0, 1]).

# %%
data = image_data()
name, epochs = ("mlp-100-100", 4) if TINY else ("mlp-400-400", 3 if data.name == "mnist" else 20)
model = nn.build(name, data.input_shape)
run = fit(model, model.init(make_rng(0)), (data.x_train, data.y_train),
          optimizer=nn.SGD(lr=0.05, momentum=0.9), epochs=epochs, batch_size=64, quiet=True)
params = run.params
n_eval = 300 if TINY else 2000
x, y = data.x_test[:n_eval], data.y_test[:n_eval]
clean = evaluate(model, params, x, y)["accuracy"]
print(f"{name} on {data.name}: clean test accuracy {100 * clean:.2f} % on {n_eval} images")


def logits_fn(inputs):
    return model.apply(params, inputs)


def accuracy(inputs):
    return float(np.mean(np.argmax(logits_fn(inputs), axis=1) == y))


assert abs(accuracy(x) - clean) < 1e-12

# %% [markdown]
# FGSM is the p = inf step on the loss gradient, and `one_step(family=Lp(math.inf))` is exactly
# x + radius * sign(grad); the l2 family is the normalised gradient.

# %%
grad_x = input_gradient(logits_fn, x, y)  # (N, 1, H, W): each example's own gradient
eps = 0.1
fgsm = one_step(logits_fn, x, y, family=Lp(math.inf), radius=eps)
assert np.array_equal(fgsm.x_adv, x + eps * np.sign(grad_x))
l2_step = one_step(logits_fn, x, y, family=Lp(2), radius=1.0)
flat = grad_x.reshape(n_eval, -1)
assert np.allclose(l2_step.delta.reshape(n_eval, -1),
                   flat / np.linalg.norm(flat, axis=1, keepdims=True), atol=1e-6)
print(f"FGSM at eps = {eps}: accuracy {100 * accuracy(fgsm.x_adv):.1f} % (clean {100 * clean:.1f} %)")

# %% [markdown]
# The first-order picture in numbers: for a small radius the rise of the loss is radius times the
# dual norm of the gradient, per example, for each p (the expansion behind Lyu et al.'s
# gradient-norm regulariser, tutorial 07).

# %%
def per_example_loss(inputs):
    return np.asarray(ops.softmax_cross_entropy(logits_fn(inputs), y), dtype=np.float64)


small = 1e-3
base = per_example_loss(x)
for p in (1, 2, math.inf):
    step = lp.steepest_ascent(grad_x, small, p)
    rise = per_example_loss(x + step) - base
    predicted = small * lp.dual_norm(grad_x, p)
    ratio = np.sum(rise) / np.sum(predicted)
    print(f"p = {p}: total rise / first-order prediction = {ratio:.4f}")
    assert abs(ratio - 1) < 0.05

# %% [markdown]
# ## 5. The single-pixel attack
#
# Shaham et al. noticed that the l1 step changes one pixel only, and that one pixel can be
# enough. `one_step(family=Lp(1))` moves the pixel of largest |gradient| by `radius` in the
# direction of its gradient's sign. We do not clip x + delta to [0, 1] here; that is our
# simplification, not the paper's: Shaham et al.'s eq. 1 constrains x + delta to [0, 1]^d
# (pass `clip=(0.0, 1.0)` to `one_step` to respect the box).

# %%
pixel_radii = [0.5, 1.0, 2.0, 4.0]
for r in pixel_radii:
    attack = one_step(logits_fn, x, y, family=Lp(1), radius=r, only_correct=True)
    changed = np.count_nonzero(attack.delta.reshape(n_eval, -1), axis=1)
    assert np.all(changed <= 1)  # one pixel per example (none for those already wrong)
    print(f"one pixel moved by {r}: accuracy {100 * accuracy(attack.x_adv):.1f} %")
single_pixel = one_step(logits_fn, x, y, family=Lp(1), radius=pixel_radii[-1], only_correct=True)
right = np.argmax(logits_fn(x), 1) == y
fooled = np.flatnonzero(right & (np.argmax(logits_fn(single_pixel.x_adv), 1) != y))
print(f"{fooled.size} of the {int(right.sum())} correctly classified images flipped by one pixel")
assert fooled.size > 0

picked = fooled[:6]
before = np.argmax(logits_fn(x[picked]), axis=1)
after = np.argmax(logits_fn(single_pixel.x_adv[picked]), axis=1)
path = perturbation_grid(x[picked], single_pixel.delta[picked], figure_path("04_single_pixel.png"),
                         captions=[f"{a} → {b}" for a, b in zip(before, after)],
                         title=f"single-pixel (l1) steps of size {pixel_radii[-1]} on {name}")
show(path)

# %% [markdown]
# ## 6. Accuracy against the size of the step
#
# Shaham et al.'s Fig. 3 measures, for each net, its accuracy under FGSM steps of growing
# eps computed against itself; here is that curve for our normally trained net. Beside it, the
# three directions compared at the same l2 size (`SignL2()` is the sign step of l2 norm
# `radius`, the convention of "Adversarial noise from the K-support norm" and "Learning
# with a strong adversary"), with uniform random noise of the same size as a baseline.

# %%
eps_grid = np.linspace(0, 0.3, 4 if TINY else 13)
fgsm_curve = [accuracy(one_step(logits_fn, x, y, family=Lp(math.inf), radius=float(e),
                                only_correct=True).x_adv) for e in eps_grid]
path = accuracy_vs_magnitude({f"{name}, FGSM against itself": (eps_grid, fgsm_curve)},
                             figure_path("04_fgsm_accuracy.png"),
                             xlabel="eps (linf radius, pixels in [0, 1])",
                             title=f"FGSM on {data.name}")
show(path)
assert fgsm_curve[0] == clean and fgsm_curve[-1] < clean

magnitudes = np.linspace(0, 4 if data.name == "mnist" else 2, 4 if TINY else 9)
noise_rng = make_rng(1)
families = {"sign (linf)": dict(family=SignL2()), "gradient (l2)": dict(family=Lp(2)),
            "single pixel (l1)": dict(family=Lp(1)),
            "uniform noise": dict(direction=Noise(UniformNoise()))}
curves = {}
for label, kw in families.items():
    curves[label] = (magnitudes, [accuracy(one_step(logits_fn, x, y, radius=float(m),
                                                    only_correct=True,
                                                    rng=noise_rng, **kw).x_adv)
                                  for m in magnitudes])
path = accuracy_vs_magnitude(curves, figure_path("04_accuracy_vs_l2_magnitude.png"),
                             title=f"{name} on {data.name}: one step of each direction")
show(path)
for label, (_, acc) in curves.items():
    print(f"{label:18s}", " ".join(f"{100 * a:5.1f}" for a in acc))
# At every non-zero size, the gradient directions hurt more than random noise of that size.
for label in ("sign (linf)", "gradient (l2)"):
    assert all(a < u for a, u in zip(curves[label][1][1:], curves["uniform noise"][1][1:]))

# %% [markdown]
# The adversarial examples themselves, at one l2 size, with the predicted labels:

# %%
m = float(magnitudes[len(magnitudes) // 2])
rows, labels = {"clean": x[:8]}, {"clean": np.argmax(logits_fn(x[:8]), axis=1)}
for label, kw in families.items():
    if label == "uniform noise":
        continue
    x_adv = one_step(logits_fn, x[:8], y[:8], radius=m, **kw).x_adv
    rows[label], labels[label] = x_adv, np.argmax(logits_fn(x_adv), axis=1)
path = example_grid(rows, figure_path("04_examples.png"), labels=labels, vrange=(0.0, 1.0),
                    title=f"one step of l2 size {m:g} in each direction (predicted labels)")
show(path)

# %% [markdown]
# ## What to take away
#
# - The worst first-order step in an lp ball has value radius * ||g||_q; its closed form is a
#   pure function of the gradient (`refimpl/perturbations/lp.py`), tested by that value.
# - p = inf is FGSM, p = 2 the normalised gradient, p = 1 a single coordinate; g / ||g||_1 is
#   feasible but not steepest.
# - An attack is an input gradient plus a closed form; the same closed forms drive adversarial
#   training in the next tutorials.
