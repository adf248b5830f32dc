"""Train an experiment's independent networks (runs x seeds) in parallel processes, or on a
Dask cluster, with the same results as one after another.

Every network of a table is trained from its own seed and writes its own checkpoint folder, so
the jobs share nothing and their order does not matter. :func:`train_all` hands them to
joblib: ``jobs`` local worker processes (joblib's ``loky`` backend), each with
``threads // jobs`` BLAS threads so that the machine's cores are used once; or, with
``scheduler="tcp://HOST:PORT"``, to the workers of a Dask distributed cluster (joblib's
``dask`` backend). A job's result is the same :class:`~refimpl.reproduce.runner.Trained` the
serial loop returns when the serial loop runs with the same number of BLAS threads per network
(training is deterministic given the seed and the thread count, whatever process runs it;
OpenBLAS's float32 matrix products differ in the last bit between thread counts, and training
carries such differences on), and one progress bar counts finished networks.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Callable, Sequence

from refimpl._progress import tqdm

from refimpl._threads import blas_threads

__all__ = ["train_all", "threads_per_job"]


def threads_per_job(threads: int | None, jobs: int) -> int:
    """BLAS threads for each of ``jobs`` parallel jobs: the cores (``threads``) split evenly."""
    if jobs < 1:
        raise ValueError(f"jobs: expected an integer >= 1, got {jobs!r}")
    return max(1, (threads or os.cpu_count() or 1) // jobs)


def _train_job(train_one: Callable, run, seed: int, threads: int | None, jobs: int):
    """One network, in a worker process, with its share of the worker machine's cores."""
    with blas_threads(threads_per_job(threads, jobs)):
        return train_one(run, seed, quiet=True)


def train_all(runs: Sequence, seeds: Sequence[int], train_one: Callable, *, jobs: int = 1,
              scheduler: str | None = None, threads: int | None = None,
              quiet: bool = False) -> dict:
    """``{run.label: [train_one(run, seed) for seed in seeds]}``, serially or in parallel.

    Args:
        runs: the networks to train, one per (run, seed).
        seeds: the seeds of each run.
        train_one: ``train_one(run, seed, quiet=...) -> Trained`` (picklable with cloudpickle,
            as closures are).
        jobs: parallel worker processes; 1 (and no scheduler) trains in this process.
        scheduler: address of a Dask distributed scheduler, ``tcp://HOST:PORT``; the jobs
            run on its workers instead of local processes.
        threads: BLAS threads to share among the jobs (default: the worker machine's cores;
            serially, the process's current setting).
        quiet: no progress bar.
    """
    tasks = [(run, seed) for run in runs for seed in seeds]
    if jobs == 1 and scheduler is None:
        with blas_threads(threads) if threads else nullcontext():
            done = [train_one(run, seed) for run, seed in tasks]
    else:
        done = _train_in_parallel(tasks, train_one, jobs=jobs, scheduler=scheduler,
                                  threads=threads, quiet=quiet)
    trained, position = {}, 0
    for run in runs:
        trained[run.label] = done[position:position + len(seeds)]
        position += len(seeds)
    return trained


def _train_in_parallel(tasks, train_one, *, jobs, scheduler, threads, quiet):
    import joblib  # noqa: PLC0415  (only parallel runs need it)

    threads_per_job(threads, jobs)  # check jobs before starting workers
    if scheduler is not None:
        try:
            from distributed import Client  # noqa: PLC0415
        except ImportError as err:
            raise ValueError("scheduler: a Dask cluster needs the distributed package "
                             "(pip install 'dask[distributed]')") from err
        client, backend = Client(scheduler), joblib.parallel_config(backend="dask")
    else:
        client, backend = nullcontext(), joblib.parallel_config(backend="loky")
    calls = (joblib.delayed(_indexed)(i, train_one, run, seed, threads, jobs)
             for i, (run, seed) in enumerate(tasks))
    done = [None] * len(tasks)
    with client, backend, tqdm(total=len(tasks), desc="networks", disable=quiet) as bar:
        for i, trained in joblib.Parallel(n_jobs=jobs, return_as="generator_unordered")(calls):
            done[i] = trained
            bar.update(1)
    return done


def _indexed(i, train_one, run, seed, threads, jobs):
    return i, _train_job(train_one, run, seed, threads, jobs)
