"""The edge where NumPy data cross to the computing backend and device."""

import numpy as np
from conftest import assert_namespace

from refimpl.backend import to_numpy
from refimpl.data.pipeline import to_backend


def test_to_backend_puts_images_and_labels_on_the_device(xp):
    x = np.linspace(0.0, 1.0, 12).reshape(3, 1, 2, 2)
    y = np.array([2, 0, 1], dtype=np.uint8)
    xb, yb = to_backend((x, y), xp, dtype=xp.float32)
    for a in (xb, yb):
        assert_namespace(a, xp)
    assert xb.dtype == xp.float32 and yb.dtype == xp.int64
    np.testing.assert_array_equal(to_numpy(xb), x.astype(np.float32))
    np.testing.assert_array_equal(to_numpy(yb), y)
    (kept,) = to_backend((x,), xp)
    assert kept.dtype == xp.float64
