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
# # 02 · One code, two devices: the array API
#
# refimpl never imports NumPy or CuPy to compute. Every function asks its input arrays which
# library they belong to (`xp = get_namespace(x)`) and calls only functions of the [array API
# standard](https://data-apis.org/array-api/latest/) on that namespace. The same source then
# runs on NumPy (CPU), on CuPy (GPU), and on `array_api_strict`, a reference library that
# implements the standard and *nothing else*, which is how the tests prove the code portable.
#
# **You will learn**
#
# - `get_namespace`, `namespace_by_name`, `to_numpy` and `make_rng` from `refimpl.backend`;
# - what `array_api_strict` refuses, with the errors it raises, and why a NumPy habit can slip
#   past it silently;
# - the backend switch: the same training and attack code on every backend that answers, with
#   CuPy skipped cleanly when no GPU is there, and the results compared.
#
# **Read alongside**
#
# - `refimpl/backend.py`: the only module that knows which library is underneath;
# - `refimpl/ops/__init__.py`: the one portability rule for operators on traced values;
# - `refimpl/ops/elementwise.py`: `_xp(x)` as the first line of every primitive;
# - `tests/conftest.py`: the `xp` fixture that runs each test on NumPy, array-api-strict, CuPy.

# %%
import time

import array_api_strict
import numpy as np

from refimpl import nn
from refimpl.autodiff import grad
from refimpl.backend import get_namespace, make_rng, namespace_by_name, to_numpy
from refimpl.data import load
from refimpl.plotting import example_grid
from refimpl.training import fit
from refimpl.tutorial_support import TINY, figure_path, show

print("tiny setting" if TINY else "full setting")

# %% [markdown]
# ## 1. The namespace comes from the arrays
#
# `get_namespace(*arrays)` returns the array-API namespace shared by its arguments: the `numpy`
# module itself for NumPy arrays (NumPy 2 implements the standard), `array_api_strict` for its
# arrays, array-api-compat's CuPy wrapper for CuPy arrays. Python scalars are ignored. Arrays
# of two different libraries are an error that names the argument, instead of a silent copy.

# %%
a_np = np.linspace(0.0, 1.0, 5)
a_strict = array_api_strict.asarray([0.0, 0.25, 0.5, 0.75, 1.0])
print(get_namespace(a_np).__name__, "|", get_namespace(a_strict).__name__)
assert get_namespace(a_np) is np and get_namespace(a_strict) is array_api_strict
assert get_namespace(a_np, 2.0) is np
try:
    get_namespace(a_np, a_strict, name="inputs")
except TypeError as err:
    print("TypeError:", err)
else:
    raise AssertionError("mixing two array libraries must fail")

# %% [markdown]
# `namespace_by_name` is the switch for programs (the CLI's `--backend`): "numpy", "cupy" or
# "array_api_strict". CuPy is imported only when asked for, so `import refimpl` stays light.
# `to_numpy` brings any array back to NumPy at the edges: for printing, plotting, saving.

# %%
xs = namespace_by_name("array_api_strict")
assert xs is array_api_strict
back = to_numpy(xs.sqrt(a_strict))
assert type(back) is np.ndarray and np.allclose(back, np.sqrt(a_np))

# %% [markdown]
# ## 2. What `array_api_strict` refuses
#
# The standard is smaller than NumPy. Array methods such as `.sum()` and `.astype()` are not in
# it (the functions `xp.sum`, `xp.astype` are), some names differ (`cumulative_sum`, not
# `cumsum`), indexing with a Python list is not specified, and integer and floating arrays do
# not mix. NumPy (and CuPy, which copies its interface) allows every one of these, so code
# tested on NumPy alone can rely on them without noticing; `array_api_strict` raises instead,
# which is why every test runs on it. It also refuses an operand from another library.

# %%
refusals = {
    "a.sum()": lambda: a_strict.sum(),
    "xp.cumsum(a)": lambda: xs.cumsum(a_strict),
    "a[[0, 2]]": lambda: a_strict[[0, 2]],
    "int array + float array": lambda: xs.asarray([1, 2, 3, 4, 5]) + a_strict,
    "strict array + NumPy array": lambda: a_strict + a_np,
}
for call, attempt in refusals.items():
    try:
        attempt()
    except (AttributeError, IndexError, TypeError) as err:
        print(f"{call:28s} -> {type(err).__name__}: {err}")
    else:
        raise AssertionError(f"array_api_strict accepted {call}")

# The standard's spellings of the same things work:
assert float(xs.sum(a_strict)) == 2.5
assert np.allclose(to_numpy(xs.cumulative_sum(a_strict)), np.cumsum(a_np))
assert np.allclose(to_numpy(xs.take(a_strict, xs.asarray([0, 2]))), a_np[[0, 2]])

# %% [markdown]
# One habit slips through even here: a NumPy *function* applied to a foreign array converts it
# to NumPy without a word (through `__array__`). On CuPy the same call either fails or copies
# the data to the host. That is why library code never writes `np.` on its inputs and always
# takes `xp` from them.

# %%
leaked = np.exp(a_strict)
print(type(leaked).__module__, type(leaked).__name__)
assert type(leaked) is np.ndarray  # no longer an array_api_strict array: the namespace was lost
assert type(xs.exp(a_strict)) is type(a_strict)

# %% [markdown]
# ## 3. Random numbers on any backend
#
# The standard has no random numbers. `make_rng(seed, xp)` returns a small generator that draws
# in `xp`: NumPy's `Generator` for NumPy and array-api-strict (so the two backends see
# identical numbers for one seed), CuPy's own generator on the device for CuPy (no host copy
# per draw, but other numbers).

# %%
draw_np = make_rng(5, np).normal((4,))
draw_strict = make_rng(5, xs).normal((4,))
print(draw_np, "|", draw_strict)
assert type(draw_strict) is type(a_strict) and draw_strict.dtype == xs.float32
assert np.array_equal(draw_np, to_numpy(draw_strict))

# %% [markdown]
# ## 4. The switch: the same program on every backend
#
# The function below trains an MLP for a few epochs and attacks it with one FGSM step. It is
# written once: data and parameters are converted to the backend at the edge (`xp.asarray`),
# everything else takes its namespace from the arrays. Parameters are drawn once in NumPy and
# converted, so that every backend starts from the same point.

# %%
digits = load("digits")
n_train = 256 if TINY else digits.x_train.shape[0]
epochs = 2 if TINY else 10
model = nn.build("mlp-100-100", digits.input_shape)
initial = model.init(make_rng(0))  # NumPy float32
x_show, y_show = digits.x_test[:8], digits.y_test[:8]


def train_and_attack(xp, radius=0.1):
    """Train on the digits in namespace xp, then one FGSM step; results back in NumPy."""
    params = {key: xp.asarray(value) for key, value in initial.items()}
    train = xp.asarray(digits.x_train[:n_train]), xp.asarray(digits.y_train[:n_train])
    start = time.perf_counter()
    result = fit(model, params, train, optimizer=nn.SGD(lr=0.05, momentum=0.9), epochs=epochs,
                 batch_size=64, quiet=True)
    seconds = time.perf_counter() - start
    x, y = xp.asarray(x_show), xp.asarray(y_show)
    g = grad(lambda z: nn.cross_entropy(model.apply(result.params, z), y))(x)
    x_adv = x + radius * xp.sign(g)
    assert type(x_adv) is type(x)  # the result lives where the input lives
    predicted = xp.argmax(model.apply(result.params, x_adv), axis=1)
    return {"params": {k: to_numpy(v) for k, v in result.params.items()},
            "x_adv": to_numpy(x_adv), "predicted": to_numpy(predicted), "seconds": seconds}


results = {}
for name in ("numpy", "array_api_strict", "cupy"):
    try:
        xp = namespace_by_name(name)
        xp.zeros(1)  # CuPy may import and still find no GPU
    except Exception as err:  # ImportError, or CUDA's runtime error without a device
        print(f"{name}: skipped ({type(err).__name__}: {str(err).splitlines()[0][:80]})")
        continue
    results[name] = train_and_attack(xp)
    print(f"{name}: {epochs} epochs on {n_train} digits in {results[name]['seconds']:.2f} s")
assert {"numpy", "array_api_strict"} <= set(results)

# %% [markdown]
# NumPy and array-api-strict run the same float32 operations on the same CPU, so they agree
# bit for bit. A GPU sums in another order, so CuPy agrees to float32 rounding, amplified a
# little by training.

# %%
reference = results["numpy"]
for name, found in results.items():
    worst = max(float(np.max(np.abs(found["params"][k] - reference["params"][k])))
                for k in reference["params"])
    print(f"{name:17s} largest parameter difference from NumPy: {worst:.2e}")
    if name == "cupy":  # another summation order: close, not identical
        assert worst < 1e-2
        agree = int(np.sum(found["predicted"] == reference["predicted"]))
        print(f"  CuPy and NumPy predict the same label for {agree} of {len(y_show)} examples")
    else:
        assert worst == 0.0 and np.array_equal(found["x_adv"], reference["x_adv"])
        assert np.array_equal(found["predicted"], reference["predicted"])

short = {"numpy": "NumPy", "array_api_strict": "strict", "cupy": "CuPy"}
rows = {"clean": x_show, **{short[name]: found["x_adv"] for name, found in results.items()}}
labels = {"clean": y_show, **{short[name]: found["predicted"] for name, found in results.items()}}
path = example_grid(rows, figure_path("02_backends.png"), labels=labels, vrange=(0.0, 1.0),
                    title="clean digits (true labels) and one FGSM step of radius 0.1 "
                          "computed on each backend (predicted labels)")
show(path)

# %% [markdown]
# ## What to take away
#
# - Take `xp` from the inputs; call only array-API functions on it; convert at the edges.
# - `array_api_strict` catches non-standard calls in tests; NumPy functions applied to foreign
#   arrays are the one leak it cannot catch, so library code never calls them.
# - `make_rng(seed, xp)` gives reproducible draws in any namespace.
#
# On a machine with a GPU, `pip install -e ".[gpu]"` installs a prebuilt CuPy wheel and the
# loop above adds a CuPy row.
