"""Bar-like figures: histograms of minimum-perturbation norms, and robustness tables as bars."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from refimpl.plotting._common import require_items, save


def min_perturbation_histogram(norms: Mapping[str, np.ndarray] | np.ndarray, path, *,
                               bins: int = 40, title: str = "",
                               xlabel: str = "minimum perturbation (l2 norm)",
                               gaussian: Mapping[str, tuple] | None = None) -> Path:
    """Histograms of the norms of minimum perturbations (paper 003 sec. V), overlaid.

    NaN and infinite entries (e.g. the -inf of a point already misclassified) are dropped and
    counted in the legend, "label (n = 981, 19 NaN/inf dropped)". All sets share ``bins``
    equal bins over their pooled finite values and are drawn filled and translucent, so they
    can be compared by eye. The y axis counts points; a fitted normal density is scaled to
    counts (n * bin width * density) and drawn dashed in its set's colour. 6 x 4.2 inches.

    Args:
        norms: label -> norms (any shape, flattened), or a single array of norms.
        path: where the PNG goes; folders are created.
        bins: the number of bins.
        title: the axes' title.
        xlabel: the norm axis' label.
        gaussian: label -> ``(mu, sigma)`` of a normal fitted to that set, sigma > 0.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    return save(_min_perturbation_histogram_figure(norms, bins, title, xlabel, gaussian), path)


def _min_perturbation_histogram_figure(norms, bins=40, title="",
                                       xlabel="minimum perturbation (l2 norm)",
                                       gaussian=None) -> Figure:
    sets = norms if hasattr(norms, "items") else {"": norms}
    require_items(sets, "norms")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    sets = {label: np.asarray(values, dtype=float).ravel() for label, values in sets.items()}
    finite = {label: values[np.isfinite(values)] for label, values in sets.items()}
    pooled = np.concatenate(list(finite.values()))
    if pooled.size == 0:
        raise ValueError("norms holds no finite value to draw")
    gaussian = dict(gaussian or {})
    for label, fit in gaussian.items():
        if label not in sets:
            raise ValueError(f"gaussian[{label!r}] names no set of norms; "
                             f"the sets are {list(sets)}")
        if len(fit) != 2 or not float(fit[1]) > 0:
            raise ValueError(f"gaussian[{label!r}] must be (mu, sigma) with sigma > 0, got {fit}")
    edges = np.histogram_bin_edges(pooled, bins)
    fig = Figure(figsize=(6, 4.2), layout="constrained")
    ax = fig.subplots()
    for i, (label, kept) in enumerate(finite.items()):
        counts, _ = np.histogram(kept, edges)
        dropped = sets[label].size - kept.size
        ax.stairs(counts, edges, fill=True, alpha=0.45, color=f"C{i}",
                  label=_with_counts(label, kept.size, dropped))
        if label in gaussian:
            mu, sigma = (float(v) for v in gaussian[label])
            t = np.linspace(edges[0], edges[-1], 201)
            density = np.exp(-0.5 * ((t - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
            fit = f"normal fit{' to ' + label if label else ''}: μ = {mu:.3g}, σ = {sigma:.3g}"
            ax.plot(t, kept.size * (edges[1] - edges[0]) * density, "--", color=f"C{i}", label=fit)
    ax.set(xlabel=xlabel, ylabel="count")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


def _with_counts(label: str, kept: int, dropped: int) -> str:
    counts = f"n = {kept}" + (f", {dropped} NaN/inf dropped" if dropped else "")
    return f"{label} ({counts})" if label else counts


def attack_labels(columns: Sequence[str], radius, titles: Mapping[str, str] | None = None,
                  norm: str | Mapping[str, str] = "l2") -> dict[str, str]:
    """Tick labels for attack columns that say what was run: title, norm and radius.

    ``{"l2": "l2\nl2 norm 1.5", ...}`` from ``titles`` (e.g. ``refimpl.evaluation.TITLES``, the
    registry's readable names; the column key when absent) and ``norm``, one norm name for every
    column or a mapping per column (columns missing from it keep their title alone, as do
    "clean" and columns that are not in ``titles``).
    """
    titles = dict(titles or {})
    labels = {}
    for column in columns:
        title = titles.get(column, column)
        which = norm.get(column) if isinstance(norm, Mapping) else norm
        known = column in titles and column != "clean"
        labels[column] = f"{title}\n{which} norm {radius:g}" if known and which else title
    return labels


def bar_table(rows: Sequence[dict], columns: Sequence[str], path, *, label_key: str = "model",
              title: str = "", reference: Sequence[dict] | None = None, percent: bool = True,
              ylabel: str | None = None, column_labels: Mapping[str, str] | None = None) -> Path:
    """A robustness table as grouped bars: one group per column, one bar per trained model.

    For the tables of SPEC "Evaluation" (columns such as clean, l2, URN, Adv_Loss, Adv_Alpha).
    Each bar is labelled with its value, written upwards above the bar and above the paper's
    marker when there is one, so that labels and markers never overlap; a value of None leaves
    a gap. With ``reference`` (the paper's numbers) a hollow black circle marks the paper's
    value over the matching bar, so "ours against the paper" shows at a glance. About 0.4 inch
    per bar, at least 6 inches wide.

    Args:
        rows: one dict per model, holding ``label_key`` and a value (or None) per column.
        columns: the keys drawn, in order, one group each.
        path: where the PNG goes; folders are created.
        label_key: the key naming the model (the legend).
        title: the axes' title.
        reference: dicts like ``rows`` for the paper; each names a model of ``rows``; missing
            keys and None values get no marker.
        percent: values are fractions in [0, 1], drawn in % on a 0-100 axis; False draws them
            as they are.
        ylabel: the value axis' label; "accuracy (%)" (or "accuracy") when None.
        column_labels: the tick label of each column key (e.g. from :func:`attack_labels`);
            the key itself for columns it does not name.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    figure = _bar_table_figure(rows, columns, label_key, title, reference, percent, ylabel,
                               column_labels)
    return save(figure, path)


def _bar_table_figure(rows, columns, label_key="model", title="", reference=None, percent=True,
                      ylabel=None, column_labels=None) -> Figure:
    if not rows:
        raise ValueError("rows is empty: no model to draw")
    if isinstance(columns, str) or not columns:
        raise ValueError(f"columns must be a non-empty sequence of keys, got {columns!r}")
    labels = [_label(row, label_key, f"rows[{m}]") for m, row in enumerate(rows)]
    heights = np.array([[_value(row, key, f"rows[{m}]", percent, required=True) for key in columns]
                        for m, row in enumerate(rows)])  # (models, columns), NaN where missing
    width = 0.8 / len(rows)
    offsets = (np.arange(len(rows)) - (len(rows) - 1) / 2) * width  # each model's place in a group
    centres = np.arange(len(columns)) + offsets[:, None]  # (models, columns)
    fig = Figure(figsize=(max(6.0, 2.5 + len(columns) * (0.4 * len(rows) + 0.3)), 4.5),
                 layout="constrained")
    ax = fig.subplots()
    handles = []  # the legend: models, then "paper"
    paper = np.full_like(heights, np.nan)  # the paper's value over each bar, NaN where none
    if reference is not None:
        for r, row in enumerate(reference):
            m = labels.index(_label(row, label_key, f"reference[{r}]", known=labels))
            paper[m] = [_value(row, key, f"reference[{r}]", percent) for key in columns]
    top = np.nanmax(np.r_[heights.ravel(), paper.ravel(), 0.0])
    clearance = 0.03 * (100 if percent else (top or 1.0))  # about a marker's radius
    for m, label in enumerate(labels):
        handles.append(ax.bar(centres[m], heights[m], width, color=f"C{m}", label=label))
        for centre, height, mark in zip(centres[m], heights[m], paper[m]):
            if np.isnan(height):
                continue
            above = max(height, mark + clearance) if not np.isnan(mark) else height
            ax.text(centre, above + 0.5 * clearance, f"{height:.1f}" if percent else
                    f"{height:.3g}", rotation=90, ha="center", va="bottom", fontsize=7)
    if reference is not None:
        drawn = ~np.isnan(paper)
        handles += ax.plot(centres[drawn], paper[drawn], "o", color="k", fillstyle="none",
                           markersize=7, markeredgewidth=1.5, linestyle="none", label="paper")
    names = dict(column_labels or {})
    ax.set_xticks(np.arange(len(columns)), [str(names.get(key, key)) for key in columns])
    ax.set_ylabel(ylabel or ("accuracy (%)" if percent else "accuracy"))
    if percent:
        ax.set_ylim(0, 118)  # room for the upright labels of bars at 100 %
        ax.set_yticks(range(0, 101, 20))
    elif np.nanmin(np.r_[heights.ravel(), 0.0]) >= 0:
        ax.set_ylim(0, 1.25 * top if top > 0 else 1.0)  # room for the labels
    ax.grid(axis="y", alpha=0.3)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if title:
        ax.set_title(title)
    return fig


def _label(row, label_key: str, where: str, known=None) -> str:
    if label_key not in row:
        raise ValueError(f"{where} has no {label_key!r} (label_key) to name its model")
    if known is not None and row[label_key] not in known:
        raise ValueError(f"{where} is for {row[label_key]!r}, which no row has; rows: {known}")
    return row[label_key]


def _value(row, key, where: str, percent: bool, required: bool = False) -> float:
    """``row[key]`` as drawn (x 100 in percent), NaN for None (and, unless required, absent)."""
    if required and key not in row:
        raise ValueError(f"{where} has no value for column {key!r}")
    value = row.get(key)
    if value is None:
        return math.nan
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}[{key!r}] = {value!r} is not a number") from None
    if percent and not 0 <= value <= 1:
        raise ValueError(f"{where}[{key!r}] = {value} is not a fraction in [0, 1]; "
                         "pass percent=False to draw other values")
    return 100 * value if percent else value
