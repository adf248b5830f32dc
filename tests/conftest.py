"""Shared test fixtures: one ``xp`` fixture runs a test on every backend that answers.

Backends: NumPy; array-api-strict on its CPU device; array-api-strict on ``device1`` (a second
"device" that refuses to mix with the first, like two GPUs, and refuses any implicit copy to
NumPy, like CuPy); CuPy when a GPU really computes (skipped with the reason otherwise); and
PyTorch CPU tensors through array-api-compat with ``--backend-torch``.

For ``device1`` the fixture returns :class:`OnDevice`, array-api-strict whose creation
functions put arrays on ``device1`` by default, so a test's ``xp.asarray(...)`` or
``make_rng(seed, xp)`` builds its inputs there without naming the device. Library code never
sees the wrapper's default: it takes the namespace from its input arrays (plain
array-api-strict, whose default is the CPU device), so an array created there without
``device=`` lands on the wrong device and the test fails.

The helpers below (random float64 inputs, namespace and device assertions, ``check_op``) are
imported by the tests with ``from conftest import ...``.
"""

import functools
import math

import array_api_compat
import array_api_strict
import numpy as np
import pytest

from refimpl.autodiff import check_grads, vjp
from refimpl.backend import cupy_problem, device_of, namespace_by_name, to_numpy

DEVICE1 = array_api_strict.Device("device1")
_CREATION = ("arange", "asarray", "empty", "eye", "from_dlpack", "full", "linspace", "ones",
             "zeros")  # the *_like functions already follow their argument's device


class OnDevice:
    """The namespace ``ns`` with ``device`` as the default of its creation functions."""

    def __init__(self, ns, device):
        self._ns, self.default_device = ns, device

    def __getattr__(self, name):
        attr = getattr(self._ns, name)
        if name not in _CREATION:
            return attr

        @functools.wraps(attr)
        def create(*args, device=None, **kwargs):
            return attr(*args, device=self.default_device if device is None else device, **kwargs)
        setattr(self, name, create)  # cached: __getattr__ runs once per name
        return create

    def __repr__(self):
        return f"<{self._ns.__name__} on {self.default_device!r} by default>"


def _refuse_host_export(original):
    """``Array.__dlpack__`` that refuses arrays off the CPU device, as CuPy and torch-on-CUDA
    refuse ``np.from_dlpack``; ``refimpl.backend.to_numpy`` moves to the CPU explicitly first."""
    @functools.wraps(original)
    def __dlpack__(self, *args, **kwargs):
        if self.device != array_api_strict.Device():
            raise RuntimeError(f"implicit host copy of an array on {self.device!r}; use "
                               f"refimpl.backend.to_numpy at the edge")
        return original(self, *args, **kwargs)
    return __dlpack__


# __array__ and __buffer__ already refuse device1 arrays; make DLPack refuse too.
_StrictArray = type(array_api_strict.asarray(0.0))
_StrictArray.__dlpack__ = _refuse_host_export(_StrictArray.__dlpack__)


def pytest_addoption(parser):
    parser.addoption("--backend-torch", action="store_true", default=False,
                     help="also run every xp test on PyTorch CPU tensors (array-api-compat)")


def pytest_generate_tests(metafunc):
    if "xp" in metafunc.fixturenames:
        params = ["numpy", "array_api_strict", "array_api_strict_device1",
                  pytest.param("cupy", marks=pytest.mark.gpu)]
        if metafunc.config.getoption("--backend-torch"):
            params.append(pytest.param("torch", marks=pytest.mark.torch))
        metafunc.parametrize("xp", params, indirect=True)


@functools.cache
def _cupy_missing_reason():
    """Why CuPy cannot run here, or ``None`` once a kernel, a matmul and a draw succeeded."""
    return cupy_problem()


@pytest.fixture
def xp(request):
    """The array namespace of one backend (device1: an :class:`OnDevice` wrapper)."""
    if request.param == "cupy" and _cupy_missing_reason():
        pytest.skip(_cupy_missing_reason())
    if request.param == "torch":
        pytest.importorskip("torch")
    if request.param == "array_api_strict_device1":
        return OnDevice(array_api_strict, DEVICE1)
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


def expected_device(xp):
    """The device ``xp``'s creation functions use by default (device1 for ``OnDevice``)."""
    return device_of(xp.asarray(0.0))


def assert_device(result, xp):
    """Assert that ``result`` lives on the device a test of ``xp`` builds its inputs on."""
    found, expected = device_of(result), expected_device(xp)
    assert found == expected, f"result lives on {found!r}, expected {expected!r}"


def assert_namespace(result, xp):
    """Assert that ``result`` is an array of the library of ``xp`` on its inputs' device (0-d
    NumPy results may be NumPy scalars). ``xp`` may be a library or its array-api-compat
    wrapper."""
    found = array_api_compat.array_namespace(result)
    expected = array_api_compat.array_namespace(xp.asarray(0.0))
    assert found is expected, f"result lives in {found.__name__}, expected {expected.__name__}"
    assert_device(result, xp)


def check_op(xp, f, args, expected, *, rtol=1e-12, atol=1e-12):
    """``f(*args)`` lives in ``xp`` on the inputs' device, is float64 and equals ``expected``
    (NumPy); its gradients live there too, shaped like ``args``; ``args`` are left unchanged;
    and its first and second derivatives agree with central differences along random
    directions."""
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
