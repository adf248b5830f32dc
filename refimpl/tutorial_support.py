"""What every tutorial needs before it starts: the tiny/full switch, where figures go, the data.

The tutorials (``tutorials/NN_*.py``, and the notebooks made from them) begin with
``from refimpl.tutorial_support import ...``. This lives in the package, not beside the
tutorials, because a notebook has no ``__file__``: a kernel started in any folder can import the
installed package, and nothing else without editing ``sys.path``. It only reads environment
variables, finds files and shows figures; everything a tutorial demonstrates is in the tutorial.

- ``REFIMPL_TUTORIAL_TINY=1`` selects the small setting that runs in seconds (the tests set it).
- ``REFIMPL_TUTORIAL_OUT=DIR`` is where figures (and tutorial 11's runs) go. Default: the
  checkout's ``tutorials/figures/`` in the full setting (``./figures`` outside a checkout), and in
  the tiny setting one temporary folder, removed when the interpreter or kernel exits.
- MNIST is read from ``$REFIMPL_DATA/mnist`` or ``../shared/data/mnist`` next to the checkout when
  its four IDX files are there; otherwise the bundled 8x8 digits stand in.

Figures are saved as PNG and, inside a Jupyter kernel, also displayed inline (:func:`show`).
"""

from __future__ import annotations

import atexit
import os
import pathlib
import shutil
import tempfile

from refimpl.data import Dataset, load

__all__ = ["TINY", "ROOT", "output_dir", "figure_path", "show", "mnist_folder", "image_data"]

ROOT = pathlib.Path(__file__).resolve().parent.parent  # the checkout (or site-packages)
TINY = os.environ.get("REFIMPL_TUTORIAL_TINY", "") not in ("", "0")

_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_output: pathlib.Path | None = None


def output_dir() -> pathlib.Path:
    """The folder figures are written to (created on first use; see the module docstring)."""
    global _output
    if _output is None:
        chosen = os.environ.get("REFIMPL_TUTORIAL_OUT")
        if chosen:
            _output = pathlib.Path(chosen).expanduser()
        elif TINY:
            _output = pathlib.Path(tempfile.mkdtemp(prefix="refimpl-tutorial-"))
            atexit.register(shutil.rmtree, _output, ignore_errors=True)
        elif (ROOT / "tutorials").is_dir():
            _output = ROOT / "tutorials" / "figures"
        else:
            _output = pathlib.Path.cwd() / "figures"
        _output.mkdir(parents=True, exist_ok=True)
    return _output


def figure_path(name: str) -> pathlib.Path:
    """Where the figure ``name`` (e.g. ``"01_autodiff.png"``) is saved."""
    return output_dir() / name


def _in_jupyter_kernel() -> bool:
    try:
        from IPython import get_ipython  # noqa: PLC0415  (present wherever a kernel runs)
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def show(figure, name: str | None = None) -> pathlib.Path:
    """Save a figure (or take a saved PNG) and display it inline when running in Jupyter.

    Args:
        figure: a ``matplotlib.figure.Figure``, saved as ``figure_path(name)`` at 120 dpi, or the
            path of a PNG already written (what every ``refimpl.plotting`` function returns).
        name: the file name for a Figure; ignored for a path.

    Returns:
        The PNG's path. As a script, the path is printed instead of displaying the image.
    """
    if isinstance(figure, (str, os.PathLike)):
        path = pathlib.Path(figure)
    else:
        if name is None:
            raise ValueError("name: a file name such as '01_autodiff.png' is needed for a Figure")
        from refimpl.plotting._common import save  # noqa: PLC0415  (matplotlib only when drawing)
        path = save(figure, figure_path(name))
    if _in_jupyter_kernel():
        from IPython.display import Image, display  # noqa: PLC0415
        display(Image(filename=str(path)))
    else:
        print("wrote", path)
    return path


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
