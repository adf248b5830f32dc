"""What every tutorial needs before it starts: the tiny/full switch, the figure folder, the data.

Each tutorial begins with ``from _setup import ...`` (the tutorials folder is on ``sys.path``
when a tutorial runs as a script, and is the working folder when it opens as a notebook). This
file only reads environment variables and finds files; everything a tutorial demonstrates is in
the tutorial itself.

- ``REFIMPL_TUTORIAL_TINY=1`` selects the small setting that runs in seconds (the tests set it).
- ``REFIMPL_TUTORIAL_OUT`` is where figures go; by default ``tutorials/figures/`` in the full
  setting and a fresh temporary folder in the tiny one, so a test never writes into the repo.
- MNIST is read from ``$REFIMPL_DATA/mnist`` or ``../shared/data/mnist`` (next to the
  repository) when its four IDX files are there; otherwise the bundled 8x8 digits stand in.
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

try:  # run from a checkout without `pip install -e .`: use the package next to this folder
    import refimpl  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT))

from refimpl.data import Dataset, load  # noqa: E402

__all__ = ["TINY", "ROOT", "figure_path", "output_dir", "mnist_folder", "image_data"]

TINY = os.environ.get("REFIMPL_TUTORIAL_TINY", "") not in ("", "0")

_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_output = None


def output_dir() -> pathlib.Path:
    """The folder figures are written to (created on first use)."""
    global _output
    if _output is None:
        chosen = os.environ.get("REFIMPL_TUTORIAL_OUT")
        if chosen:
            _output = pathlib.Path(chosen)
        elif TINY:
            _output = pathlib.Path(tempfile.mkdtemp(prefix="refimpl-tutorial-"))
        else:
            _output = HERE / "figures"
        _output.mkdir(parents=True, exist_ok=True)
    return _output


def figure_path(name: str) -> pathlib.Path:
    """Where the figure ``name`` (e.g. ``"01_tanh_derivatives.png"``) is saved."""
    return output_dir() / name


def mnist_folder() -> pathlib.Path | None:
    """A folder holding the four MNIST IDX files, or ``None``."""
    candidates = []
    if os.environ.get("REFIMPL_DATA"):
        candidates.append(pathlib.Path(os.environ["REFIMPL_DATA"]).expanduser() / "mnist")
    candidates.append(ROOT.parent / "shared" / "data" / "mnist")
    for folder in candidates:
        if all((folder / name).is_file() for name in _MNIST_FILES):
            return folder
    return None


def image_data(*, mnist: bool = True) -> Dataset:
    """MNIST in the full setting when its files are found, else the bundled 8x8 digits."""
    folder = mnist_folder() if (mnist and not TINY) else None
    if folder is not None:
        return load("mnist", root=folder)
    return load("digits")
