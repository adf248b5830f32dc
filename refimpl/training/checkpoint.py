"""Atomic checkpoints: parameters, optimizer state and run metadata in one ``.npz`` file.

Layout of the archive (every entry a plain array, loaded with ``allow_pickle=False``):

- ``param/<key>``: each model parameter, e.g. ``param/dense1.weight``;
- ``opt/<slot>/<key>``: each optimizer buffer, e.g. ``opt/velocity/dense1.weight``;
- ``meta``: a 0-d string array holding JSON (model name and shape, data set, optimizer
  settings, seed, epochs done, step counter, the metrics history, refimpl's version).

A checkpoint is written to a temporary file in the same folder, flushed to disk and renamed
over the target (``os.replace`` is atomic on POSIX and Windows), so an interrupted save leaves
the previous checkpoint intact and never a half-written file under the real name; temporary
files that a killed process left beside the target (older than this process) are removed on
the next save. A checkpoint whose parameters or last recorded losses are NaN or infinite is
never written (:class:`NonFiniteCheckpointError`), and :func:`check_params` matches loaded
parameters against the model they are meant for.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from refimpl.backend import to_numpy

__all__ = ["save_checkpoint", "load_checkpoint", "check_params", "write_npz", "read_npz",
           "write_text", "remove_stale_temporaries", "NonFiniteCheckpointError", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_PROCESS_STARTED = time.time()  # temporaries older than this were left by another process


class NonFiniteCheckpointError(FloatingPointError):
    """Parameters or the last recorded losses are NaN or infinite: not saved as a checkpoint."""


def save_checkpoint(path, params: dict, opt_state: dict | None, meta: dict) -> Path:
    """Write ``params``, ``opt_state`` and ``meta`` (JSON-serialisable) atomically to ``path``.

    Raises:
        TypeError: when ``params`` is not a dict of arrays or ``meta`` not a dict.
        NonFiniteCheckpointError: when a parameter, or a loss of the last record of
            ``meta["history"]``, is NaN or infinite (nothing is written).
    """
    if not isinstance(params, dict) or not all(hasattr(v, "shape") for v in params.values()):
        raise TypeError(f"params: expected a dict of arrays, got {type(params).__name__}")
    if not isinstance(meta, dict):
        raise TypeError(f"meta: expected a JSON-serialisable dict, got {type(meta).__name__}")
    if opt_state is not None and not (isinstance(opt_state, dict) and "step" in opt_state
                                      and isinstance(opt_state.get("slots"), dict)):
        raise TypeError("opt_state: expected None or an optimizer state {'step': int, 'slots': "
                        f"{{slot: {{key: array}}}}}}, got {type(opt_state).__name__}")
    if Path(path).is_dir():
        raise ValueError(f"path: {path} is a folder; give the checkpoint's file name "
                         "(e.g. OUT/checkpoint.npz)")
    arrays = {f"param/{k}": to_numpy(v) for k, v in params.items()}
    _check_finite_state(path, arrays, meta)
    opt_state = opt_state or {"step": 0, "slots": {}}
    for slot, values in opt_state["slots"].items():
        arrays.update({f"opt/{slot}/{k}": to_numpy(v) for k, v in values.items()})
    meta = {**meta, "format": FORMAT_VERSION, "opt_step": int(opt_state["step"])}
    arrays["meta"] = np.asarray(json.dumps(meta))
    return write_npz(path, arrays)


def _check_finite_state(path, arrays: dict, meta: dict) -> None:
    """Refuse to save NaN / inf parameters or a last history record with a NaN / inf loss (the
    checks at epoch end see the last update, which the per-step loss checks cannot)."""
    bad = [k.removeprefix("param/") for k, a in arrays.items()
           if a.dtype.kind in "fc" and not np.isfinite(a).all()]
    last = (meta.get("history") or [{}])[-1]
    losses = {k: v for k, v in last.items() if k.endswith("loss") and isinstance(v, float)
              and not math.isfinite(v)}
    if bad or losses:
        epoch = f" after epoch {meta['epoch']}" if "epoch" in meta else ""
        what = (f"parameters {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''} hold NaN or "
                f"inf" if bad else ", ".join(f"{k} is {v}" for k, v in losses.items()))
        raise NonFiniteCheckpointError(
            f"training diverged{epoch}: {what}; not saved to {path} (an earlier checkpoint there "
            "is kept). Lower the learning rate (--lr, --lr-milestones) or check the inputs")


def write_npz(path, arrays: dict) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically: a temporary file in the same
    folder, flushed to disk, then renamed over ``path``, so a crash never leaves half a file."""
    return _write_atomic(path, lambda f: np.savez(f, **arrays))


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`write_npz` does."""
    return _write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def _write_atomic(path, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path, older_than=_PROCESS_STARTED)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_stale_temporaries(path, *, older_than: float | None = None) -> list[Path]:
    """Delete the temporary files ``<name>.*.tmp`` that an interrupted write of ``path`` left.

    Args:
        path: the target file whose temporaries are looked for (in its folder).
        older_than: only files last modified before this time (seconds since the epoch), e.g.
            the start of this process, so that a concurrent writer's file is left alone;
            ``None`` removes them all (a caller holding the folder's lock).

    Returns:
        The files removed.
    """
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f"{glob_escape(path.name)}.*.tmp"):
        try:
            if older_than is None or tmp.stat().st_mtime < older_than:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # another process cleaned it first
            pass
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters quoted."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


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
        raise FileNotFoundError(f"checkpoint: no file at {path}; give the path of a .npz that "
                                f"refimpl train or save_checkpoint wrote")
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


def check_params(model, params: dict, *, source: str = "parameters", dtype=None) -> None:
    """Raise a ValueError naming ``source`` unless ``params`` are the parameters of ``model``:
    the same names, each of the shape (and floating dtype) that ``model.init`` gives.

    Fresh parameters are drawn once with a throwaway NumPy generator to learn the layout.
    """
    from refimpl.backend import make_rng  # noqa: PLC0415
    expected = model.init(make_rng(0), dtype or np.float32)
    missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
    if missing or extra:
        raise ValueError(f"{source}: do not match model {model.name!r}: "
                         + "; ".join(part for part in (
                             f"missing {', '.join(missing)}" if missing else "",
                             f"unexpected {', '.join(extra)}" if extra else "") if part)
                         + " (a checkpoint of another model?)")
    for key, value in expected.items():
        if tuple(params[key].shape) != tuple(value.shape):
            raise ValueError(f"{source}: parameter {key} has shape {tuple(params[key].shape)}, "
                             f"but model {model.name!r} needs {tuple(value.shape)} (a checkpoint "
                             "of another model?)")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
