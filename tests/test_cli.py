"""The refimpl command: --help, and gradcheck as a user runs it."""

import subprocess
import sys

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
