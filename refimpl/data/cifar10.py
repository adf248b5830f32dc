"""CIFAR-10 from its "python version": pickled batches, read through a restricted unpickler.

Each of ``data_batch_1`` .. ``data_batch_5`` (training) and ``test_batch`` is a Python 2
pickle of a dict with byte-string keys: ``b"data"``, a uint8 array (10000, 3072) whose rows
hold the red, green and blue 32x32 planes one after the other (row-major), and ``b"labels"``, a
list of 10000 ints in 0..9 (plus ``b"batch_label"`` and ``b"filenames"``, unused).

A pickle can call any importable function while it loads, so these files are never given to
``pickle.load`` as they are: :class:`RestrictedUnpickler` resolves only the few NumPy globals
needed to rebuild an array and refuses everything else. The batches may sit in
``root/cifar-10-batches-py/``, directly in ``root``, or inside the downloaded archive
``root/cifar-10-python.tar.gz``, whose members are read in memory (nothing is extracted).
"""

from __future__ import annotations

import io
import pathlib
import pickle

import numpy as np

from refimpl.data.archive import read_members
from refimpl.data.dataset import Dataset, data_dir
from refimpl.data.download import fetch_missing

__all__ = ["load_cifar10", "RestrictedUnpickler", "RefusedGlobal", "restricted_loads",
           "parse_batch", "ARCHIVE", "ARCHIVE_MD5", "BASE_URL", "CLASSES"]

BASE_URL = "https://www.cs.toronto.edu/~kriz/"
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_MAX_BATCH_BYTES = 64 << 20  # a batch is about 31 MB

# numpy's array rebuilder, taken from numpy itself: it lives in numpy.core.multiarray before
# NumPy 2 and numpy._core.multiarray after, and pickles name either one.
_RECONSTRUCT = np.empty(0).__reduce__()[0]


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global (function or class) that is not on the allowed list."""


def _latin1_bytes(text, encoding="latin1"):
    """Python 3's protocol-2 pickles write ``bytes`` as ``_codecs.encode(text, "latin1")``;
    only that exact call is allowed (no other codec, no other argument type)."""
    if not (isinstance(text, str) and encoding in ("latin1", "latin-1")):
        raise RefusedGlobal(f"refused _codecs.encode({type(text).__name__}, {encoding!r}): only "
                            "the latin1 encoding of a str (how Python 3 pickles bytes) is allowed")
    return text.encode("latin-1")


ALLOWED_GLOBALS = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild dicts, lists, bytes, numbers and NumPy arrays, nothing more.

    Every function or class a pickle refers to goes through :meth:`find_class`; only the
    entries of ``ALLOWED_GLOBALS`` are handed out.

    Args:
        file: a binary file object to read the pickle from.
        source: a name for the data in error messages (e.g. the file name).
        **kwargs: passed to :class:`pickle.Unpickler` (``encoding="bytes"`` for CIFAR).
    """

    def __init__(self, file, *, source: str = "pickle", **kwargs):
        super().__init__(file, **kwargs)
        self.source = source

    def find_class(self, module, name):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{self.source}: refused to load the global {module}.{name}; "
                                "a CIFAR-10 batch holds only dicts, lists, bytes, numbers and "
                                "NumPy arrays, so this file is not a genuine batch (tampered "
                                "or another format)") from None


def restricted_loads(data: bytes, *, source: str = "pickle", encoding: str = "bytes"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler`.

    Raises:
        pickle.UnpicklingError: naming the global when the pickle refers to a refused one.
        ValueError: naming ``source`` when the data are not a complete, valid pickle.
    """
    try:
        return RestrictedUnpickler(io.BytesIO(data), source=source, encoding=encoding).load()
    except RefusedGlobal as err:
        if not str(err).startswith(source):
            raise RefusedGlobal(f"{source}: {err}") from None
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as err:
        raise ValueError(f"{source}: not a valid pickle ({type(err).__name__}: {err}); the "
                         "file is truncated or corrupt") from err


def parse_batch(obj, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``(N, 3, 32, 32)`` and labels int64 ``(N,)`` of an unpickled batch dict.

    Raises:
        ValueError: naming ``source`` when keys, shapes, dtypes or label values are wrong.
    """
    if not isinstance(obj, dict) or b"data" not in obj or b"labels" not in obj:
        raise ValueError(f"{source}: expected a dict with keys b'data' and b'labels', got "
                         f"{type(obj).__name__} {sorted(obj) if isinstance(obj, dict) else ''}")
    data, labels = obj[b"data"], np.asarray(obj[b"labels"])
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32):
        found = f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
        raise ValueError(f"{source}: b'data' should be a uint8 array (N, 3072), got {found}")
    if labels.shape != data.shape[:1] or labels.dtype.kind not in "iu":
        raise ValueError(f"{source}: b'labels' should be {data.shape[0]} ints, got "
                         f"{labels.dtype} shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{source}: labels should lie in 0..9, "
                         f"found {labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)  # R, G, B planes, row-major


def _batch_bytes(root: pathlib.Path):
    """(``{batch name: raw bytes}``, where they came from), from a folder or the archive;
    ``(None, None)`` when neither holds them."""
    names = TRAIN_BATCHES + TEST_BATCHES
    for folder in (root / FOLDER, root):
        if all((folder / n).is_file() for n in names):
            return {n: (folder / n).read_bytes() for n in names}, folder
    if (root / ARCHIVE).is_file():
        archive = root / ARCHIVE
        return read_members(archive, FOLDER, names, max_bytes=_MAX_BATCH_BYTES), archive
    return None, None


def _join(raw, names, where):
    parts = [parse_batch(restricted_loads(raw[n], source=f"{where}/{n}"), f"{where}/{n}")
             for n in names]
    images = np.concatenate([p[0] for p in parts])
    return images.astype(np.float32) / np.float32(255.0), np.concatenate([p[1] for p in parts])


def load_cifar10(root=None, *, download: bool = False, mirror: str | None = None) -> Dataset:
    """CIFAR-10: 50000 training and 10000 test colour images of 10 object classes.

    Args:
        root: a folder holding ``cifar-10-batches-py/`` (or the batches themselves, or
            ``cifar-10-python.tar.gz``); default ``data_dir() / "cifar10"``.
        download: fetch ``cifar-10-python.tar.gz`` (md5-checked) when no batches are found.
        mirror: a base URL holding the archive under its own name.

    Returns:
        A :class:`Dataset` with images float32 ``(N, 3, 32, 32)`` = pixel / 255 in [0, 1] and
        labels int64 in 0..9 (names in ``CLASSES`` and ``info["classes"]``).

    Raises:
        FileNotFoundError: no batches are found and ``download`` is False.
        ValueError: a batch or the archive is corrupt.
        pickle.UnpicklingError: a batch refers to a global other than NumPy's array rebuilders.
    """
    root = pathlib.Path(root) if root is not None else data_dir() / "cifar10"
    raw, where = _batch_bytes(root)
    if raw is None and download:
        fetch_missing(root, {ARCHIVE: {"md5": ARCHIVE_MD5}}, default_base=BASE_URL, mirror=mirror)
        raw, where = _batch_bytes(root)
    if raw is None:
        raise FileNotFoundError(
            f"CIFAR-10: no batches found in {root} (looked for {FOLDER}/data_batch_1..5 and "
            f"test_batch, the same directly in that folder, and {ARCHIVE}). Pass root=<folder>, "
            "set REFIMPL_DATA to a folder whose cifar10/ subfolder holds them, or call with "
            "download=True.")
    x_train, y_train = _join(raw, TRAIN_BATCHES, where)
    x_test, y_test = _join(raw, TEST_BATCHES, where)
    info = {"source": f"CIFAR-10 python batches from {where} (Krizhevsky 2009)",
            "scaling": "pixel / 255, float32 in [0, 1]", "classes": CLASSES,
            "split": "the official 50000 / 10000 split"}
    return Dataset("cifar10", x_train, y_train, x_test, y_test, 10, info)
