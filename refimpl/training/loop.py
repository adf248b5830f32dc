"""The training loop: shuffled mini-batches, one optimizer step per batch, metrics per epoch,
an atomic checkpoint after every epoch and exact resumption from it.

Randomness is a function of (seed, epoch): each epoch draws its shuffle from a NumPy generator
seeded with ``SeedSequence([seed, epoch, 0])`` and its training noise (dropout masks) from a
generator on the backend seeded with ``[seed, epoch, 1]``. A checkpoint therefore carries the
whole random state in two numbers it stores anyway, the seed and the epochs done, and a resumed
run replays exactly the batches and masks the uninterrupted run would have drawn, on any backend
(CuPy generators cannot export their state).

Every array the loop makes (the shuffle's indices, the noise generator's draws) goes to the
device of the training data, and a step makes no device-to-host synchronisation: the losses stay
on the device, are read every ``check_every`` steps (between steps, one transfer for the lot)
and at the end of the epoch, and a NaN or infinite loss stops training with an error naming the
epoch and step where it first appeared.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from refimpl._progress import bars_wanted, tqdm
from refimpl.autodiff import value_and_grad
from refimpl.backend import device_of, get_namespace, make_rng, to_numpy
from refimpl.nn.batchnorm import collect_state
from refimpl.nn.optim import SGD, max_norm
from refimpl.training.checkpoint import load_checkpoint, save_checkpoint
from refimpl.training.methods import normal
from refimpl.training.metrics import check_data, check_pairs, evaluate

__all__ = ["fit", "FitResult", "epoch_seed", "NonFiniteLossError"]

Array = Any


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


@dataclass
class FitResult:
    """What :func:`fit` returns: the final parameters, optimizer state and per-epoch metrics."""

    params: dict
    opt_state: dict
    history: list = field(default_factory=list)


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A 32-bit seed for one epoch's random stream (0: shuffling, 1: training noise)."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(1)[0])


def fit(model, params: dict, train: tuple, *, optimizer, epochs: int, batch_size: int = 128,
        seed: int = 0, method: Callable = normal, test: tuple | None = None,
        schedule: Callable[[int], float] | None = None, max_norm_limit: float | dict | None = None,
        checkpoint=None, resume: bool = False, meta: dict | None = None, quiet: bool = False,
        check_every: int = 25, log: Callable[[str], None] = print,
        shuffle: str = "epoch") -> FitResult:
    """Train ``params`` of ``model`` on ``train = (x, y)`` for ``epochs`` epochs.

    Args:
        model: a :class:`refimpl.nn.Model`.
        params: initial parameters (not modified).
        train: (x (N, ...), y (N,) int) in the backend's namespace; x finite and of the
            parameters' dtype (float64 inputs are refused with float32 parameters, never
            promoted), y labels in 0..K-1 (checked once here, not inside the steps).
        optimizer: an ``SGD`` / ``Adam`` (``init`` + ``update``).
        epochs: total number of epochs (a resumed run stops at the same total).
        batch_size: examples per step; the last batch of an epoch may be smaller.
        seed: seeds the shuffles and the training noise (see the module docstring).
        method: ``method(model, params, x, y, rng=) -> loss``, e.g. ``get_method("lwa")``;
            its name and ``options`` (if it has them) are saved and checked on resume.
        test: optional (x, y) evaluated after every epoch.
        schedule: epoch -> learning rate (default: the optimizer's own rate).
        max_norm_limit: if set, each unit's incoming weights are kept within this l2 norm
            (a dict: a limit per parameter name, as ``nn.max_norm``).
        checkpoint: path of the ``.npz`` written after every epoch.
        resume: continue from ``checkpoint`` if it exists (same model, seed, batch size, method).
        meta: extra JSON-friendly metadata stored in the checkpoint (data set, options...).
        quiet: no progress bar and no per-epoch log lines.
        check_every: steps between reads of the losses (one device-to-host copy each time, to
            check for NaN / inf and update the progress bar); the end of an epoch reads too.
        log: where the per-epoch lines go.
        shuffle: the training order: "epoch" (a fresh permutation every epoch), "once" (one
            permutation drawn from the seed, kept every epoch: paper 004's notebooks) or
            "none" (the order of ``train``: Shaham et al.'s Torch7 scripts).
    """
    check_pairs(train=train, test=test)
    x, y = train
    xp = get_namespace(x, name="train x")
    n = int(x.shape[0])
    if n == 0 or int(y.shape[0]) != n:
        raise ValueError(f"train: expected x and y with the same, non-zero number of rows, got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    if not (isinstance(epochs, int) and epochs >= 0):
        raise ValueError(f"epochs: expected an int >= 0, got {epochs!r}")
    if shuffle not in ("epoch", "once", "none"):
        raise ValueError(f"shuffle: expected 'epoch', 'once' or 'none', got {shuffle!r}")
    if not (isinstance(check_every, int) and check_every >= 1):
        raise ValueError(f"check_every: expected a positive int, got {check_every!r}")
    device = device_of(x)
    elsewhere = [key for key, value in params.items() if device_of(value) != device]
    if elsewhere:
        raise ValueError(f"params: {elsewhere[0]!r} lives on {device_of(params[elsewhere[0]])!r}, "
                         f"the training data on {device!r}; make them on one device")
    check_data(model, params, x, y, name="train")  # labels and dtypes once, before any step
    if test is not None:
        check_data(model, params, *test, name="test")
    run = {"model": model.name, "seed": seed, "batch_size": batch_size,
           "method": getattr(method, "__name__", str(method)),
           "method_options": dict(getattr(method, "options", {})),
           "optimizer": type(optimizer).__name__, "shuffle": shuffle}
    opt_state, history, start = optimizer.init(params), [], 0
    if resume and checkpoint is not None and _exists(checkpoint):
        params, opt_state, saved = load_checkpoint(checkpoint, xp, device=device)
        saved.setdefault("method_options", {})  # checkpoints written before methods had options
        saved.setdefault("shuffle", "epoch")  # ... and before the shuffle option
        mismatched = {k: (saved.get(k), v) for k, v in run.items() if saved.get(k) != v}
        if mismatched:
            raise ValueError(f"resume: checkpoint {checkpoint} was made by a different run "
                             f"(saved, requested): {mismatched}")
        start, history = int(saved["epoch"]), list(saved["history"])
        if not quiet:
            log(f"resuming from {checkpoint} after epoch {start}")
    bar_off = quiet or not bars_wanted()
    steps_per_epoch = math.ceil(n / batch_size)
    # each step's gradients are read by the update only, so SGD may write into them
    give_up_grads = {"reuse_grads": True} if isinstance(optimizer, SGD) else {}
    for epoch in range(start, epochs):
        began = time.perf_counter()
        lr = schedule(epoch) if schedule is not None else optimizer.lr
        # the same order on every backend: drawn on the host, copied to the device once an epoch
        order = xp.asarray(np.arange(n) if shuffle == "none" else make_rng(
            epoch_seed(seed, 0 if shuffle == "once" else epoch, 0)).permutation(n), device=device)
        noise = make_rng(epoch_seed(seed, epoch, 1), xp, device=device)
        step_loss = value_and_grad(lambda p, xb, yb: method(model, p, xb, yb, rng=noise))
        losses, total = [], 0.0
        with tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{epochs}", disable=bar_off,
                  leave=False, unit="step") as bar:
            for b in range(steps_per_epoch):
                idx = order[b * batch_size:min((b + 1) * batch_size, n)]  # strict: no overshoot
                with collect_state() as state:  # BatchNorm running statistics, if any
                    loss, grads = step_loss(params, xp.take(x, idx, axis=0),
                                            xp.take(y, idx, axis=0))
                params, opt_state = optimizer.update(params, grads, opt_state, lr=lr,
                                                     **give_up_grads)
                if state:  # non-trainable: replaced, whatever the optimizer did to them
                    params = {**params, **state}
                if max_norm_limit is not None:
                    params = max_norm(params, max_norm_limit)
                losses.append(loss)
                if len(losses) == check_every or b == steps_per_epoch - 1:
                    total += _check_finite(xp, losses, epoch, b, steps_per_epoch)
                    bar.set_postfix(loss=f"{total / (b + 1):.4f}")
                    losses = []
                bar.update(1)
        record = {"epoch": epoch + 1, "lr": lr, "train_loss": total / steps_per_epoch,
                  "steps": opt_state["step"]}
        if test is not None:
            scores = evaluate(model, params, *test)
            record.update(test_loss=scores["loss"], test_accuracy=scores["accuracy"])
        record["seconds"] = time.perf_counter() - began
        history.append(record)
        if checkpoint is not None:
            save_checkpoint(checkpoint, params, opt_state,
                            {**(meta or {}), **run, "epoch": epoch + 1, "epochs": epochs,
                             "history": history})
        if not quiet:
            log(_summary(record, epochs))
    return FitResult(params, opt_state, history)


def _check_finite(xp, losses, epoch, last_batch, steps_per_epoch) -> float:
    """Sum of ``losses`` (the steps up to ``last_batch``); raise at the first non-finite one."""
    values = to_numpy(xp.stack([xp.asarray(v) for v in losses])).astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        batch = last_batch - len(values) + 1 + int(bad[0])
        raise NonFiniteLossError(
            f"the training loss became {values[bad[0]]} at epoch {epoch + 1}, batch {batch + 1} "
            f"(step {epoch * steps_per_epoch + batch + 1} of the run); lower the learning rate "
            f"or check the inputs for NaN")
    return float(values.sum())


def _summary(record, epochs) -> str:
    parts = [f"epoch {record['epoch']}/{epochs}", f"lr {record['lr']:g}",
             f"train loss {record['train_loss']:.4f}"]
    if "test_accuracy" in record:
        parts += [f"test loss {record['test_loss']:.4f}",
                  f"test accuracy {100 * record['test_accuracy']:.2f}%"]
    parts.append(f"{record['seconds']:.1f} s")
    return "  ".join(parts)


def _exists(path) -> bool:
    return Path(path).is_file()
