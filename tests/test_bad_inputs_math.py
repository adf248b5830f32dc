"""The standard bad inputs fed to refimpl.perturbations and refimpl.autodiff (the table of
:mod:`test_bad_inputs`, its ``Row`` and ``check_row`` reused): wrong shapes and dtypes, NaN /
inf, empty batch, labels out of range, p < 1, k out of range, negative radius or steps, mixed
namespaces. Each must be a one-line ValueError or TypeError naming the argument."""

from __future__ import annotations

import math

import array_api_strict
import numpy as np
import pytest

from refimpl import autodiff, ops
from refimpl.backend import make_rng
from refimpl.perturbations import (KSupport, Lp, SignL2, apgd_ce, cw_l2, deepfool,
                                   external_model, input_gradient, k_support, lbfgs_untargeted,
                                   linearized, lp, one_step, pgd, random_noise, search,
                                   sign_noise)
from test_bad_inputs import MODEL, PARAMS, X, Y, Row, _nan, check_row

G = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)  # a gradient batch, D = 4
S = array_api_strict.asarray(G)
JAC = np.random.default_rng(2).normal(size=(2, 3, 4))  # (N, K, D)
SCORES = np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 1.0]])


def logits_fn(x):
    return MODEL.apply(PARAMS, x)


def _one(**kw):
    return _attack(one_step, **{"family": Lp(math.inf), "radius": 0.1, **kw})


def _attack(fn, x=X, y=Y, **kw):
    return lambda: fn(logits_fn, x, y, **kw)


def _pgd(**kw):
    return _attack(pgd, **{"radius": 0.1, "step_size": 0.05, "steps": 2, "p": 2, **kw})


LP_ROWS = [
    Row("lp.norm p 0.5", lambda: lp.norm(G, 0.5), ValueError, "p:"),
    Row("lp.norm p nan", lambda: lp.norm(G, math.nan), ValueError, "p:"),
    Row("lp.norm p '2'", lambda: lp.norm(G, "2"), (ValueError, TypeError), "p:"),
    Row("lp.norm int x", lambda: lp.norm(np.ones((2, 3), np.int64), 2), TypeError, "x:"),
    Row("lp.norm 0-d x", lambda: lp.norm(np.float32(1.0), 2), ValueError, "x:"),
    Row("lp.dual_norm p 0", lambda: lp.dual_norm(G, 0), ValueError, "p:"),
    Row("lp.dual_exponent p 0.9", lambda: lp.dual_exponent(0.9), ValueError, "p:"),
    Row("lp.steepest_ascent radius -1", lambda: lp.steepest_ascent(G, -1.0, 2), ValueError,
        "radius"),
    Row("lp.steepest_ascent radius nan", lambda: lp.steepest_ascent(G, math.nan, 2), ValueError,
        "radius"),
    Row("lp.steepest_ascent radius inf", lambda: lp.steepest_ascent(G, math.inf, 2), ValueError,
        "radius"),
    Row("lp.steepest_ascent radius 1e39 float32",
        lambda: lp.steepest_ascent(G, 1e39, 2), ValueError, "radius"),
    Row("lp.steepest_ascent p 0.5", lambda: lp.steepest_ascent(G, 1.0, 0.5), ValueError, "p:"),
    Row("lp.steepest_ascent radius of another length",
        lambda: lp.steepest_ascent(G, np.ones(2, np.float32), 2), ValueError, "radius"),
    Row("lp.steepest_ascent int grad",
        lambda: lp.steepest_ascent(np.ones((2, 3), np.int64), 1.0, 2), TypeError, "grad"),
    Row("lp.steepest_ascent 0-d grad",
        lambda: lp.steepest_ascent(np.float32(1.0), 1.0, 2), ValueError, "grad"),
    Row("lp.steepest_ascent mixed namespaces",
        lambda: lp.steepest_ascent(S, np.ones(3, np.float32), 2), TypeError, "radius"),
    Row("lp.project radius -1", lambda: lp.project(G, -1.0, 2), ValueError, "radius"),
    Row("lp.project p nan", lambda: lp.project(G, 1.0, math.nan), ValueError, "p:"),
    Row("lp.project int delta", lambda: lp.project(np.ones((2, 3), np.int64), 1.0, 2), TypeError,
        "delta"),
]

K_ROWS = [
    Row("k_support.norm k 0", lambda: k_support.norm(G, 0), ValueError, "k:"),
    Row("k_support.norm k D+1", lambda: k_support.norm(G, 5), ValueError, "k:"),
    Row("k_support.norm k 1.5", lambda: k_support.norm(G, 1.5), ValueError, "k:"),
    Row("k_support.norm k nan", lambda: k_support.norm(G, math.nan), ValueError, "k:"),
    Row("k_support.norm k '2'", lambda: k_support.norm(G, "2"), (ValueError, TypeError), "k:"),
    Row("k_support.norm int w", lambda: k_support.norm(np.ones((2, 3), np.int64), 1), TypeError,
        "w:"),
    Row("k_support.norm 0-d w", lambda: k_support.norm(np.float32(1.0), 1), ValueError, "w:"),
    Row("k_support.dual_norm k -1", lambda: k_support.dual_norm(G, -1), ValueError, "k:"),
    Row("k_support.steepest_ascent k 0", lambda: k_support.steepest_ascent(G, 1.0, 0),
        ValueError, "k"),
    Row("k_support.steepest_ascent radius -1", lambda: k_support.steepest_ascent(G, -1.0, 2),
        ValueError, "radius"),
    Row("k_support.steepest_ascent radius nan",
        lambda: k_support.steepest_ascent(G, math.nan, 2), ValueError, "radius"),
]

LINEARIZED_ROWS = [
    Row("minimal_perturbation p 0.5",
        lambda: linearized.minimal_perturbation(JAC, SCORES, np.array([0, 1]), 0.5), ValueError,
        "p:"),
    Row("minimal_perturbation label = K",
        lambda: linearized.minimal_perturbation(JAC, SCORES, np.array([0, 3])), ValueError, "y:"),
    Row("minimal_perturbation label < 0",
        lambda: linearized.minimal_perturbation(JAC, SCORES, np.array([-1, 0])), ValueError, "y:"),
    Row("minimal_perturbation float labels",
        lambda: linearized.minimal_perturbation(JAC, SCORES, np.array([0.5, 1.0])), TypeError,
        "y:"),
    Row("minimal_perturbation scores of another shape",
        lambda: linearized.minimal_perturbation(JAC, SCORES[:, :2], np.array([0, 1])),
        ValueError, "scores"),
    Row("minimal_perturbation 2-D jac",
        lambda: linearized.minimal_perturbation(JAC[0], SCORES, np.array([0, 1])), ValueError,
        "jac"),
    Row("minimal_perturbation NaN scores",
        lambda: linearized.minimal_perturbation(JAC, _nan(SCORES), np.array([0, 1])), ValueError,
        "scores"),
    Row("minimal_perturbation overshoot -1",
        lambda: linearized.minimal_perturbation(JAC, SCORES, np.array([0, 1]), overshoot=-1.0),
        ValueError, "overshoot"),
]

FAMILY_ROWS = [
    Row("Lp(0.5)", lambda: Lp(0.5), ValueError, "p:"),
    Row("Lp(nan)", lambda: Lp(math.nan), ValueError, "p:"),
    Row("Lp('inf')", lambda: Lp("inf"), (ValueError, TypeError), "p:"),
    Row("KSupport(0)", lambda: KSupport(0), ValueError, "k:"),
    Row("KSupport(1.5)", lambda: KSupport(1.5), ValueError, "k:"),
    Row("KSupport(-2)", lambda: KSupport(-2), ValueError, "k:"),
    Row("KSupport(5) on D = 4", lambda: KSupport(5).steepest_ascent(G, 1.0), ValueError, "k:"),
    Row("SignL2 radius -1", lambda: SignL2().steepest_ascent(G, -1.0), ValueError, "radius"),
    Row("uniform_noise radius -1",
        lambda: random_noise.uniform_noise(make_rng(0), (2, 3), -1.0), ValueError, "radius"),
    Row("uniform_noise rng not a generator",
        lambda: random_noise.uniform_noise(0, (2, 3)), TypeError, "rng"),
    Row("uniform_noise mixed namespaces",
        lambda: random_noise.uniform_noise(make_rng(0), S), TypeError, "rng"),
    Row("gaussian_noise sigma -1",
        lambda: random_noise.gaussian_noise(make_rng(0), (2, 3), -1.0), ValueError, "sigma"),
    Row("gaussian_noise sigma nan",
        lambda: random_noise.gaussian_noise(make_rng(0), (2, 3), math.nan), ValueError, "sigma"),
    Row("sign_noise p 1.5", lambda: sign_noise.sign_noise(X, make_rng(0), p=1.5), ValueError,
        "p:"),
    Row("sign_noise eps nan", lambda: sign_noise.sign_noise(X, make_rng(0), eps=math.nan),
        ValueError, "eps"),
]

ATTACK_ROWS = [
    Row("one_step radius -1", _one(radius=-1.0), ValueError, "radius"),
    Row("one_step radius nan", _one(radius=math.nan), ValueError, "radius"),
    Row("one_step label = K", _one(y=np.full(6, 3), radius=0.1), ValueError, "y:"),
    Row("one_step label < 0", _one(y=-Y), ValueError, "y:"),
    Row("one_step float labels", _one(y=Y + 0.5), (ValueError, TypeError), "y:"),
    Row("one_step int x", _one(x=np.ones((6, 4), np.int64), radius=0.1), TypeError,
        "x:"),
    Row("one_step 0-d x", _one(x=np.float32(1.0), y=np.array(0), radius=0.1),
        ValueError, "x"),
    Row("one_step NaN x", _one(x=_nan(X), radius=0.1), ValueError, "x:"),
    Row("one_step empty batch", _one(x=X[:0], y=Y[:0]), ValueError,
        "x:"),
    Row("one_step y too short", _one(y=Y[:5]), ValueError, "y:"),
    Row("one_step mixed namespaces",
        _one(y=array_api_strict.asarray(Y), radius=0.1), TypeError, "y:"),
    Row("one_step family Lp(0.5)", _one(family="nope"),
        (ValueError, TypeError), "family"),
    Row("one_step clip reversed", _one(radius=0.1, clip=(1.0, 0.0)), ValueError,
        "clip"),
    Row("pgd step_size -1", _pgd(step_size=-1.0), ValueError, "step_size"),
    Row("pgd step_size nan", _pgd(step_size=math.nan), ValueError, "step_size"),
    Row("pgd steps -1", _pgd(steps=-1), ValueError, "steps"),
    Row("pgd steps 1.5", _pgd(steps=1.5), ValueError, "steps"),
    Row("pgd radius -1", _pgd(radius=-1.0), ValueError, "radius"),
    Row("pgd p 0.5", _pgd(p=0.5), ValueError, "p:"),
    Row("pgd restarts 0", _pgd(restarts=0), ValueError, "restarts"),
    Row("pgd label = K", _pgd(y=np.full(6, 3)), ValueError, "y:"),
    Row("pgd NaN x", _pgd(x=_nan(X)), ValueError, "x:"),
    Row("pgd empty batch", _pgd(x=X[:0], y=Y[:0]), ValueError, "x:"),
    Row("apgd_ce steps 0", _attack(apgd_ce, radius=0.1, steps=0), ValueError, "steps"),
    Row("apgd_ce radius -1", _attack(apgd_ce, radius=-1.0, steps=2), ValueError, "radius"),
    Row("apgd_ce rho 2", _attack(apgd_ce, radius=0.1, steps=2, rho=2.0), ValueError, "rho"),
    Row("apgd_ce momentum -1", _attack(apgd_ce, radius=0.1, steps=2, momentum=-1.0), ValueError,
        "momentum"),
    Row("apgd_ce label = K", _attack(apgd_ce, y=np.full(6, 3), radius=0.1, steps=2), ValueError,
        "y:"),
    Row("deepfool p 0.5", _attack(deepfool, p=0.5, steps=2), ValueError, "p:"),
    Row("deepfool steps -1", _attack(deepfool, steps=-1), ValueError, "steps"),
    Row("deepfool overshoot -1", _attack(deepfool, overshoot=-1.0, steps=2), ValueError,
        "overshoot"),
    Row("deepfool candidates 0", _attack(deepfool, candidates=0, steps=2), ValueError,
        "candidates"),
    Row("deepfool label = K", _attack(deepfool, y=np.full(6, 3), steps=2), ValueError, "y:"),
    Row("deepfool float labels", _attack(deepfool, y=Y + 0.5, steps=2), (ValueError, TypeError),
        "y:"),
    Row("cw_l2 c -1", _attack(cw_l2, c=-1.0, steps=2, search_steps=1), ValueError, "c:"),
    Row("cw_l2 steps -1", _attack(cw_l2, steps=-1), ValueError, "steps"),
    Row("cw_l2 kappa nan", _attack(cw_l2, kappa=math.nan, steps=2), ValueError, "kappa"),
    Row("cw_l2 learning_rate 0", _attack(cw_l2, learning_rate=0.0, steps=2), ValueError,
        "learning_rate"),
    Row("cw_l2 label = K", _attack(cw_l2, y=np.full(6, 3), steps=2), ValueError, "y:"),
    Row("lbfgs_untargeted c 0", _attack(lbfgs_untargeted, c=0.0, max_iter=2), ValueError, "c:"),
    Row("lbfgs_untargeted max_iter 0", _attack(lbfgs_untargeted, max_iter=0), ValueError,
        "max_iter"),
    Row("lbfgs_untargeted label < 0", _attack(lbfgs_untargeted, y=-Y, max_iter=2), ValueError,
        "y:"),
    Row("search.lbfgs target = K", _attack(search.lbfgs, y=np.full(6, 3), max_iter=2),
        ValueError, "target"),
    Row("search.lbfgs search_steps -1", _attack(search.lbfgs, search_steps=-1), ValueError,
        "search_steps"),
    Row("minimum_perturbation max_radius -1",
        _attack(search.minimum_perturbation, max_radius=-1.0), ValueError, "max_radius"),
    Row("minimum_perturbation max_radius nan",
        _attack(search.minimum_perturbation, max_radius=math.nan), ValueError, "max_radius"),
    Row("minimum_perturbation grid_points 0",
        _attack(search.minimum_perturbation, max_radius=1.0, grid_points=0), ValueError,
        "grid_points"),
    Row("minimum_perturbation bisection_steps -1",
        _attack(search.minimum_perturbation, max_radius=1.0, bisection_steps=-1), ValueError,
        "bisection_steps"),
    Row("minimum_perturbation label = K",
        _attack(search.minimum_perturbation, y=np.full(6, 3), max_radius=1.0), ValueError, "y:"),
    Row("input_gradient label = K", lambda: input_gradient(logits_fn, X, np.full(6, 3)),
        ValueError, "y"),
    Row("external_model logits_fn not callable", lambda: external_model(3, lambda x, g: g),
        TypeError, "logits_fn"),
    Row("external_model input_gradient_fn not callable",
        lambda: external_model(lambda x: x, None), TypeError, "input_gradient_fn"),
    Row("external_model logits of another shape",
        lambda: external_model(lambda x: x[:, :1].repeat(2, 0), lambda x, g: x)(X), ValueError,
        "logits_fn"),
]


def f(x):
    return ops.sum(ops.multiply(x, x))


AUTODIFF_ROWS = [
    Row("grad f not callable", lambda: autodiff.grad(3), TypeError, "f must"),
    Row("grad argnum 5", lambda: autodiff.grad(f, 5)(G), (ValueError, TypeError), "argnum"),
    Row("grad argnum -1.5", lambda: autodiff.grad(f, 1.5), (ValueError, TypeError), "argnum"),
    Row("grad int x", lambda: autodiff.grad(f)(np.ones(3, np.int64)), TypeError, "argument 0"),
    Row("grad of a non-scalar", lambda: autodiff.grad(lambda x: ops.multiply(x, x))(G),
        (ValueError, TypeError), "scalar"),
    Row("value_and_grad argnum 3", lambda: autodiff.value_and_grad(f, 3)(G),
        (ValueError, TypeError), "argnum"),
    Row("vjp cotangent of another shape", lambda: autodiff.vjp(ops.negative, G)[1](np.ones(5)),
        ValueError, "cotangent"),
    Row("vjp f not callable", lambda: autodiff.vjp(None, G), TypeError, "f must"),
    Row("jacobian argnum 2", lambda: autodiff.jacobian(ops.negative, 2)(G),
        (ValueError, TypeError), "argnum"),
    Row("hessian argnum 2", lambda: autodiff.hessian(f, 2)(G), (ValueError, TypeError),
        "argnum"),
    Row("hvp vector of another shape", lambda: autodiff.hvp(f)(G, np.ones(5, np.float32)),
        ValueError, "v"),
    Row("jvp tangents of another shape", lambda: autodiff.jvp(ops.negative, (G,), (G[:1],)),
        ValueError, "tangent"),
    Row("jvp tangents of another count", lambda: autodiff.jvp(ops.negative, (G,), (G, G)),
        ValueError, "tangents"),
    Row("check_grads order 0", lambda: autodiff.check_grads(f, (G,), order=0), ValueError,
        "order"),
    Row("check_grads rtol -1", lambda: autodiff.check_grads(f, (G,), rtol=-1.0), ValueError,
        "rtol"),
    Row("check_grads eps 0", lambda: autodiff.check_grads(f, (G,), eps=0.0), ValueError, "eps"),
    Row("check_grads args not a sequence", lambda: autodiff.check_grads(f, G.sum()),
        (ValueError, TypeError), "args"),
]

ROWS = LP_ROWS + K_ROWS + LINEARIZED_ROWS + FAMILY_ROWS + ATTACK_ROWS + AUTODIFF_ROWS


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_a_clear_error(row):
    check_row(row)
