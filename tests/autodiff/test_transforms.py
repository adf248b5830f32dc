"""hessian, hvp, jvp, elementwise_grad, grad over several arguments and trees, has_aux: closed
forms, HIPS autograd (float64, rtol 1e-6), and check_grads at orders 1 and 2 on every backend."""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from conftest import assert_namespace, rand

from refimpl import ops
from refimpl.autodiff import (check_grads, elementwise_grad, grad, hessian, hvp, jvp,
                              value_and_grad, vjp)
from refimpl.backend import to_numpy

RTOL = 1e-6


def f_ours(x):
    return ops.sum(ops.tanh(x) ** 3 + ops.sin(x) * ops.sum(x * x))


def f_theirs(x):
    return anp.sum(anp.tanh(x) ** 3 + anp.sin(x) * anp.sum(x * x))


def g_ours(w, x):
    return ops.sum(ops.exp(ops.matmul(x, w)) * ops.sum(w))


def test_hessian_against_autograd(xp):
    x = rand(xp, np.random.default_rng(0), (4,))
    h = hessian(f_ours)(x)
    assert_namespace(h, xp)
    assert tuple(h.shape) == (4, 4)
    np.testing.assert_allclose(to_numpy(h), autograd.hessian(f_theirs)(to_numpy(x)), rtol=RTOL)
    np.testing.assert_allclose(to_numpy(h), to_numpy(h).T, rtol=1e-12)  # symmetric


def test_hvp_against_autograd_and_hessian(xp):
    rng = np.random.default_rng(1)
    x, v = rand(xp, rng, (5,)), rand(xp, rng, (5,))
    hv = hvp(f_ours)(x, v)
    assert_namespace(hv, xp)
    theirs = autograd.hessian_vector_product(f_theirs)(to_numpy(x), to_numpy(v))
    np.testing.assert_allclose(to_numpy(hv), theirs, rtol=RTOL)
    np.testing.assert_allclose(to_numpy(hv), to_numpy(hessian(f_ours)(x)) @ to_numpy(v), rtol=1e-10)


def test_hvp_in_a_second_argument_and_twice_differentiable(xp):
    rng = np.random.default_rng(2)
    w, x, v = rand(xp, rng, (3, 2)), rand(xp, rng, (4, 3)), rand(xp, rng, (3, 2))
    hv = hvp(g_ours, argnum=0)(w, x, v)
    theirs = autograd.hessian_vector_product(
        lambda w, x: anp.sum(anp.exp(x @ w) * anp.sum(w)))(to_numpy(w), to_numpy(x), to_numpy(v))
    np.testing.assert_allclose(to_numpy(hv), theirs, rtol=RTOL)
    check_grads(lambda w: hvp(g_ours)(w, x, v), [w], order=2)


def test_jvp_against_autograd_and_vjp(xp):
    rng = np.random.default_rng(3)
    a, b = rand(xp, rng, (3, 4)), rand(xp, rng, (4, 2))
    ta, tb = rand(xp, rng, (3, 4)), rand(xp, rng, (4, 2))

    def f(a, b):
        return ops.tanh(ops.matmul(a, b))
    out, tangent = jvp(f, (a, b), (ta, tb))
    assert_namespace(tangent, xp)
    assert tuple(tangent.shape) == (3, 2)
    d = 1 - np.tanh(to_numpy(a) @ to_numpy(b)) ** 2
    closed = d * (to_numpy(ta) @ to_numpy(b) + to_numpy(a) @ to_numpy(tb))
    np.testing.assert_allclose(to_numpy(tangent), closed, rtol=1e-12)
    theirs = autograd.make_jvp(lambda a: anp.tanh(a @ to_numpy(b)))(to_numpy(a))(to_numpy(ta))[1]
    np.testing.assert_allclose(to_numpy(jvp(lambda a: f(a, b), (a,), (ta,))[1]), theirs, rtol=RTOL)
    check_grads(lambda a: jvp(lambda z: f(z, b), (a,), (ta,))[1], [a], order=2)


def test_elementwise_grad_against_autograd(xp):
    x = rand(xp, np.random.default_rng(4), (6,))
    d = elementwise_grad(lambda x: ops.tanh(x) * ops.exp(x))(x)
    theirs = autograd.elementwise_grad(lambda x: anp.tanh(x) * anp.exp(x))(to_numpy(x))
    np.testing.assert_allclose(to_numpy(d), theirs, rtol=RTOL)
    d2 = elementwise_grad(elementwise_grad(ops.sin))(x)
    np.testing.assert_allclose(to_numpy(d2), -np.sin(to_numpy(x)), rtol=1e-12)


@pytest.mark.parametrize("keyword", ["argnum", "argnums"])
def test_grad_over_several_arguments(xp, keyword):
    rng = np.random.default_rng(5)
    w, x = rand(xp, rng, (3, 2)), rand(xp, rng, (4, 3))
    gw, gx = grad(g_ours, **{keyword: (0, 1)})(w, x)
    np.testing.assert_allclose(to_numpy(gw), to_numpy(grad(g_ours, 0)(w, x)), rtol=1e-14)
    np.testing.assert_allclose(to_numpy(gx), to_numpy(grad(g_ours, 1)(w, x)), rtol=1e-14)
    theirs = autograd.grad(lambda w, x: anp.sum(anp.exp(x @ w) * anp.sum(w)), 1)(
        to_numpy(w), to_numpy(x))
    np.testing.assert_allclose(to_numpy(gx), theirs, rtol=RTOL)
    check_grads(lambda w, x: ops.sum(grad(g_ours, argnum=(0, 1))(w, x)[1]), [w, x], order=2)


@pytest.mark.parametrize("container", [tuple, list, dict])
def test_grad_over_tuples_lists_and_dicts(xp, container):
    rng = np.random.default_rng(6)
    w, b = rand(xp, rng, (3, 2)), rand(xp, rng, (2,))
    params = {"w": w, "b": b} if container is dict else container([w, (b,)])

    def loss(params, x):
        w, b = (params["w"], params["b"]) if isinstance(params, dict) else (params[0], params[1][0])
        return ops.sum(ops.tanh(ops.matmul(x, w) + b))
    x = rand(xp, rng, (4, 3))
    g = grad(loss)(params, x)
    assert type(g) is container
    gw, gb = (g["w"], g["b"]) if container is dict else (g[0], g[1][0])
    d = 1 - np.tanh(to_numpy(x) @ to_numpy(w) + to_numpy(b)) ** 2
    np.testing.assert_allclose(to_numpy(gw), to_numpy(x).T @ d, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(gb), d.sum(axis=0), rtol=1e-12)
    check_grads(loss, [params, x], order=2)


def test_value_and_grad_with_aux(xp):
    rng = np.random.default_rng(7)
    w, x = rand(xp, rng, (3, 2)), rand(xp, rng, (4, 3))
    labels = xp.asarray(np.array([0, 1, 1, 0]))

    def loss(w):
        logits = ops.matmul(x, w)
        return ops.mean(ops.softmax_cross_entropy(logits, labels)), {"logits": logits}
    (value, aux), g = value_and_grad(loss, has_aux=True)(w)
    assert_namespace(aux["logits"], xp)
    np.testing.assert_allclose(to_numpy(aux["logits"]), to_numpy(x) @ to_numpy(w), rtol=1e-14)
    np.testing.assert_allclose(to_numpy(g), to_numpy(grad(lambda w: loss(w)[0])(w)), rtol=1e-14)
    g2, aux2 = grad(loss, has_aux=True)(w)
    np.testing.assert_allclose(to_numpy(g2), to_numpy(g), rtol=1e-14)
    assert type(aux2["logits"]) is type(x)  # no derivative: a raw array, not a traced value
    with pytest.raises(TypeError, match="has_aux"):
        grad(lambda w: ops.sum(w), has_aux=True)(w)


def test_vjp_reused_for_jacobian_rows_matches_autograd():
    x = np.random.default_rng(8).normal(size=(3,))
    out, vjp_fn = vjp(lambda x: ops.sin(x) * ops.sum(x), x)
    rows = np.stack([vjp_fn(e)[0] for e in np.eye(3)])
    np.testing.assert_allclose(rows, autograd.jacobian(lambda x: anp.sin(x) * anp.sum(x))(x), rtol=RTOL)
