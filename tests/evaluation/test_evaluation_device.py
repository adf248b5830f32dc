"""Device discipline: attacks, evaluation and the training methods' losses keep every array on
the device of their inputs (array-api-strict's second device)."""

import numpy as np
import pytest

array_api_strict = pytest.importorskip("array_api_strict")

from refimpl import evaluation, nn  # noqa: E402
from refimpl.backend import make_rng  # noqa: E402
from refimpl.training import get_method  # noqa: E402

# "l1"/"single_pixel" (lp's arange) and "adv_alpha" (the batched Jacobian's identity) still
# create arrays on the default device in modules outside this one: listed for their owners.
ON_DEVICE = ["fgsm", "sign_l2", "l2", "k_support", "urn", "gaussian"]


@pytest.fixture
def problem():
    xp, device = array_api_strict, array_api_strict.Device("device1")
    model = nn.build("mlp-100-100", (16,), 3)
    params = {k: xp.asarray(v, device=device)
              for k, v in model.init(make_rng(0, xp), xp.float64).items()}
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.uniform(size=(10, 16)), device=device)
    y = xp.asarray(rng.integers(0, 3, size=10), device=device)
    return model, params, x, y, device


@pytest.mark.parametrize("name", ON_DEVICE)
def test_attacks_stay_on_the_device_of_x(problem, name):
    model, params, x, y, device = problem
    found = evaluation.get_attack(name).run(lambda z: model.apply(params, z), x, y, radius=0.3,
                                            clip=(0.0, 1.0), rng=make_rng(0, array_api_strict))
    assert found.x_adv.device == device and found.zero_grad.device == device
    x_adv = evaluation.perturb(model, params, x, y, name, radius=0.3, only_correct=True)
    assert x_adv.device == device


def test_evaluation_routines_run_on_the_second_device(problem):
    model, params, x, y, _ = problem
    rows = evaluation.robustness_table({"m": (model, params)}, x, y, attacks=ON_DEVICE)
    assert all(0.0 <= rows[0][name] <= 1.0 for name in ON_DEVICE)
    curve = evaluation.accuracy_vs_magnitude(model, params, x, y, attacks=["l2"],
                                             magnitudes=[0.0, 1.0])
    assert len(curve["l2"]) == 2
    fixed = evaluation.build_fixed_set(model, params, x, y, attacks=["l2"], radius=0.5,
                                       keep="all")
    assert 0.0 <= evaluation.score_fixed_set(model, params, fixed) <= 1.0


@pytest.mark.parametrize("method, options", [("goodfellow", {}), ("robust_lp", {"p": 2.0}),
                                             ("ksup", {}), ("urn", {}), ("lwa", {}),
                                             ("gradreg", {}), ("gradreg_penalty", {})])
def test_training_losses_stay_on_the_device(problem, method, options):
    model, params, x, y, device = problem
    loss = get_method(method, **options)(model, params, x, y, rng=make_rng(0, array_api_strict))
    assert loss.device == device
