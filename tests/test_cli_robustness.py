"""``refimpl robustness`` on a digits checkpoint: the table (JSON, CSV, PNG) and curves, the
numbers equal to accuracy_under_attack, and clear errors; ``refimpl.load_model``."""

import csv
import json

import numpy as np
import pytest

import refimpl
from refimpl import evaluation
from refimpl.cli import main
from refimpl.data.pipeline import prepare


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--dataset", "digits", "--model", "mlp-100-100", "--subset", "300",
                 "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    return out / "checkpoint.npz"


def test_load_model_rebuilds_the_trained_model(checkpoint):
    loaded = refimpl.load_model(checkpoint)
    assert loaded.model.name == "mlp-100-100" and loaded.dataset == "digits"
    x = np.zeros((2,) + loaded.model.input_shape, dtype=np.float32)
    np.testing.assert_array_equal(loaded.logits_fn(x), loaded.model.apply(loaded.params, x))
    assert refimpl.load_model(checkpoint.parent).model.name == "mlp-100-100"


def test_robustness_writes_the_table_and_curves(checkpoint, tmp_path, capsys):
    out = tmp_path / "robust"
    code = main(["robustness", str(checkpoint), "--attacks", "fgsm,l2,urn", "--radii",
                 "0.05,0.2", "--subset", "60", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "robustness.json").read_text())
    assert report["clip"] == [0.0, 1.0] and report["only_correct"] is False
    assert list(report["attacks"]) == ["fgsm", "l2", "urn"]
    assert report["attacks"]["fgsm"]["label"] == "fgsm (linf)"
    loaded = refimpl.load_model(checkpoint)
    (_, _, x, y), _ = prepare("digits")
    x, y = x[:60].astype(np.float32), y[:60]
    expected = [evaluation.accuracy_under_attack(loaded.model, loaded.params, x, y, "fgsm",
                                                 radius=r) for r in (0.05, 0.2)]
    assert report["attacks"]["fgsm"]["accuracy"] == expected
    assert expected[1] < report["clean"]
    with open(out / "robustness.csv") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["attack", "norm", "radius", "accuracy"] and len(lines) == 1 + 1 + 3 * 2
    assert (out / "robustness_table.png").stat().st_size > 0
    assert (out / "accuracy_vs_radius.png").stat().st_size > 0
    assert "fgsm (linf)" in capsys.readouterr().out


def test_default_radii_are_sized_to_the_data(checkpoint, tmp_path):
    out = tmp_path / "defaults"
    assert main(["robustness", str(checkpoint), "--attacks", "sign_l2,fgsm", "--subset", "20",
                 "--no-clip", "--only-correct", "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "robustness.json").read_text())
    assert report["clip"] is None and report["only_correct"] is True
    assert report["attacks"]["fgsm"]["radii"] == [0.05, 0.1, 0.2, 0.3]
    l2 = report["attacks"]["sign_l2"]["radii"]
    assert len(l2) == 4 and 0.1 < l2[0] < l2[-1] < 1.5  # digits: about 0.4x MNIST's norms


def test_robustness_errors_are_one_line(checkpoint, tmp_path, capsys):
    assert main(["robustness", str(checkpoint), "--attacks", "nope", "--out",
                 str(tmp_path)]) == 2
    assert "attack: expected one of" in capsys.readouterr().err
    assert main(["robustness", str(checkpoint), "--radii", "0.1,x", "--out",
                 str(tmp_path)]) == 2
    assert "--radii" in capsys.readouterr().err
    assert main(["robustness", str(tmp_path / "missing.npz")]) == 3  # file not found
