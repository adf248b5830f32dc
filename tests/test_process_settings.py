"""The ``refimpl`` command's process settings: glibc malloc thresholds and BLAS threads."""

import os
import platform
import subprocess
import sys

import pytest

from refimpl import _malloc


def test_library_import_leaves_malloc_and_threads_alone():
    code = "import sys, refimpl, refimpl.nn, refimpl.training; " \
           "print('refimpl._malloc' in sys.modules, 'threadpoolctl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.skipif(platform.system() != "Linux" or not platform.libc_ver()[0] == "glibc",
                    reason="mallopt is glibc's")
def test_tune_malloc_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert _malloc.tune_malloc() is True


def test_tune_malloc_leaves_the_users_variables(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert _malloc.tune_malloc() is False


def test_threads_option():
    """set_blas_threads (what --threads calls) reaches BLAS; bad --threads / --jobs are refused."""
    code = ("from threadpoolctl import threadpool_info; from refimpl._threads import "
            "set_blas_threads; set_blas_threads(1); "
            "print({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.stdout.strip() == "{1}"
    from refimpl.cli import main
    with pytest.raises(SystemExit):
        main(["train", "--threads", "0"])
    with pytest.raises(SystemExit):
        main(["reproduce", "ksup-table3", "--jobs", "0"])
