"""Code written as autograd and NumPy users write it: scalars, array methods on traced values,
edge values of powers, and arrays created on the inputs' device."""

import math

import array_api_strict
import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from conftest import assert_namespace, rand

from refimpl import ops, tracer
from refimpl.autodiff import check_grads, elementwise_grad, grad, hessian, jacobian, jvp, vjp
from refimpl.backend import to_numpy


def tanh_by_hand(x):
    y = ops.exp(-2.0 * x)
    return (1.0 - y) / (1.0 + y)


def test_python_and_numpy_scalars_are_0d_arrays():
    d = grad(tanh_by_hand)(1.1)
    assert d.dtype == np.float64 and np.shape(d) == ()  # NumPy: a 0-d array or NumPy scalar
    np.testing.assert_allclose(d, autograd.grad(lambda x: anp.tanh(x))(1.1), rtol=1e-12)
    np.testing.assert_allclose(grad(grad(tanh_by_hand))(np.float64(0.4)),
                               autograd.grad(autograd.grad(anp.tanh))(0.4), rtol=1e-10)
    for op in (ops.tanh, ops.exp, ops.log1p, ops.sin, ops.sqrt, ops.mean, ops.sum, ops.abs):
        out = op(0.3)
        assert out.dtype == np.float64 and np.shape(out) == ()
    assert float(ops.mean(3.5)) == 3.5
    check_grads(tanh_by_hand, [0.3], order=2)
    check_grads(lambda x, y: x ** y, [1.3, 0.7], order=2)


def test_scalar_base_power_with_traced_exponent(xp):
    y = rand(xp, np.random.default_rng(0), (4,))
    d = grad(lambda y: ops.sum(2.0 ** y))(y)
    assert_namespace(d, xp)
    np.testing.assert_allclose(to_numpy(d), np.log(2.0) * 2.0 ** to_numpy(y), rtol=1e-12)
    check_grads(lambda y: 2.0 ** y, [y], order=2)
    y32 = xp.astype(y, xp.float32)
    assert grad(lambda y: ops.sum(3.0 ** y))(y32).dtype == xp.float32


def test_power_edge_values(xp):
    zero = xp.zeros(3, dtype=xp.float64)
    assert np.all(to_numpy(grad(lambda x: ops.sum(x ** 0.0))(zero)) == 0.0)  # d/dx x**0 at 0
    y0 = xp.zeros(3, dtype=xp.float64)
    assert np.all(to_numpy(grad(lambda x: ops.sum(ops.power(x, y0)))(zero)) == 0.0)
    y = xp.asarray(np.array([1.5, 2.0, 3.0]))
    dy = to_numpy(grad(lambda y: ops.sum(ops.power(zero, y)))(y))  # 0**y: constant in y > 0
    np.testing.assert_array_equal(dy, [0.0, 0.0, 0.0])
    theirs = autograd.grad(lambda y: anp.sum(anp.power(np.zeros(3), y)))(np.array([1.5, 2.0, 3.0]))
    np.testing.assert_array_equal(dy, theirs)
    np.testing.assert_array_equal(to_numpy(grad(lambda x: ops.sum(x ** 2))(zero)), [0.0] * 3)


def test_array_methods_on_traced_values(xp):
    rng = np.random.default_rng(1)
    x = rand(xp, rng, (2, 3, 4))
    x_ = to_numpy(x)
    cases = {
        "T": (lambda x: x[0, ...].T, lambda x: x[0].T),
        "mT": (lambda x: x.mT, lambda x: np.swapaxes(x, -1, -2)),
        "reshape": (lambda x: x.reshape(6, -1), lambda x: x.reshape(6, -1)),
        "reshape_tuple": (lambda x: x.reshape((4, 6)), lambda x: x.reshape((4, 6))),
        "sum": (lambda x: x.sum(axis=1), lambda x: x.sum(axis=1)),
        "mean": (lambda x: x.mean(axis=(0, 2), keepdims=True), lambda x: x.mean(axis=(0, 2), keepdims=True)),
        "max": (lambda x: x.max(axis=-1), lambda x: x.max(axis=-1)),
        "flatten": (lambda x: x.flatten(), lambda x: x.flatten()),
        "squeeze": (lambda x: x[:, :1, :].squeeze(), lambda x: x[:, :1, :].squeeze()),
        "var": (lambda x: x.var(axis=0), lambda x: x.var(axis=0)),
    }
    for name, (ours, numpy_form) in cases.items():
        out = vjp(ours, x)[0]  # methods of traced values (raw strict arrays lack some)
        np.testing.assert_allclose(to_numpy(out), numpy_form(x_), rtol=1e-6, err_msg=name)
        if xp is np or name in ("T", "mT"):  # central differences call f on raw arrays, and
            check_grads(ours, [x], order=2)  # raw strict arrays have only .T and .mT
    g32 = grad(lambda x: ops.sum(x.astype(xp.float32) * 2.0))(x)
    assert g32.dtype == xp.float64
    np.testing.assert_array_equal(to_numpy(g32), np.full((2, 3, 4), 2.0))
    assert ops.flatten(x).shape == (2, 12)  # the op keeps the batch axis
    assert grad(lambda x: ops.sum(x.flatten()))(x).shape == (2, 3, 4)


def test_autograd_example_ported_unchanged_but_for_the_import():
    """autograd's README logistic regression, with `np` being refimpl.ops."""
    np_ = ops

    def sigmoid(x):
        return 0.5 * (np_.tanh(x / 2.) + 1)

    def logistic_predictions(weights, inputs):
        return sigmoid(np_.dot(inputs, weights))

    def training_loss(weights, inputs, targets):
        preds = logistic_predictions(weights, inputs)
        label_probabilities = preds * targets + (1 - preds) * (1 - targets)
        return -np_.sum(np_.log(label_probabilities))
    inputs = np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30],
                       [0.74, -2.49, 1.39]])
    targets = np.array([True, True, False, True])
    weights = np.array([0.0, 0.0, 0.0])
    ours = grad(training_loss)(weights, inputs, targets)
    theirs = autograd.grad(lambda w: -anp.sum(anp.log(
        0.5 * (anp.tanh(anp.dot(inputs, w) / 2.) + 1) * targets
        + (1 - 0.5 * (anp.tanh(anp.dot(inputs, w) / 2.) + 1)) * (1 - targets))))(weights)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_primitive_without_a_vjp_names_itself():
    @ops.primitive
    def cube_root(x):
        return np.cbrt(x)
    with pytest.raises(NotImplementedError, match="cube_root"):
        grad(lambda x: ops.sum(cube_root(x)))(np.ones(3))


def test_argnum_out_of_range_and_wrong_cotangent(xp):
    x = rand(xp, np.random.default_rng(2), (3, 2))
    with pytest.raises(ValueError, match="argnum 2"):
        grad(lambda a, b: ops.sum(a * b), argnum=2)(x, x)
    with pytest.raises(ValueError, match="argnum 5"):
        grad(lambda a, b: ops.sum(a * b), argnum=(0, 5))(x, x)
    _, vjp_fn = vjp(ops.tanh, x)
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        vjp_fn(xp.ones((3,), dtype=xp.float64))
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        vjp_fn(xp.ones((1, 3, 2), dtype=xp.float64))


def test_batched_jacobian_of_a_0d_input_is_a_clear_error(xp):
    with pytest.raises(ValueError, match="0-d input.*batched=False"):
        jacobian(ops.tanh)(xp.asarray(0.5))
    full = jacobian(lambda x: ops.tanh(x) * 2.0, batched=False)(xp.asarray(0.5, dtype=xp.float64))
    np.testing.assert_allclose(to_numpy(full), 2 * (1 - np.tanh(0.5) ** 2), rtol=1e-12)


def test_tensor_size_is_an_int():
    box = tracer.Tensor(np.ones((2, 3)), 1, None)
    assert box.size == 6 and isinstance(box.size, int)


def _on_device1(values):
    return array_api_strict.asarray(values, device=array_api_strict.Device("device1"))


def test_new_ops_and_transforms_keep_the_device():
    """array-api-strict's second device refuses to mix devices, like CuPy on two GPUs."""
    rng = np.random.default_rng(3)
    x = _on_device1(rng.uniform(-1, 1, size=(3, 4)))
    w = _on_device1(rng.uniform(-1, 1, size=(4, 2)))
    idx = _on_device1(np.array([2, 0, 1]))
    fs = [
        lambda x: ops.vector_norm(x, 3, axis=1), lambda x: ops.vector_norm(x, 2),
        lambda x: ops.einsum("ij,jk->ik", x, w), lambda x: ops.tensordot(x, w, axes=1),
        lambda x: ops.take(x, idx, axis=1), lambda x: x[idx, idx], lambda x: ops.sort(x),
        lambda x: ops.prod(x, axis=0), lambda x: ops.pad(x, 1), lambda x: ops.var(x),
        lambda x: ops.cumulative_sum(x, axis=1), lambda x: ops.logaddexp(x, 0.0),
        lambda x: 2.0 ** x, lambda x: ops.linear(x, w, w[0, ...]), lambda x: ops.matmul(x[0, ...], w),
        lambda x: x[:, 1:3], lambda x: ops.softplus(x).T,
    ]
    device = array_api_strict.Device("device1")
    for f in fs:
        out, vjp_fn = vjp(f, x)
        assert out.device == device
        (g,) = vjp_fn(array_api_strict.ones(out.shape, dtype=out.dtype, device=device))
        assert g.device == device
        check_grads(f, [x], order=2)
    assert jacobian(lambda x: ops.tanh(ops.matmul(x, w)))(x).device == device
    assert jacobian(ops.sin, batched=False)(x[0, ...]).device == device
    assert hessian(lambda x: ops.sum(ops.sin(x)))(x[0, ...]).device == device
    assert jvp(ops.tanh, (x,), (x,))[1].device == device
    assert elementwise_grad(ops.cos)(x).device == device
    assert grad(lambda x: ops.sum(ops.vector_norm(x, math.inf, axis=1)))(x).device == device


def test_scalar_operands_of_binary_ops(xp):
    x = xp.asarray(np.array([0.1, 0.9]))
    assert float(ops.maximum(0.3, 0.5)) == 0.5 and ops.logaddexp(0.0, 0.0).dtype == np.float64
    np.testing.assert_array_equal(to_numpy(grad(lambda x: ops.sum(ops.maximum(x, 0.5)))(x)), [0, 1])
    np.testing.assert_array_equal(to_numpy(grad(lambda x: ops.sum(ops.minimum(0.5, x)))(x)), [1, 0])
    assert ops.tanh(np.float32(0.3)).dtype == np.float32
    x32 = xp.astype(x, xp.float32)
    assert ops.maximum(x32, 0.5).dtype == xp.float32  # a scalar never promotes the array


def test_every_vjp_is_a_named_function():
    """Tracebacks through a backward pass name the VJP (conv.py's are `speed`'s to name)."""
    import refimpl.ops as package  # noqa: PLC0415
    found = 0
    for module in vars(package).values():
        if not getattr(module, "__name__", "").startswith("refimpl.ops.") or "conv" in module.__name__:
            continue
        for prim in vars(module).values():
            if isinstance(prim, tracer.primitive):
                for vjp_function in [*prim.vjps, prim.vjp_any]:
                    if vjp_function is not None:
                        found += 1
                        assert vjp_function.__name__ != "<lambda>", prim
    assert found > 40


def test_numpy_style_keys(xp):
    """Negative steps, lists of ints and boolean masks, as NumPy users index."""
    rng = np.random.default_rng(5)
    x = rand(xp, rng, (3, 4, 5))
    x_ = to_numpy(x)
    mask = xp.asarray(x_[..., 0] > 0)
    keys = [(slice(None, None, -1),), (Ellipsis, slice(4, 0, -2)), (1, None, slice(None, None, -3)),
            (slice(2, None, -1), 0, slice(None))]
    for key in keys:
        np.testing.assert_array_equal(to_numpy(vjp(lambda z: z[key], x)[0]), x_[key], err_msg=str(key))
        check_grads(lambda z: ops.getitem(z, key), [x], order=2)  # raw strict arrays refuse
    np.testing.assert_array_equal(to_numpy(vjp(lambda z: z[[0, 2]], x)[0]), x_[[0, 2]])
    np.testing.assert_array_equal(to_numpy(vjp(lambda z: z[mask], x)[0]), x_[x_[..., 0] > 0])
    check_grads(lambda z: ops.getitem(z, [2, 0, 2]), [x], order=2)
    d = to_numpy(grad(lambda z: ops.sum(z[mask]))(x))
    np.testing.assert_array_equal(d, np.broadcast_to((x_[..., :1] > 0), x_.shape).astype(float))


def test_numpy_scalar_operands_beside_other_libraries(xp):
    x = xp.asarray(np.array([0.1, 0.9]), dtype=xp.float32)
    d = grad(lambda x: ops.sum(np.float64(2.0) * x + x ** np.float32(2.0)))(x)
    assert_namespace(d, xp)
    if xp is not np:  # NumPy itself promotes float32 * numpy.float64 to float64 (NEP 50)
        assert d.dtype == xp.float32  # elsewhere the NumPy scalar is taken as a Python number
    np.testing.assert_allclose(to_numpy(d), [2.2, 3.8], rtol=1e-6)
