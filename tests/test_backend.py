"""The backend shim: namespaces, conversion to NumPy, seeded random numbers, dtype helpers."""

import numpy as np
import pytest

from refimpl import backend


def test_get_namespace_ignores_python_scalars(xp):
    x = xp.asarray([1.0, 2.0])
    assert backend.get_namespace(x, 2.0, None) is backend.get_namespace(x)


def test_mixing_namespaces_names_the_argument():
    import array_api_strict
    with pytest.raises(TypeError, match="weights.*mix"):
        backend.get_namespace(np.ones(2), array_api_strict.ones(2), name="weights")


def test_to_numpy_round_trip(xp):
    values = np.arange(6.0).reshape(2, 3)
    out = backend.to_numpy(xp.asarray(values))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, values)


def test_random_draws_live_in_the_namespace_with_the_dtype(xp):
    rng = backend.make_rng(0, xp)
    draws = {
        "normal": rng.normal((3, 4)),
        "uniform": rng.uniform((3, 4), low=-1.0, high=1.0),
        "normal64": rng.normal((2,), dtype=xp.float64),
    }
    for name, a in draws.items():
        assert backend.get_namespace(a) is backend.get_namespace(xp.asarray([0.0])), name
    assert draws["normal"].dtype == xp.float32 and draws["normal"].shape == (3, 4)
    assert draws["normal64"].dtype == xp.float64
    u = backend.to_numpy(draws["uniform"])
    assert u.min() >= -1.0 and u.max() < 1.0
    ints = backend.to_numpy(rng.integers(0, 5, (100,)))
    assert ints.min() >= 0 and ints.max() < 5
    perm = backend.to_numpy(rng.permutation(10))
    assert sorted(perm.tolist()) == list(range(10))


def test_random_is_reproducible_and_restorable(xp):
    a = backend.to_numpy(backend.make_rng(7, xp).normal((5,)))
    b = backend.to_numpy(backend.make_rng(7, xp).normal((5,)))
    c = backend.to_numpy(backend.make_rng(8, xp).normal((5,)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    rng = backend.make_rng(3, xp)
    try:
        state = rng.state()
    except NotImplementedError:
        pytest.skip("this backend's generator has no saveable state")
    first = backend.to_numpy(rng.normal((4,)))
    rng.set_state(state)
    np.testing.assert_array_equal(backend.to_numpy(rng.normal((4,))), first)


def test_dtype_helpers(xp):
    assert backend.is_floating(xp.asarray([1.0]))
    assert not backend.is_floating(xp.asarray([1]))
    assert backend.default_float(xp) == xp.float32
    with pytest.raises(TypeError, match="labels.*floating"):
        backend.check_floating(xp.asarray([1, 2]), "labels")


def test_unknown_backend_name():
    with pytest.raises(ValueError, match="backend"):
        backend.namespace_by_name("tensorflow")
