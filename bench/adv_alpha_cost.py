"""What Adv_Alpha costs: the softmax Jacobian (K = 10) against one input gradient.

On the MLP 784-400-400-10 at batch 128 (float32, random inputs and He-initialised weights):

1. ``attack``: ``one_step(family="adv_alpha")`` against ``one_step(family="l2")`` (Adv_Loss).
   The Jacobian needs K backward passes worth of arithmetic, so about K input gradients; paper
   004 calls it K times; PyTorch and JAX measure about 4-5 here. Goal: <= 5.
2. ``jacobian``: the batched Jacobian (the batch replicated K times, ONE forward and ONE
   reverse pass with one-hot cotangents, ``value_and_jacobian(batched=True)``) against K
   separate passes (K forward + backward passes, one per class, as a naive loop does), and
   against K backward passes sharing one forward pass (``vjp`` once, ``vjp_fn`` K times).
   Goal: batched / K separate <= 1.0.

Sides alternate within each repetition; medians and minima are reported with their ratios.
Run: ``PYTHONPATH=. python3 bench/adv_alpha_cost.py [--reps 20] [--threads 1] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _environment  # noqa: E402

if __name__ == "__main__":  # OpenBLAS's native kernel: re-run without the image's overrides
    _environment.native_blas_or_reexec()

ROOT = pathlib.Path(__file__).resolve().parents[1]


def race(sides, reps, warmup=2):
    for _ in range(warmup):
        for f in sides.values():
            f()
    times = {name: [] for name in sides}
    for _ in range(reps):
        for name, f in sides.items():
            began = time.perf_counter()
            f()
            times[name].append((time.perf_counter() - began) * 1e3)
    return {name: {"median_ms": statistics.median(ts), "min_ms": min(ts)}
            for name, ts in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=pathlib.Path, default=None)
    args = parser.parse_args(argv)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    sys.path.insert(0, str(ROOT))
    import numpy as np  # noqa: PLC0415

    from refimpl import nn, ops  # noqa: PLC0415
    from refimpl.autodiff import value_and_jacobian, vjp  # noqa: PLC0415
    from refimpl.backend import make_rng  # noqa: PLC0415
    from refimpl.perturbations import AdvAlpha, Lp, one_step  # noqa: PLC0415

    model = nn.build("mlp-400-400", (784,))
    params = model.init(make_rng(0))
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.batch_size)
    logits_fn = lambda z: model.apply(params, z)  # noqa: E731
    probs_fn = lambda z: ops.softmax(logits_fn(z), axis=-1)  # noqa: E731
    k = 10
    eye = np.eye(k, dtype=np.float32)

    def separate():
        rows = []
        for j in range(k):  # a fresh forward and backward pass per class
            out, back = vjp(probs_fn, x)
            rows.append(back(np.broadcast_to(eye[j], out.shape).copy())[0])
        return np.stack(rows, axis=1)

    def shared_forward():
        out, back = vjp(probs_fn, x)
        return np.stack([back(np.broadcast_to(eye[j], out.shape).copy())[0] for j in range(k)],
                        axis=1)

    batched = lambda: value_and_jacobian(probs_fn, batched=True)(x)[1]  # noqa: E731
    np.testing.assert_allclose(batched(), separate(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(shared_forward(), separate(), rtol=1e-4, atol=1e-6)

    attack = race({"adv_loss": lambda: one_step(logits_fn, x, y, family=Lp(2), radius=1.5),
                   "adv_alpha": lambda: one_step(logits_fn, x, y, direction=AdvAlpha(), radius=1.5)},
                  args.reps)
    jac = race({"batched": batched, "separate": separate, "shared_forward": shared_forward},
               args.reps)
    report = {
        "setting": {"model": "mlp-400-400", "batch_size": args.batch_size, "classes": k,
                    "dtype": "float32", "blas_threads": args.threads},
        "attack": attack, "jacobian": jac,
        "adv_alpha_over_adv_loss": attack["adv_alpha"]["median_ms"] / attack["adv_loss"]["median_ms"],
        "batched_over_separate": jac["batched"]["median_ms"] / jac["separate"]["median_ms"],
        "shared_forward_over_separate": (jac["shared_forward"]["median_ms"]
                                         / jac["separate"]["median_ms"]),
    }
    print(f"MLP 784-400-400-10, batch {args.batch_size}, float32, {args.threads} BLAS thread(s); "
          f"median (min) ms")
    for group in ("attack", "jacobian"):
        for name, r in report[group].items():
            print(f"  {group:8s} {name:15s} {r['median_ms']:8.2f} ({r['min_ms']:.2f})")
    a, b = report["adv_alpha_over_adv_loss"], report["batched_over_separate"]
    print(f"  Adv_Alpha / Adv_Loss attack time: {a:.2f} (goal <= 5: {'met' if a <= 5 else 'NOT met'})")
    print(f"  batched Jacobian / {k} separate passes: {b:.2f} "
          f"(goal <= 1.0: {'met' if b <= 1.0 else 'NOT met'})")
    print(f"  {k} backward passes sharing one forward / {k} separate passes: "
          f"{report['shared_forward_over_separate']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
