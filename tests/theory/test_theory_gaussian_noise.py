"""theory.gaussian_noise and the lyu-tables pipeline, on synthetic blobs (never MNIST here)."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import norm
from theory_strategies import FAST

from theory import __main__ as cli
from theory import gaussian_noise as gn
from theory import lyu_tables

PAPER = lyu_tables.PAPER


def test_eq33_reproduces_the_papers_table_viii_from_tables_vi_and_vii():
    for i in range(3):
        p_miss = PAPER["actual"][i][0] / 100  # the no-noise error, as in both tables
        for j, sigma in enumerate(lyu_tables.SIGMAS[1:], start=1):
            ours = 100 * gn.predicted_error(p_miss, PAPER["mu_a"][i], PAPER["sigma_a"][i], sigma)
            assert abs(ours - PAPER["predicted"][i][j]) < 0.06, (i, sigma, ours)


def test_a_wrong_spread_does_not_reproduce_table_viii():
    def wrong(p_miss, mu_a, sigma_a, sigma):  # stds added instead of variances
        return p_miss + (1 - p_miss) * norm.cdf(-mu_a / (sigma + sigma_a))
    misses = [abs(100 * wrong(PAPER["actual"][i][0] / 100, PAPER["mu_a"][i],
                              PAPER["sigma_a"][i], 0.3) - PAPER["predicted"][i][2])
              for i in range(3)]
    assert max(misses) > 1.0


@FAST
@given(p_miss=st.floats(0, 1), mu=st.floats(0.01, 5), sd=st.floats(0.01, 3),
       s1=st.floats(0, 2), s2=st.floats(0, 2))
def test_predicted_error_is_a_fraction_growing_with_noise(p_miss, mu, sd, s1, s2):
    low, high = sorted((s1, s2))
    a, b = gn.predicted_error(p_miss, mu, sd, low), gn.predicted_error(p_miss, mu, sd, high)
    assert p_miss - 1e-12 <= a <= b + 1e-12 <= 1 + 2e-12
    assert gn.predicted_error(p_miss, 2 * mu, sd, high) <= b + 1e-12


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X, y = gn.synthetic_blobs(rng, n=600, dim=20, num_classes=4, spread=1.5)
    model, res = gn.fit_softmax_regression(X, y, 4, 1e-2)
    return X, y, model, res


def test_fit_reaches_a_stationary_point(blobs):
    X, y, model, res = blobs
    assert res.success and model.weight.shape == (20, 4) and model.weight.dtype == np.float64
    # weight decay shrinks the weights
    stronger, _ = gn.fit_softmax_regression(X, y, 4, 1.0)
    assert np.linalg.norm(stronger.weight) < np.linalg.norm(model.weight)


def test_line_search_finds_the_exact_linear_crossing(blobs):
    X, y, model, _ = blobs
    u = gn.loss_gradient_directions(model, X, y)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0)
    t = gn.minimum_perturbation(model.predict, X, y, u, t_max=30.0, grid_step=0.05)
    exact = gn.linear_crossing(model, X, y, u)
    np.testing.assert_allclose(t, exact, atol=1e-9)
    correct = model.predict(X) == y
    assert np.all(t[~correct] == 0) and np.all(t[correct] > 0)
    # just past t the prediction changed; just before it had not
    inside = correct & np.isfinite(t)
    assert np.all(model.predict(X[inside] + t[inside, None] * u[inside]) != y[inside])
    before = X[inside] + (t[inside, None] - 1e-6) * u[inside]
    assert np.all(model.predict(before) == y[inside])


def test_line_search_check_detects_a_grid_without_bisection(blobs):
    X, y, model, _ = blobs
    u = gn.loss_gradient_directions(model, X, y)
    exact = gn.linear_crossing(model, X, y, u)
    coarse = gn.minimum_perturbation(model.predict, X, y, u, grid_step=0.05, bisections=0)
    assert np.abs(coarse - exact)[np.isfinite(exact)].max() > 1e-3


def test_measured_error_without_noise_is_p_miss(blobs):
    X, y, model, _ = blobs
    stats = gn.perturbation_statistics(model, X, y)
    rng = np.random.default_rng(1)
    assert gn.error_under_noise(model.predict, X, y, 0.0, rng) == pytest.approx(stats["p_miss"])
    assert stats["mu_a"] > 0 and stats["sigma_a"] > 0 and stats["not_found"] == 0
    # noise much larger than the perturbations: predictions become nearly random
    assert gn.error_under_noise(model.predict, X, y, 50.0, rng) > 0.5


def test_lyu_tables_pipeline_on_blobs(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X, y = gn.synthetic_blobs(rng, n=400, dim=16, num_classes=3, spread=1.5)
    result = lyu_tables.run(X, y, 3, mapping="mean", log=lambda *a: None)
    text = lyu_tables.format_tables(result)
    assert "Table VI" in text and "[ 40.07]" in text
    paths = lyu_tables.write_outputs(result, tmp_path)
    assert [p.name for p in paths] == ["results.json", "tables.csv", "fig5_min_perturbations.png",
                                       "fig7_min_perturbations_below_0.1.png"]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [row["lambda"] for row in saved["rows"]] == PAPER["lambdas"]
    for row in saved["rows"]:
        assert 0 <= row["p_miss"] <= 1 and all(0 <= v <= 1 for v in row["measured"])
        assert row["predicted"][0] >= row["p_miss"]
        assert row["density_slope"] >= 0 and len(row["additional"]) == 2
    assert "Table IX" in text
    assert len((tmp_path / "tables.csv").read_text().splitlines()) == 4
    assert (tmp_path / "fig7_min_perturbations_below_0.1.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_help_and_prop_c(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["lyu-tables", "--help"])
    assert exit_info.value.code == 0
    assert "--subset" in capsys.readouterr().out
    assert cli.main(["prop-c", "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").exists()
