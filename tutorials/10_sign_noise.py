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
# # 10 · Feed-forward sign noise
#
# The paper "Feed-forward sign noise g(x) = x + eps x l(x) in input and hidden space" proposes
# a training noise that, unlike FGSM, needs no gradient: every input and hidden activation is
# multiplied by 1 + eps or 1 - eps, at random, during training. Its analysis (sec. 3) computes
# the Jacobian and the Hessian of the noisy map and argues that the noise adds no new critical
# points while sharpening the curvature around existing ones (a claim we test in section 3:
# it holds on average, not for the map it analyses). The paper is short and leaves
# most settings open; this tutorial says which ones are ours.
#
# **You will learn**
#
# - the map g(x) = x + eps * x * l(x), with l(x) = sign(x) with probability p and -sign(x)
#   otherwise, drawn fresh per element and per call;
# - its Jacobian 1 + eps l(x), checked with refimpl's reverse mode and `theory.sign_noise`;
# - the curvature factor (1 + eps l)^2 and why the paper's 1 + eps^2 is its *average*;
# - how the `noise=` hook of `Model.apply` puts g after every hidden activation in training;
# - what training with sign noise does to accuracy and robustness in a small experiment.
#
# **Read alongside**
#
# - `refimpl/perturbations/sign_noise.py`: `sign_noise`, `sign_noise_factor`;
# - `refimpl/training/methods.py`: `sign_noise` (the training method) and its options;
# - `refimpl/nn/models.py`: `Sequential.apply(..., noise=)` (where the hook is applied) and
#   `refimpl/nn/layers.py` (which layers count as activations);
# - `theory/sign_noise.py`: the map, its Jacobian and curvature factors in plain float64.

# %%
import time

import numpy as np

from refimpl import nn, ops
from refimpl.autodiff import grad, jacobian
from refimpl.backend import make_rng
from refimpl.evaluation import TITLES, gaussian_noise_error, robustness_table
from refimpl.perturbations.sign_noise import sign_noise, sign_noise_factor
from refimpl.plotting import attack_labels, bar_table, example_grid
from refimpl.training import fit, get_method
from refimpl.tutorial_support import TINY, figure_path, image_data, show
from theory import sign_noise as theory_sign_noise

print("tiny setting" if TINY else "full setting")

# %% [markdown]
# ## 1. The map
#
# x * l(x) is +|x| (with probability p) or -|x|, so each entry is *shifted up* by eps |x|
# with probability p and *down* by eps |x| otherwise: a positive entry is scaled by 1 + eps
# or 1 - eps, a negative one by 1 - eps or 1 + eps, and zeros stay zero (sign(0) = 0). At
# p = 1/2 the two cases are equally likely for every entry, whatever its sign. The noise is
# multiplicative: a large activation moves a lot, a small one hardly at all. (With p = 1 the
# map is the deterministic g(x) = x + eps |x| of the paper's sec. 3.1.) `sign_noise` draws the
# signs from a `refimpl.backend.Random`, afresh at every call.

# %%
x = np.array([[-2.0, -0.5, 0.0, 0.3, 1.0, 4.0]])
eps, p = 0.1, 0.5
rng = make_rng(0)
first, second = sign_noise(x, rng, eps=eps, p=p), sign_noise(x, rng, eps=eps, p=p)
print("x          ", x[0])
print("g(x), call 1", first[0])
print("g(x), call 2", second[0])
ratio = first[x != 0] / x[x != 0]
assert np.all(np.isclose(ratio, 1 + eps) | np.isclose(ratio, 1 - eps))  # x (1 +- eps)
assert first[0, 2] == 0.0                                                 # zero stays zero
assert np.array_equal(sign_noise(x, make_rng(0), eps=eps, p=p), first)   # a seed repeats

# How often is an entry shifted up? With probability p, for positive and negative entries.
big = np.random.default_rng(1).normal(size=(200, 500)).astype(np.float32)
for prob in (0.5, 0.8, 1.0):
    up = sign_noise(big, make_rng(2), eps=eps, p=prob) > big
    print(f"p = {prob}: fraction shifted up {up.mean():.4f} (positive entries "
          f"{up[big > 0].mean():.4f}, negative entries {up[big < 0].mean():.4f})")
    assert abs(up[big > 0].mean() - prob) < 0.01 and abs(up[big < 0].mean() - prob) < 0.01
assert np.allclose(sign_noise(big, make_rng(2), eps=eps, p=1.0), big + eps * np.abs(big))

# %% [markdown]
# The same images under sign noise of growing eps (noise on the input only, as the training
# method does to its batch before the first layer):

# %%
data = image_data()
images = data.x_test[:8]
rows = {"clean": images}
for e in (0.1, 0.3, 0.6):
    rows[f"eps = {e}"] = sign_noise(images, make_rng(3), eps=e, p=0.5)
path = example_grid(rows, figure_path("10_sign_noise_examples.png"),
                    title="g(x) = x (1 + eps l(x)), p = 0.5: pixels scaled by 1 +- eps")
show(path)

# %% [markdown]
# ## 2. The Jacobian
#
# For one draw of the signs, g is linear in each coordinate away from 0, so
#
#     dg/dx = diag(1 + eps l(x)).
#
# The paper's derivation carries terms with the derivative of sign(x) (a Dirac delta at 0),
# multiplied by x; they vanish, because x delta(x) = 0. In refimpl the random factor
# 1 + eps l(x) is a constant of the forward pass (`sign_noise_factor`, computed from the raw
# values), and the product with x is differentiated as usual. Two generators with the same seed
# draw the same signs, so we can compare reverse mode with the factor:

# %%
x_batch = np.random.default_rng(4).normal(size=(3, 7))
factor = sign_noise_factor(x_batch, make_rng(5), eps=eps, p=p)
jac = jacobian(lambda z: sign_noise(z, make_rng(5), eps=eps, p=p))(x_batch)  # (3, 7, 7)
assert np.allclose(jac, factor[:, :, None] * np.eye(7)[None])  # diagonal, entries 1 +- eps

signs = (factor - 1) / eps  # l(x) in {-1, +1} (0 where x = 0)
assert np.allclose(theory_sign_noise.jacobian_diagonal(eps, signs), factor)
assert np.allclose(theory_sign_noise.sign_noise_map(x_batch, eps, signs),
                   sign_noise(x_batch, make_rng(5), eps=eps, p=p))
print("reverse-mode Jacobian = diag(1 + eps l(x)) = theory.sign_noise.jacobian_diagonal")

# %% [markdown]
# Because eps < 1, every diagonal entry is positive: the chain rule multiplies the gradient of
# the layer above by 1 + eps l, which is never zero, so grad(f o g) = 0 exactly where
# grad f = 0. That is the paper's "no extra extreme points" (for eps < 1).

# %%
w = np.random.default_rng(6).normal(size=(3, 7))
g_through = grad(lambda z: ops.sum(ops.multiply(w, sign_noise(z, make_rng(5), eps=eps, p=p))))(
    x_batch)
assert np.allclose(g_through, w * factor) and np.all(factor > 0)

# %% [markdown]
# ## 3. Curvature
#
# Near a critical point u0 = g(x0) of f (grad f(u0) = 0), the Hessian of f o g is
# D H_f D with D = diag(1 + eps l): entry (i, j) is multiplied by (1 + eps l_i)(1 + eps l_j),
# so a coordinate direction's curvature by (1 + eps l)^2, that is (1.1)^2 = 1.21 or
# (0.9)^2 = 0.81 at eps = 0.1.
#
# The paper (sec. 3.2) analyses the *fixed* map g(x) = x + eps x sign(x), writes the factor as
# 1 + eps^2 sign(x) sign(x) >= 1 and concludes that the curvature always grows ("helps the
# network leave saddle points"). For that map the factor is (1 + eps sign(x))^2
# = 1 + 2 eps sign(x) + eps^2: the paper drops the cross term. For x > 0 it is (1 + eps)^2;
# for x < 0 it is (1 - eps)^2 < 1, and the curvature *shrinks*. So the claim does not hold as
# stated.
#
# What does hold, as **our** observation: over the random signs,
# E[(1 + eps l)^2] = 1 + 2 eps (2p - 1) sign(x) + eps^2, which at p = 1/2 (the paper's
# setting, sec. 4) is 1 + eps^2 for either sign of x: the paper's number, as an average. At
# p = 0.8, eps = 0.3 it is 1.45 for x > 0 but 0.73 for x < 0. And in several dimensions the
# average grows the diagonal only: at p = 1/2, E[D A D] = A + eps^2 diag(A), so "each
# direction's curvature is multiplied by 1 + eps^2" holds for the coordinate axes, not for
# every direction. We check all of this below, on both signs of x.

# %%
A = np.array([[2.0, 0.5, 0.0], [0.5, -1.0, 0.3], [0.0, 0.3, 0.5]])  # a saddle (one negative)
u0 = np.array([0.7, -1.2, 2.0])
fixed_signs = np.array([1.0, -1.0, 1.0])
x0 = u0 / theory_sign_noise.jacobian_diagonal(eps, fixed_signs)  # so that g(x0) = u0


def f(u):
    return 0.5 * (u - u0) @ A @ (u - u0)  # critical point at u0, Hessian A


composed = theory_sign_noise.composed_hessian(A, eps, fixed_signs)
numeric = theory_sign_noise.hessian_fd(
    lambda v: f(theory_sign_noise.sign_noise_map(v, eps, fixed_signs)), x0)
assert np.allclose(composed, numeric, atol=1e-5)
print("Hessian of f o g at x0 = D A D (finite differences agree); diagonal factors",
      theory_sign_noise.curvature_factor(eps, fixed_signs))

fixed_map = theory_sign_noise.curvature_factor(eps, np.sign([1.0, -1.0]))  # l = sign(x)
print(f"fixed map, eps = {eps}: factor {fixed_map[0]:.2f} for x > 0, {fixed_map[1]:.2f} for "
      f"x < 0 (the paper's 1 + eps^2 = {1 + eps ** 2:.2f})")
assert fixed_map[1] < 1 < fixed_map[0]  # the curvature shrinks where x < 0

both_signs = np.array([1.0, -1.0])
for prob in (0.5, 0.8):
    draws = np.stack([theory_sign_noise.draw_signs(both_signs, prob, np.random.default_rng(i))
                      for i in range(20000)])  # (20000, 2): x > 0 and x < 0
    mean_factor = theory_sign_noise.curvature_factor(0.3, draws).mean(axis=0)
    expected = theory_sign_noise.expected_curvature_factor(0.3, prob, both_signs)
    print(f"eps 0.3, p {prob}: average (1 + eps l)^2 = {np.round(mean_factor, 3)} for x > 0, "
          f"x < 0; expected {expected}")
    assert np.allclose(mean_factor, expected, atol=0.02)
assert np.allclose(theory_sign_noise.expected_curvature_factor(0.3, 0.5, both_signs), 1.09)

averaged = theory_sign_noise.expected_composed_hessian(A, eps, 0.5, x0)  # E[D A D] at p = 1/2
assert np.allclose(averaged, A + eps ** 2 * np.diag(np.diag(A)))

# %% [markdown]
# ## 4. Noise in hidden space: the `noise=` hook
#
# `Model.apply(params, x, train=True, noise=fn)` applies `fn` to the output of every
# activation layer (the hidden activations), and only in training; at evaluation the hook is
# ignored. The training method `get_method("sign_noise", eps=, prob=, hidden=)` applies g to
# the input batch and, with `hidden=True`, passes g as the hook.

# %%
model = nn.build("mlp-100-100", data.input_shape)
params = model.init(make_rng(0))
xb, yb = data.x_train[:32], data.y_train[:32]
seen = []


def spy(h):
    seen.append(h.shape)
    return h


clean_logits = model.apply(params, xb)
assert np.array_equal(model.apply(params, xb, train=True, noise=spy), clean_logits)
print("the hook saw hidden activations of shapes", seen)  # one per ReLU: two of (32, 100)
assert seen == [(32, 100), (32, 100)]
seen.clear()
model.apply(params, xb, train=False, noise=spy)
assert seen == []  # evaluation: no noise

# The method's loss is the cross-entropy of that noisy forward pass; with the same seed, the
# same signs are drawn in the same order (input first, then each hidden layer).
method = get_method("sign_noise", eps=0.1, prob=0.5, hidden=True)
rng_a, rng_b = make_rng(7), make_rng(7)


def noise(v):
    return sign_noise(v, rng_b, eps=0.1, p=0.5)


by_hand = nn.cross_entropy(model.apply(params, noise(xb), train=True, rng=rng_b, noise=noise), yb)
assert float(method(model, params, xb, yb, rng=rng_a)) == float(by_hand)
print(f"{method!r}: loss on one batch {float(by_hand):.6f}")

# %% [markdown]
# ## 5. Training with and without sign noise
#
# **Settings that are ours** (the paper leaves them open, or its text is ambiguous):
#
# - eps = 0.1 (the paper never states eps; we also try 0.3);
# - p = 0.5 (this one is the paper's: its sec. 4 states it);
# - g is applied to the input batch and after every hidden activation (the paper says "input
#   space and hidden space" without naming layers), never to the logits;
# - the signs are drawn afresh for every element at every training step, and the noise is off
#   at evaluation;
# - gradients pass through g as the constant factor 1 + eps l (section 2).
#
# What the paper measures: clean error (its Table 4 on MNIST: LeNet 0.50 %, FGSM-LeNet 0.60 %,
# R-LeNet, with sign noise, 0.28 %; CapsNets likewise) and, on ImageNet (Table 1), accuracy
# under random crops, horizontal flips, gray-scale and colour changes: *natural* disturbances,
# not adversarial attacks. The attack columns below are therefore our test, not the paper's.
#
# We compare Normal training, sign noise on input and hidden layers (eps 0.1 and 0.3), sign
# noise on the input only, and, as a reference, Goodfellow's adversarial training, which does
# need a gradient. Full setting: MNIST when found, MLP 784-400-400-10, a few epochs; tiny:
# the 8x8 digits, MLP 64-100-100-10. The attacks are at l2 magnitude 1.5 (0.6 on the digits,
# whose images have about 0.4 times the norm of an MNIST digit); Gaussian noise is per pixel.

# %%
mnist = data.name == "mnist"
arch, epochs, batch_size, test_radius, n_eval = (("mlp-400-400", 3, 128, 1.5, 2000) if mnist
                                                 else ("mlp-100-100", 20, 64, 0.6, 360))
x_test, y_test = data.x_test[:n_eval], data.y_test[:n_eval]
runs = {"Normal": get_method("normal"),
        "sign noise 0.1": get_method("sign_noise", eps=0.1, prob=0.5, hidden=True),
        "sign noise 0.1, input only": get_method("sign_noise", eps=0.1, prob=0.5, hidden=False),
        "sign noise 0.3": get_method("sign_noise", eps=0.3, prob=0.5, hidden=True),
        "Goodfellow": get_method("goodfellow", radius=1.7 if mnist else 0.7, magnitude="l2")}
models = {}
for label, method in runs.items():
    began = time.perf_counter()
    net = nn.build(arch, data.input_shape)
    run = fit(net, net.init(make_rng(0)), (data.x_train, data.y_train),
              optimizer=nn.SGD(lr=0.05, momentum=0.9), epochs=epochs, batch_size=batch_size,
              method=method, test=(x_test, y_test), seed=0, quiet=True)
    models[label] = (net, run.params)
    print(f"{label:27s} test accuracy {100 * run.history[-1]['test_accuracy']:.1f} % "
          f"({time.perf_counter() - began:.1f} s)")

# The papers' protocol (000/004): only correctly classified points are attacked, no clipping
# to [0, 1] (evaluation's defaults, as in ART, Foolbox and torchattacks, are the opposite).
rows = robustness_table(models, x_test, y_test, attacks=["sign_l2", "l2"], radius=test_radius,
                        only_correct=True, clip=None)
for row in rows:
    errors = gaussian_noise_error(*models[row["model"]], x_test, y_test, sigmas=(0.1, 0.3),
                                  draws=3, seed=0)
    row.update({f"noise {s}": 1.0 - e for s, e in errors.items()})
columns = ["clean", "sign_l2", "l2", "noise 0.1", "noise 0.3"]
print(f"{'model':27s}" + "".join(f"{c:>11s}" for c in columns))
for row in rows:
    print(f"{row['model']:27s}" + "".join(f"{100 * row[c]:10.1f}%" for c in columns))
table = {row["model"]: row for row in rows}
path = bar_table(rows, columns, figure_path("10_training_comparison.png"),
                 column_labels=attack_labels(columns, test_radius, TITLES),
                 title=f"{arch} on {data.name}: sign noise vs normal and Goodfellow training")
show(path)

# %% [markdown]
# What we see in these short runs, and check:
#
# - sign noise costs nothing in clean accuracy (the paper reports small gains on large nets
#   and data sets; a few epochs of an MLP cannot confirm or refute that);
# - with eps = 0.3 it makes the net somewhat more robust to the gradient attacks than normal
#   training: multiplying activations by 1 +- eps teaches the net to ignore relative changes
#   of that size;
# - but it is no substitute for adversarial training: Goodfellow's net, trained on the
#   gradient's worst case, is far more robust against the attacks that follow the gradient.

# %%
for label in ("sign noise 0.1", "sign noise 0.1, input only", "sign noise 0.3"):
    assert table[label]["clean"] > table["Normal"]["clean"] - 0.02, label
    for attack in ("sign_l2", "l2"):
        assert table["Goodfellow"][attack] > table[label][attack] + 0.05, (label, attack)
for attack in ("sign_l2", "l2"):
    assert table["sign noise 0.3"][attack] > table["Normal"][attack] + 0.05

# %% [markdown]
# ## What to take away
#
# - g(x) = x (1 + eps l(x)) rescales every input and hidden activation by 1 +- eps, at random;
#   it needs no gradient and costs one random draw per activation.
# - Its Jacobian is diag(1 + eps l), positive for eps < 1; the curvature factor is
#   (1 + eps l)^2 per draw. The paper's 1 + eps^2 drops a cross term: for its fixed map the
#   curvature shrinks where x < 0. Averaged over the signs at p = 1/2 it is 1 + eps^2, on the
#   coordinate axes (our reading).
# - In refimpl it is one training method, `get_method("sign_noise", eps=, prob=, hidden=)`,
#   built on the `noise=` hook of `Model.apply`; eps, the layers and the redraw rule are our
#   choices, stated above.
