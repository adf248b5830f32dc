"""What a benchmark process runs with: OpenBLAS's own kernel, the thread count, the allocator.

This machine's image sets ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (meant for old
OpenBLAS builds); they force an older GEMM kernel that halves NumPy's float32 throughput. A
benchmark must time the library as users get it, so :func:`native_blas_or_reexec` removes both
from the process's environment and re-executes the script before NumPy is imported (OpenBLAS
reads them once, when it loads). Only benchmarks call it; tests and CI never do.

:func:`describe` records what the process actually ran with: the BLAS library, kernel
(``architecture``) and threads as threadpoolctl reports them, the allocator variables, and the
machine's load average (the benchmarks share the machine; ratios measured in one process are
meaningful, absolute times less so).
"""

from __future__ import annotations

import os
import platform
import sys

BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "1000000000", "MALLOC_TRIM_THRESHOLD_": "1000000000"}

__all__ = ["native_blas_or_reexec", "set_threads", "describe", "BLAS_OVERRIDES",
           "MALLOC_VARIABLES", "TUNED_MALLOC"]


def native_blas_or_reexec() -> None:
    """Re-execute this script without the OpenBLAS kernel overrides, if any is set.

    Must run before NumPy (or anything that loads OpenBLAS) is imported.
    """
    found = [var for var in BLAS_OVERRIDES if var in os.environ]
    if not found:
        return
    if "numpy" in sys.modules:
        raise RuntimeError("native_blas_or_reexec must run before NumPy is imported")
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env["REFIMPL_BENCH_REMOVED"] = ",".join(found)  # recorded by describe()
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def set_threads(threads: int | None) -> None:
    """BLAS / OpenMP threads for this process (default 1 for stable numbers); before NumPy."""
    for var in BLAS_THREAD_VARIABLES:
        if threads is None:
            os.environ.setdefault(var, "1")
        else:
            os.environ[var] = str(threads)


def describe() -> dict:
    """The process's BLAS (threadpoolctl), allocator settings, versions and machine load."""
    import numpy as np  # noqa: PLC0415

    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415
        pools = [{k: p.get(k) for k in ("user_api", "internal_api", "version", "architecture",
                                        "num_threads", "threading_layer")}
                 for p in threadpool_info()]
    except ImportError:
        pools = "threadpoolctl not installed"
    return {
        "python": platform.python_version(), "numpy": np.__version__,
        "cpus": os.cpu_count(), "load_average": os.getloadavg(),
        "blas": pools,
        "blas_overrides_removed": os.environ.get("REFIMPL_BENCH_REMOVED", "none were set"),
        "malloc": {var: os.environ.get(var) for var in MALLOC_VARIABLES},
        "threads_env": {var: os.environ.get(var) for var in BLAS_THREAD_VARIABLES},
    }
