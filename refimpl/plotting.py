"""Figures, saved as PNG. The only module of refimpl that imports matplotlib.

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``), which renders
through the Agg canvas without touching pyplot's global state or needing a display, so plotting
works the same on a headless server, in a test and in a notebook.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["learning_curves", "accuracy_vs_magnitude"]


def learning_curves(history: list[dict], path, *, title: str = "") -> Path:
    """Loss (train and test) and test accuracy against the epoch, as a PNG at ``path``.

    ``history`` is :func:`refimpl.training.fit`'s list of per-epoch records.
    """
    epochs = [r["epoch"] for r in history]
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    loss_ax.plot(epochs, [r["train_loss"] for r in history], "o-", label="train")
    if history and "test_loss" in history[0]:
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
    return _save(fig, path)


def accuracy_vs_magnitude(curves: dict, path, *, title: str = "",
                          xlabel: str = "perturbation magnitude (l2 norm)") -> Path:
    """Accuracy (%) against perturbation magnitude, one line per attack or model.

    ``curves`` maps a label to ``(magnitudes, accuracies)``, accuracies as fractions in [0, 1]
    (as in "Learning with a strong adversary" Fig. 1 and the k-support paper's Fig. 4).
    """
    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    markers = "os^vDP*X"
    for i, (label, (magnitudes, accuracies)) in enumerate(curves.items()):
        ax.plot(magnitudes, [100 * a for a in accuracies], marker=markers[i % len(markers)],
                markersize=4, label=label)
    ax.set(xlabel=xlabel, ylabel="accuracy (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _save(fig: Figure, path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders created as needed) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
