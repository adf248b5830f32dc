"""refimpl.plotting.images: one image per axes, shared value ranges, symmetric delta colours."""

import numpy as np
import pytest
from plotting_checks import assert_png

from refimpl.plotting import example_grid, perturbation_grid
from refimpl.plotting.images import _example_grid_figure, _perturbation_grid_figure

RNG = np.random.default_rng(0)
X = RNG.uniform(0, 1, size=(4, 16))  # four flat 4 x 4 images
X[0, :2] = 0, 1  # the value range of X is exactly [0, 1]


def images(ax):
    """The arrays drawn on an axes (one per imshow)."""
    return [np.asarray(im.get_array()) for im in ax.get_images()]


def test_example_grid_has_one_row_per_set_sharing_one_value_range(tmp_path):
    rows = {"clean": X, "Goodfellow": (X + 0.5).reshape(4, 1, 4, 4),
            "URN": X.reshape(4, 4, 4) - 0.5}
    labels = {"Goodfellow": [7, 1, 2, 9]}
    path = example_grid(rows, tmp_path / "grid.png", labels=labels, title="MNIST")
    fig = _example_grid_figure(rows, labels, title="MNIST")
    assert_png(path, fig)
    assert len(fig.axes) == 3 * 4
    assert all(len(ax.get_images()) == 1 for ax in fig.axes)
    assert [fig.axes[4 * r].get_ylabel() for r in range(3)] == ["clean", "Goodfellow", "URN"]
    assert [ax.get_xlabel() for ax in fig.axes[4:8]] == ["7", "1", "2", "9"]
    assert fig.axes[0].get_xlabel() == ""
    np.testing.assert_allclose(images(fig.axes[1])[0], X[1].reshape(4, 4))
    assert {ax.get_images()[0].get_clim() for ax in fig.axes} == {(-0.5, 1.5)}


def test_example_grid_draws_rgb_channels_last_and_honours_image_shape_and_vrange():
    rgb = RNG.uniform(0, 1, size=(2, 3, 5, 6))
    fig = _example_grid_figure({"rgb": rgb, "flat": X[:2, :12]}, image_shape=(3, 4), vrange=(0, 1))
    (drawn_rgb,), (drawn_flat,) = images(fig.axes[0]), images(fig.axes[2])
    np.testing.assert_allclose(drawn_rgb, rgb[0].transpose(1, 2, 0))
    np.testing.assert_allclose(drawn_flat, X[0, :12].reshape(3, 4))
    assert fig.axes[2].get_images()[0].get_clim() == (0, 1)


@pytest.mark.parametrize("rows, kwargs, message", [
    ({}, {}, "rows is empty"),
    ({"a": X, "b": X[:3]}, {}, "different numbers of examples"),
    ({"a": X[:, :12]}, {}, "not a square; pass image_shape"),
    ({"a": X}, {"image_shape": (3, 4)}, "do not fit image_shape"),
    ({"a": np.zeros((2, 2, 4, 4))}, {}, "2 channels"),
    ({"a": np.zeros((2, 4))[0]}, {}, r"rows\['a'\]: shape \(4,\)"),
    ({"a": X}, {"labels": {"b": [1, 2, 3, 4]}}, "names no row"),
    ({"a": X}, {"labels": {"a": [1, 2]}}, r"labels\['a'\] must be a sequence of 4"),
    ({"a": X}, {"vrange": (1, 0)}, "vrange"),
])
def test_example_grid_rejects_bad_input(rows, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _example_grid_figure(rows, **kwargs)


def test_perturbation_grid_fills_symmetric_colour_limits_with_the_largest_delta(tmp_path):
    delta = RNG.uniform(-0.04, 0.05, size=X.shape)
    delta[2, 3] = -0.08  # the largest |delta|
    captions = ["7 → 3", "1 → 7", "2 → 2", "9 → 4"]
    path = perturbation_grid(X, delta, tmp_path / "delta.png", captions=captions, title="l2")
    fig = _perturbation_grid_figure(X, delta, captions=captions, title="l2")
    assert_png(path, fig)
    grid, colourbar = fig.axes[:12], fig.axes[12:]
    assert len(colourbar) == 1
    assert [grid[4 * r].get_ylabel() for r in range(3)] == ["x", "delta ×12.5", "x + delta"]
    for ax in grid[4:8]:
        assert ax.get_images()[0].get_clim() == pytest.approx((-0.08, 0.08))
        assert ax.get_images()[0].get_cmap().name == "RdBu_r"
    np.testing.assert_allclose(images(grid[5])[0], delta[1].reshape(4, 4))
    np.testing.assert_allclose(images(grid[9])[0], (X + delta)[1].reshape(4, 4))
    assert [ax.get_xlabel() for ax in grid[8:]] == captions


def test_perturbation_grid_with_a_fixed_factor_and_rgb():
    fig = _perturbation_grid_figure(X, 0.01 * X, magnify=10)
    assert fig.axes[4].get_ylabel() == "delta ×10"
    assert fig.axes[4].get_images()[0].get_clim() == pytest.approx((-0.1, 0.1))  # range 1 / 10
    x = RNG.uniform(0, 1, size=(2, 3, 4, 4))
    fig = _perturbation_grid_figure(x, np.zeros_like(x))
    assert len(fig.axes) == 3 * 2  # no colourbar for RGB perturbations
    np.testing.assert_allclose(images(fig.axes[2])[0], 0.5)  # delta = 0 is mid-grey


def test_perturbation_grid_rejects_bad_input():
    with pytest.raises(ValueError, match=r"x and delta must have one shape.*\(4, 16\).*\(4, 15\)"):
        _perturbation_grid_figure(X, X[:, :15])
    with pytest.raises(ValueError, match="magnify must be positive"):
        _perturbation_grid_figure(X, X, magnify=0)
    with pytest.raises(ValueError, match="captions must be a sequence of 4"):
        _perturbation_grid_figure(X, X, captions=["a"])
