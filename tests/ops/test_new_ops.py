"""The ops added for autograd parity: values against NumPy, first and second derivatives against
central differences on every backend, and against HIPS autograd (float64, rtol 1e-6)."""

import math

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from conftest import check_op, distinct, rand

from refimpl import ops
from refimpl.autodiff import grad
from refimpl.backend import to_numpy

RTOL = 1e-6


def _positive(xp, rng, shape):
    return rand(xp, rng, shape, 0.5, 2.0)


def _int(xp, values):
    return xp.asarray(np.asarray(values, dtype=np.int64))


# name -> (refimpl f, the same in autograd.numpy (also the values' oracle), unused, input drawers)
CASES = {
    "vector_norm_l2": (lambda x: ops.vector_norm(x, 2, axis=1), lambda x: anp.linalg.norm(x, 2, axis=1),
                       None, [(rand, (4, 5))]),
    "vector_norm_l3": (lambda x: ops.vector_norm(x, 3, axis=1),
                       lambda x: anp.sum(anp.abs(x) ** 3, axis=1) ** (1 / 3), None, [(distinct, (4, 5))]),
    "vector_norm_l1": (lambda x: ops.vector_norm(x, 1), lambda x: anp.sum(anp.abs(x)), None,
                       [(distinct, (3, 4))]),
    "vector_norm_inf": (lambda x: ops.vector_norm(x, math.inf, axis=0),
                        lambda x: anp.max(anp.abs(x), axis=0), None, [(distinct, (3, 4))]),
    "vector_norm_l1.5_all": (lambda x: ops.vector_norm(x, 1.5), lambda x: anp.sum(anp.abs(x) ** 1.5) ** (1 / 1.5),
                             None, [(distinct, (2, 3))]),
    "dot_2d": (ops.dot, anp.dot, None, [(rand, (3, 4)), (rand, (4, 2))]),
    "dot_1d": (ops.dot, anp.dot, None, [(rand, (4,)), (rand, (4,))]),
    "dot_nd_1d": (ops.dot, anp.dot, None, [(rand, (2, 3, 4)), (rand, (4,))]),
    "dot_nd_md": (ops.dot, anp.dot, None, [(rand, (2, 3, 4)), (rand, (2, 4, 5))]),
    "inner": (ops.inner, anp.inner, None, [(rand, (2, 3)), (rand, (4, 3))]),
    "outer": (ops.outer, anp.outer, None, [(rand, (3,)), (rand, (4,))]),
    "tensordot_2": (ops.tensordot, anp.tensordot, None, [(rand, (2, 3, 4)), (rand, (3, 4, 2))]),
    "tensordot_axes": (lambda a, b: ops.tensordot(a, b, axes=((0, 2), (2, 0))),
                       lambda a, b: anp.tensordot(a, b, axes=((0, 2), (2, 0))), None,
                       [(rand, (2, 3, 4)), (rand, (4, 5, 2))]),
    "einsum_bmm": (lambda a, b: ops.einsum("bij,bjk->bik", a, b),
                   lambda a, b: anp.einsum("bij,bjk->bik", a, b), None, [(rand, (2, 3, 4)), (rand, (2, 4, 2))]),
    "einsum_implicit": (lambda a, b: ops.einsum("ij,kj", a, b), lambda a, b: anp.einsum("ij,kj", a, b),
                        None, [(rand, (3, 4)), (rand, (2, 4))]),
    "einsum_outer_sum": (lambda a, b: ops.einsum("i,jk->ij", a, b), lambda a, b: anp.einsum("i,jk->ij", a, b),
                         None, [(rand, (3,)), (rand, (2, 4))]),
    "einsum_trace": (lambda a: ops.einsum("ii", a), anp.trace, None, [(rand, (3, 3))]),
    "einsum_ellipsis": (lambda a, b: ops.einsum("...ij,jk->...ik", a, b),
                        lambda a, b: anp.einsum("...ij,jk->...ik", a, b), None,
                        [(rand, (2, 3, 4)), (rand, (4, 2))]),
    "einsum_three": (lambda a, b, c: ops.einsum("ij,jk,k->i", a, b, c),
                     lambda a, b, c: anp.einsum("ij,jk,k->i", a, b, c), None,
                     [(rand, (2, 3)), (rand, (3, 4)), (rand, (4,))]),
    "matmul_1d_2d": (ops.matmul, anp.matmul, None, [(rand, (3,)), (rand, (3, 2))]),
    "matmul_3d_1d": (ops.matmul, anp.matmul, None, [(rand, (2, 3, 4)), (rand, (4,))]),
    "matmul_1d_1d": (ops.matmul, anp.matmul, None, [(rand, (4,)), (rand, (4,))]),
    "take": (lambda x: ops.take(x, _IDX[0], axis=1), lambda x: x[:, np.array([2, 0, 2, -1])],
             None, [(rand, (3, 4))]),
    "take_flat": (lambda x: ops.take(x, _IDX[1]), lambda x: anp.ravel(x)[np.array([[5, 1], [1, 0]])],
                  None, [(rand, (2, 3))]),
    "take_along_axis": (lambda x: ops.take_along_axis(x, _IDX[2], axis=1),
                        lambda x: x[np.arange(3)[:, None], np.array([[1], [0], [3]])], None,
                        [(rand, (3, 4))]),
    "getitem_arrays": (lambda x: x[_IDX[3], _IDX[4]], lambda x: x[np.array([0, 1, 2, 2]), np.array([3, 0, 1, 1])],
                       None, [(rand, (3, 4))]),
    "var": (lambda x: ops.var(x, axis=0), lambda x: anp.var(x, axis=0), None, [(rand, (4, 3))]),
    "var_ddof": (lambda x: ops.var(x, ddof=1), lambda x: anp.var(x, ddof=1), None, [(rand, (4, 3))]),
    "std": (lambda x: ops.std(x, axis=1, keepdims=True), lambda x: anp.std(x, axis=1, keepdims=True), None,
            [(rand, (4, 3))]),
    "prod": (lambda x: ops.prod(x, axis=1), lambda x: anp.prod(x, axis=1), None, [(rand, (3, 4))]),
    "prod_axes": (lambda x: ops.prod(x, axis=(0, 2), keepdims=True),
                  lambda x: anp.prod(x, axis=(0, 2), keepdims=True), None, [(rand, (2, 3, 2))]),
    "logaddexp": (ops.logaddexp, anp.logaddexp, None, [(rand, (3, 4)), (rand, (4,))]),
    "softplus": (ops.softplus, lambda x: anp.logaddexp(0.0, x), None, [(rand, (3, 4))]),
    "expm1": (ops.expm1, anp.expm1, None, [(rand, (5,))]),
    "log2": (ops.log2, anp.log2, None, [(_positive, (5,))]),
    "sin": (ops.sin, anp.sin, None, [(rand, (5,))]),
    "cos": (ops.cos, anp.cos, None, [(rand, (5,))]),
    "cumulative_sum": (lambda x: ops.cumulative_sum(x, axis=1), lambda x: anp.cumsum(x, axis=1), None,
                       [(rand, (3, 4))]),
    "flip": (lambda x: ops.flip(x, axis=0), lambda x: x[::-1], None, [(rand, (3, 4))]),
    "sort": (ops.sort, anp.sort, None, [(distinct, (7,))]),  # autograd sorts 1-D only
    "sort_2d": (lambda x: ops.sort(x, axis=0, descending=True), None, None, [(distinct, (3, 4))]),
    "pad": (lambda x: ops.pad(x, ((1, 0), (2, 1)), constant_values=0.5),
            lambda x: anp.pad(x, ((1, 0), (2, 1)), "constant", constant_values=0.5), None,
            [(rand, (2, 3))]),
    "power_scalar_base": (lambda y: 2.0 ** y, lambda y: 2.0 ** y, None, [(rand, (4,))]),
}


def _indices(xp):
    return [_int(xp, [2, 0, 2, -1]), _int(xp, [[5, 1], [1, 0]]), _int(xp, [[1], [0], [3]]),
            _int(xp, [0, 1, 2, 2]), _int(xp, [3, 0, 1, 1])]


_IDX = []


@pytest.fixture
def indices(xp):
    _IDX[:] = _indices(xp)
    yield
    _IDX.clear()


def _args(xp, name, seed=0):
    rng = np.random.default_rng(seed)
    return [draw(xp, rng, shape) for draw, shape in CASES[name][3]]


@pytest.mark.parametrize("name", list(CASES))
def test_new_op_values_and_two_orders(xp, name, indices):
    f, oracle, _, _ = CASES[name]
    args = _args(xp, name)
    numpy_args = [to_numpy(a) for a in args]
    expected = oracle(*numpy_args) if oracle else -np.sort(-numpy_args[0], axis=0)
    check_op(xp, f, args, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [name for name in CASES if CASES[name][1]])
def test_new_op_against_autograd(name):
    """First and second derivatives equal autograd's along a fixed cotangent and direction."""
    _IDX[:] = _indices(np)
    f, oracle, _, _ = CASES[name]
    args = _args(np, name, seed=1)
    rng = np.random.default_rng(2)
    u = rng.normal(size=np.shape(oracle(*args)))
    v = [rng.normal(size=np.shape(a)) for a in args]
    for i in range(len(args)):
        def ours(*a):
            return ops.sum(ops.multiply(f(*a), u))

        def theirs(*a):
            return anp.sum(oracle(*a) * u)
        np.testing.assert_allclose(grad(ours, i)(*args), autograd.grad(theirs, i)(*args),
                                   rtol=RTOL, atol=1e-12)

        def ours2(*a):
            return ops.sum(ops.multiply(grad(ours, i)(*a), v[i]))

        def theirs2(*a):
            return anp.sum(autograd.grad(theirs, i)(*a) * v[i])
        np.testing.assert_allclose(grad(ours2, i)(*args), autograd.grad(theirs2, i)(*args),
                                   rtol=RTOL, atol=1e-10)
    _IDX.clear()


@pytest.mark.parametrize("p", [1, 1.5, 2, 3, math.inf])
def test_vector_norm_at_zero_is_zero_with_zero_gradient(xp, p):
    g = xp.asarray(np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 0.5]]))
    value = ops.vector_norm(g, p, axis=1)
    assert to_numpy(value)[0] == 0.0
    d = grad(lambda v: ops.sum(ops.vector_norm(v, p, axis=1)))(g)
    assert np.all(to_numpy(d)[0] == 0.0) and np.all(np.isfinite(to_numpy(d)))
    np.testing.assert_allclose(to_numpy(value)[1], np.linalg.norm([3.0, -4.0, 0.5], p), rtol=1e-12)


@pytest.mark.parametrize("bad", [0.5, 0, -1, "two", math.nan])
def test_vector_norm_rejects_bad_ord(xp, bad):
    with pytest.raises(ValueError, match="ord"):
        ops.vector_norm(xp.ones(3, dtype=xp.float64), bad)


def test_prod_gradient_is_exact_at_zeros(xp):
    x = xp.asarray(np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0]]))
    d = to_numpy(grad(lambda x: ops.sum(ops.prod(x, axis=1)))(x))
    np.testing.assert_array_equal(d, [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def test_take_repeated_indices_accumulate(xp):
    x = rand(xp, np.random.default_rng(3), (4,))
    d = grad(lambda x: ops.sum(ops.take(x, _int(xp, [1, 1, 3, 1]), axis=0)))(x)
    np.testing.assert_array_equal(to_numpy(d), [0.0, 3.0, 0.0, 1.0])


def test_margin_loss_with_integer_array_indexing(xp):
    """logits[arange(N), y]: the classic margin-loss selection, differentiable."""
    logits = rand(xp, np.random.default_rng(4), (5, 3))
    labels = _int(xp, [0, 2, 1, 1, 0])
    rows = xp.arange(5)

    def margin(z):
        return ops.sum(z[rows, labels])
    d = to_numpy(grad(margin)(logits))
    np.testing.assert_array_equal(d, np.eye(3)[to_numpy(labels)])
