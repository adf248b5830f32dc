"""backend.kth_largest: the selection fast path (NumPy, CuPy) equals the sort of the standard."""

import numpy as np
import pytest

from refimpl.backend import kth_largest, to_numpy


@pytest.mark.parametrize("k", [1, 2, 7, 13])
def test_kth_largest_is_the_sorted_value(xp, k):
    rng = np.random.default_rng(k)
    a_np = rng.integers(0, 5, size=(4, 13)).astype(np.float64)  # many ties
    got = kth_largest(xp.asarray(a_np), k)
    assert tuple(got.shape) == (4, 1)
    np.testing.assert_array_equal(to_numpy(got), np.sort(a_np, axis=1)[:, ::-1][:, k - 1:k])
