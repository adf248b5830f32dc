"""robustness_table: one row per model, the clean column first, radii overrides, fixed-set
columns. accuracy_vs_magnitude: the accuracy under attack at each magnitude, clean at 0."""

import math

import pytest
from eval_helpers import DETERMINISTIC, FEW, linear_problem, mlp_problem
from hypothesis import given
from hypothesis import strategies as st

from refimpl.evaluation import (accuracy, accuracy_under_attack, accuracy_vs_magnitude,
                                build_fixed_set, robustness_table)
from refimpl.training import evaluate


def test_robustness_table_rows_columns_and_radii(xp):
    mlp, mlp_params, x, y = mlp_problem(xp)
    linear, linear_params, _, _ = linear_problem(xp)
    models = {"mlp": (mlp, mlp_params), "linear": (linear, linear_params)}
    fixed = build_fixed_set(mlp, mlp_params, x, y, attacks=["l2"], radius=1.5, keep="all")
    rows = robustness_table(models, x, y, attacks=["linf", "urn", "clean", "linf", "fgsm"],
                            radius=1.5, radii={"fgsm": 0.2}, fixed={"Fixed": fixed},
                            batch_size=7)
    assert [row["model"] for row in rows] == ["mlp", "linear"]
    for row, (model, params) in zip(rows, models.values()):
        assert list(row) == ["model", "clean", "linf", "urn", "fgsm", "Fixed"]
        assert all(type(row[c]) is float and 0 <= row[c] <= 1 for c in list(row)[1:])
        assert row["clean"] == evaluate(model, params, x, y)["accuracy"]
        assert row["linf"] == accuracy_under_attack(model, params, x, y, "linf", radius=1.5)
        assert row["urn"] == accuracy_under_attack(model, params, x, y, "urn", radius=1.5,
                                                   batch_size=7)
        assert row["fgsm"] == accuracy_under_attack(model, params, x, y, "fgsm", radius=0.2)
        assert row["Fixed"] == accuracy(model, params, xp.asarray(fixed.x), y)
    assert rows[0]["fgsm"] != accuracy_under_attack(mlp, mlp_params, x, y, "fgsm", radius=1.5)


def test_robustness_table_progress_bar_and_errors(capsys):
    import numpy as np
    model, params, x, y = linear_problem(np, changed=3)
    rows = robustness_table({"a": (model, params)}, x, y, attacks=["l2"], progress=True)
    assert rows == [{"model": "a", "clean": 0.85,
                     "l2": accuracy_under_attack(model, params, x, y, "l2", radius=1.5)}]
    assert "robustness table" in capsys.readouterr().err
    with pytest.raises(ValueError, match="models: expected a non-empty mapping"):
        robustness_table({}, x, y, attacks=["l2"])
    with pytest.raises(ValueError, match="attack: expected one of"):
        robustness_table({"a": (model, params)}, x, y, attacks=["l3"])
    with pytest.raises(ValueError, match="attacks: expected a sequence of attack names"):
        robustness_table({"a": (model, params)}, x, y, attacks="l2")
    with pytest.raises(ValueError, match=r"radii\['l2'\]: expected a finite number >= 0"):
        robustness_table({"a": (model, params)}, x, y, attacks=["l2"], radii={"l2": -2})
    with pytest.raises(ValueError, match=r"radii: expected attack names from fgsm, .*got 'L2'"):
        robustness_table({"a": (model, params)}, x, y, attacks=["l2"], radii={"L2": 2})
    with pytest.raises(ValueError, match=r"models\['a'\]: expected a \(model, params\) pair"):
        robustness_table({"a": model}, x, y, attacks=["l2"])
    fixed = build_fixed_set(model, params, x, y, attacks=["l2"], radius=1.0, keep="all")
    with pytest.raises(ValueError, match=r"fixed\['l2'\]: expected a FixedSet under a name"):
        robustness_table({"a": (model, params)}, x, y, attacks=["l2"], fixed={"l2": fixed})


@pytest.mark.parametrize("attack", DETERMINISTIC + ["urn", "gaussian"])
def test_accuracy_vs_magnitude_is_accuracy_under_attack_at_each_magnitude(xp, attack):
    model, params, x, y = mlp_problem(xp)
    magnitudes = [0.0, 0.3, 1.0, 2.5]
    curve = accuracy_vs_magnitude(model, params, x, y, attacks=[attack], magnitudes=magnitudes,
                                  batch_size=7, clip=None, only_correct=True)[attack]
    assert len(curve) == 4 and all(type(a) is float for a in curve)
    assert curve[0] == accuracy(model, params, x, y) < 1.0  # c = 0: clean, not 1
    for c, found in zip(magnitudes, curve):
        assert found == accuracy_under_attack(model, params, x, y, attack, radius=c,
                                              batch_size=7, clip=None, only_correct=True)
    assert curve[-1] < curve[0]


@FEW
@given(c=st.floats(0.0, 4.0), batch_size=st.integers(1, 25))
def test_accuracy_vs_magnitude_property_on_a_perfect_classifier(xp, c, batch_size):
    model, params, x, y = linear_problem(xp)
    curves = accuracy_vs_magnitude(model, params, x, y, attacks=["adv_loss", "linf"],
                                   magnitudes=[0.0, c], batch_size=batch_size, clip=None)
    assert list(curves) == ["adv_loss", "linf"]
    for attack, (at_zero, at_c) in curves.items():
        assert at_zero == 1.0
        assert math.isclose(at_c, accuracy_under_attack(model, params, x, y, attack, radius=c,
                                                        clip=None))


def test_accuracy_vs_magnitude_errors():
    import numpy as np
    model, params, x, y = linear_problem(np)
    with pytest.raises(ValueError, match="magnitudes: expected a non-empty sequence"):
        accuracy_vs_magnitude(model, params, x, y, attacks=["l2"], magnitudes=[])
    with pytest.raises(ValueError, match="magnitudes: expected a finite number >= 0"):
        accuracy_vs_magnitude(model, params, x, y, attacks=["l2"], magnitudes=[1.0, -0.5])
    with pytest.raises(ValueError, match="attack: expected one of fgsm"):
        accuracy_vs_magnitude(model, params, x, y, attacks=["clean"], magnitudes=[1.0])
    with pytest.raises(ValueError, match="attack_mode"):
        accuracy_vs_magnitude(model, params, x, y, attacks=["l2"], magnitudes=[1.0],
                              attack_mode="dropout")
