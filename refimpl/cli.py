"""The ``refimpl`` command: argument parsing only; the work is in :mod:`refimpl.commands`.

Sub-commands:
    gradcheck   check the autodiff against finite differences (orders 1 and 2).
    train       train a named model on a named data set; checkpoint, metrics JSON, curves PNG.
    evaluate    score a saved checkpoint on its test set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BACKENDS = ["numpy", "cupy"]


def _gradcheck_parser(commands):
    check = commands.add_parser(
        "gradcheck", help="check the autodiff against finite differences (orders 1 and 2)",
        description="Compare reverse-mode derivatives of an MLP and a CNN loss, and of the "
                    "input-gradient norm (double backprop), with central differences.")
    check.add_argument("--backend", default="numpy", choices=["numpy", "array_api_strict", "cupy"],
                       help="array library to run on (default: numpy)")
    check.add_argument("--order", type=int, default=2, help="highest derivative order (default 2)")
    check.add_argument("--seed", type=int, default=0, help="seed of data and directions")
    check.add_argument("--rtol", type=float, default=1e-5, help="relative tolerance (default 1e-5)")
    check.set_defaults(run=_run("gradcheck", "gradcheck"))


def _data_arguments(parser):
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder holding the data set's files (default: $REFIMPL_DATA/NAME, "
                             "$REFIMPL_DATA defaulting to ~/.cache/refimpl)")
    parser.add_argument("--download", action="store_true",
                        help="download missing files (checksums verified)")
    parser.add_argument("--backend", default="numpy", choices=BACKENDS,
                        help="array library to compute with (default: numpy)")


def _train_parser(commands):
    from refimpl.nn import MODELS  # noqa: PLC0415
    from refimpl.training import METHODS  # noqa: PLC0415
    train = commands.add_parser(
        "train", help="train a model; writes checkpoint.npz, metrics.json, learning_curves.png",
        description="Train one of the papers' models on a data set with a training method, "
                    "checkpointing after every epoch (--resume continues exactly).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--model", default="mlp-400-400", choices=list(MODELS), metavar="NAME",
                       help=f"network: {', '.join(MODELS)}")
    train.add_argument("--dataset", default="digits",
                       choices=["digits", "mnist", "cifar10", "stl10"])
    train.add_argument("--method", default="normal", choices=list(METHODS),
                       help="training method (how a batch becomes a loss)")
    _method_arguments(train)
    _data_arguments(train)
    train.add_argument("--preprocess", default="none", choices=["none", "pad32-standardize"],
                       help="input pipeline (pad32-standardize: Shaham et al.'s MNIST)")
    train.add_argument("--subset", type=int, default=None,
                       help="train on the first N training examples only (quick runs)")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    train.add_argument("--lr", type=float, default=0.05, help="learning rate")
    train.add_argument("--lr-milestones", default=None, metavar="EPOCH:LR,...",
                       help="piecewise-constant schedule, e.g. 30:0.01 (paper 004)")
    train.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    train.add_argument("--dampening", type=float, default=0.0, help="SGD dampening (Torch)")
    train.add_argument("--weight-decay", type=float, default=0.0,
                       help="L2 penalty coefficient (adds weight_decay * w to the gradient)")
    train.add_argument("--lr-decay", type=float, default=0.0,
                       help="Torch-style decay: lr / (1 + step * lr_decay)")
    train.add_argument("--max-norm", type=float, default=None,
                       help="max l2 norm of each unit's incoming weights")
    train.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    train.add_argument("--seed", type=int, default=0, help="seeds init, shuffles and noise")
    train.add_argument("--out", type=Path, default=None,
                       help="output folder (default: runs/MODEL-DATASET-seedSEED)")
    train.add_argument("--resume", action="store_true",
                       help="continue from OUT/checkpoint.npz if it exists")
    train.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    train.set_defaults(run=_run("train", "train"))


def _fraction_or_count(text: str):
    """k: "0.5" -> 0.5 (a fraction of the inputs), "50" -> 50 (a count)."""
    value = float(text)
    return int(value) if value >= 1 and value.is_integer() else value


def _method_arguments(parser):
    """Options of the training methods; left unset, each method uses its own default."""
    group = parser.add_argument_group(
        "method options", "unset options take the method's default (see refimpl.training)")
    group.add_argument("--radius", type=float, default=None,
                       help="perturbation size (goodfellow, robust_lp, ksup, urn, lwa, lwa_rep)")
    group.add_argument("--p", type=float, default=None,
                       help="norm exponent in [1, inf] (robust_lp, gradreg, gradreg_penalty)")
    group.add_argument("--k", type=_fraction_or_count, default=None,
                       help="k-support sparsity: a count or a fraction of the inputs (ksup)")
    group.add_argument("--alpha", type=float, default=None,
                       help="weight of the clean loss (goodfellow)")
    group.add_argument("--magnitude", default=None, choices=["own", "l2"],
                       help="radius measured in the step's own norm or in l2 (goodfellow)")
    group.add_argument("--direction", default=None, choices=["adv_loss", "adv_alpha"],
                       help="perturbation direction (lwa, lwa_rep)")
    group.add_argument("--noise", default=None, choices=["uniform", "gaussian"],
                       help="random noise model (urn)")
    group.add_argument("--sigma", type=float, default=None,
                       help="regularisation strength (gradreg, gradreg_penalty)")
    group.add_argument("--eps", type=float, default=None, help="sign-noise scale (sign_noise)")
    group.add_argument("--prob", type=float, default=None,
                       help="probability that a sign is kept (sign_noise)")


def _evaluate_parser(commands):
    evaluate = commands.add_parser(
        "evaluate", help="score a checkpoint on its test set",
        description="Rebuild the model saved in CHECKPOINT and report its test loss and accuracy.")
    evaluate.add_argument("checkpoint", type=Path, help="a checkpoint.npz written by train")
    _data_arguments(evaluate)
    evaluate.add_argument("--json", type=Path, default=None, help="also write the scores here")
    evaluate.set_defaults(run=_run("train", "evaluate_checkpoint"))


def _reproduce_parser(commands):
    from refimpl.reproduce.experiments import EXPERIMENTS  # noqa: PLC0415  (no arrays imported)
    listing = "; ".join(f"{name}: {e.title}" for name, e in EXPERIMENTS.items())
    reproduce = commands.add_parser(
        "reproduce", help="run a paper's table or figure and compare with the paper",
        description="Train the models of a paper's experiment (resumable), measure them, print "
                    "our table beside the paper's numbers, and save result.json, table.csv and "
                    f"PNG figures into OUT/NAME. Experiments: {listing}.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    reproduce.add_argument("name", choices=list(EXPERIMENTS), metavar="NAME",
                           help=f"experiment: {', '.join(EXPERIMENTS)}")
    reproduce.add_argument("--out", type=Path, default=Path("runs/reproduce"),
                           help="output folder (trained models are cached in OUT/models; the "
                                "committed tables are in results/reproduce, written only when "
                                "named here)")
    reproduce.add_argument("--settings", action="store_true",
                           help="print every setting of NAME (runs, schedules, evaluation, "
                                "notes) and exit")
    reproduce.add_argument("--epochs", type=int, default=None,
                           help="train every model this many epochs (default: the paper's)")
    reproduce.add_argument("--subset", type=int, default=None,
                           help="train on the first N training examples (quick runs)")
    reproduce.add_argument("--test-subset", type=int, default=None,
                           help="score the first N test examples (quick runs)")
    reproduce.add_argument("--seeds", type=int, nargs="+", default=[0],
                           help="one training run per seed; tables report the mean")
    _data_arguments(reproduce)
    reproduce.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    reproduce.add_argument("--quiet", action="store_true",
                           help="no progress bars or training lines (the table is printed)")
    reproduce.set_defaults(run=_run("reproduce", "reproduce"))


def _run(module: str, function: str):
    """The command's body, imported only when it runs (``--help`` stays fast)."""
    def run(args):
        import importlib  # noqa: PLC0415
        return getattr(importlib.import_module(f"refimpl.commands.{module}"), function)(args)
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refimpl",
        description="Adversarial perturbations and adversarial training on a from-scratch "
                    "autodiff (NumPy or CuPy).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _gradcheck_parser(commands)
    _train_parser(commands)
    _evaluate_parser(commands)
    _reproduce_parser(commands)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "order", 1) < 1:
        parser.error("--order must be >= 1")
    for name in ("epochs", "batch_size", "subset", "test_subset"):
        value = getattr(args, name, None)
        if value is not None and value < (0 if name == "epochs" else 1):
            parser.error(f"--{name.replace('_', '-')} must be {'>= 0' if name == 'epochs' else '>= 1'}, got {value}")
    try:
        return args.run(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"refimpl {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
