"""Paper 003's two-stage training (after the maxout paper): fit on the first 5/6 of the training
set until the error on the held-out 1/6 stops falling, then on the whole set, from the best
parameters, until the loss on the held-out part falls to the first stage's training loss.

Both stages run epoch by epoch through :func:`refimpl.training.fit` with a checkpoint after
every epoch, so an interrupted run resumes where it stopped; the best parameters of the first
stage are kept in ``best.npz``. Layout under ``out/models/<run key>-two-stage-<hash>/seed<S>``:
``stage1.npz``, ``best.npz``, ``stage2.npz``, ``metrics.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from refimpl import nn
from refimpl.backend import make_rng
from refimpl.training import fit, get_method, load_checkpoint
from refimpl.training.checkpoint import save_checkpoint

from .runner import Data, Trained, _jsonable, method_arguments

__all__ = ["train_two_stage"]


def _folder(run, seed, data, stages, out) -> Path:
    from . import settings_key  # noqa: PLC0415  (the package imports this module)
    n, preprocess = data.description["train_examples"], data.description["preprocess"]
    inputs = "" if preprocess == "none" else f"-{preprocess}"
    return (Path(out) / "models" / f"{run.key()}-two-stage-{settings_key(stages)}"
            / f"seed{seed}-train{n}{inputs}")


def train_two_stage(run, seed: int, data: Data, *, out, xp, dtype, stages: dict,
                    quiet: bool = False, log=print) -> Trained:
    """Train ``run`` in paper 003's two stages (see the module docstring).

    ``stages``: ``held_out`` (fraction of the training set held out in stage 1, 1/6 for
    10,000 of 60,000), ``patience`` (epochs without a lower held-out error that end stage 1),
    ``max_epochs`` (a cap per stage) and ``max_norm`` (each unit's incoming weight norm).
    """
    folder = _folder(run, seed, data, stages, out)
    n = int(data.x_train.shape[0])
    cut = n - max(1, round(n * stages["held_out"]))
    first, held = (data.x_train[:cut], data.y_train[:cut]), (data.x_train[cut:],
                                                               data.y_train[cut:])
    model = nn.build(run.model, data.input_shape, data.num_classes)
    name, options = method_arguments(run)
    common = dict(batch_size=run.batch_size, seed=seed, method=get_method(name, **options),
                  shuffle=run.shuffle, max_norm_limit=stages.get("max_norm"), resume=True,
                  quiet=quiet, log=log, test=held,
                  meta={"run": _jsonable(asdict(run)), "stages": stages,
                        "data": data.description})

    def optimizer():
        return nn.SGD(run.lr, momentum=run.momentum, dampening=run.dampening,
                      weight_decay=run.weight_decay, lr_decay=run.lr_decay)

    params = model.init(make_rng(seed, xp), dtype)
    stage1, best_path = folder / "stage1.npz", folder / "best.npz"
    history = _history(stage1)
    while not _stage1_done(history, stages):
        result = fit(model, params, first, optimizer=optimizer(), epochs=len(history) + 1,
                     checkpoint=stage1, **common)
        history = result.history
        if history[-1]["test_accuracy"] >= max(h["test_accuracy"] for h in history):
            save_checkpoint(best_path, result.params, None, {"epoch": len(history)})
    best = max(range(len(history)), key=lambda i: (history[i]["test_accuracy"], -i))
    target = history[best]["train_loss"]
    start, _, _ = load_checkpoint(best_path, xp)
    stage2 = folder / "stage2.npz"
    second = _history(stage2)
    final = start
    while not second or (second[-1]["test_loss"] > target
                         and len(second) < stages["max_epochs"]):
        result = fit(model, start, (data.x_train, data.y_train), optimizer=optimizer(),
                     epochs=len(second) + 1, checkpoint=stage2, **common)
        second, final = result.history, result.params
    if second and final is start:
        final, _, _ = load_checkpoint(stage2, xp)
    records = ([{**h, "stage": 1} for h in history] + [{**h, "stage": 2} for h in second])
    (folder / "metrics.json").write_text(json.dumps(
        {"run": _jsonable(asdict(run)), "stages": stages, "seed": seed,
         "best_stage1_epoch": best + 1, "target_loss": target, "history": records}, indent=2))
    return Trained(run, seed, model, final, records, folder)


def _history(path: Path) -> list:
    if not path.exists():
        return []
    return list(load_checkpoint(path)[2]["history"])


def _stage1_done(history: list, stages: dict) -> bool:
    """No lower held-out error in the last ``patience`` epochs, or the epoch cap reached."""
    if len(history) >= stages["max_epochs"]:
        return True
    if len(history) <= stages["patience"]:
        return False
    best = max(h["test_accuracy"] for h in history)
    return all(h["test_accuracy"] < best for h in history[-stages["patience"]:])
