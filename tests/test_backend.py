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


def test_device_of():
    import array_api_strict
    device1 = array_api_strict.Device("device1")
    assert backend.device_of(np.ones(2)) == "cpu"
    assert backend.device_of(array_api_strict.ones(2, device=device1)) == device1
    assert backend.device_of(2.0) is None and backend.device_of(None) is None


def test_every_draw_lands_on_the_requested_device():
    import array_api_strict
    device1 = array_api_strict.Device("device1")
    rng = backend.make_rng(0, array_api_strict, device=device1)
    draws = [rng.normal((3,)), rng.uniform((2, 2)), rng.integers(0, 4, (5,)), rng.permutation(6)]
    assert all(a.device == device1 for a in draws)
    # the same stream as on the CPU device (and as NumPy): one seed, one set of numbers
    cpu = backend.make_rng(0, array_api_strict)
    np.testing.assert_array_equal(backend.to_numpy(draws[0]), backend.to_numpy(cpu.normal((3,))))


def test_state_restores_the_stream_bitwise(xp):
    rng = backend.make_rng(11, xp)
    rng.normal((3,))
    state = rng.state()
    after = [backend.to_numpy(rng.uniform((4,))), backend.to_numpy(rng.permutation(9))]
    again = backend.make_rng(0, xp)
    again.set_state(state)
    assert after[0].tobytes() == backend.to_numpy(again.uniform((4,))).tobytes()
    np.testing.assert_array_equal(after[1], backend.to_numpy(again.permutation(9)))


def test_device1_refuses_implicit_copies_to_numpy():
    """conftest makes array-api-strict's device1 behave as a GPU: no hidden np.asarray."""
    import array_api_strict
    x = array_api_strict.ones(3, device=array_api_strict.Device("device1"))
    with pytest.raises(RuntimeError):
        np.asarray(x)
    with pytest.raises(RuntimeError):
        np.from_dlpack(x)
    np.testing.assert_array_equal(backend.to_numpy(x), np.ones(3))  # the explicit transfer


def test_asarray_follows_like_onto_its_device():
    import array_api_strict
    device1 = array_api_strict.Device("device1")
    like = array_api_strict.zeros((2,), dtype=array_api_strict.float32, device=device1)
    out = backend.asarray([1.0, 2.0], like=like)
    assert out.device == device1 and out.dtype == array_api_strict.float32


def test_torch_by_name():
    torch = pytest.importorskip("torch")
    xp = backend.namespace_by_name("torch")
    assert backend.get_namespace(torch.ones(2)) is xp
    rng = backend.make_rng(3, xp, device="cpu")
    first = backend.to_numpy(rng.normal((4,), dtype=xp.float64))
    np.testing.assert_array_equal(first, backend.to_numpy(backend.make_rng(3).normal((4,), dtype=np.float64)))


def test_cupy_without_a_usable_gpu_is_a_one_line_error():
    reason = backend.cupy_problem()
    if reason is None:
        pytest.skip("CuPy computes here")
    assert "\n" not in reason
    with pytest.raises(RuntimeError, match="backend cupy: ") as info:
        backend.namespace_by_name("cupy")
    assert "\n" not in str(info.value)


def test_dtype_is_answers_as_isdtype_and_remembers(xp):
    from refimpl.backend import dtype_is
    names = [n for n in ("bool", "int8", "int64", "uint8", "float32", "float64") if hasattr(xp, n)]
    for name in names:
        for kind in ("real floating", "integral", "bool", "numeric"):
            dtype = getattr(xp, name)
            want = bool(xp.isdtype(dtype, kind))
            assert dtype_is(xp, dtype, kind) is want
            assert dtype_is(xp, dtype, kind) is want  # the remembered answer
