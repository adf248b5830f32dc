"""The ``refimpl`` command: argument parsing only; the work is in :mod:`refimpl.commands`.

Sub-commands:
    gradcheck   check the autodiff against finite differences (orders 1 and 2).
    train       train a named model on a named data set; checkpoint, metrics JSON, curves PNG.
    evaluate    score a saved checkpoint on its test set.
    compare     a normally and an adversarially trained net side by side under attack.

Errors a user can fix are printed as one line, ``refimpl COMMAND: error: CAUSE; FIX``, with
an exit status per kind (``EXIT_STATUSES``, also in ``refimpl --help``); ``--debug`` adds the
traceback.
"""

from __future__ import annotations

import argparse
import math
import sys
import traceback
from pathlib import Path

from refimpl._malloc import tune_malloc
from refimpl._threads import set_blas_threads

BACKENDS = ["numpy", "cupy", "torch"]

from refimpl.commands.errors import EXIT_STATUSES, describe  # light: no arrays imported


class DefaultsFormatter(argparse.HelpFormatter):
    """Each option's help followed by "(default: X)", also where the help is empty; left out
    where the default is None (the help says what unset means), False (a flag) or already
    written into the help."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS
                or "default" in text or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)".strip()


def _gradcheck_parser(commands):
    check = commands.add_parser(
        "gradcheck", help="check the autodiff against finite differences (orders 1 and 2)",
        description="Compare reverse-mode derivatives of an MLP and a CNN loss, and of the "
                    "input-gradient norm (double backprop), with central differences.")
    check.add_argument("--backend", default="numpy", choices=["numpy", "array_api_strict", "cupy"],
                       help="array library to run on (default: numpy)")
    check.add_argument("--order", type=int, default=2, help="highest derivative order (default 2)")
    check.add_argument("--seed", type=int, default=0, help="seed of data and directions")
    check.add_argument("--rtol", type=float, default=1e-5,
                       help="relative tolerance, a finite number >= 0 (default 1e-5)")
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
        formatter_class=DefaultsFormatter)
    train.add_argument("--model", default="mlp-400-400", choices=list(MODELS), metavar="NAME",
                       help=f"network: {', '.join(MODELS)}")
    train.add_argument("--dataset", default="digits",
                       choices=["digits", "mnist", "cifar10", "stl10"], help="data set")
    train.add_argument("--method", default="normal", choices=list(METHODS),
                       help="training method (how a batch becomes a loss)")
    _method_arguments(train)
    _data_arguments(train)
    train.add_argument("--preprocess", default="none", choices=["none", "pad32-standardize"],
                       help="input pipeline (pad32-standardize: Shaham et al.'s MNIST)")
    train.add_argument("--subset", type=int, default=None,
                       help="train on the first N training examples only (quick runs)")
    train.add_argument("--epochs", type=int, default=20,
                       help="epochs in all (0: train nothing, write metrics.json of the "
                            "initial or resumed parameters)")
    train.add_argument("--batch-size", type=int, default=32, help="examples per step")
    train.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"], help="optimizer")
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
    train.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                       help="floating-point type of parameters and data")
    train.add_argument("--seed", type=int, default=0, help="seeds init, shuffles and noise")
    train.add_argument("--out", type=Path, default=None,
                       help="output folder (default: runs/MODEL-DATASET-seedSEED)")
    train.add_argument("--resume", action="store_true",
                       help="continue from OUT/checkpoint.npz if it exists")
    train.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    _threads_argument(train)
    train.set_defaults(run=_run("train", "train"))


def _fraction_or_count(text: str):
    """k as the API takes it: an integer literal is a count ("1" -> 1 pixel, "50" -> 50), any
    other number a fraction in (0, 1] of the inputs ("0.5" -> half, "1.0" -> all of them)."""
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = None
    if value is None or (isinstance(value, int) and value < 1) or (
            isinstance(value, float) and not 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"expected a count (an int >= 1 such as 50) or a "
                                         f"fraction in (0, 1] (such as 0.5), got {text!r}")
    return value


def _method_defaults(option: str) -> str:
    """"; default: robust_lp inf; gradreg, gradreg_penalty 2": each method's own default."""
    from refimpl.training import METHODS  # noqa: PLC0415
    from refimpl.training.methods import options_of  # noqa: PLC0415
    groups: dict[str, list[str]] = {}
    for name in METHODS:
        value = options_of(name).get(option)
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            groups.setdefault(f"{value:g}" if isinstance(value, float) else str(value),
                              []).append(name)
    return "; default: " + "; ".join(f"{', '.join(names)} {value}"
                                     for value, names in groups.items())


def _method_arguments(parser):
    """Options of the training methods; left unset, each method uses its own default."""
    from refimpl.commands.train import radius_help  # noqa: PLC0415
    group = parser.add_argument_group(
        "method options", "unset options take the method's default (see refimpl.training)")
    group.add_argument("--radius", type=float, default=None, help=radius_help())
    for flags, kwargs, what in (
            ("--p", {"type": float}, "norm exponent in [1, inf]"),
            ("--k", {"type": _fraction_or_count}, "k-support sparsity: an int is a count of "
             "inputs (--k 1: one pixel), a decimal a fraction in (0, 1] (--k 1.0: all pixels)"),
            ("--alpha", {"type": float}, "weight of the clean loss"),
            ("--magnitude", {"choices": ["own", "l2"]},
             "radius measured in the step's own norm or in l2"),
            ("--direction", {"choices": ["adv_loss", "adv_alpha"]}, "perturbation direction"),
            ("--noise", {"choices": ["uniform", "gaussian"]}, "random noise model"),
            ("--sigma", {"type": float}, "regularisation strength"),
            ("--eps", {"type": float}, "sign-noise scale"),
            ("--prob", {"type": float}, "probability that a sign is kept")):
        group.add_argument(flags, default=None, help=what + _method_defaults(flags[2:]),
                           **kwargs)


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
        formatter_class=DefaultsFormatter)
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
    reproduce.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                           help="floating-point type of parameters and data")
    reproduce.add_argument("--quiet", action="store_true",
                           help="no progress bars or training lines (the table is printed)")
    _threads_argument(reproduce)
    reproduce.add_argument("--jobs", type=int, default=1,
                           help="train this many networks at once, in parallel processes, each "
                                "with THREADS / JOBS BLAS threads; results equal a serial run "
                                "with --threads THREADS/JOBS")
    reproduce.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                           help="train the networks on this Dask distributed cluster instead")
    reproduce.set_defaults(run=_run("reproduce", "reproduce"))


def _threads_argument(parser):
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (unset: all cores)")


def _run(module: str, function: str):
    """The command's body, imported only when it runs (``--help`` stays fast)."""
    def run(args):
        import importlib  # noqa: PLC0415
        return getattr(importlib.import_module(f"refimpl.commands.{module}"), function)(args)
    return run


def build_parser() -> argparse.ArgumentParser:
    table = "\n".join(f"  {code:3d}  {meaning}" for code, meaning in EXIT_STATUSES.items())
    parser = argparse.ArgumentParser(
        prog="refimpl",
        description="Adversarial perturbations and adversarial training on a from-scratch "
                    "autodiff (NumPy or CuPy).",
        epilog="Errors are one line naming the cause and the fix (--debug: with the "
               f"traceback).\nexit statuses:\n{table}",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the Python traceback too")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _gradcheck_parser(commands)
    _train_parser(commands)
    _evaluate_parser(commands)
    _reproduce_parser(commands)
    __import__("refimpl.commands.robustness", fromlist=["add_parser"]).add_parser(commands)
    __import__("refimpl.commands.compare", fromlist=["add_parser"]).add_parser(commands)
    for sub in commands.choices.values():  # --debug after the command name works too
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="on an error, print the Python traceback too")
        sub.set_defaults(parser=sub)  # usage errors show the command's own usage
    return parser


# (at least, at most, "> low" instead of ">= low") for the numeric options that have bounds.
_BOUNDS = {"order": (1, None), "epochs": (0, None), "batch_size": (1, None),
           "subset": (1, None), "test_subset": (1, None), "seed": (0, None),
           "rtol": (0, None), "lr": (0, None), "momentum": (0, 1), "dampening": (0, 1),
           "weight_decay": (0, None), "lr_decay": (0, None), "max_norm": (0, None),
           "radius": (0, None), "alpha": (0, 1), "sigma": (0, None), "eps": (0, None),
           "prob": (0, 1), "threads": (1, None), "jobs": (1, None)}
_STRICT = {"lr", "max_norm"}  # must be > 0


def check_arguments(parser, args) -> None:
    """Refuse out-of-range numeric options with argparse's usage error (exit status 2)."""
    for name, (low, high) in _BOUNDS.items():
        value = getattr(args, name, None)
        if value is None or isinstance(value, bool):
            continue
        option = "--" + name.replace("_", "-")
        if isinstance(value, float) and not math.isfinite(value):
            parser.error(f"{option}: expected a finite number, got {value}")
        if value < low or (name in _STRICT and value <= low) or (high is not None and value > high):
            bound = (f"> {low}" if name in _STRICT else f">= {low}") + (
                f" and <= {high}" if high is not None else "")
            parser.error(f"{option}: expected a number {bound}, got {value}")
    seeds = getattr(args, "seeds", None) or []
    if any(s < 0 for s in seeds):
        parser.error(f"--seeds: expected ints >= 0, got {seeds}")


def main(argv=None) -> int:
    """Run the command line ``argv``; return the exit status (see ``EXIT_STATUSES``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(getattr(args, "parser", parser), args)
    tune_malloc()  # the command's process only: refimpl as a library leaves malloc alone
    if hasattr(args, "threads"):
        set_blas_threads(args.threads)
    try:
        return args.run(args)
    except (Exception, KeyboardInterrupt) as err:  # noqa: BLE001  (every kind gets a line)
        status, line = describe(err)
        if getattr(args, "debug", False):
            traceback.print_exc(file=sys.stderr)
        print(f"refimpl {args.command}: error: {line}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
