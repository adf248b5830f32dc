"""Helpers for the iterative-attack tests: small models, a device probe, a trained digits MLP."""

import contextlib
import functools
import importlib.util
import os
import traceback

import numpy as np
import pytest

from refimpl import ops


def mlp(xp, params):
    """logits_fn of a 2-layer tanh MLP with NumPy ``params`` (w1, b1, w2, b2), in ``xp``."""
    w1, b1, w2, b2 = (xp.asarray(p) for p in params)
    return lambda x: ops.linear(ops.tanh(ops.linear(ops.flatten(x), w1, b1)), w2, b2)


def random_mlp(seed, d=6, hidden=8, k=3, scale=1.0):
    """Random float64 MLP parameters (w1, b1, w2, b2)."""
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(d, hidden)), rng.normal(size=hidden),
            scale * rng.normal(size=(hidden, k)), rng.normal(size=k))


MINE = ("projected_gradient.py", "apgd.py", "deepfool_attack.py", "carlini_wagner.py", "lbfgs.py",
        "external.py", "_checks.py")


def on_device1(xp, *arrays):
    """``arrays`` (NumPy) on array-api-strict's second device (other backends: skip)."""
    if getattr(xp, "__name__", "") != "array_api_strict":
        pytest.skip("the second device is array-api-strict's")
    return [xp.asarray(a, device=xp.Device("device1")) for a in arrays]


@contextlib.contextmanager
def foreign_device_errors_skipped():
    """Skip when an array of the default device is made outside the iterative attacks' own
    modules (refimpl.ops and autodiff keep devices only after issue 14); fail when it is made
    in one of them."""
    try:
        yield
    except ValueError as err:
        if "different devices" not in str(err):
            raise
        frames = [f for f in traceback.extract_tb(err.__traceback__)
                  if f"{os.sep}refimpl{os.sep}" in f.filename]
        culprit = frames[-1]  # where the arrays of two devices met
        if any(culprit.filename.endswith(os.sep + "perturbations" + os.sep + m) for m in MINE):
            raise
        pytest.skip(f"{culprit.filename}:{culprit.lineno} does not keep the device yet")


@functools.cache
def digits_mlp(hidden=32, steps=300, n=600):
    """A 64-hidden-10 tanh MLP trained by full-batch gradient descent on sklearn digits in [0, 1]
    (float64 NumPy, gradients written by hand to keep the test fast): (x, y, params)."""
    # scikit-learn's own digits file, read without importing sklearn.datasets (5 s here)
    folder = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    table = np.loadtxt(os.path.join(folder, "datasets", "data", "digits.csv.gz"), delimiter=",")
    x, y = table[:n, :64] / 16.0, table[:n, 64].astype(np.int64)
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(64, hidden)) / 8, np.zeros(hidden)
    w2, b2 = rng.normal(size=(hidden, 10)) / np.sqrt(hidden), np.zeros(10)
    targets = np.eye(10)[y]
    for _ in range(steps):
        h = np.tanh(x @ w1 + b1)
        z = h @ w2 + b2
        p = np.exp(z - z.max(axis=1, keepdims=True))
        dz = (p / p.sum(axis=1, keepdims=True) - targets) / n  # d mean CE / d z
        dh = dz @ w2.T * (1 - h * h)
        w2, b2 = w2 - 0.5 * h.T @ dz, b2 - 0.5 * dz.sum(axis=0)
        w1, b1 = w1 - 0.5 * x.T @ dh, b1 - 0.5 * dh.sum(axis=0)
    return x, y, (w1, b1, w2, b2)
