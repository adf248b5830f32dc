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

__all__ = ["train", "evaluate_checkpoint", "load_data", "PREPROCESSING"]

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


def method_from_arguments(args):
    """The training method named by ``--method``, with the method options that were set.

    An option the method does not take (``--k`` with ``lwa``, say) is an error, not ignored.
    """
    names = set().union(*(options_of(name) for name in METHODS))
    return get_method(args.method, **{key: getattr(args, key, None) for key in sorted(names)})


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
