"""refimpl.plotting.curves: the lines drawn are the data given, legends, PNGs and bad input."""

import numpy as np
import pytest
from plotting_checks import assert_png, legend_texts

from refimpl.plotting import accuracy_vs_magnitude, learning_curves, line_plot, pr_curves
from refimpl.plotting.curves import (_accuracy_vs_magnitude_figure, _learning_curves_figure,
                                     _line_plot_figure, _pr_curves_figure)

HISTORY = [{"epoch": e, "train_loss": 1 / e, "test_loss": 1.2 / e, "test_accuracy": 0.5 + e / 10}
           for e in (1, 2, 3)]


def test_learning_curves_draw_loss_and_accuracy_per_epoch(tmp_path):
    path = learning_curves(HISTORY, tmp_path / "deep" / "lc.png", title="mlp")
    fig = _learning_curves_figure(HISTORY, "mlp")
    assert path == tmp_path / "deep" / "lc.png"
    assert_png(path, fig)
    loss_ax, acc_ax = fig.axes
    train, test = loss_ax.get_lines()
    np.testing.assert_allclose(train.get_ydata(), [1, 1 / 2, 1 / 3])
    np.testing.assert_allclose(acc_ax.get_lines()[0].get_ydata(), [60, 70, 80])
    with pytest.raises(ValueError, match="history"):
        _learning_curves_figure([], "")


def test_accuracy_vs_magnitude_in_percent_with_dashed_paper_reference(tmp_path):
    curves = {"plain": ([0, 1, 2], np.array([0.9, 0.5, 0.1])),
              "Adv_Loss": ([0, 1, 2], [0.9, 0.8, 0.6])}
    reference = {"Adv_Loss": ([0, 2], [0.95, 0.7]), "Dropout": ([0, 2], [0.9, 0.2])}
    path = accuracy_vs_magnitude(curves, tmp_path / "acc.png", reference=reference)
    fig = _accuracy_vs_magnitude_figure(curves, "", "l2", reference)
    assert_png(path, fig)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 4
    np.testing.assert_allclose(lines[0].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(lines[0].get_ydata(), [90, 50, 10])
    np.testing.assert_allclose(lines[2].get_ydata(), [95, 70])
    assert [line.get_linestyle() for line in lines] == ["-", "-", "--", "--"]
    assert lines[2].get_color() == lines[1].get_color()  # the paper's Adv_Loss in ours' colour
    assert legend_texts(ax) == ["plain", "Adv_Loss", "Adv_Loss (paper)", "Dropout (paper)"]
    assert ax.get_ylim() == (0, 100)


def test_accuracy_vs_magnitude_rejects_empty_and_mismatched_curves():
    with pytest.raises(ValueError, match="curves is empty"):
        _accuracy_vs_magnitude_figure({}, "", "l2")
    with pytest.raises(ValueError, match=r"curves\['a'\]: 3 x values but 2"):
        _accuracy_vs_magnitude_figure({"a": ([0, 1, 2], [1, 0.5])}, "", "l2")


def test_pr_curves_legend_shows_average_precision_and_lines_are_the_data(tmp_path):
    recall = np.array([1.0, 0.8, 0.5, 0.0])  # scikit-learn's order: recall falling
    precision = np.array([0.5, 0.7, 0.9, 1.0])
    curves = {"plain": (recall, precision, 0.97312),
              "Adv_Alpha": (recall[::-1], precision[::-1], 0.5)}
    path = pr_curves(curves, tmp_path / "pr.png", title="MNIST")
    fig = _pr_curves_figure(curves, "MNIST")
    assert_png(path, fig)
    (ax,) = fig.axes
    assert legend_texts(ax) == ["plain (AP 0.973)", "Adv_Alpha (AP 0.500)"]
    falling, rising = ax.get_lines()
    np.testing.assert_allclose(falling.get_xdata(), recall)
    np.testing.assert_allclose(falling.get_ydata(), precision)
    # Either order draws the same steps: P_n over (R_{n-1}, R_n].
    assert (falling.get_drawstyle(), rising.get_drawstyle()) == ("steps-post", "steps-pre")
    assert ax.get_xlim() == (0, 1) and ax.get_ylim()[0] == 0
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("recall", "precision")


def test_pr_curves_rejects_bad_input():
    with pytest.raises(ValueError, match="curves is empty"):
        _pr_curves_figure({}, "")
    with pytest.raises(ValueError, match="average_precision"):
        _pr_curves_figure({"a": ([0, 1], [1, 0.5])}, "")
    with pytest.raises(ValueError, match=r"curves\['a'\]: 2 x values but 3"):
        _pr_curves_figure({"a": ([0, 1], [1, 0.5, 0.2], 0.7)}, "")


def test_line_plot_draws_each_labelled_line_with_its_style(tmp_path):
    curves = {"curve": ([0, 1, 2], [1.0, 0.0, 4.0]), "chord": ([0, 2], [1.0, 4.0])}
    path = line_plot(curves, tmp_path / "l.png", xlabel="w", ylabel="R", styles={"chord": "--"})
    fig = _line_plot_figure(curves, "w", "R", "", {"chord": "--"})
    assert_png(path, fig)
    ax = fig.axes[0]
    curve, chord = ax.get_lines()
    np.testing.assert_allclose(curve.get_ydata(), [1, 0, 4])
    assert chord.get_linestyle() == "--" and curve.get_linestyle() == "-"
    assert legend_texts(ax) == ["curve", "chord"] and ax.get_xlabel() == "w"
    with pytest.raises(ValueError, match="curves\\['bad'\\]"):
        _line_plot_figure({"bad": ([0, 1], [1.0])}, "x", "y", "", {})
    with pytest.raises(ValueError, match="curves is empty"):
        _line_plot_figure({}, "x", "y", "", {})
