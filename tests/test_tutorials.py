"""Every tutorial runs end to end in its tiny setting, and opens as a notebook.

Each ``tutorials/NN_name.py`` runs as a script in a subprocess with ``REFIMPL_TUTORIAL_TINY=1``
(the tutorials assert what they demonstrate, so a zero exit status means every check held) and
must write at least one PNG into the temporary folder ``REFIMPL_TUTORIAL_OUT``. Each must also
convert with jupytext to a notebook that opens with a markdown cell.
"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))


def test_tutorials_exist():
    assert TUTORIALS, "no tutorials/NN_*.py found"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs_in_tiny_setting(path, tmp_path):
    env = dict(os.environ)
    env.update(REFIMPL_TUTORIAL_TINY="1", REFIMPL_TUTORIAL_OUT=str(tmp_path), MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, str(path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (f"{path.name} exited with {done.returncode}\n"
                                  f"--- stdout (end) ---\n{done.stdout[-3000:]}\n"
                                  f"--- stderr (end) ---\n{done.stderr[-6000:]}")
    assert list(tmp_path.glob("*.png")), f"{path.name} wrote no PNG into REFIMPL_TUTORIAL_OUT"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_converts_to_notebook(path):
    import jupytext  # noqa: PLC0415  (in the `test` extra; nbformat comes with it)
    import nbformat  # noqa: PLC0415
    notebook = jupytext.read(path)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds and kinds[0] == "markdown", f"{path.name}: the first cell must be markdown"
    assert "code" in kinds and kinds.count("markdown") >= 2
    text = jupytext.writes(notebook, fmt="ipynb")
    nbformat.validate(nbformat.reads(text, as_version=4))
