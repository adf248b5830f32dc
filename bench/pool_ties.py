"""Max-pool ties under attack: does routing the gradient to the first maximum (PyTorch's rule)
make FGSM and PGD stronger than sharing it among tied maxima (refimpl's subgradient)?

A LeNet (``nn.build("lenet")``, ReLU, two 2x2 max-pools) is trained normally for a few epochs
on an MNIST subset; then the same weights are attacked twice, once with each ``ties`` rule in
the pooling layers' backward pass (the forward pass is identical). Blank image regions give
tied windows in the first pooling layer (all zeros after the ReLU), where the two rules send
different gradients. Attacks: FGSM (linf) and PGD linf (random start, step radius/4, 20
steps), images clipped to [0, 1]; the report gives accuracy under attack per rule (lower is
stronger) and the number of tied first-layer windows on the attacked images.

Run: ``PYTHONPATH=. python bench/pool_ties.py [--train 10000] [--epochs 2] [--test 1000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _environment  # noqa: E402

if __name__ == "__main__":
    _environment.native_blas_or_reexec()
_environment.set_threads(None)

import numpy as np  # noqa: E402

from refimpl import data, nn, ops  # noqa: E402
from refimpl.autodiff import grad  # noqa: E402
from refimpl.backend import make_rng  # noqa: E402
from refimpl.nn.layers import MaxPool2d  # noqa: E402
from refimpl.training import fit  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
MNIST = next((p / "shared" / "data" / "mnist" for p in ROOT.parents
              if (p / "shared" / "data" / "mnist").is_dir()), None)


def set_ties(model, ties):
    for layer in model.representation.layers:
        if isinstance(layer, MaxPool2d):
            layer.ties = ties


def loss_fn(model):
    return lambda x, params, y: ops.mean(ops.softmax_cross_entropy(model.apply(params, x), y))


def accuracy(model, params, x, y):
    return float(np.mean(np.argmax(model.apply(params, x), axis=1) == y))


def attack(model, params, x, y, radius, steps, rng):
    """FGSM (steps == 0) or PGD linf with a random start, clipped to [0, 1]."""
    input_grad = grad(loss_fn(model))
    if steps == 0:
        return np.clip(x + radius * np.sign(input_grad(x, params, y)), 0.0, 1.0)
    x_adv = np.clip(x + rng.uniform(-radius, radius, size=x.shape).astype(x.dtype), 0.0, 1.0)
    for _ in range(steps):
        x_adv = x_adv + (radius / 4) * np.sign(input_grad(x_adv, params, y))
        x_adv = np.clip(np.clip(x_adv, x - radius, x + radius), 0.0, 1.0)
    return x_adv


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--radii", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    parser.add_argument("--pgd-steps", type=int, default=20)
    parser.add_argument("--json", type=pathlib.Path, default=None)
    args = parser.parse_args(argv)
    ds = data.load("mnist", root=MNIST)
    x_train, y_train = ds.x_train[:args.train], ds.y_train[:args.train]
    x_test, y_test = ds.x_test[:args.test], ds.y_test[:args.test]
    model = nn.build("lenet", ds.input_shape)
    t0 = time.perf_counter()
    params = fit(model, model.init(make_rng(0)), (x_train, y_train),
                 optimizer=nn.SGD(0.05, momentum=0.9), epochs=args.epochs, batch_size=64,
                 seed=0, quiet=True).params
    print(f"trained {args.epochs} epochs on {args.train} images in {time.perf_counter() - t0:.0f} s; "
          f"clean test accuracy {accuracy(model, params, x_test, y_test):.4f}; "
          f"load {os.getloadavg()[0]:.1f}")
    conv1 = ops.relu(ops.conv2d(x_test, params["conv1.weight"], params["conv1.bias"]))
    print(f"tied first-layer pooling windows on the clean test images: {count_ties(conv1)}")
    results = []
    for steps in (0, args.pgd_steps):
        for radius in args.radii:
            row = {"attack": "fgsm" if steps == 0 else f"pgd_linf ({steps} steps)",
                   "radius": radius}
            for ties in ("share", "first"):
                set_ties(model, ties)
                x_adv = attack(model, params, x_test, y_test, radius, steps,
                               np.random.default_rng(1))
                row[ties] = accuracy(model, params, x_adv, y_test)
            set_ties(model, "share")
            results.append(row)
            print(f"{row['attack']:<22} radius {radius:<5} accuracy: share {row['share']:.4f}, "
                  f"first {row['first']:.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def count_ties(activations):
    """Windows of a 2x2 pooling whose maximum is attained more than once."""
    a = np.asarray(activations)
    n, c, h, w = a.shape
    tiles = a.reshape(n, c, h // 2, 2, w // 2, 2)
    hits = tiles == tiles.max(axis=(3, 5), keepdims=True)
    return int(np.sum(hits.sum(axis=(3, 5)) > 1))


if __name__ == "__main__":
    main()
