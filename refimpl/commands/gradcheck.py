"""``refimpl gradcheck``: reverse mode against central differences on an MLP and a CNN loss,
first and second order (double backprop), printed side by side."""

from __future__ import annotations

import math
import time

from refimpl import ops
from refimpl.autodiff import grad
from refimpl.autodiff.check import directional_derivatives
from refimpl.backend import make_rng, namespace_by_name


def _mlp_problem(rng, xp):
    """An MLP 64-32-16-10 (tanh) with its mean cross-entropy, on random digits-sized inputs."""
    sizes = [64, 32, 16, 10]
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"dense{i}.weight"] = rng.normal((n_in, n_out), dtype=xp.float64, scale=n_in ** -0.5)
        params[f"dense{i}.bias"] = rng.normal((n_out,), dtype=xp.float64, scale=0.1)
    x = rng.uniform((8, 64), dtype=xp.float64)
    y = rng.integers(0, 10, (8,))

    def loss(params, x):
        h = x
        for i in range(1, len(sizes)):
            h = ops.matmul(h, params[f"dense{i}.weight"]) + params[f"dense{i}.bias"]
            h = ops.tanh(h) if i < len(sizes) - 1 else h
        return ops.mean(ops.softmax_cross_entropy(h, y))
    return loss, params, x


def _cnn_problem(rng, xp):
    """conv 3x3 (1->4, padding 1), ReLU, max-pool 2, conv 3x3 (4->6), dense 6*2*2->10."""
    params = {
        "conv1.weight": rng.normal((4, 1, 3, 3), dtype=xp.float64, scale=1 / 3),
        "conv1.bias": rng.normal((4,), dtype=xp.float64, scale=0.1),
        "conv2.weight": rng.normal((6, 4, 3, 3), dtype=xp.float64, scale=1 / 6),
        "conv2.bias": rng.normal((6,), dtype=xp.float64, scale=0.1),
        "dense.weight": rng.normal((24, 10), dtype=xp.float64, scale=0.2),
        "dense.bias": rng.normal((10,), dtype=xp.float64, scale=0.1),
    }
    x = rng.uniform((3, 1, 8, 8), dtype=xp.float64)
    y = rng.integers(0, 10, (3,))

    def loss(params, x):
        h = ops.relu(ops.conv2d(x, params["conv1.weight"], params["conv1.bias"], padding=1))
        h = ops.max_pool2d(h, 2)
        h = ops.tanh(ops.conv2d(h, params["conv2.weight"], params["conv2.bias"]))
        logits = ops.matmul(ops.flatten(h), params["dense.weight"]) + params["dense.bias"]
        return ops.mean(ops.softmax_cross_entropy(logits, y))
    return loss, params, x


def gradcheck(args) -> int:
    """Print reverse mode against central differences; exit status 1 if any check fails."""
    if not (isinstance(args.rtol, (int, float)) and math.isfinite(args.rtol) and args.rtol >= 0):
        raise ValueError(f"rtol: expected a finite number >= 0, got {args.rtol!r}")
    if not (isinstance(args.order, int) and args.order >= 1):
        raise ValueError(f"order: expected an int >= 1, got {args.order!r}")
    xp = namespace_by_name(args.backend)
    rng = make_rng(args.seed, xp)
    rows = []
    for name, make in (("MLP", _mlp_problem), ("CNN", _cnn_problem)):
        loss, params, x = make(rng, xp)
        checks = [
            (f"{name} loss, d/d params", lambda p, loss=loss, x=x: loss(p, x), params),
            (f"{name} loss, d/d input", lambda z, loss=loss, p=params: loss(p, z), x),
            (f"{name} ||d loss/dx||_2, d/d params",
             lambda p, loss=loss, x=x: ops.sqrt(ops.sum(ops.square(grad(loss, 1)(p, x)))), params),
        ]
        for label, f, point in checks:
            start = time.perf_counter()
            pairs = directional_derivatives(f, (point,), order=args.order, seed=args.seed)
            elapsed = time.perf_counter() - start
            for order, (reverse, numeric) in enumerate(pairs, start=1):
                error = abs(reverse - numeric) / max(abs(reverse), abs(numeric), 1e-12)
                rows.append((label, order, reverse, numeric, error, elapsed))

    print(f"refimpl gradcheck: backend {args.backend}, float64, seed {args.seed}")
    print("reverse mode <J^T u, v> against central differences <u, J v> along random u, v\n")
    header = f"{'check':40s} {'order':>5s} {'reverse mode':>15s} {'finite diff.':>15s} {'rel. error':>10s}"
    print(header)
    print("-" * len(header))
    failed = 0
    for label, order, reverse, numeric, error, _ in rows:
        ok = error <= args.rtol and math.isfinite(error)
        failed += not ok
        print(f"{label:40s} {order:5d} {reverse:15.8g} {numeric:15.8g} {error:10.1e}"
              f"{'' if ok else '   FAILED'}")
    print(f"\n{len(rows) - failed} of {len(rows)} checks agree to a relative {args.rtol:g}")
    return 1 if failed else 0
