"""What can go wrong in a command, as one line and an exit status (the table of
``refimpl --help``): :func:`describe` maps an exception to both.

A line names the cause (the exception's own message, which names the argument or file) and
the fix; kinds whose messages do not say how to fix them get a fix appended here.
"""

from __future__ import annotations

import pickle

__all__ = ["EXIT_STATUSES", "DataFileError", "CheckpointError", "describe"]

# Exit status -> what it means; the order of the checks in _status_of decides the kind.
EXIT_STATUSES = {
    0: "success",
    1: "gradcheck: a derivative disagrees with finite differences",
    2: "a bad argument or input value (the message names it)",
    3: "a file or folder was not found (checkpoint, data files)",
    4: "a data file is corrupt, fails its checksum or was refused (e.g. a malicious pickle)",
    5: "a download failed (network, server, mirror)",
    6: "training diverged: a NaN or infinite loss or parameter (nothing bad was saved)",
    7: "the output folder is a file, is not writable, or is in use by another run",
    8: "the checkpoint does not fit: corrupt, another model, a missing parameter or metadata",
    9: "the array backend (or another library) is not installed or has no device",
    10: "another operating-system error (permissions, disk full)",
    70: "an internal error (a bug): rerun with --debug and report the traceback",
    130: "interrupted (Ctrl-C)",
}


class DataFileError(ValueError):
    """A data set's file is corrupt, fails its checksum, or holds content that was refused."""


class CheckpointError(ValueError):
    """A checkpoint cannot be used: corrupt, of another model, or without the metadata needed."""


def describe(err: BaseException) -> tuple[int, str]:
    """(exit status, one line: the cause and the fix) for an error raised by a command."""
    status, fix = _status_of(err)
    line = _one_line(err)
    return status, f"{line}; {fix}" if fix else line


def _status_of(err: BaseException) -> tuple[int, str]:
    """(exit status, the fix to append or "") for an error raised by a command."""
    from refimpl.commands.outdir import OutputFolderError  # noqa: PLC0415
    from refimpl.data.download import DownloadError  # noqa: PLC0415
    if isinstance(err, KeyboardInterrupt):
        return 130, ""
    if isinstance(err, OutputFolderError):
        return 7, ""
    if isinstance(err, DownloadError):
        return 5, ("check the network, set REFIMPL_MIRROR (or --data-dir with the files "
                   "already there) and retry")
    if isinstance(err, FileNotFoundError):
        return 3, ""
    if isinstance(err, (DataFileError, pickle.UnpicklingError)):
        return 4, ""
    if isinstance(err, CheckpointError):
        return 8, ""
    if isinstance(err, FloatingPointError):  # NonFiniteLossError, NonFiniteCheckpointError
        return 6, ""
    if isinstance(err, ImportError) or "Backend" in type(err).__name__:
        return 9, ("install it (CuPy: pip install cupy-cuda12x, matching your CUDA) or run with "
                   "--backend numpy")
    if isinstance(err, (ValueError, TypeError)):
        return 2, ""
    if isinstance(err, OSError):
        return 10, "check the path, its permissions and the free disk space"
    return 70, "this is a bug in refimpl: rerun with --debug and report the traceback"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    if not isinstance(err, (ValueError, TypeError, OSError, FloatingPointError, ImportError,
                            pickle.UnpicklingError)) and "Backend" not in type(err).__name__:
        text = f"internal error {type(err).__name__}: {text}"
    return text
