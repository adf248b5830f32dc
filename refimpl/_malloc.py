"""Keep freed memory in the process: glibc malloc settings for the ``refimpl`` command.

With glibc's defaults, a large NumPy temporary (above ``M_MMAP_THRESHOLD``, which adapts up to
32 MiB) gets fresh pages from the kernel, each page-faulted in on first touch and handed back
when freed, and the heap's free top is trimmed back to the OS; a training step then page-faults
thousands of times and its time swings with the heap's state (measured in ``bench/``). Raising
both thresholds makes freed blocks stay and be reused, like setting ``MALLOC_MMAP_THRESHOLD_``
and ``MALLOC_TRIM_THRESHOLD_`` in the environment.

Only the command's entry point calls :func:`tune_malloc`; importing refimpl as a library
changes nothing in the host process. Elsewhere (macOS, musl, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["tune_malloc"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from glibc's <malloc.h>
_THRESHOLD = 1 << 30  # 1 GiB: larger than any temporary of the papers' networks


def tune_malloc(threshold: int = _THRESHOLD) -> bool:
    """Raise glibc's mmap and trim thresholds to ``threshold`` bytes; False where not glibc.

    Variables the user set (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``) win.
    """
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, threshold) == 1
