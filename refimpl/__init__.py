"""refimpl: adversarial perturbations and adversarial training, read from the source.

A reverse-mode autodiff written from scratch (:mod:`refimpl.tracer`, :mod:`refimpl.ops`,
:mod:`refimpl.autodiff`) on the array API, so the same code runs on NumPy, CuPy or
array-api-strict (:mod:`refimpl.backend`). Importing refimpl never imports CuPy or matplotlib.
"""

from refimpl import autodiff, backend, ops

__version__ = "0.1.0"
__all__ = ["autodiff", "backend", "ops", "__version__"]
