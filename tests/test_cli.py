"""The refimpl command as a user runs it: --help, gradcheck, train, evaluate."""

import json
import subprocess
import sys

import numpy as np
import pytest

from refimpl.cli import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "gradcheck" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["numpy", "array_api_strict"])
def test_gradcheck_agrees_to_second_order(backend, capsys):
    assert main(["gradcheck", "--backend", backend, "--order", "2"]) == 0
    out = capsys.readouterr().out
    assert "12 of 12 checks agree" in out
    assert "FAILED" not in out


def test_gradcheck_reports_failure_with_an_impossible_tolerance(capsys):
    assert main(["gradcheck", "--order", "1", "--rtol", "0"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "refimpl", "gradcheck", "--order", "1"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "6 of 6 checks agree" in out.stdout


def _train(tmp_path, *extra):
    out = tmp_path / "run"
    code = main(["train", "--dataset", "digits", "--subset", "300", "--epochs", "2",
                 "--batch-size", "50", "--out", str(out), "--quiet", *extra])
    return code, out


def test_train_writes_checkpoint_metrics_and_curves(tmp_path, capsys):
    code, out = _train(tmp_path)
    assert code == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert [r["epoch"] for r in metrics["history"]] == [1, 2]
    assert metrics["config"]["model"] == "mlp-400-400" and metrics["config"]["seed"] == 0
    assert metrics["test"]["n"] == 360
    assert f"test accuracy: {100 * metrics['test']['accuracy']:.2f}%" in printed
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "checkpoint.npz").is_file()
    assert not list(out.glob("*.tmp"))  # no temporary files left behind


def test_evaluate_reports_what_training_measured(tmp_path, capsys):
    _, out = _train(tmp_path)
    capsys.readouterr()
    assert main(["evaluate", str(out / "checkpoint.npz"), "--json", str(tmp_path / "e.json")]) == 0
    trained = json.loads((out / "metrics.json").read_text())["test"]
    scored = json.loads((tmp_path / "e.json").read_text())["test"]
    assert scored["accuracy"] == trained["accuracy"]
    assert abs(scored["loss"] - trained["loss"]) < 1e-6
    assert "after 2 epochs on digits" in capsys.readouterr().out


def test_train_resume_continues_to_the_same_parameters(tmp_path):
    from refimpl.training import load_checkpoint
    straight = tmp_path / "straight"
    assert main(["train", "--subset", "200", "--epochs", "3", "--batch-size", "40", "--quiet",
                 "--out", str(straight)]) == 0
    resumed = tmp_path / "resumed"
    assert main(["train", "--subset", "200", "--epochs", "2", "--batch-size", "40", "--quiet",
                 "--out", str(resumed)]) == 0
    assert main(["train", "--subset", "200", "--epochs", "3", "--batch-size", "40", "--quiet",
                 "--out", str(resumed), "--resume"]) == 0
    want, _, _ = load_checkpoint(straight / "checkpoint.npz")
    got, _, meta = load_checkpoint(resumed / "checkpoint.npz")
    assert meta["epoch"] == 3
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_train_help_lists_models_and_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("--model", "--dataset", "--epochs", "--batch-size", "--lr", "--seed",
                 "--backend", "--out", "--resume", "mlp-400-400", "lenet", "shaham-cnn"):
        assert word in text


@pytest.mark.parametrize("argv, message", [
    (["train", "--epochs", "-1"], "--epochs: expected a number >= 0"),
    (["train", "--batch-size", "0"], "--batch-size: expected a number >= 1"),
    (["train", "--lr", "0"], "--lr: expected a number > 0"),
    (["train", "--lr", "nan"], "--lr: expected a finite number"),
    (["train", "--seed", "-3"], "--seed: expected a number >= 0"),
    (["train", "--k", "half"], "expected a count"),
    (["gradcheck", "--rtol", "-1"], "--rtol: expected a number >= 0"),
    (["gradcheck", "--rtol", "nan"], "--rtol: expected a finite number"),
    (["gradcheck", "--order", "0"], "--order: expected a number >= 1"),
    (["train", "--model", "nope"], "invalid choice"),
    (["train", "--method", "nope"], "invalid choice"),
])
def test_train_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_train_with_a_method_and_its_options(tmp_path, capsys):
    out = tmp_path / "ksup"
    assert main(["train", "--method", "ksup", "--k", "16", "--radius", "0.5", "--subset", "200",
                 "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert config["method"] == "ksup"
    assert config["method_settings"] == {"radius": 0.5, "k": 16}
    # an option the method does not take is refused, naming it
    assert main(["train", "--method", "lwa", "--k", "0.5", "--epochs", "0", "--out",
                 str(out)]) == 2
    assert "k: method 'lwa' has no such option" in capsys.readouterr().err


def test_train_without_data_files_says_where_it_looked(tmp_path, capsys):
    code = main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--quiet",
                 "--out", str(tmp_path / "run")])
    assert code == 3
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and str(tmp_path) in err


def test_evaluate_refuses_a_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip file")
    assert main(["evaluate", str(bad)]) == 8
    assert str(bad) in capsys.readouterr().err
