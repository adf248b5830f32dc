"""Figures, saved as PNG. The only package of refimpl that imports matplotlib.

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``), which renders
through the Agg canvas without touching pyplot's global state or needing a display, so plotting
works the same on a headless server, in a test and in a notebook. ``import refimpl`` does not
import this package; callers import it where they draw.

Every function takes plain NumPy arrays or Python numbers (convert with
:func:`refimpl.backend.to_numpy`), writes one PNG at 120 dpi and returns its path. Each builds
its figure in a private ``_<name>_figure`` helper, which the tests inspect.

- :mod:`~refimpl.plotting.curves`: learning curves, accuracy against magnitude, precision-recall,
  any labelled lines.
- :mod:`~refimpl.plotting.images`: grids of perturbed examples and of magnified perturbations.
- :mod:`~refimpl.plotting.bars`: histograms of minimum-perturbation norms, robustness tables
  (and :func:`~refimpl.plotting.bars.attack_labels` for their column names).
"""

from refimpl.plotting.bars import attack_labels, bar_table, min_perturbation_histogram
from refimpl.plotting.curves import accuracy_vs_magnitude, learning_curves, line_plot, pr_curves
from refimpl.plotting.images import example_grid, perturbation_grid

__all__ = ["learning_curves", "accuracy_vs_magnitude", "pr_curves", "line_plot",
           "example_grid", "perturbation_grid",
           "min_perturbation_histogram", "bar_table", "attack_labels"]
