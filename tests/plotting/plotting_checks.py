"""What every plotting test checks of a written file: a PNG of the figure's size in pixels."""

import matplotlib.image

from refimpl.plotting._common import DPI

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, fig):
    """``path`` is a non-trivial PNG that reads back at ``fig``'s size (inches) * DPI pixels."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 5_000
    width, height = fig.get_size_inches() * DPI
    pixels = matplotlib.image.imread(path)
    assert abs(pixels.shape[0] - height) <= 1 and abs(pixels.shape[1] - width) <= 1
    assert pixels.std() > 0  # something was drawn


def legend_texts(ax):
    """The texts of an axes' legend, in order."""
    return [t.get_text() for t in ax.get_legend().get_texts()]
