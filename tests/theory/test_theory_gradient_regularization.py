"""theory.gradient_regularization: Taylor orders, Lemma B.1, Gaussian smoothing, Hessians."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from theory_strategies import FAST

from theory import gradient_regularization as gr
from theory.norms import lp_norm

SMALL = settings(FAST, max_examples=15)  # each example traces a few graphs
seeds = st.integers(0, 2**31)
architectures = st.sampled_from([(4, 3), (5, 4, 3), (3, 5, 4)])


def model(seed, sizes):
    rng = np.random.default_rng(seed)
    params = gr.init_mlp(rng, sizes)
    return params, rng.normal(size=sizes[0]), int(rng.integers(sizes[-1]))


@SMALL
@given(seed=seeds, sizes=architectures)
def test_double_backprop_hessian_matches_finite_differences(seed, sizes):
    params, x, label = model(seed, sizes)
    hess = gr.input_hessian(params, x, label)
    assert hess.shape == (sizes[0], sizes[0]) and hess.dtype == np.float64
    np.testing.assert_allclose(hess, hess.T, atol=1e-12)
    np.testing.assert_allclose(hess, gr.hessian_fd(params, x, label), atol=1e-7)
    v = np.random.default_rng(seed).normal(size=sizes[0])
    np.testing.assert_allclose(gr.hessian_vector_product(params, x, label, v), hess @ v,
                               atol=1e-12)


@SMALL
@given(seed=seeds, sizes=architectures, p=st.sampled_from([1.0, 1.5, 2.0, 4.0, math.inf]))
def test_first_order_error_is_quadratic_and_second_order_cubic(seed, sizes, p):
    params, x, label = model(seed, sizes)
    sigmas = [0.02, 0.01, 0.005]
    errors = [gr.expansion_errors(params, x, label, s, p) for s in sigmas]
    first = np.array([abs(e["first_error"]) for e in errors])
    second = np.array([abs(e["second_error"]) for e in errors])
    scale = 1 + np.abs(gr.input_hessian(params, x, label)).sum()  # bounds the constants
    assert np.all(first <= 4 * scale * np.array(sigmas) ** 2 * sizes[0])
    assert np.all(second <= 50 * scale * np.array(sigmas) ** 3 * sizes[0] ** 1.5)
    quadratic = first[0] - second[0]  # the size of 1/2 eps^T H eps at the largest sigma
    if first[0] > 1e-9 and abs(quadratic) > 10 * second[0]:  # the sigma^2 term dominates:
        assert 2.5 < first[0] / first[1] < 6.5  # halving sigma divides the error by about 4


def test_first_order_check_detects_the_wrong_norm():
    # with ||g||_p in place of the dual ||g||_q the error is O(sigma), not O(sigma^2):
    # halving sigma halves it instead of quartering it
    params, x, label = model(3, (5, 4, 3))
    g = np.asarray(gr.input_grad(params, x, label))
    right, wrong = [], []
    for sigma in (0.01, 0.005):
        e = gr.expansion_errors(params, x, label, sigma, 2.5)
        right.append(abs(e["first_error"]))
        wrong.append(abs(e["exact"] - (e["first_order"] - sigma * lp_norm(g, 2.5 / 1.5)
                                       + sigma * lp_norm(g, 2.5))))
    assert 3.5 < right[0] / right[1] < 4.5
    assert 1.5 < wrong[0] / wrong[1] < 2.5


@SMALL
@given(seed=seeds, sizes=architectures)
def test_lemma_b1_gradient_outer_product_is_j_h_jt(seed, sizes):
    params, x, label = model(seed, sizes)
    outer, gauss_newton = gr.lemma_b1_sides(params, x, label)
    np.testing.assert_allclose(gauss_newton, outer, rtol=1e-9, atol=1e-14)


def test_lemma_b1_check_detects_the_logit_hessian():
    # with the Hessian in the logits (diag(y) - y y^T) and the logits' Jacobian, J H J^T is
    # the usual Gauss-Newton matrix: for softmax regression it is the Hessian, not g g^T
    params, x, label = model(1, (4, 3))
    outer, _ = gr.lemma_b1_sides(params, x, label)
    y = np.asarray(gr.probabilities(params, x))
    w = params["w0"]  # logits = x W + b, so d logits / dx = W^T
    wrong = w @ (np.diag(y) - np.outer(y, y)) @ w.T
    np.testing.assert_allclose(wrong, gr.input_hessian(params, x, label), atol=1e-12)
    assert np.abs(wrong - outer).max() > 1e-3


@SMALL
@given(seed=seeds, sizes=architectures)
def test_gaussian_noise_adds_half_sigma_squared_trace(seed, sizes):
    params, x, label = model(seed, sizes)
    rng = np.random.default_rng(seed + 1)
    sigma = 0.05
    measured, predicted, stderr = gr.gaussian_smoothing_gap(params, x, label, sigma, 4000, rng)
    hess_size = np.abs(gr.input_hessian(params, x, label)).sum()
    fourth_order = 10 * sigma ** 4 * (1 + hess_size) * sizes[0] ** 2
    assert abs(measured - predicted) <= 5 * stderr + fourth_order


def test_gaussian_check_detects_a_missing_half():
    params, x, label = model(5, (4, 3))
    measured, predicted, stderr = gr.gaussian_smoothing_gap(params, x, label, 0.05, 20000,
                                                            np.random.default_rng(0))
    assert abs(measured - predicted) <= 5 * stderr + 1e-7
    assert abs(measured - 2 * predicted) > 5 * stderr + 1e-7  # sigma^2 tr(H) is wrong


@SMALL
@given(seed=seeds, sizes=architectures)
def test_second_order_terms_of_the_chain(seed, sizes):
    params, x, label = model(seed, sizes)
    sigma = 0.01
    terms = gr.second_order_terms(params, x, label, sigma)
    errors = gr.expansion_errors(params, x, label, sigma, 2.0)
    # the "hessian" term is the true one: it is what the first-order expansion misses
    np.testing.assert_allclose(errors["first_error"], terms["hessian"],
                               rtol=0.05, atol=50 * sigma ** 3)
    np.testing.assert_allclose(terms["gradient"],
                               0.5 * sigma ** 2 * np.trace(gr.lemma_b1_sides(params, x, label)[1]),
                               rtol=1e-9)  # eq. 18 -> 19: tr(J H_L J^T) = ||grad L||^2


def test_eq20_overstates_the_second_order_term_for_softmax_regression():
    """Linear logits: H = W (diag(y) - y y^T) W^T is PSD, so u'Hu <= tr(H); on 30 random
    examples eq. 20's trace term is larger every time (median factor 3.3, up to 22), and
    ||grad L||^2 lands on both sides of the true term."""
    rng = np.random.default_rng(0)
    ratios, gradient_ratios = [], []
    for _ in range(30):
        params = gr.init_mlp(rng, (8, 5))
        x, label = rng.normal(size=8), int(rng.integers(5))
        terms = gr.second_order_terms(params, x, label, 0.1)
        assert terms["trace"] >= terms["hessian"] - 1e-15
        ratios.append(terms["trace"] / terms["hessian"])
        gradient_ratios.append(terms["gradient"] / terms["hessian"])
    assert min(ratios) >= 1 - 1e-12 and np.median(ratios) > 2 and max(ratios) > 10
    assert min(gradient_ratios) < 1 < max(gradient_ratios)  # ||grad L||^2 on both sides


def test_theory_refuses_bad_sigma_and_p():
    params, x, label = model(0, (4, 3))
    with pytest.raises(ValueError, match="sigma"):
        gr.expansion_errors(params, x, label, -0.1, 2.0)
    with pytest.raises(ValueError, match="p must be"):
        gr.expansion_errors(params, x, label, 0.1, 0.5)
    with pytest.raises(ValueError, match="sigma"):
        gr.second_order_terms(params, x, label, float("nan"))
