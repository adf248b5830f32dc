"""Progress bars that work in a terminal and in Jupyter, and never print a warning on import.

``tqdm.auto`` picks the widget bar inside a Jupyter kernel but warns ("IProgress not found") when
ipywidgets is missing, and the training loop used to hide its bar whenever stderr was not a
terminal, which a kernel's stderr never is. Here the choice is made when a bar is created: the
widget bar in a kernel with ipywidgets, tqdm's text bar otherwise (Jupyter renders it too).
``REFIMPL_PROGRESS=0`` turns every bar off (the notebook build sets it, so committed notebooks
hold no bar residue).
"""

from __future__ import annotations

import os
import sys

__all__ = ["tqdm", "bars_wanted"]


def _in_jupyter_kernel() -> bool:
    shell_module = sys.modules.get("IPython")  # only a process that already imported IPython
    if shell_module is None:
        return False
    shell = shell_module.get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def bars_wanted() -> bool:
    """True when a bar can be seen: stderr is a terminal, or this runs in a Jupyter kernel."""
    if os.environ.get("REFIMPL_PROGRESS", "") == "0":
        return False
    return sys.stderr.isatty() or _in_jupyter_kernel()


def tqdm(*args, **kwargs):
    """``tqdm.tqdm(*args, **kwargs)``, as a widget in Jupyter when ipywidgets is installed."""
    if os.environ.get("REFIMPL_PROGRESS", "") == "0":
        kwargs["disable"] = True
    if _in_jupyter_kernel():
        try:
            import ipywidgets  # noqa: F401, PLC0415
        except ImportError:
            pass
        else:
            from tqdm.notebook import tqdm as notebook_tqdm  # noqa: PLC0415
            return notebook_tqdm(*args, **kwargs)
    from tqdm.std import tqdm as text_tqdm  # noqa: PLC0415
    return text_tqdm(*args, **kwargs)
