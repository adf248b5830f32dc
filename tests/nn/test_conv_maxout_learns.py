"""The conv maxout net (lyu-table2) must leave chance under its own SGD settings.

At the maxout yaml's init, U(-0.005, 0.005), the product of four small layers left our net at
chance for epochs, and the table's early stopping would have kept a chance net. This trains it
for 18 steps on a separable two-class set: at 0.005 the loss only reaches 1.82 there, at the
net's init 0.56; the bound between them fails if the init falls back to the yaml's.
"""

import numpy as np

from refimpl import nn
from refimpl.backend import make_rng
from refimpl.nn import architectures
from refimpl.training import fit, get_method


def _bars(n: int, seed: int = 0):
    """(n, 1, 28, 28) images: class 0 lights the top half, class 1 the bottom half."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.uniform(0.0, 0.1, (n, 1, 28, 28)).astype(np.float32)
    for i, label in enumerate(y):
        rows = slice(0, 14) if label == 0 else slice(14, 28)
        x[i, 0, rows] += 0.9
    return x, y


def _loss_after_training(init_half_width: float) -> float:
    old = architectures.CONV_MAXOUT_INIT
    architectures.CONV_MAXOUT_INIT = init_half_width
    try:
        model = nn.build("conv-maxout-48-48-24-dropout", (1, 28, 28), 10)
    finally:
        architectures.CONV_MAXOUT_INIT = old
    params = model.init(make_rng(0, np), np.float32)
    x, y = _bars(192)
    result = fit(model, params, (x, y), optimizer=nn.SGD(0.05, momentum=0.5), epochs=3,
                 batch_size=32, seed=0, method=get_method("dropout"), quiet=True,
                 log=lambda line: None)
    return result.history[-1]["train_loss"]


def test_conv_maxout_leaves_chance_at_its_init():
    assert _loss_after_training(architectures.CONV_MAXOUT_INIT) < 1.2
