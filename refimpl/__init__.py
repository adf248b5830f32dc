"""refimpl: adversarial perturbations and adversarial training, read from the source.

A reverse-mode autodiff written from scratch (:mod:`refimpl.tracer`, :mod:`refimpl.ops`,
:mod:`refimpl.autodiff`) on the array API, so the same code runs on NumPy, CuPy or
array-api-strict (:mod:`refimpl.backend`). Importing refimpl never imports CuPy or matplotlib.
"""

from refimpl import autodiff, backend, ops

__version__ = "0.1.0"
__all__ = ["autodiff", "backend", "ops", "load_model", "__version__"]


def __getattr__(name):
    """``refimpl.load_model`` is imported on first use (it pulls in nn and training)."""
    if name == "load_model":
        from refimpl.loading import load_model  # noqa: PLC0415
        return load_model
    raise AttributeError(f"module 'refimpl' has no attribute {name!r}")
