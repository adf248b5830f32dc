"""One MNIST training epoch with refimpl's training loop against the same epoch by hand in NumPy.

Model: the MLP 784-400-400-10 (ReLU) of the k-support paper, float32, plain SGD (lr 0.05),
batch 128, 469 steps over the 60,000 training images. Both sides start from the same
parameters and visit the batches in the same order:

- ``refimpl``: ``refimpl.training.fit(model, params, (x, y), epochs=1, ...)`` exactly as the
  ``refimpl train`` command runs it (shuffle, batch gather, ``value_and_grad`` of the model's
  loss through the autodiff, ``SGD.update``, NaN checks; no test evaluation);
- ``hand``: a loop over the same permutation with the hand-written forward/backward and
  update of ``bench/_handwritten.py``.

Epochs alternate between the sides (so a slow phase of the machine hits both) and the report
gives each side's median and minimum epoch time and their ratio (goal: refimpl / hand <= 1.3).
Before timing, one step's gradients of both sides are compared (rtol 1e-4).

Run: ``PYTHONPATH=. python3 bench/epoch.py [--data-dir DIR] [--reps 3] [--json PATH]``.
MNIST is read from ``--data-dir`` (default: ../shared/data/mnist beside the repository, then
$REFIMPL_DATA/mnist). BLAS runs single-threaded unless ``--threads`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _environment  # noqa: E402

if __name__ == "__main__":  # OpenBLAS's native kernel: re-run without the image's overrides
    _environment.native_blas_or_reexec()

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--data-dir", type=pathlib.Path, default=None)
    parser.add_argument("--reps", type=int, default=3, help="timed epochs per side")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--json", type=pathlib.Path, default=None)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for name in BLAS_THREAD_VARIABLES:  # before NumPy loads its BLAS
        os.environ[name] = str(args.threads)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import statistics  # noqa: PLC0415
    import time  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    from _handwritten import mlp_loss_and_grads, sgd_update  # noqa: PLC0415

    from refimpl import data, nn  # noqa: PLC0415
    from refimpl.autodiff import grad  # noqa: PLC0415
    from refimpl.backend import make_rng  # noqa: PLC0415
    from refimpl.training import epoch_seed, fit  # noqa: PLC0415

    root = args.data_dir or (SHARED_MNIST if SHARED_MNIST.is_dir() else None)
    ds = data.load("mnist", root=root)
    x, y = ds.x_train, ds.y_train
    x_flat = x.reshape(x.shape[0], -1)
    model = nn.build("mlp-400-400", ds.input_shape)
    params0 = model.init(make_rng(0))
    lr, bs = 0.05, args.batch_size

    # Same computation: one batch's gradients agree.
    loss_fn = lambda p, xb, yb: nn.cross_entropy(model.apply(p, xb), yb)  # noqa: E731
    mine = grad(loss_fn)(params0, x[:bs], y[:bs])
    _, theirs = mlp_loss_and_grads({k: v.copy() for k, v in params0.items()}, x_flat[:bs], y[:bs])
    for key in theirs:
        np.testing.assert_allclose(mine[key], theirs[key], rtol=1e-4, atol=1e-6, err_msg=key)

    def refimpl_epoch():
        fit(model, params0, (x, y), optimizer=nn.SGD(lr), epochs=1, batch_size=bs, seed=0,
            quiet=True)

    def hand_epoch():
        order = make_rng(epoch_seed(0, 0, 0)).permutation(x.shape[0])
        params = {k: v.copy() for k, v in params0.items()}
        for start in range(0, x.shape[0], bs):
            idx = order[start:start + bs]
            _, grads = mlp_loss_and_grads(params, x_flat[idx], y[idx])
            params = sgd_update(params, grads, lr)

    times = {"refimpl": [], "hand": []}
    refimpl_epoch(), hand_epoch()  # warm-up
    for _ in range(args.reps):
        for name, epoch in (("hand", hand_epoch), ("refimpl", refimpl_epoch)):
            began = time.perf_counter()
            epoch()
            times[name].append(time.perf_counter() - began)
    report = {name: {"median_s": statistics.median(ts), "min_s": min(ts), "times_s": ts}
              for name, ts in times.items()}
    ratio = report["refimpl"]["median_s"] / report["hand"]["median_s"]
    report["ratio_median"] = ratio
    report["ratio_min"] = report["refimpl"]["min_s"] / report["hand"]["min_s"]
    report["goal"], report["met"] = 1.3, ratio <= 1.3
    report["setting"] = {"model": "mlp-400-400", "batch_size": bs, "steps": -(-x.shape[0] // bs),
                         "dtype": "float32", "blas_threads": args.threads}
    print(f"MNIST epoch, MLP 784-400-400-10, batch {bs}, float32, {args.threads} BLAS thread(s)")
    for name in ("hand", "refimpl"):
        r = report[name]
        print(f"  {name:8s} median {r['median_s']:.3f} s  min {r['min_s']:.3f} s")
    print(f"  refimpl / hand: median {ratio:.3f}, min {report['ratio_min']:.3f} "
          f"(goal <= 1.3: {'met' if report['met'] else 'NOT met'})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
