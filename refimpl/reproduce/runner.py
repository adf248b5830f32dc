"""Train an experiment's runs (resumable, shared between experiments) and write its results.

Layout under ``out``::

    models/<run key>/seed<S>/checkpoint.npz, metrics.json   one trained network per run x seed
    <experiment>/result.json, table.csv, *.png                what ``reproduce`` reports

A run's folder is named by a hash of its training settings, so experiments that need the same
network (the Normal MLP of huang-table1 and ksup-fig4, say) train it once, and an interrupted
``reproduce`` picks up each run from its last finished epoch.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from refimpl import nn
from refimpl.backend import make_rng
from refimpl.data import transforms
from refimpl.data.pipeline import prepare
from refimpl.training import fit, get_method, load_checkpoint

from .experiments import Experiment, Run

__all__ = ["Data", "Trained", "load_experiment_data", "method_arguments", "train_run"]

Array = Any


@dataclass
class Data:
    """An experiment's data on the compute backend, and how it was made."""

    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array
    input_shape: tuple
    num_classes: int
    description: dict


@dataclass
class Trained:
    """A trained network: the model, its parameters, and the record of its training."""

    run: Run
    seed: int
    model: Any
    params: dict
    history: list
    folder: Path


def load_experiment_data(experiment: Experiment, *, xp, dtype, data_dir=None,
                         download: bool = False, subset: int | None = None,
                         test_subset: int | None = None) -> Data:
    """MNIST through the experiment's input pipeline, converted to ``xp`` once.

    Pipelines: ``none`` (pixel / 255), ``byte256`` (pixel / 256, paper 004's notebooks),
    ``pad32-standardize`` (padded to 32x32, MNIST's training mean and std) and
    ``pad32-standardize-own`` (padded, each split standardised with its own mean and std over
    the whole split, before any subset: Shaham et al.'s Torch7 code).
    """
    own = experiment.preprocess == "pad32-standardize-own"
    base = {"byte256": "none", "pad32-standardize-own": "none"}.get(experiment.preprocess,
                                                                     experiment.preprocess)
    (x_train, y_train, x_test, y_test), ds = prepare(
        "mnist", data_dir=data_dir, download=download, preprocess=base,
        subset=None if own else subset)
    if experiment.preprocess == "byte256":
        x_train, x_test = (x * np.float32(255 / 256) for x in (x_train, x_test))
    if own:
        x_train, x_test = (_standardize_own(transforms.pad(x, 32)) for x in (x_train, x_test))
        if subset is not None:
            x_train, y_train = x_train[:subset], y_train[:subset]
    if test_subset is not None:
        x_test, y_test = x_test[:test_subset], y_test[:test_subset]
    arrays = [xp.asarray(a) for a in (x_train, y_train, x_test, y_test)]
    arrays[0], arrays[2] = xp.astype(arrays[0], dtype), xp.astype(arrays[2], dtype)
    description = {"dataset": "mnist", "preprocess": experiment.preprocess,
                   "train_examples": int(x_train.shape[0]), "test_examples": int(x_test.shape[0])}
    return Data(*arrays, tuple(x_train.shape[1:]), ds.num_classes, description)


def _standardize_own(x: np.ndarray) -> np.ndarray:
    """(x - mean) / std with the mean and std of this array (all pixels, float64 sums)."""
    mean, std = float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
    return ((x - mean) / std).astype(np.float32)


def method_arguments(run: Run) -> tuple[str, dict]:
    """The training method's name and keyword arguments for ``run.options`` (plain JSON).

    Run options stay names and numbers so that ``Run.key()`` (the cache folder) does not move
    when the methods' signatures do; this is the one place that translates them ("inf" -> inf).
    """
    options = {key: (math.inf if value in ("inf", "+inf") else value)
               for key, value in run.options.items()}
    return run.method, options


def train_run(run: Run, seed: int, data: Data, *, out: Path, xp, dtype, quiet: bool = False,
              log=print) -> Trained:
    """Train ``run`` with ``seed`` (or resume it, or load it when already finished)."""
    subset, preprocess = data.description["train_examples"], data.description["preprocess"]
    inputs = "" if preprocess == "none" else f"-{preprocess}"
    folder = Path(out) / "models" / run.key() / f"seed{seed}-train{subset}{inputs}"
    checkpoint = folder / "checkpoint.npz"
    model = nn.build(run.model, data.input_shape, data.num_classes)
    if checkpoint.exists():
        params, _, meta = load_checkpoint(checkpoint, xp)
        if meta.get("epoch") == run.epochs:
            return Trained(run, seed, model, params, list(meta["history"]), folder)
    params = model.init(make_rng(seed, xp), dtype)
    optimizer = nn.SGD(run.lr, momentum=run.momentum, dampening=run.dampening,
                       weight_decay=run.weight_decay, lr_decay=run.lr_decay)
    if not quiet:
        log(f"training {run.label}: {run.model}, method {run.method} {run.options or ''}, "
            f"{run.epochs} epochs, seed {seed} -> {folder}")
    began = time.perf_counter()
    name, options = method_arguments(run)
    result = fit(model, params, (data.x_train, data.y_train), optimizer=optimizer,
                 epochs=run.epochs, batch_size=run.batch_size, seed=seed,
                 method=get_method(name, **options), shuffle=run.shuffle,
                 schedule=nn.piecewise_constant(run.lr, run.milestones),
                 test=(data.x_test, data.y_test), checkpoint=checkpoint,
                 resume=True, quiet=quiet, log=log,
                 meta={"run": _jsonable(asdict(run)), "data": data.description,
                       "input_shape": list(data.input_shape),
                       "num_classes": data.num_classes})
    (folder / "metrics.json").write_text(json.dumps(
        {"run": _jsonable(asdict(run)), "seed": seed, "data": data.description,
         "history": result.history, "wall_seconds_this_call": time.perf_counter() - began},
        indent=2))
    return Trained(run, seed, model, result.params, result.history, folder)


def _jsonable(value):
    """Settings with float keys / infinities made JSON-friendly (milestones, p = inf)."""
    return json.loads(json.dumps(value, default=str))


def training_seconds(trained: Trained) -> float:
    """Wall time of all epochs of a run, as recorded epoch by epoch."""
    return float(sum(record.get("seconds", 0.0) for record in trained.history))
