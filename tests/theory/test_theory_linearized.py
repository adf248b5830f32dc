"""theory.linearized: Props. 3-4 against scipy LP / QP, and Danskin's gradient (Prop. 6)."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from theory_strategies import FAST, SCIPY, radii, vectors

from theory import linearized
from theory.logistic import adversarial_loss

norms_134 = st.sampled_from([1.0, 2.0, math.inf])


def problem(seed, n=3, k=4, dim=5, ties=False):
    rng = np.random.default_rng(seed)
    jac = np.round(rng.normal(size=(n, k, dim)), 1 if ties else 6)
    scores = rng.normal(size=(n, k))
    y = np.argmax(scores, axis=1)  # correctly classified: the other classes must catch up
    return jac, scores, y


@SCIPY
@given(seed=st.integers(0, 2**31), p=norms_134, ties=st.booleans())
def test_closed_form_agrees_with_linear_programs(seed, p, ties):
    jac, scores, y = problem(seed, ties=ties)
    r, norm, target = linearized.minimal_perturbation(jac, scores, y, p)
    for i in range(len(y)):
        value, _ = linearized.minimal_perturbation_numerical(jac[i], scores[i], y[i], p)
        np.testing.assert_allclose(norm[i], value, rtol=1e-6, atol=1e-9)
    rows = np.arange(len(y))
    from theory.norms import lp_norm  # noqa: PLC0415
    np.testing.assert_allclose(lp_norm(r, p), norm, rtol=1e-10)
    # x + r sits on the linearised boundary between y and the target class (Prop. 4)
    moved = scores + np.einsum("nkd,nd->nk", jac, r)
    np.testing.assert_allclose(moved[rows, y], moved[rows, target], atol=1e-9)
    assert np.all(moved[rows, y][:, None] >= moved - 1e-9)


def test_wrong_dual_norm_is_detected():
    jac, scores, y = problem(0)
    diff = jac[0] - jac[0, y[0]]
    gap = scores[0, y[0]] - scores[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        wrong = np.min(np.where(np.arange(4) == y[0], np.inf, gap / np.abs(diff).max(axis=1)))
    value, _ = linearized.minimal_perturbation_numerical(jac[0], scores[0], y[0], math.inf)
    np.testing.assert_allclose(linearized.minimal_perturbation(jac, scores, y, math.inf)[1][0],
                               value, rtol=1e-6)
    assert not np.isclose(wrong, value, rtol=1e-3)  # ||.||_inf where the dual is ||.||_1


def test_conventions_for_overtaken_and_unreachable_classes():
    jac = np.zeros((2, 3, 2))
    jac[0, 1] = [1.0, 0.0]
    scores = np.array([[1.0, 0.5, 1.2], [1.0, 0.2, 0.1]])
    y = np.array([0, 0])
    r, norm, target = linearized.minimal_perturbation(jac, scores, y, 2.0)
    assert norm[0] == 0 and target[0] == 2 and np.all(r[0] == 0)  # class 2 already wins
    assert norm[1] == np.inf and np.all(r[1] == 0)  # T_j = T_y everywhere: unreachable


@FAST
@given(w=vectors(max_dim=4), radius=radii, p=st.sampled_from([1.5, 2.0, 3.0, math.inf]),
       y=st.sampled_from([-1.0, 1.0]), seed=st.integers(0, 2**31))
def test_danskin_gradient_equals_finite_differences_of_the_max(w, radius, p, y, seed):
    x = np.random.default_rng(seed).normal(size=len(w))
    if p == math.inf:  # ||w||_1 has kinks at w_i = 0: keep away from them
        w = np.where(np.abs(w) < 0.1, 0.5, w)
    danskin = linearized.danskin_gradient(w, x, y, radius, p)
    numeric = linearized.finite_difference_gradient(
        lambda v: linearized.robust_logistic_loss(v, x, y, radius, p), w)
    np.testing.assert_allclose(danskin, numeric, rtol=1e-5, atol=1e-7)


def test_danskin_check_detects_the_clean_gradient():
    w, x, y, radius = np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -0.4]), 1.0, 0.5
    numeric = linearized.finite_difference_gradient(
        lambda v: linearized.robust_logistic_loss(v, x, y, radius, 2.0), w)
    np.testing.assert_allclose(linearized.danskin_gradient(w, x, y, radius, 2.0), numeric,
                               rtol=1e-6)
    clean = linearized.danskin_gradient(w, x, y, 0.0, 2.0)  # the gradient at r = 0
    assert np.abs(clean - numeric).max() > 1e-2
    np.testing.assert_allclose(linearized.robust_logistic_loss(w, x, y, radius, 2.0),
                               adversarial_loss(w, x[None], np.array([y]), radius, 2.0))


def test_unreachable_example_keeps_its_label_as_target():
    jac = np.zeros((1, 3, 2))  # every class has the same Jacobian: nobody catches up
    scores = np.array([[0.1, 0.2, 1.0]])
    r, norm, target = linearized.minimal_perturbation(jac, scores, np.array([2]), 2.0)
    assert norm[0] == np.inf and np.all(r[0] == 0)
    assert target[0] == 2  # argmin over all-inf values would say class 0


def test_the_papers_prop_3_as_printed_misses_the_optimal_value():
    """l2: (gap / ||T_j - T_y||) (T_j - T_y) has norm gap, not gap / ||T_j - T_y||; l1: without
    the sign of (T_j - T_y)_k the step can move away from class j."""
    jac = np.array([[[0.0, 0.0], [-3.0, 1.0]]])  # T_y = 0 for y = 0, T_1 - T_y = (-3, 1)
    scores, y = np.array([[2.0, 0.5]]), np.array([0])
    gap, diff = 1.5, jac[0, 1] - jac[0, 0]
    r, norm, _ = linearized.minimal_perturbation(jac, scores, y, 2.0)
    np.testing.assert_allclose(norm[0], gap / np.linalg.norm(diff))
    printed = gap / np.linalg.norm(diff) * diff
    assert not np.isclose(np.linalg.norm(printed), norm[0])
    np.testing.assert_allclose(np.linalg.norm(r[0]), norm[0])
    r1, norm1, _ = linearized.minimal_perturbation(jac, scores, y, 1.0)
    np.testing.assert_allclose(r1[0], [-gap / 3.0, 0.0])  # the sign of (T_j - T_y)_k = -3
    unsigned = np.array([gap / 3.0, 0.0])
    assert scores[0, 1] + diff @ unsigned < scores[0, 0]  # away from class 1: not a crossing
    np.testing.assert_allclose(scores[0, 1] + diff @ r1[0], scores[0, 0])
