"""Command line: ``python -m theory lyu-tables --data-dir DIR --out DIR [--subset N] [--seed S]``
reruns Tables VI-VIII of Lyu et al. on MNIST; ``python -m theory prop-c --out FILE`` plots the
non-convex regulariser of Huang et al.'s Prop. C."""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m theory", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    lyu = commands.add_parser(
        "lyu-tables", help="Tables VI-VIII and Figs. 5, 7 of Lyu et al. on MNIST",
        description="Softmax regression on the MNIST training set for each lambda; minimum "
                    "perturbations along the normalised loss gradient; error under Gaussian "
                    "noise, measured and predicted by eq. 33; printed beside the paper's values "
                    "and saved as results.json, tables.csv and PNG histograms.")
    lyu.add_argument("--data-dir", required=True, type=pathlib.Path,
                     help="folder with the four MNIST IDX .gz files")
    lyu.add_argument("--out", required=True, type=pathlib.Path, help="output folder")
    lyu.add_argument("--subset", type=int, default=None,
                     help="use N training examples drawn at random (default: all 60000)")
    lyu.add_argument("--seed", type=int, default=0, help="seed of the subset and the noise")
    lyu.add_argument("--lambdas", type=float, nargs="+", default=[1e-4, 1e-2, 1.0],
                     help="weight-decay values (default: the paper's 1e-4 1e-2 1)")
    lyu.add_argument("--mapping", default="batch250", choices=["batch250", "sum", "mean"],
                     help="how lambda becomes the penalty c of (c/2)||W||^2 on the mean loss: "
                          "batch250 c = lambda/250 (default: reproduces the paper's training "
                          "errors), sum c = lambda/N, mean c = lambda")
    lyu.add_argument("--maxiter", type=int, default=500, help="L-BFGS iterations per model")
    prop_c = commands.add_parser("prop-c", help="plot R_z(w) of Huang et al.'s Prop. C")
    prop_c.add_argument("--out", required=True, type=pathlib.Path, help="PNG file to write")
    prop_c.add_argument("--radius", type=float, default=0.5)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "prop-c":
        from theory.logistic import plot_prop_c  # noqa: PLC0415
        plot_prop_c(args.out, radius=args.radius)
        print(f"wrote {args.out}")
        return 0
    from theory import lyu_tables  # noqa: PLC0415
    from refimpl.data import load  # noqa: PLC0415  (MNIST from the original IDX files)
    mnist = load("mnist", root=args.data_dir)
    # theory fits linear models on flattened float64 images in [0, 1] (pixel / 255)
    X = np.asarray(mnist.x_train, dtype=np.float64).reshape(mnist.x_train.shape[0], -1)
    y = mnist.y_train
    if args.subset is not None:
        keep = np.random.default_rng(args.seed).permutation(len(y))[:args.subset]
        X, y = X[keep], y[keep]
    result = lyu_tables.run(X, y, mnist.num_classes, lambdas=args.lambdas,
                            mapping=args.mapping, seed=args.seed, maxiter=args.maxiter)
    result["settings"]["data_dir"] = str(args.data_dir)
    print(lyu_tables.format_tables(result))
    for path in lyu_tables.write_outputs(result, args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
