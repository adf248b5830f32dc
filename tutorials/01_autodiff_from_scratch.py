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
# # 01 · Reverse-mode autodiff from scratch
#
# Every attack and every training method in this project needs one thing: the gradient of a
# loss, with respect to the parameters (to train) or to the input (to attack). This tutorial
# opens the engine that computes them.
#
# **You will learn**
#
# - what a *traced value* is, and how a *primitive* records itself on a graph;
# - what a vector-Jacobian product (VJP) is, and how one is written next to its primitive;
# - the functional interface `grad`, `value_and_grad`, `vjp`, `jacobian`;
# - why gradients of gradients (`grad(grad(f))`) come for free;
# - how to check any derivative against finite differences, with `check_grads`, by hand, and
#   with the `refimpl gradcheck` command.
#
# **Read alongside**
#
# - `refimpl/tracer.py`: the whole engine (boxes, nodes, the backward pass) in 200 lines;
# - `refimpl/ops/elementwise.py`: primitives with their VJPs just below them;
# - `refimpl/autodiff/api.py`: `grad`, `value_and_grad`, `vjp`, `jacobian`;
# - `refimpl/autodiff/check.py`: the gradient checker;
# - `refimpl/commands/gradcheck.py`: the `refimpl gradcheck` command.

# %%
import inspect
import math

import numpy as np
from matplotlib.figure import Figure

from refimpl import ops
from refimpl.autodiff import check_grads, grad, jacobian, value_and_grad, vjp
from refimpl.autodiff.check import directional_derivatives
from refimpl.backend import get_namespace
from refimpl.tracer import Node, Tensor, backward, new_trace, primitive
from refimpl.tutorial_support import TINY, show

rng = np.random.default_rng(0)
print("tiny setting" if TINY else "full setting")

# %% [markdown]
# ## 1. A traced value
#
# Differentiating `f` at `x` means calling `f` on a *box* around `x` instead of on `x`. A box
# (`refimpl.tracer.Tensor`) holds the raw array, the number of the *trace* it belongs to, and a
# `Node`. The node of an input is a *source*: it has no function and no parents. Every
# primitive that receives a box computes on the raw array and returns a new box whose node
# remembers the primitive, its arguments and its output. Below we box an array by hand, which
# is exactly what `grad` does for you.

# %%
x = np.array([-1.5, -0.2, 0.0, 0.7, 2.0])
trace = new_trace()
source = Node(fun=None, args=(), kwargs={}, out=x, argnums=(), parents=())  # an input
boxed_x = Tensor(value=x, trace=trace, node=source)

y = ops.tanh(boxed_x)
print(y)
print("recorded by:", y.node.fun, "| its parent is our source:", y.node.parents[0] is source)
assert type(y) is Tensor and y.node.fun is ops.tanh and y.node.parents == [source]
assert np.array_equal(y.value, np.tanh(x))

# %% [markdown]
# ## 2. A primitive and its VJP
#
# A primitive knows its forward computation and, for each differentiable argument, a VJP: given
# the upstream gradient `g = dL/d out`, it returns `dL/d arg = g^T (d out / d arg)`. For an
# elementwise function the Jacobian is diagonal, so the VJP is `g` times the derivative. Here is
# `tanh` as it is written in `refimpl/ops/elementwise.py`; the VJP reuses the output, since
# tanh' = 1 - tanh^2:

# %%
print(inspect.getsource(ops.tanh.fun))
print(inspect.getsource(ops.tanh.vjps[0]))

# %% [markdown]
# Running the backward pass on our hand-made graph: seed the output with the cotangent 1 (the
# output is a scalar sum), walk back, and read the gradient at the source.

# %%
total = ops.sum(y)  # a scalar: sum_i tanh(x_i)
(g_x,) = backward(total, np.ones(()), [source])
print("backward pass:", g_x)
print("1 - tanh^2   :", 1 - np.tanh(x) ** 2)
assert np.allclose(g_x, 1 - np.tanh(x) ** 2, rtol=0, atol=1e-15)

# %% [markdown]
# ### Writing your own primitive
#
# Take softsign, s(x) = x / (1 + |x|), with s'(x) = 1 / (1 + |x|)^2. The forward pass gets raw
# arrays (it takes the namespace from its input, so it runs on any backend); the VJP is written
# with `refimpl.ops`, so that it is itself recorded when a second derivative is asked for.

# %%
@primitive
def softsign(x):
    """x / (1 + |x|)."""
    xp = get_namespace(x)
    return x / (1.0 + xp.abs(x))


@softsign.defvjp
def softsign_vjp(g, out, x):
    return ops.divide(g, ops.square(ops.add(1.0, ops.abs(x))))


z = rng.normal(size=7)
g_soft = grad(lambda z: ops.sum(softsign(z)))(z)
assert np.allclose(g_soft, 1 / (1 + np.abs(z)) ** 2, rtol=1e-14)
check_grads(lambda z: softsign(z), (z,), order=2)  # first and second order agree with differences
print("softsign: VJP and VJP-of-VJP agree with central differences")

# %% [markdown]
# The checker is only useful if it fails on a wrong VJP. Forget the square:

# %%
@primitive
def softsign_wrong(x):
    return x / (1.0 + get_namespace(x).abs(x))


softsign_wrong.defvjp(lambda g, out, x: ops.divide(g, ops.add(1.0, ops.abs(x))))  # bug: no square

try:
    check_grads(lambda z: softsign_wrong(z), (z,))
except AssertionError as err:
    caught = str(err)
    print(caught)
else:
    caught = None
assert caught is not None and "order 1" in caught

# %% [markdown]
# ## 3. The graph a function records
#
# A function built from primitives records one node per primitive application, *but only on the
# paths that start at a boxed argument*. Below only `x` is boxed, so the weight `w` and bias `b`
# are plain constants: the matmul node remembers that just its argument 0 is differentiated,
# and the backward pass will never compute a weight gradient. (This is how an attack's input
# gradient skips every weight-gradient product.)

# %%
def layer(x, w, b):
    return ops.sum(ops.tanh(ops.matmul(x, w) + b))


def recorded_nodes(out):
    """The nodes of out's graph, inputs first (a depth-first topological order)."""
    order, seen = [], set()

    def visit(node):
        if id(node) not in seen:
            seen.add(id(node))
            for parent in node.parents:
                visit(parent)
            order.append(node)
    visit(out.node)
    return order


xb = rng.normal(size=(4, 3))
w, b = rng.normal(size=(3, 2)), rng.normal(size=(2,))
trace = new_trace()
source = Node(fun=None, args=(), kwargs={}, out=xb, argnums=(), parents=())
nodes = recorded_nodes(layer(Tensor(value=xb, trace=trace, node=source), w, b))
for node in nodes:
    name = "input" if node.fun is None else node.fun.__name__
    print(f"{name:8s} out shape {tuple(node.out.shape)!s:8s} differentiated args {node.argnums}")
assert [n.fun.__name__ if n.fun else "input" for n in nodes] == ["input", "matmul", "add", "tanh",
                                                                   "sum"]
assert nodes[1].argnums == [0]  # matmul(x, w): only x is traced

# %% [markdown]
# A value used twice sends gradient back along two paths, and the backward pass must *add* them
# (the bug of several toy engines is to overwrite). For x * x the two paths meet at the same
# source:

# %%
assert np.allclose(grad(lambda v: ops.sum(v * v))(z), 2 * z)
assert np.allclose(grad(lambda v: ops.sum(v * v * v + v))(z), 3 * z ** 2 + 1)

# %% [markdown]
# ## 4. The functional interface
#
# `grad(f, argnum)` returns a function computing the gradient of a scalar `f` in one argument;
# the argument may be a dict of arrays (model parameters) and the gradient comes back as the
# same dict. `value_and_grad` returns the value as well, from the same forward pass. We check
# them against the gradient of softmax regression worked out by hand:
# d/dW mean_n CE(x_n W + b, y_n) = X^T (softmax(XW + b) - onehot(y)) / N.

# %%
n, d, k = 32, 6, 4
X = rng.normal(size=(n, d))
labels = rng.integers(0, k, size=n)
params = {"weight": rng.normal(size=(d, k)) * 0.5, "bias": np.zeros(k)}


def softmax_regression_loss(params, X, labels):
    logits = ops.matmul(X, params["weight"]) + params["bias"]
    return ops.mean(ops.softmax_cross_entropy(logits, labels))


loss, grads = value_and_grad(softmax_regression_loss)(params, X, labels)
logits = X @ params["weight"] + params["bias"]
probs = np.exp(logits - logits.max(1, keepdims=True))
probs /= probs.sum(1, keepdims=True)
residual = (probs - np.eye(k)[labels]) / n
print(f"loss {float(loss):.6f}")
assert abs(float(loss) - np.mean(-np.log(probs[np.arange(n), labels]))) < 1e-12
assert np.allclose(grads["weight"], X.T @ residual, atol=1e-14)
assert np.allclose(grads["bias"], residual.sum(0), atol=1e-14)

# The input gradient of the same loss: argnum=1.
g_input = grad(softmax_regression_loss, argnum=1)(params, X, labels)
assert np.allclose(g_input, residual @ params["weight"].T, atol=1e-14)

# %% [markdown]
# `vjp(f, *args)` runs `f` once and returns its output with a function that pulls any cotangent
# back through the recorded graph, as many times as you like. `jacobian` of a batched map
# (N, D) -> (N, K) uses it with one-hot cotangents: K backward passes over one forward pass.

# %%
out, pullback = vjp(lambda v: ops.tanh(v), z)
u = rng.normal(size=z.shape)
(pulled,) = pullback(u)
assert np.allclose(pulled, u * (1 - np.tanh(z) ** 2))

jac = jacobian(lambda v: ops.matmul(v, params["weight"]))(X)  # (N, K, D)
assert jac.shape == (n, k, d)
assert np.allclose(jac, np.broadcast_to(params["weight"].T, (n, k, d)))

# %% [markdown]
# ## 5. Gradients of gradients
#
# Because every VJP is written with the same primitives, a backward pass run on boxed values is
# itself recorded, and can be differentiated again: each `grad` opens a new trace, and inner
# traces outrank outer ones (the module docstring of `refimpl/tracer.py` explains the rule).
# For tanh, with t = tanh(x):
#
# - d/dx tanh = 1 - t^2
# - d2/dx2 tanh = -2 t (1 - t^2)
# - d3/dx3 tanh = -2 (1 - t^2)(1 - 3 t^2)
#
# Since tanh acts elementwise, the gradient of sum_i tanh'(x_i) is the vector of second
# derivatives.

# %%
d1 = grad(lambda v: ops.sum(ops.tanh(v)))
d2 = grad(lambda v: ops.sum(d1(v)))
d3 = grad(lambda v: ops.sum(d2(v)))

grid = np.linspace(-3, 3, 13 if TINY else 61)
t = np.tanh(grid)
assert np.allclose(d1(grid), 1 - t ** 2, atol=1e-14)
assert np.allclose(d2(grid), -2 * t * (1 - t ** 2), atol=1e-14)
assert np.allclose(d3(grid), -2 * (1 - t ** 2) * (1 - 3 * t ** 2), atol=1e-13)
print("tanh', tanh'', tanh''' by reverse mode match their closed forms")

# %% [markdown]
# ## 6. Checking gradients
#
# A derivative is checked against a **central difference**,
# (f(x + eps v) - f(x - eps v)) / (2 eps) ~ <grad f(x), v>, whose error is O(eps^2) from the
# Taylor expansion plus O(machine eps / eps) from rounding. By hand, one coordinate at a time:

# %%
def f_scalar(v):
    return ops.sum(ops.tanh(v) * v)


g_auto = grad(f_scalar)(z)
eps = 1e-6
g_numeric = np.array([(float(f_scalar(z + eps * e)) - float(f_scalar(z - eps * e))) / (2 * eps)
                      for e in np.eye(z.size)])
print("largest difference, per coordinate:", np.max(np.abs(g_auto - g_numeric)))
assert np.max(np.abs(g_auto - g_numeric)) < 1e-8

# %% [markdown]
# One coordinate at a time costs 2D evaluations. `check_grads` (in `refimpl/autodiff/check.py`)
# instead compares the two sides of <u, J v> = <J^T u, v> along one random input direction v
# and output cotangent u: two evaluations of f, whatever its size. For `order=2` it applies the
# same test to the scalar function x -> <vjp(f, x)(u), v>, which exercises the VJPs of the VJPs.
# It casts the point to float64 first: in float32 a central difference keeps only about four
# correct digits.
#
# How the error of a central difference depends on eps explains the default step of 1e-6:

# %%
v = rng.normal(size=z.shape)
exact = float(np.sum(g_auto * v))
steps = np.logspace(-13, -1, 25)
errors = np.array([abs((float(f_scalar(z + h * v)) - float(f_scalar(z - h * v))) / (2 * h) - exact)
                   for h in steps])
best = steps[np.argmin(errors)]
print(f"smallest error {errors.min():.1e} at eps = {best:.0e}")
assert 1e-8 < best < 1e-2          # between the rounding and truncation regimes
assert errors[steps == 1e-1][0] > 1e-4 and errors[0] > 1e-5  # both ends are far worse

# %% [markdown]
# `check_grads` on a small two-layer net, with its parameters in a dict, to second order (the
# second order is what the gradient-norm penalty of "A unified gradient regularization family
# for adversarial examples" needs). `directional_derivatives` returns the numbers it compares.

# %%
net = {"w1": rng.normal(size=(d, 5)) / np.sqrt(d), "b1": np.zeros(5),
       "w2": rng.normal(size=(5, k)) / np.sqrt(5), "b2": np.zeros(k)}


def net_loss(net, X):
    h = ops.tanh(ops.matmul(X, net["w1"]) + net["b1"])
    return ops.mean(ops.softmax_cross_entropy(ops.matmul(h, net["w2"]) + net["b2"], labels))


check_grads(net_loss, (net, X), order=2)
for order, (reverse, numeric) in enumerate(directional_derivatives(net_loss, (net, X), order=2), 1):
    print(f"order {order}: reverse mode {reverse:+.10f}, central difference {numeric:+.10f}")
    assert abs(reverse - numeric) <= 1e-5 * max(abs(reverse), abs(numeric))

# %% [markdown]
# ## 7. `refimpl gradcheck`
#
# The command line runs the same comparison on an MLP and a small CNN (convolution, pooling,
# ReLU, tanh), for the loss in the parameters, in the input, and for the l2 norm of the input
# gradient in the parameters (a function of a gradient). In a shell: `refimpl gradcheck` (or
# `python -m refimpl gradcheck`); here we call the same entry point.

# %%
from refimpl.cli import main as refimpl_main  # noqa: E402

status = refimpl_main(["gradcheck", "--order", "1" if TINY else "2"])
assert status == 0

# %% [markdown]
# ## A figure
#
# tanh and its first two derivatives by reverse mode (dots) over the closed forms (lines), and
# the error of a central difference against its step. `refimpl.plotting` has no function for
# these two one-off panels, so they are drawn with matplotlib's object API (no pyplot state).

# %%
fig = Figure(figsize=(10, 3.8), layout="constrained")
left, right = fig.subplots(1, 2)
dense = np.linspace(-3, 3, 200)
td = np.tanh(dense)
for values, closed, label in ((np.tanh(grid), td, "tanh"), (d1(grid), 1 - td ** 2, "d/dx"),
                              (d2(grid), -2 * td * (1 - td ** 2), "d2/dx2")):
    line, = left.plot(dense, closed, label=label)
    left.plot(grid, values, "o", markersize=3, color=line.get_color())
left.set(xlabel="x", title="tanh and its derivatives: closed form (lines), grad (dots)")
left.legend()
left.grid(alpha=0.3)
right.loglog(steps, errors, "o-", markersize=3)
right.set(xlabel="finite-difference step eps", ylabel="|central difference - reverse mode|",
          title="small eps: rounding error; large eps: truncation error")
right.grid(alpha=0.3, which="both")
path = show(fig, "01_autodiff.png")

# %% [markdown]
# ## What to take away
#
# - A primitive records itself only when it receives a box of the current trace; that is the
#   whole of "tracing".
# - The backward pass is a reverse topological walk that calls each node's VJP and *adds*
#   gradients that arrive along several paths.
# - VJPs written with differentiable ops give every order of derivative without extra code.
# - Always check a new VJP: `check_grads(f, args, order=2)` costs a few evaluations of
#   `f`, whatever the number of inputs.
#
# Next: `02_one_code_two_devices.py` runs this same code on NumPy, array-api-strict and CuPy.

# %% [markdown]
# ## Appendix: code ported from autograd
#
# `refimpl.ops` uses NumPy's names (`exp`, `dot`, `sum`, ...), takes Python floats as 0-d
# arrays, and gives traced values NumPy's methods (`.T`, `.sum()`, `.reshape()`), so code
# written for HIPS autograd runs unchanged but for the import. Here is the first example of
# autograd's README, with only its two import lines swapped (`np` is `refimpl.ops` from here on):

# %%
import refimpl.ops as np  # was: import autograd.numpy as np
from refimpl.autodiff import grad  # was: from autograd import grad


def tanh(x):  # Define a function
    y = np.exp(-2.0 * x)
    return (1.0 - y) / (1.0 + y)


grad_tanh = grad(tanh)  # Obtain its gradient function
print(grad_tanh(1.0))  # Evaluate the gradient at x = 1.0
print((tanh(1.0001) - tanh(0.9999)) / 0.0002)  # Compare to finite differences
print(grad(grad(grad(tanh)))(1.0))  # third derivative: grad of grad of grad
