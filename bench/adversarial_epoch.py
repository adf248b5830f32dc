"""One adversarial-training epoch against one normal epoch, on the same model and batches.

The papers expect adversarial training to cost about twice normal training: one extra forward
pass and one input-only backward pass per step (the engine prunes the weight-gradient products
of the attack's backward pass). This measures, in one run, the epoch time of ``fit`` with
``method=normal`` and with each adversarial method below, epochs alternating so a slow phase of
the machine hits every side, and reports each method's median epoch time divided by the normal
one (goal: LWA / normal <= 2.1; Goodfellow trains on 2N rows per step, so it costs more).

Models: MLP 784-400-400-10 (batch 128) and, with ``--cnn``, the LeNet-style CNN (batch 64).
Run: ``PYTHONPATH=. python3 bench/adversarial_epoch.py [--data-dir DIR] [--subset N]
[--reps 3] [--cnn] [--json PATH]``. MNIST from ``--data-dir`` (default ../shared/data/mnist).
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

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
METHODS = {  # label -> (method name, options)
    "normal": ("normal", {}),
    "LWA (Adv_Loss, l2)": ("lwa", {"radius": 1.7}),
    "robust linf (FGSM)": ("robust_lp", {"p": float("inf"), "radius": 0.1}),
    "K-support": ("ksup", {"radius": 1.7, "k": 0.5}),
    "Goodfellow (2N rows)": ("goodfellow", {"radius": 1.5}),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--data-dir", type=pathlib.Path, default=None)
    parser.add_argument("--subset", type=int, default=None, help="training images per epoch")
    parser.add_argument("--reps", type=int, default=3, help="timed epochs per method")
    parser.add_argument("--cnn", action="store_true", help="also time the LeNet-style CNN")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    parser.add_argument("--json", type=pathlib.Path, default=None)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # before NumPy loads its BLAS
    sys.path.insert(0, str(ROOT))
    import statistics  # noqa: PLC0415
    import time  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    from refimpl import data, nn  # noqa: PLC0415
    from refimpl.backend import make_rng  # noqa: PLC0415
    from refimpl.training import fit, get_method  # noqa: PLC0415

    root = args.data_dir or (SHARED_MNIST if SHARED_MNIST.is_dir() else None)
    ds = data.load("mnist", root=root)
    x, y = ds.x_train[:args.subset], ds.y_train[:args.subset]
    report = {"threads": args.threads, "train_examples": int(x.shape[0]), "models": {}}
    for model_name, batch_size in [("mlp-400-400", 128)] + ([("lenet", 64)] if args.cnn else []):
        model = nn.build(model_name, ds.input_shape, 10)
        params = model.init(make_rng(0, np), np.float32)
        times = {label: [] for label in METHODS}
        for rep in range(args.reps + 1):  # the first round warms up and is not counted
            for label, (name, options) in METHODS.items():
                began = time.perf_counter()
                fit(model, params, (x, y), optimizer=nn.SGD(0.01), epochs=1,
                    batch_size=batch_size, seed=rep, method=get_method(name, **options),
                    quiet=True)
                if rep:
                    times[label].append(time.perf_counter() - began)
        medians = {label: statistics.median(t) for label, t in times.items()}
        ratios = {label: medians[label] / medians["normal"] for label in METHODS}
        report["models"][model_name] = {"batch_size": batch_size, "seconds": times,
                                        "median_seconds": medians, "ratio_to_normal": ratios}
        print(f"{model_name} (batch {batch_size}, {x.shape[0]} images, median of {args.reps}):")
        for label in METHODS:
            print(f"  {label:24s} {medians[label]:7.2f} s   x{ratios[label]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
