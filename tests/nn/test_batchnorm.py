"""BatchNorm (no affine): the forward pass against a hand computation in both modes, gradients
against central differences, the running statistics as the loop updates them (and nothing
else touching them), and their exact restoration when a run resumes from its checkpoint."""

import numpy as np
import pytest

from refimpl import nn
from refimpl.autodiff import check_grads
from refimpl.backend import make_rng
from refimpl.training import fit, get_method, load_checkpoint

EPS = 1e-5


def _images(n=6, seed=0):
    return np.random.default_rng(seed).normal(2.0, 3.0, size=(n, 2, 3, 4))


def test_training_forward_uses_the_batch_statistics_per_channel():
    layer = nn.BatchNorm()
    x = _images()
    params, shape = layer.init(make_rng(0), x.shape[1:], np.float64)
    assert shape == x.shape[1:] and set(params) == {"running_mean", "running_var"}
    out = layer.apply(params, x, train=True)
    for c in range(x.shape[1]):
        values = x[:, c]
        expected = (values - values.mean()) / np.sqrt(values.var() + EPS)  # biased variance
        np.testing.assert_allclose(out[:, c], expected, rtol=1e-12)


def test_evaluation_forward_uses_the_running_statistics():
    layer = nn.BatchNorm()
    x = np.random.default_rng(1).normal(size=(5, 3))  # flat inputs: statistics per feature
    params = {"running_mean": np.array([0.5, -1.0, 2.0]), "running_var": np.array([4.0, 1.0, 0.25])}
    expected = (x - params["running_mean"]) / np.sqrt(params["running_var"] + EPS)
    np.testing.assert_allclose(layer.apply(params, x), expected, rtol=1e-12)


def test_new_state_is_the_torch_momentum_update_with_the_unbiased_variance():
    layer = nn.BatchNorm(momentum=0.1)
    x = _images()
    params = {"running_mean": np.array([1.0, -1.0]), "running_var": np.array([2.0, 0.5])}
    state = layer.new_state(params, x)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    for c in range(2):
        values = x[:, c]
        assert state["running_mean"][c] == pytest.approx(0.9 * params["running_mean"][c]
                                                          + 0.1 * values.mean())
        assert state["running_var"][c] == pytest.approx(0.9 * params["running_var"][c]
                                                         + 0.1 * values.var() * m / (m - 1))


@pytest.mark.parametrize("train", [True, False])
def test_gradients_match_central_differences(train):
    layer = nn.BatchNorm()
    params = {"running_mean": np.array([0.3, -0.2]), "running_var": np.array([1.5, 0.7])}
    weights = np.random.default_rng(2).normal(size=(6, 2, 3, 4))  # every output matters
    check_grads(lambda x: layer.apply(params, x, train=train) * weights, (_images(),))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="eps"):
        nn.BatchNorm(eps=0.0)
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm(momentum=1.5)
    with pytest.raises(ValueError, match="BatchNorm"):
        nn.BatchNorm().init(make_rng(0), (2, 3), np.float32)


def _data(n=40):
    rng = np.random.default_rng(3)
    x = rng.normal(0.5, 2.0, size=(n, 1, 32, 32)).astype(np.float32)
    return x, (np.arange(n) % 10).astype(np.int64)


def _fit(model, params, epochs, checkpoint=None, resume=False, method="robust_lp"):
    options = {"p": 2.0, "radius": 2.0} if method == "robust_lp" else {}
    return fit(model, params, _data(), epochs=epochs, batch_size=10, seed=5, quiet=True,
               optimizer=nn.SGD(0.01, momentum=0.9, dampening=0.9, weight_decay=1e-3),
               method=get_method(method, **options), checkpoint=checkpoint, resume=resume,
               shuffle="none")


def test_the_loop_updates_running_statistics_and_the_optimizer_does_not_touch_them():
    model = nn.build("shaham-cnn-torch-bn", (1, 32, 32))
    params = model.init(make_rng(0), np.float32)
    assert nn.state_keys(model) == {"batchnorm1.running_mean", "batchnorm1.running_var"}
    trained = _fit(model, params, 1, method="normal").params
    # by hand: batches in file order, one momentum update per step, no weight decay on them
    layer, x = nn.BatchNorm(), _data()[0]
    state = {"running_mean": params["batchnorm1.running_mean"],
             "running_var": params["batchnorm1.running_var"]}
    for start in range(0, x.shape[0], 10):
        state = layer.new_state(state, x[start:start + 10])
    for key in ("running_mean", "running_var"):
        got = trained[f"batchnorm1.{key}"]
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, state[key], rtol=1e-6, err_msg=key)
    assert not np.allclose(trained["conv1.weight"], params["conv1.weight"])


def test_resume_restores_the_running_statistics_bitwise(tmp_path):
    model = nn.build("shaham-cnn-torch-bn", (1, 32, 32))
    params = model.init(make_rng(0), np.float32)
    straight = _fit(model, params, 2).params
    path = tmp_path / "checkpoint.npz"
    _fit(model, params, 1, checkpoint=path)
    saved, _, _ = load_checkpoint(path, np)
    assert "batchnorm1.running_mean" in saved
    resumed = _fit(model, params, 2, checkpoint=path, resume=True).params
    assert set(resumed) == set(straight)
    for key in straight:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=key)
