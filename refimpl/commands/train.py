"""``refimpl train`` and ``refimpl evaluate``: train a named model on a named data set, save
checkpoint, metrics (JSON) and learning curves (PNG); score a saved checkpoint.

Data are loaded as NumPy and converted to the chosen backend once, here at the edge.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from refimpl import nn
from refimpl.data.pipeline import PREPROCESSING, prepare, to_backend
from refimpl.backend import compute_device, make_rng, namespace_by_name
from refimpl.training import METHODS, evaluate, fit, get_method, load_checkpoint
from refimpl.training.methods import options_of

__all__ = ["train", "evaluate_checkpoint", "load_data", "PREPROCESSING"]

def load_data(name: str, *, data_dir=None, download=False, preprocess="none", subset=None):
    """The data set ``name`` through :func:`refimpl.data.pipeline.prepare`."""
    return prepare(name, data_dir=data_dir, download=download, preprocess=preprocess,
                   subset=subset)


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
    """Train, checkpoint every epoch, then write metrics.json and learning_curves.png."""
    began = time.perf_counter()
    xp = namespace_by_name(args.backend)
    dtype, device = getattr(xp, args.dtype), compute_device(xp)
    arrays, ds = load_data(args.dataset, data_dir=args.data_dir, download=args.download,
                           preprocess=args.preprocess, subset=args.subset)
    x_train, y_train, x_test, y_test = to_backend(arrays, xp, dtype=dtype, device=device)
    model = nn.build(args.model, tuple(x_train.shape[1:]), ds.num_classes)
    params = model.init(make_rng(args.seed, xp, device=device), dtype)
    out = Path(args.out or f"runs/{args.model}-{args.dataset}-seed{args.seed}")
    meta = {"dataset": args.dataset, "preprocess": args.preprocess, "subset": args.subset,
            "input_shape": list(model.input_shape), "num_classes": ds.num_classes,
            "dtype": args.dtype, "optimizer": args.optimizer, "lr": args.lr,
            "momentum": args.momentum, "weight_decay": args.weight_decay}
    method = method_from_arguments(args)
    meta["method_settings"] = method.settings()
    if not args.quiet:
        print(f"refimpl train: {args.model} ({nn.count_parameters(params):,} parameters) on "
              f"{args.dataset} ({x_train.shape[0]} train / {x_test.shape[0]} test), method "
              f"{method!r}, backend {args.backend} {args.dtype}, seed {args.seed}, out {out}")
    result = fit(model, params, (x_train, y_train), test=(x_test, y_test),
                 optimizer=_optimizer(args), epochs=args.epochs, batch_size=args.batch_size,
                 seed=args.seed, method=method,
                 schedule=nn.piecewise_constant(args.lr, _milestones(args.lr_milestones)),
                 max_norm_limit=args.max_norm, checkpoint=out / "checkpoint.npz",
                 resume=args.resume, meta=meta, quiet=args.quiet)
    final = evaluate(model, result.params, x_test, y_test)
    summary = {"command": "train", "config": {**vars(args), **meta}, "history": result.history,
               "test": final, "wall_seconds": time.perf_counter() - began}
    summary["config"].pop("run", None)
    (out / "metrics.json").write_text(json.dumps(summary, indent=2, default=str))
    if result.history:
        from refimpl.plotting import learning_curves  # noqa: PLC0415  (matplotlib only here)
        learning_curves(result.history, out / "learning_curves.png",
                        title=f"{args.model} on {args.dataset}, seed {args.seed}")
    print(f"test accuracy: {100 * final['accuracy']:.2f}% ({final['n']} test examples, "
          f"{args.dataset}); test loss {final['loss']:.4f}; wall time "
          f"{summary['wall_seconds']:.1f} s; results in {out}")
    return 0


def evaluate_checkpoint(args) -> int:
    """Rebuild the model a checkpoint was trained as, and score it on its test set."""
    xp, device = namespace_by_name(args.backend), compute_device(namespace_by_name(args.backend))
    params, _, meta = load_checkpoint(args.checkpoint, xp, device=device)
    (_, _, x_test, y_test), ds = load_data(meta["dataset"], data_dir=args.data_dir,
                                           download=args.download,
                                           preprocess=meta.get("preprocess", "none"))
    model = nn.build(meta["model"], tuple(meta["input_shape"]), meta["num_classes"])
    dtype = getattr(xp, meta.get("dtype", "float32"))
    x_test, y_test = to_backend((x_test, y_test), xp, dtype=dtype, device=device)
    scores = evaluate(model, params, x_test, y_test)
    report = {"checkpoint": str(args.checkpoint), "model": meta["model"],
              "dataset": meta["dataset"], "epochs_trained": meta["epoch"], "test": scores}
    print(f"{meta['model']} after {meta['epoch']} epochs on {meta['dataset']}: test accuracy "
          f"{100 * scores['accuracy']:.2f}%, test loss {scores['loss']:.4f} "
          f"({scores['n']} examples)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0
