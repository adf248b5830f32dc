"""precision_recall agrees with scikit-learn computed directly (AP 1 for a perfect classifier);
gaussian_noise_error is the clean error at sigma 0; minimum_perturbations are the smallest steps
along the normalised gradient that change a prediction. Importing evaluation stays light."""

import json
import subprocess
import sys

import numpy as np
import pytest
from eval_helpers import linear_problem, mlp_problem
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.preprocessing import label_binarize

from refimpl.backend import to_numpy
from refimpl.evaluation import (accuracy, accuracy_under_attack, gaussian_noise_error,
                                minimum_perturbations, perturb, precision_recall)
from refimpl.perturbations.attacks import input_gradient


def test_precision_recall_agrees_with_sklearn(xp):
    model, params, x, y = mlp_problem(xp)
    x_adv = perturb(model, params, x, y, "l2", radius=1.0)
    for data in (x, x_adv):
        found = precision_recall(model, params, data, y, batch_size=7)
        logits = to_numpy(model.apply(params, data))
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        truth = label_binarize(to_numpy(y), classes=[0, 1, 2])
        precision, recall, _ = precision_recall_curve(truth.ravel(), probs.ravel())
        np.testing.assert_allclose(found["precision"], precision, rtol=1e-12)
        np.testing.assert_allclose(found["recall"], recall, rtol=1e-12)
        expected = average_precision_score(truth, probs, average="micro")
        assert type(found["average_precision"]) is float
        assert found["average_precision"] == pytest.approx(expected, rel=1e-12)
    assert precision_recall(model, params, x, y)["average_precision"] < 0.8


def test_precision_recall_of_a_perfect_classifier_is_one():
    model, params, x, y = linear_problem(np, n=30)
    params = {key: 20 * value for key, value in params.items()}  # confident: probs near one-hot
    logits = model.apply(params, x)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    truth = np.eye(3, dtype=bool)[y]
    assert probs[truth].min() > probs[~truth].max()  # every true pair outranks every false one
    found = precision_recall(model, params, x, y)
    assert found["average_precision"] == pytest.approx(1.0, abs=1e-12)
    assert found["precision"].min() == pytest.approx(1 / 3) and found["recall"].max() == 1.0
    model, params, x, y = linear_problem(np, n=30, changed=10)
    assert precision_recall(model, params, x, y)["average_precision"] < 1.0
    with pytest.raises(ValueError, match=r"y: expected labels in 0..2"):
        precision_recall(model, params, x, y + 1)


def test_gaussian_noise_error_is_the_clean_error_at_sigma_zero(xp):
    model, params, x, y = mlp_problem(xp)
    errors = gaussian_noise_error(model, params, x, y, sigmas=(0.0, 0.5, 3.0), draws=3,
                                  batch_size=7)
    assert list(errors) == [0.0, 0.5, 3.0] and all(type(e) is float for e in errors.values())
    assert errors[0.0] == 1.0 - accuracy(model, params, x, y)
    assert errors == gaussian_noise_error(model, params, x, y, sigmas=(0.0, 0.5, 3.0), draws=3,
                                          batch_size=7)
    assert all(round(e * 60) == pytest.approx(e * 60) for e in errors.values())  # k / (3 * 20)
    assert errors[3.0] != errors[0.0]
    for sigma in (0.5, 3.0):  # one draw: the accuracy on x + N(0, sigma^2) per pixel
        noisy = 1.0 - accuracy_under_attack(model, params, x, y, "gaussian", radius=sigma,
                                            seed=2, batch_size=7, clip=None)
        assert gaussian_noise_error(model, params, x, y, sigmas=(sigma,), seed=2,
                                    batch_size=7)[sigma] == pytest.approx(noisy)
    with pytest.raises(ValueError, match="sigmas: expected a finite number >= 0"):
        gaussian_noise_error(model, params, x, y, sigmas=(-0.1,))
    with pytest.raises(ValueError, match="draws: expected an int >= 1"):
        gaussian_noise_error(model, params, x, y, draws=0)


def test_minimum_perturbations_change_the_prediction_just_there(xp):
    model, params, x, y = linear_problem(xp, changed=5)
    norms = minimum_perturbations(model, params, x, y, max_radius=10.0, batch_size=6)
    assert norms.dtype == np.float64 and norms.shape == (15,)  # the correctly classified points
    assert np.all(np.isfinite(norms)) and np.all(norms > 0)
    x_np, y_np = to_numpy(x)[5:], to_numpy(y)[5:]
    g = to_numpy(input_gradient(lambda z: model.apply(params, z), x, y))[5:]
    u = g / np.linalg.norm(g, axis=1, keepdims=True)
    weight, bias = (to_numpy(params[k]) for k in ("dense1.weight", "dense1.bias"))

    def predicted(t):
        return np.argmax((x_np + t[:, None] * u) @ weight + bias, axis=1)
    assert np.all(predicted(norms * (1 + 1e-6)) != y_np)
    assert np.all(predicted(norms * (1 - 1e-3)) == y_np)  # linear: the correct region is convex
    capped = minimum_perturbations(model, params, x, y, max_radius=float(np.median(norms)))
    assert np.isinf(capped).sum() >= 7 and np.all(capped > 0)  # not found: inf, never NaN
    assert not np.any(np.isnan(capped))


def test_minimum_perturbations_errors():
    model, params, x, y = mlp_problem(np)
    with pytest.raises(ValueError, match="max_radius: expected a finite number > 0"):
        minimum_perturbations(model, params, x, y, max_radius=0.0)


def test_importing_evaluation_pulls_in_no_plotting_cli_matplotlib_sklearn_or_cupy():
    code = ("import json, sys, refimpl.evaluation; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('refimpl', "
            "'matplotlib', 'sklearn', 'cupy')))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert "refimpl.evaluation" in loaded
    assert not [m for m in loaded if m.startswith(("matplotlib", "sklearn", "cupy",
                                                   "refimpl.plotting", "refimpl.cli"))]
