"""SGD (Torch's optim.sgd) and Adam against plain-NumPy re-implementations over several steps,
the max-norm constraint, the piecewise-constant schedule, and argument errors."""

import numpy as np
import pytest
from conftest import assert_namespace, rand
from hypothesis import given, settings
from hypothesis import strategies as st

from refimpl import nn
from refimpl.backend import to_numpy

SHAPES = {"dense1.weight": (4, 3), "dense1.bias": (3,), "conv1.weight": (2, 3, 2, 2)}
STEPS = 5


def _problem(xp, seed=0):
    """Parameters and one gradient dict per step, float64, in xp (and in NumPy)."""
    rng = np.random.default_rng(seed)
    params = {k: rand(xp, rng, s) for k, s in SHAPES.items()}
    grads = [{k: rand(xp, rng, s) for k, s in SHAPES.items()} for _ in range(STEPS)]
    return params, grads


def _np(tree):
    return {k: to_numpy(v).copy() for k, v in tree.items()}


def _run(optimizer, params, grads, lrs=None):
    """Apply ``optimizer`` once per gradient dict; check what must not change on the way."""
    state = optimizer.init(params)
    assert state["step"] == 0
    for t, g in enumerate(grads):
        before, g_before = _np(params), _np(g)
        new, state = optimizer.update(params, g, state, **({} if lrs is None else {"lr": lrs[t]}))
        for key in params:  # neither the parameters nor the gradients passed in are changed
            np.testing.assert_array_equal(to_numpy(params[key]), before[key])
            np.testing.assert_array_equal(to_numpy(g[key]), g_before[key])
        assert list(new) == list(params) and state["step"] == t + 1
        params = new
    return params, state


def torch_sgd(params, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
              lr_decay=0.0, lrs=None):
    """Torch 7's optim.sgd, transcribed: the first step's buffer is the gradient itself."""
    params, buffers = _np(params), {}
    for t, g in enumerate(grads):
        clr = (lr if lrs is None else lrs[t]) / (1 + t * lr_decay)
        for key in params:
            d = to_numpy(g[key]) + weight_decay * params[key]
            if momentum != 0:
                if key not in buffers:
                    buffers[key] = d.copy()
                else:
                    buffers[key] = momentum * buffers[key] + (1 - dampening) * d
                d = d + momentum * buffers[key] if nesterov else buffers[key]
            params[key] = params[key] - clr * d
    return params, buffers


def textbook_adam(params, grads, lr, b1, b2, eps, weight_decay=0.0):
    params = _np(params)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    for t, g in enumerate(grads, start=1):
        for key in params:
            d = to_numpy(g[key]) + weight_decay * params[key]
            m[key] = b1 * m[key] + (1 - b1) * d
            v[key] = b2 * v[key] + (1 - b2) * d ** 2
            m_hat, v_hat = m[key] / (1 - b1 ** t), v[key] / (1 - b2 ** t)
            params[key] = params[key] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params, m, v


def _assert_trees_close(ours, expected, rtol=1e-12, atol=1e-14):
    assert list(ours) == list(expected)
    for key in expected:
        np.testing.assert_allclose(to_numpy(ours[key]), expected[key], rtol=rtol, atol=atol,
                                   err_msg=key)


def test_plain_sgd_step(xp):
    params, grads = _problem(xp)
    new, state = nn.SGD(0.1).update(params, grads[0], nn.SGD(0.1).init(params))
    for key in params:
        assert_namespace(new[key], xp)
        assert new[key].dtype == xp.float64
        np.testing.assert_allclose(to_numpy(new[key]),
                                   to_numpy(params[key]) - 0.1 * to_numpy(grads[0][key]),
                                   rtol=1e-15, atol=1e-16)
    assert state == {"step": 1, "slots": {}}


SGD_SETTINGS = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.9),
    "dampening": dict(lr=0.05, momentum=0.5, dampening=0.3),
    "nesterov": dict(lr=0.1, momentum=0.9, nesterov=True),
    "weight-decay": dict(lr=0.1, momentum=0.9, weight_decay=0.01),
    "lr-decay": dict(lr=0.2, lr_decay=0.5),
    "everything": dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.05, lr_decay=0.1),
}


@pytest.mark.parametrize("setting", list(SGD_SETTINGS))
def test_sgd_matches_torch(xp, setting):
    params, grads = _problem(xp)
    kwargs = SGD_SETTINGS[setting]
    ours, state = _run(nn.SGD(**kwargs), params, grads)
    expected, buffers = torch_sgd(params, grads, **kwargs)
    _assert_trees_close(ours, expected)
    if kwargs.get("momentum"):
        _assert_trees_close(state["slots"]["velocity"], buffers)
    for value in ours.values():
        assert_namespace(value, xp)


def test_sgd_learning_rate_override():
    """``update(lr=)`` replaces the base rate (a schedule), and the per-step decay still applies."""
    params, grads = _problem(np)
    lrs = [0.3, 0.3, 0.1, 0.1, 0.01]
    ours, _ = _run(nn.SGD(1.0, momentum=0.5, lr_decay=0.2), params, grads, lrs=lrs)
    expected, _ = torch_sgd(params, grads, 1.0, momentum=0.5, lr_decay=0.2, lrs=lrs)
    _assert_trees_close(ours, expected)


def test_sgd_keeps_float32():
    params = {"w": np.ones(3, dtype=np.float32)}
    opt = nn.SGD(0.1, momentum=0.9, weight_decay=0.1)
    new, state = opt.update(params, {"w": np.full(3, 0.5, dtype=np.float32)}, opt.init(params))
    assert new["w"].dtype == np.float32 and state["slots"]["velocity"]["w"].dtype == np.float32


@pytest.mark.parametrize("eps", [1e-8, 0.3])  # a large eps tells where eps is added
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_matches_textbook(xp, eps, weight_decay):
    params, grads = _problem(xp, seed=1)
    kwargs = dict(lr=0.01, b1=0.8, b2=0.95, eps=eps, weight_decay=weight_decay)
    ours, state = _run(nn.Adam(**kwargs), params, grads)
    expected, m, v = textbook_adam(params, grads, **kwargs)
    _assert_trees_close(ours, expected, rtol=1e-10)
    _assert_trees_close(state["slots"]["m"], m)
    _assert_trees_close(state["slots"]["v"], v)
    for value in ours.values():
        assert_namespace(value, xp)


def test_adam_first_step_moves_each_entry_by_lr():
    """With bias correction, the first step is lr * sign(g) (up to eps)."""
    params = {"w": np.zeros(5)}
    g = {"w": np.array([3.0, -0.2, 1e-3, -40.0, 0.7])}
    opt = nn.Adam(0.05)
    new, _ = opt.update(params, g, opt.init(params))
    np.testing.assert_allclose(new["w"], -0.05 * np.sign(g["w"]), rtol=1e-4)


@pytest.mark.parametrize("make", [
    lambda: nn.SGD(-0.1), lambda: nn.SGD(float("nan")), lambda: nn.SGD(float("inf")),
    lambda: nn.SGD("0.1"), lambda: nn.SGD(0.1, momentum=-0.9),
    lambda: nn.SGD(0.1, weight_decay=-1e-4), lambda: nn.SGD(0.1, lr_decay=-1.0),
    lambda: nn.SGD(0.1, momentum=0.9, dampening=1.5), lambda: nn.SGD(0.1, nesterov=True),
    lambda: nn.SGD(0.1, momentum=0.9, dampening=0.1, nesterov=True),
    lambda: nn.Adam(-1e-3), lambda: nn.Adam(b1=1.0), lambda: nn.Adam(b2=-0.1),
    lambda: nn.Adam(eps=-1e-8), lambda: nn.Adam(weight_decay=float("nan")),
])
def test_bad_optimizer_arguments(make):
    with pytest.raises(ValueError):
        make()


# ---- max-norm --------------------------------------------------------------------------------


def test_max_norm_dense_columns(xp):
    rng = np.random.default_rng(2)
    w = rng.normal(size=(6, 5))
    w[:, :2] *= 10.0 / np.linalg.norm(w[:, :2], axis=0)  # two columns of norm 10
    w[:, 2:] *= 0.5 / np.linalg.norm(w[:, 2:], axis=0)  # three of norm 0.5
    bias = rng.normal(size=5) * 100  # far above the limit: biases are not constrained
    params = {"dense1.weight": xp.asarray(w), "dense1.bias": xp.asarray(bias)}
    out = nn.max_norm(params, 2.0)
    new = to_numpy(out["dense1.weight"])
    assert_namespace(out["dense1.weight"], xp)
    np.testing.assert_allclose(np.linalg.norm(new, axis=0), [2, 2, 0.5, 0.5, 0.5], rtol=1e-12)
    np.testing.assert_allclose(new[:, :2], w[:, :2] * 0.2, rtol=1e-12)  # same direction
    np.testing.assert_array_equal(new[:, 2:], w[:, 2:])  # within the limit: unchanged
    np.testing.assert_array_equal(to_numpy(out["dense1.bias"]), bias)
    np.testing.assert_array_equal(to_numpy(params["dense1.weight"]), w)  # input not mutated


def test_max_norm_conv_filters(xp):
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 3, 2, 2))
    norms = np.sqrt(np.sum(w ** 2, axis=(1, 2, 3)))
    params = {"conv1.weight": xp.asarray(w), "conv1.bias": xp.asarray(np.full(4, 9.0))}
    limit = float(np.median(norms))  # two filters above, two below
    new = to_numpy(nn.max_norm(params, limit)["conv1.weight"])
    expected = w * np.minimum(1.0, limit / norms)[:, None, None, None]
    np.testing.assert_allclose(new, expected, rtol=1e-12)
    within = norms <= limit
    assert within.sum() == 2
    np.testing.assert_array_equal(new[within], w[within])


def test_max_norm_keys_and_errors():
    params = {"a.weight": np.full((2, 2), 5.0), "b.weight": np.full((2, 2), 5.0)}
    out = nn.max_norm(params, 1.0, keys=["b.weight"])
    np.testing.assert_array_equal(out["a.weight"], params["a.weight"])
    np.testing.assert_allclose(np.linalg.norm(out["b.weight"], axis=0), [1.0, 1.0])
    for limit in (0.0, -1.0):
        with pytest.raises(ValueError, match="limit"):
            nn.max_norm(params, limit)


def test_max_norm_limits_per_parameter():
    """A dict gives each named weight its own limit (the maxout paper: 0.9 for the first conv
    layer's kernels, 1.9365 elsewhere); entries it does not name are left alone."""
    params = {"conv1.weight": np.full((2, 1, 2, 2), 5.0), "dense1.weight": np.full((4, 3), 5.0),
              "dense2.weight": np.full((4, 3), 5.0)}
    out = nn.max_norm(params, {"conv1.weight": 0.9, "dense1.weight": 1.9365})
    np.testing.assert_allclose(np.sqrt(np.sum(out["conv1.weight"] ** 2, axis=(1, 2, 3))), 0.9)
    np.testing.assert_allclose(np.linalg.norm(out["dense1.weight"], axis=0), 1.9365)
    np.testing.assert_array_equal(out["dense2.weight"], params["dense2.weight"])
    with pytest.raises(ValueError, match="no parameters named"):
        nn.max_norm(params, {"conv9.weight": 1.0})
    with pytest.raises(ValueError, match="dense1.weight"):
        nn.max_norm(params, {"dense1.weight": 0.0})
    with pytest.raises(ValueError, match="not both"):
        nn.max_norm(params, {"dense1.weight": 1.0}, keys=["dense1.weight"])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.floats(0.01, 10.0), st.integers(0, 2 ** 32 - 1))
def test_max_norm_property(rows, cols, limit, seed):
    """Every column ends within the limit; each is w or w scaled down, never grown."""
    w = np.random.default_rng(seed).normal(size=(rows, cols)) * 3
    new = nn.max_norm({"d.weight": w.astype(np.float32)}, limit)["d.weight"]
    assert new.dtype == np.float32
    before, after = np.linalg.norm(w, axis=0), np.linalg.norm(new.astype(np.float64), axis=0)
    assert np.all(after <= limit * (1 + 1e-6))
    np.testing.assert_allclose(after, np.minimum(before, limit), rtol=1e-5)
    np.testing.assert_allclose(new, w * np.minimum(1.0, limit / before), rtol=1e-5, atol=1e-6)


# ---- schedules -------------------------------------------------------------------------------


def test_piecewise_constant():
    schedule = nn.piecewise_constant(0.1, {60: 0.001, 30: 0.01})  # given out of order
    assert [schedule(e) for e in (0, 29, 30, 59, 60, 1000)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    constant = nn.piecewise_constant(0.5)
    assert {constant(e) for e in range(100)} == {0.5}


@pytest.mark.parametrize("setting", list(SGD_SETTINGS))
def test_sgd_reusing_the_gradients_gives_the_same_parameters(xp, setting):
    # reuse_grads writes the new parameters into gradient buffers the caller gave up: bitwise
    # the values of a normal update, the old parameters and the velocity slots untouched
    params, grads = _problem(xp)
    optimizer = nn.SGD(**SGD_SETTINGS[setting])
    plain, state_plain = _run(optimizer, params, grads)
    state = optimizer.init(params)
    current = params
    for g in grads:
        before = _np(current)
        given_up = {k: xp.asarray(to_numpy(v).copy()) for k, v in g.items()}
        current, state = optimizer.update(current, given_up, state, reuse_grads=True)
        for key, value in before.items():
            assert not np.shares_memory(to_numpy(current[key]), value)
    for key in params:
        np.testing.assert_array_equal(to_numpy(current[key]), to_numpy(plain[key]))
        if optimizer.momentum:
            np.testing.assert_array_equal(to_numpy(state["slots"]["velocity"][key]),
                                          to_numpy(state_plain["slots"]["velocity"][key]))


def test_reusable_buffers_are_owned_alone():
    w, b = np.ones((3, 2)), np.zeros(2)
    params = {"w": w, "b": b, "c": np.zeros(2), "d": np.zeros(6), "e": np.zeros(2)}
    owned = np.full((3, 2), 2.0)
    shared = np.full(2, 3.0)  # one array reached by two parameters (the gradient of b + c)
    grads = {"w": owned, "b": shared, "c": shared, "d": owned.reshape(6),  # a view of w's
             "e": np.broadcast_to(np.ones(1), (2,))}
    assert nn.optim.reusable_buffers(grads, params) == set()  # d's view overlaps w's buffer
    del grads["d"], params["d"]
    assert nn.optim.reusable_buffers(grads, params) == {"w"}
    grads["w"] = w  # a parameter's own array
    assert nn.optim.reusable_buffers(grads, params) == set()
    grads["w"] = owned.astype(np.float32)  # another dtype than its parameter
    assert nn.optim.reusable_buffers(grads, params) == set()


def test_reused_update_leaves_unsafe_gradients_alone():
    params = {"b": np.zeros(2), "c": np.ones(2)}
    shared = np.full(2, 3.0)
    new, _ = nn.SGD(0.5).update(params, {"b": shared, "c": shared}, nn.SGD(0.5).init(params),
                                reuse_grads=True)
    np.testing.assert_array_equal(shared, [3.0, 3.0])
    np.testing.assert_array_equal(new["b"], [-1.5, -1.5])
    np.testing.assert_array_equal(new["c"], [-0.5, -0.5])


def test_owned_alone_sees_every_alias_of_an_owned_buffer():
    from refimpl.backend import owned_alone
    a, b = np.zeros(4), np.zeros(4)
    assert owned_alone([a, b]) == [True, True]  # two owners: two allocations
    assert owned_alone([a, b, a]) == [False, True, False]  # one array listed twice
    alias = np.frombuffer(a.data, dtype=a.dtype)  # no ndarray base: found by its bounds
    assert owned_alone([a, b, alias]) == [False, True, False]
    assert owned_alone([a, b[1:]]) == [True, False]
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    assert owned_alone([frozen, a]) == [False, True]
