"""Output folders of the commands: checked before any work starts, and locked while in use.

``output_folder(path)`` creates the folder, proves it writable (by writing a file), takes its
lock and removes the temporary files an interrupted earlier run left, then yields the folder;
the lock is released on exit. The lock is ``OUT/.refimpl.lock`` holding the owner's PID: on
POSIX it is also ``flock``-ed, and the kernel drops that lock when its process dies, so a run
killed with SIGKILL never blocks the next one; where ``flock`` is missing a lock whose PID no
longer runs is taken over as stale.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: PID check only
    fcntl = None

__all__ = ["OutputFolderError", "output_folder", "LOCK_NAME"]

LOCK_NAME = ".refimpl.lock"


class OutputFolderError(OSError):
    """An output folder is a file, cannot be written, or is in use by another run."""


@contextlib.contextmanager
def output_folder(path, *, option: str = "--out"):
    """Create, check and lock the folder ``path`` for one run; yield it as a Path.

    Raises:
        OutputFolderError: naming ``option`` and the folder when it is a file, cannot be
            created or written, or another live process holds its lock.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{option} {out} is a file, not a folder; choose another path "
                                "or remove the file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".refimpl-write-test.{os.getpid()}.tmp"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OutputFolderError(f"{option} {out} is not writable ({err.strerror or err}); choose "
                                "a folder you can write to") from err
    handle = _acquire(out / LOCK_NAME, option)
    try:
        _remove_leftovers(out)
        yield out
    finally:
        _release(out / LOCK_NAME, handle)


def _acquire(lock: Path, option: str):
    """Open and lock ``lock``; return the open file (None without flock)."""
    for _ in range(3):  # retry when another run removed the file between open and flock
        f = open(lock, "a+")  # noqa: SIM115  (kept open as long as the lock is held)
        if fcntl is None:
            f.close()
            _acquire_by_pid(lock, option)
            return None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            owner = f.read().strip() or "unknown"
            f.close()
            raise OutputFolderError(
                f"{option} {lock.parent} is in use by another refimpl run (pid {owner}); wait "
                "for it to finish or choose another folder") from None
        if _same_file(f, lock):
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            return f
        f.close()
    raise OutputFolderError(f"{option} {lock.parent}: could not take its lock {lock}")


def _acquire_by_pid(lock: Path, option: str) -> None:
    """Without flock: the lock is taken when its PID is gone (stale) or absent."""
    owner = lock.read_text().strip() if lock.exists() else ""
    if owner.isdigit() and int(owner) != os.getpid() and _alive(int(owner)):
        raise OutputFolderError(f"{option} {lock.parent} is in use by another refimpl run (pid "
                                f"{owner}); wait for it to finish or choose another folder")
    lock.write_text(f"{os.getpid()}\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


def _same_file(f, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(f.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def _release(lock: Path, handle) -> None:
    with contextlib.suppress(FileNotFoundError):
        lock.unlink()  # while still locked, so no other run holds a lock on a deleted file
    if handle is not None:
        handle.close()


def _remove_leftovers(out: Path) -> None:
    """Temporary files of interrupted writes (``NAME.*.tmp``, the plots' ``NAME.*.tmp.png``)
    of the files the commands write; safe to delete: the lock is held."""
    for pattern in ("*.npz.*.tmp", "*.json.*.tmp", "*.csv.*.tmp", "*.png.*.tmp.png",
                    ".refimpl-write-test.*.tmp"):
        for tmp in out.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
