"""Hypothesis strategies shared by the theory tests: small float64 vectors and batches that
are not all zero, exponents p in (1, inf), and settings that suit scipy-backed checks."""

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# scipy.optimize runs inside many examples: moderate counts, no deadline.
SCIPY = settings(max_examples=25, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=50, deadline=None)

coordinates = st.floats(-5.0, 5.0, allow_nan=False, allow_infinity=False, width=64)


def vectors(min_dim=2, max_dim=6, nonzero=True):
    """float64 vectors (D,) with entries in [-5, 5], rounded to 3 decimals (ties and zeros
    happen); ``nonzero`` keeps the largest magnitude >= 0.1 so the optimisers are well posed."""
    def build(dim):
        return hnp.arrays(np.float64, dim, elements=coordinates).map(lambda a: np.round(a, 3))
    strategy = st.integers(min_dim, max_dim).flatmap(build)
    if nonzero:
        strategy = strategy.filter(lambda a: np.abs(a).max() >= 0.1)
    return strategy


def batches(max_rows=5, min_dim=2, max_dim=8):
    """float64 batches (N, D) in [-5, 5], rounded to 1 decimal (many ties and zeros)."""
    shapes = st.tuples(st.integers(1, max_rows), st.integers(min_dim, max_dim))
    return shapes.flatmap(lambda s: hnp.arrays(np.float64, s, elements=coordinates)
                          ).map(lambda a: np.round(a, 1))


exponents = st.floats(1.1, 8.0, allow_nan=False)
radii = st.floats(0.05, 3.0, allow_nan=False)
