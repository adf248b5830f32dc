"""``refimpl train`` and ``refimpl evaluate``: train a named model on a named data set, save
checkpoint, metrics (JSON) and learning curves (PNG); score a saved checkpoint.

Data are loaded as NumPy and converted to the chosen backend once, here at the edge.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import time
from pathlib import Path

from refimpl import nn
from refimpl.backend import compute_device, make_rng, namespace_by_name
from refimpl.commands.errors import CheckpointError, DataFileError
from refimpl.commands.outdir import output_folder
from refimpl.data.pipeline import PREPROCESSING, prepare, to_backend
from refimpl.training import METHODS, evaluate, fit, get_method, load_checkpoint
from refimpl.training.checkpoint import check_params, write_text
from refimpl.training.methods import options_of

__all__ = ["train", "evaluate_checkpoint", "load_data", "PREPROCESSING", "data_sized_radius",
           "mean_l2_norm", "training_mean_l2", "MNIST_MEAN_L2", "DIGITS_MEAN_L2"]

# Mean l2 norm of a training image in [0, 1] pixels. The papers' l2 training radii (1.7, 1.5)
# are MNIST's; elsewhere the CLI scales them by the data's mean norm so that a perturbation
# takes the same share of an image (digits: 3.87 / 9.21 = 0.42, so 1.7 becomes 0.71).
MNIST_MEAN_L2 = 9.21
DIGITS_MEAN_L2 = 3.87
_MEAN_L2 = {"mnist": MNIST_MEAN_L2, "digits": DIGITS_MEAN_L2}  # whole training sets, measured
_L2_SIZED = ("goodfellow", "ksup", "urn", "lwa", "lwa_rep")  # radius an l2 norm on MNIST

# What ``refimpl evaluate`` needs in a checkpoint's metadata (``refimpl train`` writes it).
_NEEDED_META = ("model", "dataset", "input_shape", "num_classes", "epoch")


def load_data(name: str, *, data_dir=None, download=False, preprocess="none", subset=None):
    """The data set ``name`` through :func:`refimpl.data.pipeline.prepare`.

    Raises:
        DataFileError: a file is corrupt, fails its checksum or was refused (a pickle asking
            for a global that is not NumPy's array rebuilder).
    """
    try:
        return prepare(name, data_dir=data_dir, download=download, preprocess=preprocess,
                       subset=subset)
    except pickle.UnpicklingError as err:
        raise DataFileError(f"{err}; this is not a genuine {name} file: delete it and get the "
                            "original (--download)") from err
    except ValueError as err:
        raise DataFileError(f"{err}") from err


def _optimizer(args):
    if args.optimizer == "adam":
        return nn.Adam(args.lr, weight_decay=args.weight_decay)
    return nn.SGD(args.lr, momentum=args.momentum, dampening=args.dampening,
                  weight_decay=args.weight_decay, lr_decay=args.lr_decay)


def _milestones(text: str | None) -> dict[int, float]:
    """"30:0.01,40:0.001" -> {30: 0.01, 40: 0.001}."""
    if not text:
        return {}
    try:
        return {int(e): float(lr) for e, lr in (item.split(":") for item in text.split(","))}
    except ValueError as err:
        raise ValueError(f"--lr-milestones: expected EPOCH:LR[,EPOCH:LR...], got {text!r}") from err


def mean_l2_norm(x) -> float:
    """(1/N) sum_n ||x_n||_2 over the non-batch axes of a NumPy batch (N, ...)."""
    import numpy as np  # noqa: PLC0415
    return float(np.mean(np.linalg.norm(np.asarray(x).reshape(len(x), -1), axis=1)))


def training_mean_l2(dataset: str, preprocess: str, x_train) -> float:
    """The mean l2 image norm of the data set's whole training set as the net sees it: the
    measured constant for MNIST and digits without preprocessing (so that ``--subset`` does
    not move the radius), else measured on ``x_train``."""
    if preprocess == "none" and dataset in _MEAN_L2:
        return _MEAN_L2[dataset]
    return mean_l2_norm(x_train)


def data_sized_radius(method: str, dataset: str, mean_l2: float, **options) -> float | None:
    """The default training radius of ``method`` on a data set whose images have mean l2 norm
    ``mean_l2``: the library's (the papers', set on MNIST) times ``mean_l2 / MNIST_MEAN_L2``,
    to two significant digits; None (the library's default) on MNIST itself, for methods whose
    radius is not an l2 norm (robust_lp: Shaham's per-p radii; goodfellow with ``magnitude=
    "own"``, a linf radius; urn's Gaussian noise, a per-pixel std) and when none is needed.
    """
    if dataset == "mnist" or method not in _L2_SIZED or options.get("radius") is not None:
        return None
    if options.get("magnitude") == "own" or options.get("noise") == "gaussian":
        return None
    paper = options_of(method)["radius"]
    return float(f"{paper * mean_l2 / MNIST_MEAN_L2:.2g}")


def radius_help() -> str:
    """The --radius help: each method's default on MNIST and on digits."""
    groups: dict[float, list[str]] = {}
    for method in _L2_SIZED:
        groups.setdefault(options_of(method)["radius"], []).append(method)
    listing = "; ".join(f"{', '.join(methods)} {paper:g} on MNIST, "
                        f"{data_sized_radius(methods[0], 'digits', DIGITS_MEAN_L2):g} on digits"
                        for paper, methods in groups.items())
    return (f"perturbation size; default: {listing} (the papers' MNIST radius times the "
            f"training images' mean l2 norm over MNIST's {MNIST_MEAN_L2:g}); robust_lp: "
            "Shaham's linf 0.2, l2 2, l1 2 (standardised MNIST units) on every data set")


def method_from_arguments(args, *, mean_l2: float | None = None):
    """The training method named by ``--method``, with the method options that were set.

    An option the method does not take (``--k`` with ``lwa``, say) is an error, not ignored.
    With ``mean_l2`` (the training images' mean l2 norm), an unset ``--radius`` takes
    :func:`data_sized_radius`.
    """
    names = set().union(*(options_of(name) for name in METHODS))
    options = {key: getattr(args, key, None) for key in sorted(names)}
    if mean_l2 is not None and args.method in METHODS and "radius" in options_of(args.method):
        options["radius"] = options["radius"] or data_sized_radius(
            args.method, args.dataset, mean_l2, **options)
    return get_method(args.method, **options)


def train(args) -> int:
    """Train, checkpoint every epoch, then write metrics.json and learning_curves.png.

    The output folder is created, checked writable and locked before anything is loaded or
    trained; ``--epochs 0`` trains nothing and writes metrics.json with the test scores of the
    initial (or resumed) parameters.
    """
    out = Path(args.out or f"runs/{args.model}-{args.dataset}-seed{args.seed}")
    with output_folder(out):
        return _train(args, out)


def _train(args, out: Path) -> int:
    began = time.perf_counter()
    method = method_from_arguments(args)  # wrong options fail before any data is read
    schedule = nn.piecewise_constant(args.lr, _milestones(args.lr_milestones))
    xp = namespace_by_name(args.backend)
    dtype, device = getattr(xp, args.dtype), compute_device(xp)
    arrays, ds = load_data(args.dataset, data_dir=args.data_dir, download=args.download,
                           preprocess=args.preprocess, subset=args.subset)
    method = method_from_arguments(
        args, mean_l2=training_mean_l2(args.dataset, args.preprocess, arrays[0]))
    x_train, y_train, x_test, y_test = to_backend(arrays, xp, dtype=dtype, device=device)
    model = nn.build(args.model, tuple(x_train.shape[1:]), ds.num_classes)
    params = model.init(make_rng(args.seed, xp, device=device), dtype)
    meta = {"dataset": args.dataset, "preprocess": args.preprocess, "subset": args.subset,
            "input_shape": list(model.input_shape), "num_classes": ds.num_classes,
            "dtype": args.dtype, "optimizer": args.optimizer, "lr": args.lr,
            "momentum": args.momentum, "weight_decay": args.weight_decay}
    meta["method_settings"] = method.settings()
    if not args.quiet:
        print(f"refimpl train: {args.model} ({nn.count_parameters(params):,} parameters) on "
              f"{args.dataset} ({x_train.shape[0]} train / {x_test.shape[0]} test), method "
              f"{method!r}, backend {args.backend} {args.dtype}, seed {args.seed}, out {out}")
    result = fit(model, params, (x_train, y_train), test=(x_test, y_test),
                 optimizer=_optimizer(args), epochs=args.epochs, batch_size=args.batch_size,
                 seed=args.seed, method=method,
                 schedule=schedule,
                 max_norm_limit=args.max_norm, checkpoint=out / "checkpoint.npz",
                 resume=args.resume, meta=meta, quiet=args.quiet)
    final = evaluate(model, result.params, x_test, y_test)
    summary = {"command": "train", "config": {**vars(args), **meta}, "history": result.history,
               "test": final, "wall_seconds": time.perf_counter() - began}
    for key in ("run", "parser", "debug"):
        summary["config"].pop(key, None)
    write_text(out / "metrics.json", json.dumps(summary, indent=2, default=str))
    if result.history:
        _plot_atomically(result.history, out / "learning_curves.png",
                         title=f"{args.model} on {args.dataset}, seed {args.seed}")
    print(f"test accuracy: {100 * final['accuracy']:.2f}% ({final['n']} test examples, "
          f"{args.dataset}); test loss {final['loss']:.4f}; wall time "
          f"{summary['wall_seconds']:.1f} s; results in {out}")
    return 0


def _plot_atomically(history, path: Path, *, title: str) -> None:
    """The learning curves drawn into a temporary PNG beside ``path``, then renamed onto it."""
    from refimpl.plotting import learning_curves  # noqa: PLC0415  (matplotlib only here)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp.png", dir=path.parent)
    os.close(fd)
    try:
        learning_curves(history, tmp, title=title)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _model_of_checkpoint(path, params, meta):
    """The model a checkpoint's metadata names, after checking that its parameters fit it."""
    missing = [key for key in _NEEDED_META if key not in meta]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} lacks {', '.join(missing)} in its metadata (written by fit() "
            "without refimpl train's meta?); pass meta={'model': ..., 'dataset': ..., "
            "'input_shape': [...], 'num_classes': K} to fit, or score it in Python with "
            "refimpl.training.evaluate")
    if meta["model"] not in nn.MODELS:
        raise CheckpointError(f"checkpoint {path}: unknown model {meta['model']!r}; expected one "
                              f"of {', '.join(nn.MODELS)}")
    try:
        model = nn.build(meta["model"], tuple(meta["input_shape"]), int(meta["num_classes"]))
        check_params(model, params, source=f"checkpoint {path}")
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{err}") from err
    return model


def evaluate_checkpoint(args) -> int:
    """Rebuild the model a checkpoint was trained as, check its parameters against it, and
    score it on its test set."""
    xp = namespace_by_name(args.backend)
    device = compute_device(xp)
    try:
        params, _, meta = load_checkpoint(args.checkpoint, xp, device=device)
    except ValueError as err:
        raise CheckpointError(f"{err}") from err
    model = _model_of_checkpoint(args.checkpoint, params, meta)
    (_, _, x_test, y_test), ds = load_data(meta["dataset"], data_dir=args.data_dir,
                                           download=args.download,
                                           preprocess=meta.get("preprocess", "none"))
    if tuple(x_test.shape[1:]) != model.input_shape:
        raise CheckpointError(f"checkpoint {args.checkpoint}: model input {model.input_shape} "
                              f"but {meta['dataset']} images are {tuple(x_test.shape[1:])}")
    dtype = getattr(xp, meta.get("dtype", "float32"))
    x_test, y_test = to_backend((x_test, y_test), xp, dtype=dtype, device=device)
    scores = evaluate(model, params, x_test, y_test)
    report = {"checkpoint": str(args.checkpoint), "model": meta["model"],
              "dataset": meta["dataset"], "epochs_trained": meta["epoch"], "test": scores}
    print(f"{meta['model']} after {meta['epoch']} epochs on {meta['dataset']}: test accuracy "
          f"{100 * scores['accuracy']:.2f}%, test loss {scores['loss']:.4f} "
          f"({scores['n']} examples)")
    if args.json:
        write_text(args.json, json.dumps(report, indent=2))
    return 0
