"""``refimpl reproduce NAME``: run a paper's table or figure and report ours beside theirs.

:data:`EXPERIMENTS` lists what can be reproduced (:mod:`.experiments` holds every setting);
:func:`reproduce` trains the runs (resumable, cached under ``out/models``), measures them
(:mod:`.measure`), prints the table beside the paper's numbers (:mod:`.paper`) and saves JSON,
CSV and PNG into ``out/NAME``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from refimpl.evaluation import FixedSet, load_fixed_set, save_fixed_set

from .experiments import EXPERIMENTS, Experiment, Run, schedule_text
from .measure import MEASUREMENTS
from .paper import PAPER_TABLES, PAPER_TITLES
from .report import format_table, write_outputs
from .parallel import train_all
from .runner import Trained, load_experiment_data, train_run, training_seconds
from .two_stage import train_two_stage

FIGURES = ("attack_curves", "single_pixel_examples")
"""The measurements whose result is a figure (no bar chart of a table)."""

__all__ = ["EXPERIMENTS", "PAPER_TABLES", "reproduce", "describe", "Experiment", "Run"]


@dataclass
class Context:
    """What a measurement may use besides the trained runs."""

    seeds: list
    folder: Path
    quiet: bool
    train: Callable[[Run, int], Trained]
    data: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    extra_runs: list = field(default_factory=list)  # nets trained for a measurement (generators)

    def fixed_set(self, name: str, settings: dict, build: Callable[[], FixedSet]) -> FixedSet:
        """A fixed adversarial set stored in the experiment folder, built once per ``settings``.

        The file name carries a hash of ``settings`` (what made the set: the generator run's
        key, seed, attacks, radius) and of the data description (train and test examples,
        preprocessing), so a run with other settings never scores on an older set.
        """
        path = self.folder / f"{name}-{settings_key({**settings, 'data': self.data})}.npz"
        if path.exists():
            return load_fixed_set(path)
        fixed = build()
        save_fixed_set(path, fixed)
        return fixed


def settings_key(settings: dict) -> str:
    """A short hash of JSON-friendly ``settings`` (sorted keys), for cache file names."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def run_record(trained: Trained) -> dict:
    """What ran: the run's settings as trained (epochs scaled by --epochs), the epochs actually
    trained, the folder, the final test accuracy and the training time."""
    return {**asdict(trained.run), "seed": trained.seed, "folder": str(trained.folder),
            "epochs_trained": len(trained.history),
            "final_test_accuracy": (trained.history[-1].get("test_accuracy")
                                    if trained.history else None),
            "training_seconds": training_seconds(trained)}


def reproduce(name: str, *, out="runs/reproduce", epochs: int | None = None,
              subset: int | None = None, test_subset: int | None = None, seeds=(0,),
              data_dir=None, download: bool = False, xp=None, dtype=None, quiet: bool = False,
              log=print, jobs: int = 1, scheduler: str | None = None,
              threads: int | None = None) -> dict:
    """Train, measure and report the experiment ``name``; returns the result dict.

    Args:
        out: output folder (default ``runs/reproduce``; the committed tables live in
            ``results/reproduce``, written only when named here); trained runs go to
            ``out/models``, results to ``out/NAME``.
        epochs: train every run this many epochs instead of the paper's (milestones scaled).
        subset: train on the first N training examples; test_subset: score the first N test
            examples (quick runs; the defaults are the papers' full sets).
        seeds: one training run per seed for every model; tables report the mean.
        xp: the array namespace (NumPy by default).
        dtype: the float dtype (float32 by default).
        jobs: train the networks in this many processes (:mod:`.parallel`).
        scheduler: ``tcp://HOST:PORT`` of a Dask cluster to train them on instead.
        threads: the BLAS threads the jobs share.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"name: unknown experiment {name!r}; choose one of "
                         f"{', '.join(EXPERIMENTS)}")
    if xp is None:
        import numpy as xp  # noqa: PLC0415
    dtype = dtype or xp.float32
    experiment, seeds, began = EXPERIMENTS[name], list(seeds), time.perf_counter()
    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    out, folder = Path(out), Path(out) / name
    folder.mkdir(parents=True, exist_ok=True)
    data = load_experiment_data(experiment, xp=xp, dtype=dtype, data_dir=data_dir,
                                download=download, subset=subset, test_subset=test_subset)
    if not quiet:
        log(f"refimpl reproduce {name}: {experiment.title} (paper {experiment.paper}: "
            f"{PAPER_TITLES[experiment.paper]})\n  data: {data.description}; seeds {seeds}; "
            f"out {folder}\n{describe(name, epochs=epochs)}")

    def train(run: Run, seed: int, quiet: bool = quiet) -> Trained:
        stages = experiment.settings.get("two_stage_by_model", {}).get(
            run.model, experiment.settings.get("two_stage"))  # one table, nets of two tables
        if stages and run in experiment.runs:  # paper 003: epochs caps each stage
            stages = stages if epochs is None else {**stages, "max_epochs": epochs}
            return train_two_stage(run.with_epochs(epochs), seed, data, out=out, xp=xp,
                                   dtype=dtype, stages=stages, quiet=quiet, log=log)
        return train_run(run.with_epochs(epochs), seed, data, out=out, xp=xp, dtype=dtype,
                         quiet=quiet, log=log)

    trained = train_all(experiment.runs, seeds, train, jobs=jobs, scheduler=scheduler,
                        threads=threads, quiet=quiet)
    trained_at = time.perf_counter()
    ctx = Context(seeds, folder, quiet, train, data=data.description)

    def train_extra(run: Run, seed: int) -> Trained:
        extra = train(run, seed)
        ctx.extra_runs.append({"label": run.label, **run_record(extra)})
        return extra

    ctx.train = train_extra
    result = MEASUREMENTS[experiment.measure](experiment, trained, data, ctx)
    result.update(
        experiment=name, title=experiment.title, paper=PAPER_TITLES[experiment.paper],
        kind="figure" if experiment.measure in FIGURES else "table",
        notes=experiment.notes, seeds=seeds, data=data.description,
        settings={k: (asdict(v.with_epochs(epochs)) if isinstance(v, Run) else v)
                  for k, v in experiment.settings.items()},
        runs=[{"label": label, **asdict(runs[0].run),
               "folders": [str(t.folder) for t in runs],
               "epochs_trained": [len(t.history) for t in runs],
               "final_test_accuracy": [t.history[-1].get("test_accuracy") if t.history else None
                                       for t in runs],
               "training_seconds": [training_seconds(t) for t in runs]}
              for label, runs in trained.items()],
        extra_runs=ctx.extra_runs,
        wall_seconds={"this_call": time.perf_counter() - began,
                      "measurement": time.perf_counter() - trained_at})
    result["files"] = [str(p) for p in result.get("figures", [])] + [
        str(p) for p in write_outputs(folder, name, result)]
    log(_summary(name, result))  # the table is the answer: printed even with quiet
    return result


def describe(name: str, *, epochs: int | None = None) -> str:
    """Every setting of experiment ``name``: each run's network, method, optimiser and schedule
    (as trained with ``epochs``), the measurement's settings and the notes."""
    if name not in EXPERIMENTS:
        raise ValueError(f"name: unknown experiment {name!r}; choose one of "
                         f"{', '.join(EXPERIMENTS)}")
    experiment = EXPERIMENTS[name]
    lines = [f"{name}: {experiment.title} (paper {experiment.paper}); inputs "
             f"{experiment.preprocess}; measurement {experiment.measure}"]
    runs = list(experiment.runs) + [v for v in experiment.settings.values() if isinstance(v, Run)]
    for run in runs:
        run = run.with_epochs(epochs)
        lines.append(f"  {run.label}: {run.model}, method {run.method} {run.options or ''}; "
                     f"{schedule_text(run)}; batch {run.batch_size}, momentum {run.momentum:g}, "
                     f"dampening {run.dampening:g}, weight decay {run.weight_decay:g}, lr decay "
                     f"{run.lr_decay:g} per step, order {run.shuffle}")
    for key, value in experiment.settings.items():
        if not isinstance(value, Run):
            lines.append(f"  {key}: {value}")
    lines.append(f"  notes: {experiment.notes}")
    return "\n".join(lines)


def _summary(name: str, result: dict) -> str:
    lines = ["", format_table(name, result["rows"], result["columns"])]
    for claim, holds in result.get("claims", []):
        lines.append(f"  [{'holds' if holds else 'DOES NOT HOLD'}] {claim}")
    epochs = sorted({run["epochs"] for run in result["runs"]})
    train_time = sum(sum(run["training_seconds"]) for run in result["runs"])
    lines.append(f"seeds {result['seeds']}; data {result['data']}; epochs {epochs}; training "
                 f"{train_time:.0f} s (all epochs, as recorded), this call "
                 f"{result['wall_seconds']['this_call']:.0f} s; files in "
                 f"{Path(result['files'][-1]).parent}")
    return "\n".join(lines)
