"""Batched evaluation: predict_logits and evaluate give the one-pass result whatever the batch
size, and the accuracy and loss equal NumPy's argmax comparison and log-softmax."""

import numpy as np
import pytest
from conftest import assert_namespace

from refimpl import nn
from refimpl.backend import make_rng, to_numpy
from refimpl.training import evaluate, predict_logits

SHAPE = (1, 6, 6)


def _setup(xp, n=24, dtype="float64"):
    model = nn.Model("small", SHAPE, [nn.Conv2d(3, 3), nn.ReLU(), nn.Flatten()],
                     [nn.Dense(5, init="glorot"), nn.Tanh(), nn.Dense(4, init="glorot")])
    params = model.init(make_rng(0, xp), getattr(xp, dtype))
    rng = np.random.default_rng(1)
    x = xp.asarray(rng.normal(size=(n, *SHAPE)), dtype=getattr(xp, dtype))
    y = xp.asarray(rng.integers(0, 4, size=n))
    return model, params, x, y


def _np_scores(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(len(labels)), labels].mean()
    return loss, np.mean(logits.argmax(axis=1) == labels)


@pytest.mark.parametrize("batch_size", [24, 8, 1000])
def test_predict_logits_batches_like_one_pass(xp, batch_size):
    model, params, x, _ = _setup(xp)
    logits = predict_logits(model, params, x, batch_size=batch_size)
    assert_namespace(logits, xp)
    assert logits.dtype == xp.float64 and tuple(logits.shape) == (24, 4)
    np.testing.assert_allclose(to_numpy(logits), to_numpy(model.apply(params, x)), rtol=1e-13,
                               atol=1e-15)


@pytest.mark.parametrize("batch_size", [5, 7, 1000])
def test_predict_logits_with_a_partial_last_batch(batch_size):
    model, params, x, _ = _setup(np)
    np.testing.assert_allclose(predict_logits(model, params, x, batch_size=batch_size),
                               model.apply(params, x), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("batch_size", [24, 6, 1])
def test_evaluate_matches_numpy(xp, batch_size):
    model, params, x, y = _setup(xp)
    scores = evaluate(model, params, x, y, batch_size=batch_size)
    loss, accuracy = _np_scores(to_numpy(model.apply(params, x)), to_numpy(y))
    assert set(scores) == {"loss", "accuracy", "n"} and scores["n"] == 24
    assert all(type(v) in (float, int) for v in scores.values())
    assert scores["accuracy"] == accuracy
    assert scores["loss"] == pytest.approx(loss, rel=1e-12)


def test_evaluate_partial_batches_float32():
    model, params, x, y = _setup(np, n=50, dtype="float32")
    one_pass = evaluate(model, params, x, y, batch_size=50)
    for batch_size in (7, 1000):
        batched = evaluate(model, params, x, y, batch_size=batch_size)
        assert batched["accuracy"] == one_pass["accuracy"] and batched["n"] == 50
        assert batched["loss"] == pytest.approx(one_pass["loss"], rel=1e-6)


def test_accuracy_counts_correct_predictions():
    """Labels equal to the argmax for the first 9 examples and off by one class elsewhere."""
    model, params, x, _ = _setup(np)
    predicted = model.apply(params, x).argmax(axis=1)
    wrong = (predicted + 1) % 4
    y = np.where(np.arange(24) < 9, predicted, wrong)
    assert evaluate(model, params, x, y, batch_size=5)["accuracy"] == 9 / 24


def test_evaluate_rejects_an_empty_set():
    model, params, _, _ = _setup(np)
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, params, np.zeros((0, *SHAPE)), np.zeros(0, dtype=np.int64))
