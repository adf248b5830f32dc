"""Shared test fixtures: one ``xp`` fixture runs a test on every backend that answers.

NumPy and array-api-strict always run; CuPy runs when it imports and sees a GPU, and is
skipped (with the reason) otherwise. The helpers below (random float64 inputs, a namespace
assertion, ``check_op``) are imported by the tests with ``from conftest import ...``.
"""

import functools
import math

import array_api_compat
import numpy as np
import pytest

from refimpl.autodiff import check_grads, vjp
from refimpl.backend import namespace_by_name, to_numpy


@functools.cache
def _cupy_missing_reason():
    """Why CuPy cannot run here, or ``None`` when it can."""
    try:
        import cupy  # noqa: PLC0415  (optional: imported only to probe for a GPU)
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return None
        return "CuPy is installed but sees no GPU"
    except Exception as err:  # ImportError, or a CUDA runtime error without a driver
        return f"CuPy unavailable ({type(err).__name__}: {err})"


@pytest.fixture(params=["numpy", "array_api_strict", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    """The array namespace of one backend."""
    if request.param == "cupy" and _cupy_missing_reason():
        pytest.skip(_cupy_missing_reason())
    return namespace_by_name(request.param)


def rand(xp, rng, shape, low=-1.0, high=1.0):
    """float64 samples of U[low, high) of ``shape``, drawn by the NumPy ``rng``, in ``xp``."""
    return xp.asarray(rng.uniform(low, high, size=shape))


def distinct(xp, rng, shape, gap=0.1):
    """Shuffled float64 values, pairwise >= 0.9 ``gap`` apart and >= 0.15 ``gap`` from zero.

    Inputs for max, maximum, pooling, abs, relu and sign: no ties and no kinks within reach of
    a finite-difference step.
    """
    size = math.prod(shape)
    grid = rng.permutation(size) - size / 2 + 0.25  # integers or half-integers, shifted off 0
    values = (grid + rng.uniform(0.0, 0.1, size=size)) * gap
    return xp.asarray(values.reshape(shape))


def assert_namespace(result, xp):
    """Assert that ``result`` is an array of the library of ``xp`` (0-d NumPy results may be
    NumPy scalars). ``xp`` may be a library or its array-api-compat wrapper."""
    found = array_api_compat.array_namespace(result)
    expected = array_api_compat.array_namespace(xp.asarray(0.0))
    assert found is expected, f"result lives in {found.__name__}, expected {expected.__name__}"


def check_op(xp, f, args, expected, *, rtol=1e-12, atol=1e-12):
    """``f(*args)`` lives in ``xp``, is float64 and equals ``expected`` (NumPy); its gradients
    live in ``xp`` shaped like ``args``; ``args`` are left unchanged; and its first and second
    derivatives agree with central differences along random directions."""
    before = [to_numpy(a).copy() for a in args]
    out, vjp_fn = vjp(f, *args)
    assert_namespace(out, xp)
    assert out.dtype == xp.float64
    assert tuple(out.shape) == np.shape(expected)
    np.testing.assert_allclose(to_numpy(out), expected, rtol=rtol, atol=atol)
    for g, a in zip(vjp_fn(xp.ones(out.shape, dtype=xp.float64)), args):
        assert_namespace(g, xp)
        assert g.dtype == xp.float64 and tuple(g.shape) == tuple(a.shape)
    check_grads(f, args, order=1)
    check_grads(f, args, order=2)
    for a, copy in zip(args, before):
        np.testing.assert_array_equal(to_numpy(a), copy)  # nothing mutates its inputs
