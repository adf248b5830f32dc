"""Atomic checkpoints: parameters, optimizer state and run metadata in one ``.npz`` file.

Layout of the archive (every entry a plain array, loaded with ``allow_pickle=False``):

- ``param/<key>``: each model parameter, e.g. ``param/dense1.weight``;
- ``opt/<slot>/<key>``: each optimizer buffer, e.g. ``opt/velocity/dense1.weight``;
- ``meta``: a 0-d string array holding JSON (model name and shape, data set, optimizer
  settings, seed, epochs done, step counter, the metrics history, refimpl's version).

A checkpoint is written to a temporary file in the same folder, flushed to disk and renamed
over the target (``os.replace`` is atomic on POSIX and Windows), so an interrupted save leaves
the previous checkpoint intact and never a half-written file under the real name.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from refimpl.backend import to_numpy

__all__ = ["save_checkpoint", "load_checkpoint", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def save_checkpoint(path, params: dict, opt_state: dict | None, meta: dict) -> Path:
    """Write ``params``, ``opt_state`` and ``meta`` (JSON-serialisable) atomically to ``path``."""
    arrays = {f"param/{k}": to_numpy(v) for k, v in params.items()}
    opt_state = opt_state or {"step": 0, "slots": {}}
    for slot, values in opt_state["slots"].items():
        arrays.update({f"opt/{slot}/{k}": to_numpy(v) for k, v in values.items()})
    meta = {**meta, "format": FORMAT_VERSION, "opt_step": int(opt_state["step"])}
    arrays["meta"] = np.asarray(json.dumps(meta))
    return write_npz(path, arrays)


def write_npz(path, arrays: dict) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically: a temporary file in the same
    folder, flushed to disk, then renamed over ``path``, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_npz(path, what: str) -> dict:
    """Every entry of the ``.npz`` file ``path`` as NumPy arrays, pickles refused; a damaged
    file raises a ValueError naming ``what`` and the file."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{what} {path}: not an .npz archive (truncated or corrupt file?)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except Exception as err:  # zipfile and NumPy raise many kinds on corrupt bytes
        raise ValueError(f"{what} {path}: cannot be read (truncated or corrupt file?): "
                         f"{type(err).__name__}: {err}") from err


def load_checkpoint(path, xp: Any = None, *, device: Any = None) -> tuple[dict, dict, dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: ``(params, opt_state, meta)``.

    Arrays come back in ``xp`` (NumPy when omitted) on ``device`` (default: ``xp``'s default
    device; pass ``device_of(x)`` of the data to train on). Pickled objects are refused.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: naming the file when it is truncated, corrupt or not a refimpl checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: no file at {path}")
    entries = read_npz(path, "checkpoint")
    if "meta" not in entries:
        raise ValueError(f"checkpoint {path}: no 'meta' entry; not a refimpl checkpoint")
    try:
        meta = json.loads(str(entries.pop("meta")))
    except json.JSONDecodeError as err:
        raise ValueError(f"checkpoint {path}: its metadata is not valid JSON: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"checkpoint {path}: metadata format {found!r}, expected a refimpl "
                         f"checkpoint of format {FORMAT_VERSION}")
    if not isinstance(meta.get("opt_step"), int):
        raise ValueError(f"checkpoint {path}: metadata lacks the optimizer step 'opt_step'")
    def convert(a):
        return a if xp is None else xp.asarray(a, device=device)
    params, slots = {}, {}
    for name, value in entries.items():
        kind, _, rest = name.partition("/")
        if kind == "param":
            params[rest] = convert(value)
        elif kind == "opt":
            slot, _, key = rest.partition("/")
            slots.setdefault(slot, {})[key] = convert(value)
        else:
            raise ValueError(f"checkpoint {path}: unexpected entry {name!r}")
    return params, {"step": meta["opt_step"], "slots": slots}, meta


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
