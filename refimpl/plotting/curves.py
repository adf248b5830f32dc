"""Line plots: learning curves, accuracy against perturbation magnitude, precision-recall,
and any labelled lines."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from refimpl.plotting._common import require_items, same_length, save

_MARKERS = "os^vDP*X"


def learning_curves(history: list[dict], path, *, title: str = "") -> Path:
    """Loss (train and test) and test accuracy against the epoch, as a PNG at ``path``.

    Two panels, 9 x 3.6 inches: mean cross-entropy per epoch (train, and test when recorded) and
    test accuracy in %.

    Args:
        history: :func:`refimpl.training.fit`'s per-epoch records, each with ``epoch`` and
            ``train_loss``, and ``test_loss`` / ``test_accuracy`` (a fraction) when evaluated.
        path: where the PNG goes; folders are created.
        title: a title over both panels.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return save(_learning_curves_figure(history, title), path)


def _learning_curves_figure(history, title) -> Figure:
    if not history:
        raise ValueError("history is empty: no epochs to draw")
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    if "test_loss" in history[0]:
        loss_ax.plot(epochs, [r["test_loss"] for r in history], "s-", label="test")
        acc_ax.plot(epochs, [100 * r["test_accuracy"] for r in history], "s-", color="C1")
    loss_ax.set(xlabel="epoch", ylabel="mean cross-entropy", title="loss")
    loss_ax.legend()
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="test accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    return fig


def accuracy_vs_magnitude(curves: Mapping[str, tuple], path, *, title: str = "",
                          xlabel: str = "perturbation magnitude (l2 norm)",
                          reference: Mapping[str, tuple] | None = None) -> Path:
    """Accuracy (%) against perturbation magnitude, one line per attack or model.

    As in paper 000 Fig. 4, paper 004 Fig. 1 and paper 001 Fig. 3 (magnitudes 0 to 4 in l2).
    6 x 4.2 inches, accuracy axis 0 to 100 %.

    Args:
        curves: label -> ``(magnitudes, accuracies)``, two 1-D arrays of one length,
            accuracies as fractions in [0, 1]; one solid line with markers per label.
        path: where the PNG goes; folders are created.
        title: the axes' title.
        xlabel: the magnitude axis' label.
        reference: the paper's values in the same form, drawn dashed with hollow markers and
            labelled "label (paper)", in the colour of the same label in ``curves`` if any.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return save(_accuracy_vs_magnitude_figure(curves, title, xlabel, reference), path)


def _accuracy_vs_magnitude_figure(curves, title, xlabel, reference=None) -> Figure:
    require_items(curves, "curves")
    if reference is not None:
        require_items(reference, "reference")
    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    colours = {label: f"C{i}" for i, label in enumerate(curves)}
    for label in reference or {}:
        colours.setdefault(label, f"C{len(colours)}")
    for i, (label, (magnitudes, accuracies)) in enumerate(curves.items()):
        magnitudes, accuracies = same_length(magnitudes, accuracies, f"curves[{label!r}]")
        ax.plot(magnitudes, 100 * accuracies, marker=_MARKERS[i % len(_MARKERS)], markersize=4,
                color=colours[label], label=label)
    for label, (magnitudes, accuracies) in (reference or {}).items():
        magnitudes, accuracies = same_length(magnitudes, accuracies, f"reference[{label!r}]")
        ax.plot(magnitudes, 100 * accuracies, "--", marker="o", markersize=4, fillstyle="none",
                color=colours[label], label=f"{label} (paper)")
    ax.set(xlabel=xlabel, ylabel="accuracy (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


def pr_curves(curves: Mapping[str, tuple], path, *, title: str = "") -> Path:
    """Micro-averaged precision-recall curves, one per training method (paper 000 Figs. 5-11).

    Each curve is drawn as the step function that average precision sums,
    AP = sum_n (R_n - R_{n-1}) P_n: precision P_n holds over recall (R_{n-1}, R_n], whichever
    way the points are ordered (scikit-learn's ``precision_recall_curve`` gives recall
    decreasing). 5.5 x 5 inches, recall in [0, 1], precision in [0, 1.02] so that a curve at
    precision 1 stays visible.

    Args:
        curves: label -> ``(recall, precision, average_precision)``: two 1-D arrays of one
            length and a float (or None); the legend reads "label (AP 0.973)".
        path: where the PNG goes; folders are created.
        title: the axes' title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return save(_pr_curves_figure(curves, title), path)


def _pr_curves_figure(curves, title) -> Figure:
    require_items(curves, "curves")
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    for label, curve in curves.items():
        if len(curve) != 3:
            raise ValueError(f"curves[{label!r}] must be (recall, precision, average_precision)")
        recall, precision = same_length(curve[0], curve[1], f"curves[{label!r}]")
        legend = label if curve[2] is None else f"{label} (AP {float(curve[2]):.3f})"
        ax.plot(recall, precision, drawstyle=_step_style(recall), label=legend)
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    if title:
        ax.set_title(title)
    return fig


def _step_style(recall: np.ndarray) -> str:
    """The drawstyle that holds P_n over (R_{n-1}, R_n] for recall in either order."""
    steps = np.diff(recall)
    if np.all(steps >= 0):
        return "steps-pre"   # rising recall: the step at R_n reaches back to R_{n-1}
    if np.all(steps <= 0):
        return "steps-post"  # falling recall: the step at R_n runs on to R_{n-1}
    return "default"


def line_plot(curves: Mapping[str, tuple], path, *, xlabel: str, ylabel: str,
              title: str = "", styles: Mapping[str, str] | None = None) -> Path:
    """Any y against x, one line per label: ``curves`` maps a label to ``(x, y)``.

    For the figures that are neither accuracies nor learning curves (the theory package's
    regulariser of "Learning with a strong adversary" Prop. C, say). ``styles`` maps a label
    to a matplotlib format string ("--", "o-"); the default is a solid line. 6 x 3.5 inches.
    """
    return save(_line_plot_figure(curves, xlabel, ylabel, title, styles or {}), path)


def _line_plot_figure(curves, xlabel, ylabel, title, styles) -> Figure:
    require_items(curves, "curves")
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    for label, (x, y) in curves.items():
        x, y = same_length(x, y, f"curves[{label!r}]")
        ax.plot(x, y, styles.get(label, "-"), label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig
