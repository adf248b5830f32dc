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
# # 03 · Layers, losses and training
#
# The networks of the five papers are small MLPs and CNNs. This tutorial builds them from
# layers that own no arrays, trains them with plain SGD, and shows the pieces the adversarial
# methods of later tutorials plug into.
#
# **You will learn**
#
# - a layer as an `(init, apply)` pair over an explicit parameter dict;
# - the papers' models by name (`refimpl.nn.build`), and their split into a representation and a
#   classifier (`Model.represent`, `Model.classify`), which "Learning with a strong adversary"
#   perturbs at the representation layer;
# - the losses and why they are written the way they are (stable softmax cross-entropy, softplus);
# - an optimizer as a pure update rule, checked against the formula;
# - `refimpl.training.fit`: mini-batches, per-epoch metrics, checkpoints and exact resumption;
# - an MLP on the 8x8 digits and a CNN (LeNet on MNIST in the full setting), with learning curves.
#
# **Read alongside**
#
# - `refimpl/nn/layers.py` (Dense, Conv2d, MaxPool2d, Flatten, Dropout, activations);
# - `refimpl/nn/models.py` (Sequential, Model) and `refimpl/nn/architectures.py` (the table of
#   named models);
# - `refimpl/nn/losses.py`, `refimpl/nn/optim.py`, `refimpl/nn/init.py`;
# - `refimpl/training/loop.py` (`fit`), `refimpl/training/methods.py` (`normal`: the method
#   every adversarial method generalises), `refimpl/training/metrics.py` (`evaluate`);
# - `refimpl/plotting.py` (`learning_curves`).

# %%
import pathlib
import tempfile
import time

import numpy as np

from refimpl import nn, ops
from refimpl.autodiff import grad
from refimpl.backend import make_rng
from refimpl.data import load
from refimpl.plotting import learning_curves
from refimpl.training import evaluate, fit
from refimpl.tutorial_support import TINY, figure_path, image_data, show

print("tiny setting" if TINY else "full setting")

# %% [markdown]
# ## 1. A layer owns no arrays
#
# `Dense(out_features)` holds only its sizes and its initialiser. `init(rng, in_shape, dtype)`
# draws a fresh parameter dict and says what shape comes out; `apply(params, x)` computes. The
# weight is stored input-major, (in_features, out_features), so the forward pass is one matrix
# product with no transpose. Shapes exclude the batch axis.

# %%
rng = make_rng(0)  # a seeded generator (NumPy here; see tutorial 02 for other backends)
dense = nn.Dense(3)
params, out_shape = dense.init(rng, (4,), np.float64)
print({k: v.shape for k, v in params.items()}, "->", out_shape)
x = np.random.default_rng(1).normal(size=(5, 4))
assert np.allclose(dense.apply(params, x), x @ params["weight"] + params["bias"])
assert out_shape == (3,) and np.all(params["bias"] == 0)

conv = nn.Conv2d(6, 3, padding=1)
conv_params, conv_shape = conv.init(rng, (1, 8, 8), np.float64)
pool_params, pool_shape = nn.MaxPool2d(2).init(rng, conv_shape, np.float64)
print("conv weight", conv_params["weight"].shape, "| conv out", conv_shape, "| pool out", pool_shape)
assert conv_params["weight"].shape == (6, 1, 3, 3) and pool_shape == (6, 4, 4)

# %% [markdown]
# ## 2. Models by name, split in two
#
# `nn.build(name, input_shape)` returns the networks of the papers (the table in
# `refimpl/nn/architectures.py`). A `Model` is two `Sequential` stacks: `representation` (the
# lower layers) and `classifier` (the upper ones); `apply` is `classify(represent(x))`. The model
# names its layers and keeps one flat dict `{"dense1.weight": ..., ...}`, which is what
# gradients, optimizers and checkpoints work on.

# %%
digits = load("digits")
print(digits, "|", digits.info["scaling"])
mlp = nn.build("mlp-100-100", digits.input_shape)  # paper 004's Normal MLP, here 64-100-100-10
print(mlp)
mlp_params = mlp.init(make_rng(0))
print(sorted(mlp_params))
assert nn.count_parameters(mlp_params) == (64 * 100 + 100) + (100 * 100 + 100) + (100 * 10 + 10)

x_batch = digits.x_test[:8]
h = mlp.represent(mlp_params, x_batch)  # (8, 100): the last hidden activations
logits = mlp.classify(mlp_params, h)    # (8, 10)
print("representation", h.shape, "logits", logits.shape)
assert np.array_equal(logits, mlp.apply(mlp_params, x_batch))
assert h.shape == (8, *mlp.representation_shape) and logits.shape == (8, 10)

# %% [markdown]
# A model of your own is a list of layers for each half. Here a very small CNN for 8x8 images
# (also the CNN of the tiny setting below):

# %%
tiny_cnn = nn.Model("tiny-cnn", (1, 8, 8),
                    representation=[nn.Conv2d(8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                    nn.Conv2d(16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                    nn.Flatten()],
                    classifier=[nn.Dense(10)])
print(tiny_cnn)
cnn_params = tiny_cnn.init(make_rng(0))
assert tiny_cnn.apply(cnn_params, x_batch).shape == (8, 10)
assert tiny_cnn.representation_shape == (16 * 2 * 2,)

# %% [markdown]
# ## 3. Losses
#
# `nn.cross_entropy(logits, labels)` is the mean of -log softmax(logits)[y], through the fused
# `ops.softmax_cross_entropy`, which subtracts the row maximum (log-sum-exp) so that large logits
# neither overflow nor lose the answer. Its gradient in the logits is (softmax - onehot) / N.

# %%
labels = digits.y_test[:8]
z = np.asarray(logits, dtype=np.float64)
log_probs = z - z.max(1, keepdims=True)
log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
assert abs(float(nn.cross_entropy(z, labels)) - np.mean(-log_probs[np.arange(8), labels])) < 1e-12

huge = np.array([[1e4, 0.0, -1e4]])  # exp(1e4) overflows; the fused form does not
assert np.isfinite(float(nn.cross_entropy(huge, np.array([1])))) and \
    abs(float(nn.cross_entropy(huge, np.array([1]))) - 1e4) < 1e-9
g_logits = grad(nn.cross_entropy)(z, labels)
probs = np.exp(log_probs)
assert np.allclose(g_logits, (probs - np.eye(10)[labels]) / 8)

# The binary logistic loss of tutorial 09, log(1 + exp(-y s)), as a stable softplus:
scores, signs = np.array([-800.0, 0.0, 800.0]), np.array([1.0, 1.0, -1.0])
assert np.allclose(float(nn.logistic(scores, signs)), (800 + np.log(2) + 800) / 3)

# %% [markdown]
# ## 4. An optimizer is a pure update rule
#
# `SGD.update(params, grads, state)` returns new parameters and state and leaves the given
# parameters alone. Plain SGD is `param - lr * grad`; with momentum m (Torch's convention, used
# by Shaham et al.) the velocity starts at the first gradient and then follows
# v = m v + g. Both checked against the formula:

# %%
loss = lambda p, x, y: nn.cross_entropy(mlp.apply(p, x), y)  # noqa: E731
g1 = grad(loss)(mlp_params, digits.x_train[:32], digits.y_train[:32])
sgd = nn.SGD(lr=0.1)
stepped, state = sgd.update(mlp_params, g1, sgd.init(mlp_params))
assert all(np.allclose(stepped[k], mlp_params[k] - 0.1 * g1[k]) for k in mlp_params)

momentum = nn.SGD(lr=0.1, momentum=0.9)
p1, s1 = momentum.update(mlp_params, g1, momentum.init(mlp_params))
g2 = grad(loss)(p1, digits.x_train[32:64], digits.y_train[32:64])
p2, s2 = momentum.update(p1, g2, s1)
key = "dense1.weight"
assert np.allclose(p2[key], p1[key] - 0.1 * (0.9 * g1[key] + g2[key]), atol=1e-7)
print("SGD and SGD with momentum follow their formulas; steps taken:", s2["step"])

# %% [markdown]
# ## 5. Training an MLP on the digits with `fit`
#
# `fit` shuffles with a generator seeded by (seed, epoch), takes one optimizer step per
# mini-batch on the loss that `method` returns (here `training.normal`, the plain cross-entropy;
# later tutorials pass adversarial methods instead), and records per-epoch metrics. The MLP
# D-400-400-10 is the network of "Adversarial noise from the K-support norm".

# %%
mlp_name, mlp_epochs = ("mlp-100-100", 4) if TINY else ("mlp-400-400", 20)
mlp = nn.build(mlp_name, digits.input_shape)
start = time.perf_counter()
mlp_run = fit(mlp, mlp.init(make_rng(0)), (digits.x_train, digits.y_train),
              optimizer=nn.SGD(lr=0.05, momentum=0.9), epochs=mlp_epochs, batch_size=32,
              test=(digits.x_test, digits.y_test), quiet=True)
final = mlp_run.history[-1]
print(f"{mlp_name} on digits: {mlp_epochs} epochs in {time.perf_counter() - start:.1f} s, "
      f"test accuracy {100 * final['test_accuracy']:.2f} %")
assert final["test_accuracy"] > (0.85 if TINY else 0.95)
assert mlp_run.history[-1]["train_loss"] < mlp_run.history[0]["train_loss"]
assert evaluate(mlp, mlp_run.params, digits.x_test, digits.y_test)["accuracy"] == \
    final["test_accuracy"]
path = learning_curves(mlp_run.history, figure_path("03_mlp_digits_learning_curves.png"),
                       title=f"{mlp_name} on the 8x8 digits, SGD + momentum")
show(path)

# %% [markdown]
# ## 6. Checkpoints and exact resumption
#
# With `checkpoint=` the loop writes parameters, optimizer state and history after every epoch
# (to a temporary file, then renamed, so a crash never leaves half a file). Because all the
# randomness of an epoch is a function of (seed, epoch), a run stopped after 2 epochs and
# resumed to 3 ends with exactly the parameters of an uninterrupted 3-epoch run.

# %%
small = nn.build("mlp-100-100", digits.input_shape)
setting = dict(optimizer=nn.SGD(lr=0.05, momentum=0.9), batch_size=64, seed=3, quiet=True)
train = (digits.x_train[:512], digits.y_train[:512])
with tempfile.TemporaryDirectory() as folder:
    checkpoint = pathlib.Path(folder) / "checkpoint.npz"
    fit(small, small.init(make_rng(1)), train, epochs=2, checkpoint=checkpoint, **setting)
    resumed = fit(small, small.init(make_rng(1)), train, epochs=3, checkpoint=checkpoint,
                  resume=True, **setting)
straight = fit(small, small.init(make_rng(1)), train, epochs=3, **setting)
assert all(np.array_equal(resumed.params[k], straight.params[k]) for k in straight.params)
assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
print("resumed run == uninterrupted run, bit for bit")

# %% [markdown]
# ## 7. A CNN
#
# In the full setting: the LeNet-style CNN of "Adversarial noise from the K-support norm" (two
# 5x5 convolutions with 32 and 64 filters, each followed by 2x2 max-pooling, FC 400, 10) on a
# subset of MNIST, when the MNIST files are found (see `tutorials/README.md`). In the tiny
# setting, or without MNIST: the small CNN above on the 8x8 digits. Convolution and pooling
# are built from standard array operations: convolution as im2col and one matrix product
# (`refimpl/ops/conv.py`), max-pooling as a maximum over strided slices (`refimpl/ops/pool.py`).

# %%
data = image_data()  # MNIST in the full setting when present, else the digits
if data.name == "mnist":
    cnn = nn.build("lenet", data.input_shape)
    n_train, n_test, cnn_epochs, lr = 12000, 5000, 4, 0.02
else:
    cnn = tiny_cnn
    n_train, n_test = data.x_train.shape[0], data.x_test.shape[0]
    cnn_epochs, lr = (3, 0.1) if TINY else (15, 0.1)
start = time.perf_counter()
cnn_run = fit(cnn, cnn.init(make_rng(0)), (data.x_train[:n_train], data.y_train[:n_train]),
              optimizer=nn.SGD(lr=lr, momentum=0.9), epochs=cnn_epochs, batch_size=64,
              test=(data.x_test[:n_test], data.y_test[:n_test]), quiet=True)
accuracy = cnn_run.history[-1]["test_accuracy"]
print(f"{cnn.name} on {data.name} ({n_train} training images): {cnn_epochs} epochs in "
      f"{time.perf_counter() - start:.1f} s, test accuracy {100 * accuracy:.2f} %")
assert accuracy > {"mnist": 0.95}.get(data.name, 0.6 if TINY else 0.9)
path = learning_curves(cnn_run.history, figure_path(f"03_cnn_{data.name}_learning_curves.png"),
                       title=f"{cnn.name} on {data.name} ({n_train} training images)")
show(path)

# %% [markdown]
# ## What to take away
#
# - Parameters are a flat dict; models are code. `grad(loss)(params, x, y)` trains,
#   `grad(loss, argnum=1)` attacks, with the same model.
# - `Model.represent` / `Model.classify` expose the representation layer for methods that
#   perturb hidden features.
# - `fit` is deterministic given a seed, and a checkpointed run resumes exactly.
#
# Next: `04_lp_worst_case_perturbations.py` turns input gradients into worst-case perturbations.
