"""How many threads BLAS (and OpenMP) use in this process, through threadpoolctl.

NumPy's BLAS picks its thread count when it loads; threadpoolctl changes it afterwards, for
the whole process (:func:`set_blas_threads`, used by the ``refimpl`` command's ``--threads``)
or for a block (:func:`blas_threads`, used by each parallel training job).
"""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext

__all__ = ["set_blas_threads", "blas_threads", "available_cores"]

_limits = []  # keeps the process-wide limit alive


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_blas_threads(threads: int | None) -> int:
    """Use ``threads`` BLAS threads from now on (default: every available core); returns it."""
    threads = available_cores() if threads is None else threads
    if threads < 1:
        raise ValueError(f"threads: expected an integer >= 1, got {threads!r}")
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
    except ImportError:  # without threadpoolctl BLAS keeps its own choice
        return threads
    import numpy  # noqa: F401, PLC0415  (threadpoolctl reaches only the BLAS already loaded)
    _limits.append(threadpool_limits(limits=threads))
    return threads


@contextmanager
def blas_threads(threads: int):
    """Within the block, BLAS and OpenMP use ``threads`` threads."""
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415
        import numpy  # noqa: F401, PLC0415
        limit = threadpool_limits(limits=threads)
    except ImportError:
        limit = nullcontext()
    with limit:
        yield
