"""Every error a user can meet on the command line is one line with its own exit status and
no traceback (issue 16): diverged runs, refused or missing data, failed downloads, missing
backends, bad output folders, clashing runs, checkpoints that do not fit their model."""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))
from data_writers import cifar_files, write_files  # noqa: E402

from refimpl import nn  # noqa: E402
from refimpl.backend import make_rng
from refimpl.cli import EXIT_STATUSES, _fraction_or_count, main
from refimpl.commands.outdir import LOCK_NAME, output_folder
from refimpl.training import fit, load_checkpoint, save_checkpoint

QUICK = ["--subset", "64", "--batch-size", "32", "--epochs", "1", "--quiet"]


def _fails(capsys, argv, status):
    """Run ``argv``; check the status and that stderr is one error line without a traceback."""
    assert main(argv) == status
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    lines = [line for line in err if "Warning" not in line and not line.startswith("  ")]
    assert len(lines) == 1 and lines[0].startswith(f"refimpl {argv[0]}: error: "), err
    return lines[0]


def test_exit_statuses_are_distinct_and_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for code, meaning in EXIT_STATUSES.items():
        assert f"{code:3d}  {meaning}" in text


def test_a_diverged_run_keeps_only_finite_checkpoints(tmp_path, capsys):
    # the reproduction: lr 1e30 from epoch 4 on
    out = tmp_path / "run"
    with np.errstate(all="ignore"):
        line = _fails(capsys, ["train", "--subset", "32", "--batch-size", "32", "--epochs", "8",
                               "--lr-milestones", "3:1e30", "--out", str(out), "--quiet"], 6)
    assert "diverged" in line and "learning rate" in line
    params, _, meta = load_checkpoint(out / "checkpoint.npz")
    assert meta["epoch"] <= 4
    assert all(np.isfinite(v).all() for v in params.values())
    assert all(np.isfinite(r["test_loss"]) for r in meta["history"])
    assert not list(out.glob("*.tmp"))


def test_a_malicious_cifar_file_is_refused_in_one_line(tmp_path, capsys):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    files, _ = cifar_files(n=1)
    files["data_batch_2"] = pickle.dumps(Exploit(), protocol=2)
    write_files(tmp_path / "cifar" / "cifar-10-batches-py", files)
    line = _fails(capsys, ["train", "--dataset", "cifar10", "--data-dir", str(tmp_path / "cifar"),
                           "--out", str(tmp_path / "run"), *QUICK], 4)
    assert "os.system" in line or "posix.system" in line
    assert "not a genuine" in line and not marker.exists()


def test_a_failed_download_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REFIMPL_MIRROR", "http://127.0.0.1:9/")  # the discard port: refused
    line = _fails(capsys, ["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "d"),
                           "--download", "--out", str(tmp_path / "run"), *QUICK], 5)
    assert "127.0.0.1" in line and "REFIMPL_MIRROR" in line


def test_a_missing_backend_is_one_line(tmp_path, capsys):
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    line = _fails(capsys, ["train", "--backend", "cupy", "--out", str(tmp_path / "r"), *QUICK], 9)
    assert "cupy" in line.lower() and "--backend numpy" in line


def test_out_that_is_a_file_is_refused_before_any_data_is_read(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("mine")
    # mnist has no files here: the folder check must come first (status 7, not 3)
    line = _fails(capsys, ["train", "--dataset", "mnist", "--data-dir", str(tmp_path),
                           "--out", str(target), *QUICK], 7)
    assert "is a file" in line and target.read_text() == "mine"
    line = _fails(capsys, ["train", "--out", str(target / "below"), *QUICK], 7)
    assert "not writable" in line


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_out_that_is_read_only_is_refused(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert "not writable" in _fails(capsys, ["train", "--out", str(folder), *QUICK], 7)
    finally:
        folder.chmod(0o700)


def test_a_second_run_into_a_used_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    with output_folder(out):
        line = _fails(capsys, ["train", "--out", str(out), *QUICK], 7)
    assert "in use by another refimpl run" in line and f"pid {os.getpid()}" in line
    assert main(["train", "--out", str(out), *QUICK]) == 0  # released
    assert not (out / LOCK_NAME).exists()


def test_a_lock_left_by_a_killed_run_is_stale(tmp_path):
    out = tmp_path / "run"
    code = textwrap.dedent(f"""
        import sys, time
        from refimpl.commands.outdir import output_folder
        with output_folder({str(out)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OSError, match="in use"), output_folder(out):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (out / LOCK_NAME).exists()  # left behind by the killed process ...
    with output_folder(out):  # ... and taken over
        pass


def test_stale_temporary_files_are_removed_at_run_start(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    stale = [out / "checkpoint.npz.abc123.tmp", out / "metrics.json.x.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    (out / "notes.tmp").write_text("not ours")
    assert main(["train", "--out", str(out), *QUICK]) == 0
    assert not any(p.exists() for p in stale) and (out / "notes.tmp").exists()


def test_epochs_zero_writes_metrics_of_the_initial_parameters(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--epochs", "0", "--subset", "64", "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["history"] == [] and 0 <= metrics["test"]["accuracy"] <= 1
    assert not (out / "checkpoint.npz").exists()


def test_k_is_a_count_when_an_int_and_a_fraction_otherwise(tmp_path):
    assert _fraction_or_count("1") == 1 and isinstance(_fraction_or_count("1"), int)
    assert _fraction_or_count("1.0") == 1.0 and isinstance(_fraction_or_count("1.0"), float)
    assert _fraction_or_count("0.5") == 0.5 and _fraction_or_count("50") == 50
    out = tmp_path / "run"
    assert main(["train", "--method", "ksup", "--k", "1.0", "--radius", "0.1", "--out", str(out),
                 *QUICK]) == 0
    assert json.loads((out / "metrics.json").read_text())["config"]["method_settings"]["k"] == 1.0


def _checkpoint(tmp_path, model_name, params, **meta):
    path = tmp_path / "c.npz"
    save_checkpoint(path, params, None, {"model": model_name, "dataset": "digits",
                                         "input_shape": [1, 8, 8], "num_classes": 10,
                                         "epoch": 1, **meta})
    return path


def _params(name):
    return nn.build(name, (1, 8, 8), 10).init(make_rng(0))


def test_evaluate_refuses_a_checkpoint_of_another_model(tmp_path, capsys):
    path = _checkpoint(tmp_path, "mlp-100-100", _params("mlp-400-400"))  # relabelled
    line = _fails(capsys, ["evaluate", str(path)], 8)
    assert "mlp-100-100" in line and "dense1.weight" in line and "(64, 400)" in line


def test_evaluate_refuses_a_checkpoint_with_a_missing_parameter(tmp_path, capsys):
    params = _params("mlp-400-400")
    del params["dense2.bias"]
    line = _fails(capsys, ["evaluate", str(_checkpoint(tmp_path, "mlp-400-400", params))], 8)
    assert "missing dense2.bias" in line


def test_evaluate_refuses_a_checkpoint_written_by_fit_without_metadata(tmp_path, capsys):
    model = nn.build("mlp-100-100", (4,), 3)
    x = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)
    y = np.arange(12) % 3
    fit(model, model.init(make_rng(0)), (x, y), optimizer=nn.SGD(0.1), epochs=1, batch_size=6,
        quiet=True, checkpoint=tmp_path / "fit.npz")
    line = _fails(capsys, ["evaluate", str(tmp_path / "fit.npz")], 8)
    assert "lacks dataset" in line and "meta=" in line


def test_evaluate_of_a_missing_checkpoint_names_it(tmp_path, capsys):
    assert str(tmp_path / "none.npz") in _fails(capsys, ["evaluate", str(tmp_path / "none.npz")], 3)


def test_debug_prints_the_traceback(tmp_path, capsys):
    assert main(["--debug", "evaluate", str(tmp_path / "none.npz")]) == 3
    assert "Traceback" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "none.npz"), "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_an_internal_error_is_one_line_asking_for_a_report(tmp_path, capsys, monkeypatch):
    import refimpl.commands.train as commands

    def broken(args):
        raise KeyError("boom")

    monkeypatch.setattr(commands, "evaluate_checkpoint", broken)
    line = _fails(capsys, ["evaluate", str(tmp_path / "c.npz")], 70)
    assert "internal error KeyError" in line and "--debug" in line


def test_python_dash_m_returns_the_status():
    done = subprocess.run([sys.executable, "-m", "refimpl", "evaluate", "no/such.npz"],
                          capture_output=True, text=True, env={**os.environ,
                                                               "PYTHONPATH": os.getcwd()})
    assert done.returncode == 3 and "Traceback" not in done.stderr
