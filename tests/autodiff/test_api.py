"""grad, value_and_grad, vjp, jacobian and stop_gradient: semantics, closed forms, higher
orders, and what the functional interface promises (no mutation, one batched pass, pruning)."""

import numpy as np
import pytest
from conftest import assert_namespace, rand

from refimpl import ops, tracer
from refimpl.autodiff import (check_grads, grad, jacobian, stop_gradient, value_and_grad,
                              value_and_jacobian, vjp)
from refimpl.backend import to_numpy


def _assert_like(result, like, xp):
    """Namespace, dtype and shape of ``result`` are those of ``like``."""
    assert_namespace(result, xp)
    assert result.dtype == like.dtype
    assert tuple(result.shape) == tuple(like.shape)


def test_grad_and_value_and_grad(xp):
    x = rand(xp, np.random.default_rng(0), (3, 4))
    f = lambda x: ops.sum(ops.tanh(x) * x)  # noqa: E731
    value, g = value_and_grad(f)(x)
    _assert_like(g, x, xp)
    x_ = to_numpy(x)
    np.testing.assert_allclose(float(value), np.sum(np.tanh(x_) * x_), rtol=1e-14)
    closed = np.tanh(x_) + x_ * (1 - np.tanh(x_) ** 2)
    np.testing.assert_allclose(to_numpy(g), closed, rtol=1e-13)
    np.testing.assert_allclose(to_numpy(grad(f)(x)), closed, rtol=1e-13)


def test_grad_argnum_and_keyword_arguments(xp):
    rng = np.random.default_rng(1)
    w, x = rand(xp, rng, (4, 2)), rand(xp, rng, (3, 4))

    def f(w, x, *, scale):
        return ops.sum(ops.matmul(x, w)) * scale
    gw, gx = grad(f, argnum=0)(w, x, scale=2.0), grad(f, argnum=1)(w, x, scale=2.0)
    _assert_like(gw, w, xp)
    _assert_like(gx, x, xp)
    # d/dw sum(x w) = column sums of x in every column; d/dx = row sums of w in every row
    np.testing.assert_allclose(to_numpy(gw), 2.0 * np.tile(np.sum(to_numpy(x), axis=0)[:, None], 2))
    np.testing.assert_allclose(to_numpy(gx), 2.0 * np.tile(np.sum(to_numpy(w), axis=1), (3, 1)))


def test_vjp_returns_one_gradient_per_argument_and_can_be_reused(xp):
    rng = np.random.default_rng(2)
    a, b = rand(xp, rng, (3, 4)), rand(xp, rng, (4, 2))
    out, vjp_fn = vjp(lambda a, b: ops.tanh(ops.matmul(a, b)), a, b)
    _assert_like(out, xp.zeros((3, 2), dtype=xp.float64), xp)
    d = 1 - np.tanh(to_numpy(a) @ to_numpy(b)) ** 2
    for seed in (3, 4):  # two backward passes over one forward pass
        g = rand(xp, np.random.default_rng(seed), (3, 2))
        ga, gb = vjp_fn(g)
        _assert_like(ga, a, xp)
        _assert_like(gb, b, xp)
        np.testing.assert_allclose(to_numpy(ga), (to_numpy(g) * d) @ to_numpy(b).T, rtol=1e-12)
        np.testing.assert_allclose(to_numpy(gb), to_numpy(a).T @ (to_numpy(g) * d), rtol=1e-12)


def test_unbatched_jacobian(xp):
    rng = np.random.default_rng(5)
    a, x = rand(xp, rng, (3, 4)), rand(xp, rng, (4,))
    value, jac = value_and_jacobian(lambda x: ops.tanh(ops.matmul(a, ops.reshape(x, shape=(4, 1)))),
                                    batched=False)(x)
    assert_namespace(jac, xp)
    assert tuple(jac.shape) == (3, 1, 4)
    y = np.tanh(to_numpy(a) @ to_numpy(x))
    np.testing.assert_allclose(to_numpy(value)[:, 0], y, rtol=1e-14)
    np.testing.assert_allclose(to_numpy(jac)[:, 0, :], (1 - y ** 2)[:, None] * to_numpy(a),
                               rtol=1e-12)


def test_stop_gradient(xp):
    x = rand(xp, np.random.default_rng(6), (5,))
    g = grad(lambda x: ops.sum(x * stop_gradient(x)))(x)
    np.testing.assert_allclose(to_numpy(g), to_numpy(x), rtol=1e-15)  # not 2x
    params = {"a": x, "b": x * 2.0}
    g = grad(lambda p: ops.sum(p["a"] * p["b"]) + ops.sum(p["a"] * stop_gradient(p)["a"]))(params)
    np.testing.assert_allclose(to_numpy(g["a"]), to_numpy(params["b"] + params["a"]), rtol=1e-15)
    np.testing.assert_allclose(to_numpy(g["b"]), to_numpy(params["a"]), rtol=1e-15)
    assert stop_gradient(x) is x  # a raw array passes through untouched


def test_dict_arguments_give_dict_gradients(xp):
    rng = np.random.default_rng(7)
    params = {"dense.weight": rand(xp, rng, (4, 3)), "dense.bias": rand(xp, rng, (3,)),
              "unused": rand(xp, rng, (2,))}
    x = rand(xp, rng, (5, 4))

    def loss(params, x):
        return ops.sum(ops.square(ops.matmul(x, params["dense.weight"]) + params["dense.bias"]))
    value, g = value_and_grad(loss)(params, x)
    assert list(g) == list(params)
    for key in params:
        _assert_like(g[key], params[key], xp)
    w, b, x_ = to_numpy(params["dense.weight"]), to_numpy(params["dense.bias"]), to_numpy(x)
    residual = 2 * (x_ @ w + b)
    np.testing.assert_allclose(float(value), np.sum((x_ @ w + b) ** 2), rtol=1e-13)
    np.testing.assert_allclose(to_numpy(g["dense.weight"]), x_.T @ residual, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(g["dense.bias"]), residual.sum(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(to_numpy(g["unused"]), np.zeros(2))
    check_grads(loss, (params, x), order=2)


def test_reused_node_accumulates(xp):
    x = rand(xp, np.random.default_rng(8), (4,))
    steps = 3

    def f(x):
        c = x
        for _ in range(steps):
            c = c + c * x  # c is used twice: both gradients must add up
        return ops.sum(c)
    # c_n = x (1 + x)^n, so dc_n/dx = (1 + x)^n + n x (1 + x)^(n - 1)
    x_ = to_numpy(x)
    expected = (1 + x_) ** steps + steps * x_ * (1 + x_) ** (steps - 1)
    np.testing.assert_allclose(to_numpy(grad(f)(x)), expected, rtol=1e-13)
    n = steps
    second = 2 * n * (1 + x_) ** (n - 1) + n * (n - 1) * x_ * (1 + x_) ** (n - 2)
    np.testing.assert_allclose(to_numpy(grad(lambda x: ops.sum(grad(f)(x)))(x)), second, rtol=1e-12)


def test_gradient_of_a_constant_function_is_zeros(xp):
    x = rand(xp, np.random.default_rng(9), (2, 3))
    for f in (lambda x: ops.sum(xp.ones((2, 3), dtype=xp.float64)), lambda x: 3.0,
              lambda x: ops.sum(stop_gradient(x))):
        g = grad(f)(x)
        _assert_like(g, x, xp)
        np.testing.assert_array_equal(to_numpy(g), np.zeros((2, 3)))


def test_higher_orders_of_a_polynomial(xp):
    x = xp.asarray(0.7, dtype=xp.float64)
    f = lambda x: x ** 4 - 2.0 * x ** 3 + 3.0 * x  # noqa: E731
    d1, d2, d3 = grad(f), grad(grad(f)), grad(grad(grad(f)))
    np.testing.assert_allclose(float(d1(x)), 4 * 0.7 ** 3 - 6 * 0.7 ** 2 + 3, rtol=1e-14)
    np.testing.assert_allclose(float(d2(x)), 12 * 0.7 ** 2 - 12 * 0.7, rtol=1e-14)
    np.testing.assert_allclose(float(d3(x)), 24 * 0.7 - 12, rtol=1e-14)
    assert_namespace(d3(x), xp)
    # elementwise: the gradient of sum(d/dx sum(x^4)) is 12 x^2
    v = rand(xp, np.random.default_rng(10), (5,))
    g2 = grad(lambda v: ops.sum(grad(lambda v: ops.sum(v ** 4))(v)))(v)
    np.testing.assert_allclose(to_numpy(g2), 12 * to_numpy(v) ** 2, rtol=1e-13)


def test_hessian_vector_product_equals_the_explicit_hessian(xp):
    rng = np.random.default_rng(11)
    a, x, v = rand(xp, rng, (3, 4)), rand(xp, rng, (4,)), rand(xp, rng, (4,))

    def f(x):
        return ops.logsumexp(ops.tanh(ops.matmul(a, ops.reshape(x, shape=(4, 1)))), axis=0)[0]
    hvp = grad(lambda x: ops.sum(grad(f)(x) * v))(x)
    hessian = jacobian(grad(f), batched=False)(x)
    assert tuple(hessian.shape) == (4, 4)
    _assert_like(hvp, x, xp)
    h = to_numpy(hessian)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(to_numpy(hvp), h @ to_numpy(v), rtol=1e-12, atol=1e-15)


def _mlp(params, x):
    hidden = ops.tanh(ops.matmul(x, params["w1"]) + params["b1"])
    return ops.matmul(hidden, params["w2"]) + params["b2"]


def _mlp_params(xp, rng, d=4, h=5, k=3):
    return {"w1": rand(xp, rng, (d, h)), "b1": rand(xp, rng, (h,)),
            "w2": rand(xp, rng, (h, k)), "b2": rand(xp, rng, (k,))}


def test_gradient_norm_penalty_is_differentiable(xp):
    rng = np.random.default_rng(12)
    params, x = _mlp_params(xp, rng), rand(xp, rng, (6, 4))
    labels = xp.asarray(rng.integers(0, 3, size=6))

    def loss(params, x):
        return ops.mean(ops.softmax_cross_entropy(_mlp(params, x), labels))

    def penalty(params):  # ||grad_x loss||_2, a function of the parameters
        return ops.sqrt(ops.sum(ops.square(grad(loss, argnum=1)(params, x))))
    value, g = value_and_grad(penalty)(params)
    assert float(value) > 0
    for key in params:
        _assert_like(g[key], params[key], xp)
    check_grads(penalty, (params,), order=1)


def test_batched_jacobian_of_a_softmax_mlp(xp):
    rng = np.random.default_rng(13)
    params, x = _mlp_params(xp, rng), rand(xp, rng, (6, 4))
    f = lambda x: ops.softmax(_mlp(params, x), axis=-1)  # noqa: E731
    value, jac = value_and_jacobian(f)(x)
    assert_namespace(jac, xp)
    assert tuple(jac.shape) == (6, 3, 4)
    np.testing.assert_allclose(to_numpy(value), to_numpy(f(x)), rtol=1e-14)
    full = to_numpy(jacobian(f, batched=False)(x))  # (N, K, N, D)
    assert full.shape == (6, 3, 6, 4)
    blocks = np.stack([full[n, :, n, :] for n in range(6)])
    np.testing.assert_allclose(to_numpy(jac), blocks, rtol=1e-12, atol=1e-15)
    off_diagonal = full.copy()
    for n in range(6):
        off_diagonal[n, :, n, :] = 0.0
    np.testing.assert_array_equal(off_diagonal, 0.0)  # rows are independent examples


def test_batched_jacobian_shares_one_forward_pass(xp):
    rng = np.random.default_rng(14)
    params, x = _mlp_params(xp, rng), rand(xp, rng, (6, 4))
    batch_sizes = []

    def f(x):
        batch_sizes.append(x.shape[0])
        return ops.softmax(_mlp(params, x), axis=-1)
    jacobian(f)(x)
    assert batch_sizes == [6], f"expected one forward pass on the N = 6 examples, got {batch_sizes}"


def test_nothing_mutates_its_inputs(xp):
    rng = np.random.default_rng(15)
    x, w = rand(xp, rng, (2, 3, 5, 5)), rand(xp, rng, (4, 3, 3, 3))
    params = _mlp_params(xp, rng)
    flat = rand(xp, rng, (6, 4))
    before = [to_numpy(a).copy() for a in (x, w, flat, *params.values())]
    labels = xp.asarray([0, 1, 2, 0, 1, 2])

    def cnn(x, w):
        h = ops.relu(ops.conv2d(x, w, stride=1, padding=1))
        h = ops.max_pool2d(h, 2) + ops.max_pool2d(h, 3, 2, padding=1)[..., :2, :2]
        return ops.sum(ops.log_softmax(ops.flatten(h)[:, :5]))
    grad(cnn)(x, w)
    grad(cnn, argnum=1)(x, w)
    inner = grad(lambda x: ops.sum(ops.square(ops.getitem(x, (0, None, slice(1, 3))))))
    grad(lambda x: ops.sum(ops.tanh(inner(x))))(x)
    grad(lambda p: ops.mean(ops.softmax_cross_entropy(_mlp(p, flat), labels)))(params)
    grad(lambda x: ops.sum(ops.sqrt(ops.sum(ops.square(grad(
        lambda x: ops.sum(ops.tanh(_mlp(params, x))))(x))))))(flat)
    jacobian(lambda x: ops.softmax(_mlp(params, x)))(flat)
    for a, b in zip(before, (x, w, flat, *params.values())):
        np.testing.assert_array_equal(to_numpy(b), a)


def test_input_gradient_skips_the_weight_gradient(xp, monkeypatch):
    rng = np.random.default_rng(16)
    w, x = rand(xp, rng, (4, 3)), rand(xp, rng, (5, 4))
    calls = []
    vjp_method = tracer.primitive.vjp

    def counting_vjp(self, argnum, *args):
        calls.append((self.__name__, argnum))
        return vjp_method(self, argnum, *args)
    monkeypatch.setattr(tracer.primitive, "vjp", counting_vjp)
    g = grad(lambda w, x: ops.sum(ops.tanh(ops.matmul(x, w))), argnum=1)(w, x)
    d = 1 - np.tanh(to_numpy(x) @ to_numpy(w)) ** 2
    np.testing.assert_allclose(to_numpy(g), d @ to_numpy(w).T, rtol=1e-12)
    assert ("matmul", 0) in calls  # the input gradient ...
    assert ("matmul", 1) not in calls  # ... and no weight gradient


@pytest.mark.parametrize("bad", ["vjp", "grad"])
def test_api_accepts_only_floating_arrays_floats_or_trees(xp, bad):
    with pytest.raises(TypeError, match=r"argument 0.*\[1\]"):
        if bad == "vjp":
            vjp(lambda x: x[0], [1.0, "two"])
        else:
            grad(lambda x: ops.sum(x[0]))((3.0, None))
