"""Every tutorial runs in its tiny setting from any folder, and its committed notebook is current.

- Each ``tutorials/NN_name.py`` runs as a script in a subprocess with ``REFIMPL_TUTORIAL_TINY=1``
  from a folder outside the repository (the tutorials assert what they demonstrate, so a zero
  exit status means every check held) and writes at least one PNG into ``REFIMPL_TUTORIAL_OUT``.
- Each has its executed notebook ``tutorials/NN_name.ipynb`` committed beside it (made by
  ``python tutorials/build.py``): its cells are the script's (jupytext's own comparison), every
  code cell ran without error, and each ``show(...)`` call left one inline PNG.
- Without ``REFIMPL_TUTORIAL_OUT`` the tiny setting leaves no temporary folder behind.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))


def _env(**extra):
    env = dict(os.environ)
    env.update(REFIMPL_TUTORIAL_TINY="1", MPLBACKEND="Agg", **extra,
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    return env


def _run(path, cwd, env):
    done = subprocess.run([sys.executable, str(path)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (f"{path.name} exited with {done.returncode}\n"
                                  f"--- stdout (end) ---\n{done.stdout[-3000:]}\n"
                                  f"--- stderr (end) ---\n{done.stderr[-6000:]}")
    return done


def test_tutorials_exist():
    assert TUTORIALS, "no tutorials/NN_*.py found"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_in_tiny_setting_from_another_folder(path, tmp_path):
    figures, elsewhere = tmp_path / "figures", tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _run(path, elsewhere, _env(REFIMPL_TUTORIAL_OUT=str(figures)))
    assert list(figures.glob("*.png")), f"{path.name} wrote no PNG into REFIMPL_TUTORIAL_OUT"
    assert "Warning" not in done.stderr, done.stderr[-3000:]


def test_tiny_setting_removes_its_temporary_folder(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    _run(TUTORIALS[0], tmp_path, _env(TMPDIR=str(scratch)))
    assert not list(scratch.iterdir()), f"left behind: {list(scratch.iterdir())}"


def _code_calls_to_show(notebook) -> int:
    return sum(len(re.findall(r"^\s*(?:path = )?show\(", cell.source, re.M))
               for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_committed_notebook_matches_its_script_and_was_executed(path):
    import jupytext  # noqa: PLC0415  (in the `test` extra; nbformat comes with it)
    from jupytext.compare import compare_notebooks  # noqa: PLC0415

    paired = path.with_suffix(".ipynb")
    assert paired.is_file(), (f"{paired.name} is missing: run `python tutorials/build.py "
                              f"--only {path.stem[:2]}`")
    script, notebook = jupytext.read(path), jupytext.read(paired)
    kinds = [cell.cell_type for cell in script.cells]
    assert kinds[0] == "markdown" and "code" in kinds and kinds.count("markdown") >= 2
    # raises with the first differing cell when the notebook is older than the script
    compare_notebooks(notebook, script, fmt="py:percent")
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "a code cell never ran"
    outputs = [output for cell in code for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"], "a cell raised"
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "Warning" not in stderr and "IProgress" not in stderr, stderr[:2000]
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    assert images == _code_calls_to_show(script) > 0, f"{images} inline images"
    assert notebook.metadata.get("refimpl", {}).get("setting") in ("full", "tiny")


def test_importing_what_tutorials_use_prints_nothing():
    code = ("import refimpl.tutorial_support, refimpl.training, refimpl.evaluation, "
            "refimpl.plotting, theory")
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                          text=True, cwd=ROOT, env=_env())
    assert done.returncode == 0 and not done.stdout and not done.stderr, done.stderr
