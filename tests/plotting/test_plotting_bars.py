"""refimpl.plotting.bars: histogram counts and dropped NaN/inf, bar heights in %, paper markers."""

import numpy as np
import pytest
from plotting_checks import assert_png, legend_texts

from refimpl.plotting import attack_labels, bar_table, min_perturbation_histogram
from refimpl.plotting.bars import _bar_table_figure, _min_perturbation_histogram_figure

RNG = np.random.default_rng(0)


def test_histogram_drops_nan_and_inf_and_says_how_many(tmp_path):
    plain = RNG.normal(1.0, 0.2, size=100)
    plain[:3], plain[3] = np.nan, -np.inf  # -inf: a point misclassified before any perturbation
    norms = {"plain": plain, "Adv_Loss": RNG.normal(1.5, 0.3, size=(10, 5))}
    gaussian = {"plain": (1.0, 0.2)}
    path = min_perturbation_histogram(norms, tmp_path / "hist.png", bins=10, gaussian=gaussian)
    fig = _min_perturbation_histogram_figure(norms, 10, gaussian=gaussian)
    assert_png(path, fig)
    (ax,) = fig.axes
    assert legend_texts(ax) == ["plain (n = 96, 4 NaN/inf dropped)",
                                "normal fit to plain: μ = 1, σ = 0.2", "Adv_Loss (n = 50)"]
    (plain_counts, edges), (adv_counts, same_edges) = (p.get_data()[:2] for p in ax.patches)
    assert len(edges) == 11 and np.array_equal(edges, same_edges)  # one set of bins for all sets
    assert (plain_counts.sum(), adv_counts.sum()) == (96, 50)
    np.testing.assert_array_equal(plain_counts, np.histogram(plain[4:], edges)[0])
    (fit,) = ax.get_lines()
    peak = 96 * (edges[1] - edges[0]) / (0.2 * np.sqrt(2 * np.pi))  # density scaled to counts
    assert fit.get_ydata().max() == pytest.approx(peak, rel=1e-3)


def test_histogram_of_a_single_array():
    fig = _min_perturbation_histogram_figure(np.array([0.5, 1.0, np.inf]), 4)
    assert legend_texts(fig.axes[0]) == ["n = 2, 1 NaN/inf dropped"]


@pytest.mark.parametrize("norms, kwargs, message", [
    ({}, {}, "norms is empty"),
    ({"a": [np.nan, np.inf]}, {}, "no finite value"),
    ({"a": [1.0]}, {"bins": 0}, "bins must be a positive integer"),
    ({"a": [1.0]}, {"gaussian": {"b": (0, 1)}}, "names no set"),
    ({"a": [1.0]}, {"gaussian": {"a": (0, 0)}}, "sigma > 0"),
])
def test_histogram_rejects_bad_input(norms, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _min_perturbation_histogram_figure(norms, **kwargs)


ROWS = [{"model": "plain", "clean": 0.99, "l2": 0.5, "Adv_Alpha": 0.2},
        {"model": "Adv_Loss", "clean": 0.985, "l2": 0.8, "Adv_Alpha": None}]
COLUMNS = ["clean", "l2", "Adv_Alpha"]


def test_bar_table_heights_are_the_values_in_percent_with_paper_markers_over_their_bars(tmp_path):
    reference = [{"model": "Adv_Loss", "clean": 0.99, "Adv_Alpha": 0.75},
                 {"model": "plain", "l2": None}]
    path = bar_table(ROWS, COLUMNS, tmp_path / "table.png", reference=reference, title="MNIST")
    fig = _bar_table_figure(ROWS, COLUMNS, reference=reference, title="MNIST")
    assert_png(path, fig)
    (ax,) = fig.axes
    plain, adv = ax.containers
    np.testing.assert_allclose([bar.get_height() for bar in plain], [99, 50, 20])
    np.testing.assert_allclose([bar.get_height() for bar in adv], [98.5, 80, np.nan])
    assert [t.get_text() for t in ax.get_xticklabels()] == COLUMNS
    assert legend_texts(ax) == ["plain", "Adv_Loss", "paper"]
    (paper,) = ax.get_lines()
    np.testing.assert_allclose(paper.get_ydata(), [99, 75])
    adv_centres = [bar.get_x() + bar.get_width() / 2 for bar in adv]
    np.testing.assert_allclose(paper.get_xdata(), [adv_centres[0], adv_centres[2]])
    assert paper.get_markerfacecolor() == "none"


def test_bar_table_draws_raw_values_when_not_percent():
    fig = _bar_table_figure([{"name": "a", "error": 2.5}], ["error"], label_key="name",
                            percent=False, ylabel="error (%)")
    (ax,) = fig.axes
    assert ax.containers[0][0].get_height() == 2.5 and ax.get_ylabel() == "error (%)"
    assert legend_texts(ax) == ["a"]


@pytest.mark.parametrize("rows, columns, kwargs, message", [
    ([], COLUMNS, {}, "rows is empty"),
    (ROWS, [], {}, "columns must be a non-empty"),
    (ROWS, "clean", {}, "columns must be a non-empty"),
    (ROWS, ["clean", "URN"], {}, r"rows\[0\] has no value for column 'URN'"),
    (ROWS, COLUMNS, {"label_key": "net"}, r"rows\[0\] has no 'net'"),
    ([{"model": "a", "clean": 97.3}], ["clean"], {},
     r"rows\[0\]\['clean'\] = 97.3 is not a fraction"),
    ([{"model": "a", "clean": "high"}], ["clean"], {}, "is not a number"),
    (ROWS, COLUMNS, {"reference": [{"model": "dropout", "clean": 0.9}]},
     "'dropout', which no row has"),
])
def test_bar_table_rejects_bad_input(rows, columns, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _bar_table_figure(rows, columns, **kwargs)


def _value_texts(ax):
    return [t for t in ax.texts if t.get_text()]


def test_bar_table_value_labels_sit_above_the_bars_and_clear_of_the_paper_markers():
    reference = [{"model": "plain", "l2": 0.52}, {"model": "Adv_Loss", "clean": 0.97}]
    fig = _bar_table_figure(ROWS, COLUMNS, reference=reference)
    (ax,) = fig.axes
    texts = _value_texts(ax)
    assert sorted(t.get_text() for t in texts) == sorted(["99.0", "50.0", "20.0", "98.5", "80.0"])
    (paper,) = ax.get_lines()
    marks = list(zip(paper.get_xdata(), paper.get_ydata()))
    bars = [bar for container in ax.containers for bar in container]
    for text in texts:
        x, y = text.get_position()
        bar = min(bars, key=lambda b: abs(b.get_x() + b.get_width() / 2 - x))
        assert y > bar.get_height() and text.get_rotation() == 90
        for mark_x, mark_y in marks:
            if abs(mark_x - x) < 1e-9:
                assert y >= mark_y + 3  # above the hollow circle, never across it


def test_bar_table_column_labels_and_attack_labels():
    titles = {"clean": "Clean", "l2": "l2", "Adv_Alpha": "Adv_Alpha"}
    labels = attack_labels(COLUMNS, 1.5, titles, norm={"l2": "l2"})
    assert labels == {"clean": "Clean", "l2": "l2\nl2 norm 1.5", "Adv_Alpha": "Adv_Alpha"}
    assert attack_labels(["linf", "noise 0.1"], 0.3, {"linf": "FGSM (linf ball)"},
                         norm="linf") == {"linf": "FGSM (linf ball)\nlinf norm 0.3",
                                          "noise 0.1": "noise 0.1"}
    fig = _bar_table_figure(ROWS, COLUMNS, column_labels=labels)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == \
        ["Clean", "l2\nl2 norm 1.5", "Adv_Alpha"]
