"""The standard bad inputs fed to the training methods (``get_method`` with bad options),
and refimpl.evaluation (the table of :mod:`test_bad_inputs`, its ``Row``
and ``check_row`` reused): each must be a one-line ValueError or TypeError naming the argument."""

from __future__ import annotations

import math

import array_api_strict
import numpy as np
import pytest

from refimpl import evaluation as ev
from refimpl.backend import make_rng
from refimpl.training import get_method
from test_bad_inputs import MODEL, PARAMS, X, Y, Row, _nan, check_row


def _method(name, **options):
    return lambda: get_method(name, **options)(MODEL, PARAMS, X, Y, rng=make_rng(0))


METHOD_ROWS = [
    Row("get_method unknown name", lambda: get_method("nope"), ValueError, "method"),
    Row("get_method unknown option", lambda: get_method("goodfellow", sigma=1.0), ValueError,
        "sigma"),
    Row("goodfellow radius -1", _method("goodfellow", radius=-1.0), ValueError, "radius"),
    Row("goodfellow radius nan", _method("goodfellow", radius=math.nan), ValueError, "radius"),
    Row("goodfellow alpha 2", _method("goodfellow", alpha=2.0), ValueError, "alpha"),
    Row("robust_lp p 0.5", _method("robust_lp", p=0.5, radius=0.1), ValueError, "p:"),
    Row("robust_lp p nan", _method("robust_lp", p=math.nan, radius=0.1), ValueError, "p:"),
    Row("robust_lp radius -1", _method("robust_lp", p=2, radius=-1.0), ValueError, "radius"),
    Row("ksup k 0", _method("ksup", k=0), ValueError, "k:"),
    Row("ksup k D+1", _method("ksup", k=5), ValueError, "k:"),
    Row("ksup k 1.5", _method("ksup", k=1.5), ValueError, "k:"),
    Row("ksup radius -1", _method("ksup", radius=-1.0), ValueError, "radius"),
    Row("urn radius -1", _method("urn", radius=-1.0), ValueError, "radius"),
    Row("urn noise 'pink'", _method("urn", noise="pink"), ValueError, "noise"),
    Row("lwa radius -1", _method("lwa", radius=-1.0), ValueError, "radius"),
    Row("lwa direction 'up'", _method("lwa", direction="up"), ValueError, "direction"),
    Row("lwa_rep radius nan", _method("lwa_rep", radius=math.nan), ValueError, "radius"),
    Row("gradreg sigma -1", _method("gradreg", sigma=-1.0), ValueError, "sigma"),
    Row("gradreg p 0.5", _method("gradreg", p=0.5), ValueError, "p:"),
    Row("gradreg_penalty sigma -1", _method("gradreg_penalty", sigma=-1.0), ValueError,
        "sigma"),
    Row("gradreg_penalty p nan", _method("gradreg_penalty", p=math.nan), ValueError, "p:"),
    Row("sign_noise prob 1.5", _method("sign_noise", prob=1.5), ValueError, "prob"),
    Row("sign_noise eps nan", _method("sign_noise", eps=math.nan), ValueError, "eps"),
    Row("sign_noise without rng",
        lambda: get_method("sign_noise")(MODEL, PARAMS, X, Y), ValueError, "rng"),
]


def _under(fn, *args, x=X, y=Y, **kw):
    return lambda: fn(MODEL, PARAMS, x, y, *args, **kw)


EVAL_ROWS = [
    Row("accuracy label = K", _under(ev.accuracy, y=np.full(6, 3)), ValueError, "y:"),
    Row("accuracy label < 0", _under(ev.accuracy, y=-Y), ValueError, "y:"),
    Row("accuracy float labels", _under(ev.accuracy, y=Y + 0.5), (ValueError, TypeError), "y:"),
    Row("accuracy NaN x", _under(ev.accuracy, x=_nan(X)), ValueError, "x:"),
    Row("accuracy inf x", _under(ev.accuracy, x=X * np.float32(np.inf)), ValueError, "x:"),
    Row("accuracy empty batch", _under(ev.accuracy, x=X[:0], y=Y[:0]), ValueError, "x"),
    Row("accuracy int x", _under(ev.accuracy, x=np.ones((6, 4), np.int64)), TypeError, "x:"),
    Row("accuracy 0-d x", _under(ev.accuracy, x=np.float32(1.0), y=np.array(0)),
        (ValueError, TypeError), "x:"),
    Row("accuracy y too short", _under(ev.accuracy, y=Y[:5]), ValueError, "y"),
    Row("accuracy mixed namespaces", _under(ev.accuracy, y=array_api_strict.asarray(Y)),
        TypeError, "y"),
    Row("accuracy batch_size 0", _under(ev.accuracy, batch_size=0), ValueError, "batch_size"),
    Row("accuracy_under_attack radius -1",
        _under(ev.accuracy_under_attack, "fgsm", radius=-1.0), ValueError, "radius"),
    Row("accuracy_under_attack radius nan",
        _under(ev.accuracy_under_attack, "fgsm", radius=math.nan), ValueError, "radius"),
    Row("accuracy_under_attack unknown attack",
        _under(ev.accuracy_under_attack, "nope", radius=0.1), ValueError, "nope"),
    Row("accuracy_under_attack label = K",
        _under(ev.accuracy_under_attack, "fgsm", y=np.full(6, 3), radius=0.1), ValueError, "y:"),
    Row("accuracy_under_attack NaN x",
        _under(ev.accuracy_under_attack, "fgsm", x=_nan(X), radius=0.1), ValueError, "x:"),
    Row("accuracy_under_attack attack_mode 'test'",
        _under(ev.accuracy_under_attack, "fgsm", radius=0.1, attack_mode="test"), ValueError,
        "attack_mode"),
    Row("accuracy_under_attack k 0",
        _under(ev.accuracy_under_attack, "k_support", radius=0.1, k=0), ValueError, "k:"),
    Row("accuracy_under_attack k 1.5",
        _under(ev.accuracy_under_attack, "k_support", radius=0.1, k=1.5), ValueError, "k:"),
    Row("accuracy_under_attack p 0.5",
        _under(ev.accuracy_under_attack, "adv_alpha", radius=0.1, p=0.5), ValueError, "p:"),
    Row("perturb radius -1", _under(ev.perturb, "fgsm", radius=-1.0), ValueError, "radius"),
    Row("perturb float labels", _under(ev.perturb, "fgsm", y=Y + 0.5, radius=0.1),
        (ValueError, TypeError), "y:"),
    Row("perturb empty batch", _under(ev.perturb, "fgsm", x=X[:0], y=Y[:0], radius=0.1),
        ValueError, "x"),
    Row("perturb clip reversed", _under(ev.perturb, "fgsm", radius=0.1, clip=(1.0, 0.0)),
        ValueError, "clip"),
    Row("perturb batch_size -1", _under(ev.perturb, "fgsm", radius=0.1, batch_size=-1),
        ValueError, "batch_size"),
    Row("robustness_table radius -1",
        lambda: ev.robustness_table({"m": (MODEL, PARAMS)}, X, Y, attacks=["fgsm"], radius=-1.0),
        ValueError, "radius"),
    Row("robustness_table label = K",
        lambda: ev.robustness_table({"m": (MODEL, PARAMS)}, X, np.full(6, 3), attacks=["fgsm"]),
        ValueError, "y:"),
    Row("robustness_table unknown attack",
        lambda: ev.robustness_table({"m": (MODEL, PARAMS)}, X, Y, attacks=["nope"]), ValueError,
        "nope"),
    Row("accuracy_vs_magnitude magnitude -1",
        _under(ev.accuracy_vs_magnitude, attacks=["fgsm"], magnitudes=[0.1, -1.0]), ValueError,
        "magnitudes"),
    Row("accuracy_vs_magnitude magnitude nan",
        _under(ev.accuracy_vs_magnitude, attacks=["fgsm"], magnitudes=[math.nan]), ValueError,
        "magnitudes"),
    Row("accuracy_vs_magnitude NaN x",
        _under(ev.accuracy_vs_magnitude, x=_nan(X), attacks=["fgsm"], magnitudes=[0.1]),
        ValueError, "x:"),
    Row("build_fixed_set radius -1",
        _under(ev.build_fixed_set, attacks=["fgsm"], radius=-1.0), ValueError, "radius"),
    Row("build_fixed_set keep 'some'",
        _under(ev.build_fixed_set, attacks=["fgsm"], radius=0.1, keep="some"), ValueError,
        "keep"),
    Row("build_fixed_set label = K",
        _under(ev.build_fixed_set, y=np.full(6, 3), attacks=["fgsm"], radius=0.1), ValueError,
        "y:"),
    Row("minimum_perturbations max_radius -1",
        _under(ev.minimum_perturbations, max_radius=-1.0), ValueError, "max_radius"),
    Row("minimum_perturbations label = K",
        _under(ev.minimum_perturbations, y=np.full(6, 3), max_radius=1.0), ValueError, "y:"),
    Row("minimum_perturbations NaN x",
        _under(ev.minimum_perturbations, x=_nan(X), max_radius=1.0), ValueError, "x:"),
    Row("gaussian_noise_error sigma -1",
        _under(ev.gaussian_noise_error, sigmas=(0.1, -1.0)), ValueError, "sigma"),
    Row("gaussian_noise_error sigma nan",
        _under(ev.gaussian_noise_error, sigmas=(math.nan,)), ValueError, "sigma"),
    Row("gaussian_noise_error draws 0", _under(ev.gaussian_noise_error, draws=0), ValueError,
        "draws"),
    Row("gaussian_noise_error label = K",
        _under(ev.gaussian_noise_error, y=np.full(6, 3)), ValueError, "y:"),
    Row("precision_recall label = K", _under(ev.precision_recall, y=np.full(6, 3)), ValueError,
        "y:"),
]

ROWS = METHOD_ROWS + EVAL_ROWS


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_a_clear_error(row):
    check_row(row)
