"""Execute the tutorials as notebooks: each ``NN_name.py`` becomes an executed ``NN_name.ipynb``.

Usage, from any folder::

    python tutorials/build.py                 # every tutorial, full setting (figures/ updated)
    python tutorials/build.py --only 01 09    # some of them
    python tutorials/build.py --tiny          # small setting, notebooks and figures elsewhere

Each percent script is read with jupytext and executed cell by cell in a fresh Jupyter kernel
(nbclient), whose working folder is the repository root (``--cwd tutorials`` runs it from the
tutorials folder instead). The kernel imports the package from this checkout (``PYTHONPATH``),
sees ``MPLBACKEND=Agg`` and ``REFIMPL_PROGRESS=0`` (no progress-bar residue in the saved
outputs), and every figure is shown inline and saved (``refimpl.tutorial_support.show``).

Full setting: notebooks are written beside their scripts and figures into ``tutorials/figures/``;
these are the committed ones. ``--tiny``: notebooks go to ``--out`` (by default a temporary
folder: only the summary is kept), or beside the scripts with ``--in-place``; figures go to a
temporary folder. Temporary folders are removed at the end. A tutorial that fails stops nothing else; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def tutorials(only: list[str]) -> list[pathlib.Path]:
    """The tutorial scripts whose number (or stem) is in ``only``; all when ``only`` is empty."""
    found = sorted(HERE.glob("[0-9][0-9]_*.py"))
    if not only:
        return found
    chosen = [p for p in found if p.stem[:2] in only or p.stem in only]
    missing = set(only) - {p.stem[:2] for p in chosen} - {p.stem for p in chosen}
    if missing:
        raise SystemExit(f"--only: no tutorial numbered {sorted(missing)}")
    return chosen


def inline_images(notebook) -> int:
    """The number of PNG images among a notebook's outputs."""
    return sum("image/png" in output.get("data", {})
               for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []))


def execute(script: pathlib.Path, target: pathlib.Path, *, cwd: pathlib.Path, tiny: bool,
            timeout: int) -> tuple[float, int]:
    """Run ``script`` as a notebook in a fresh kernel and write it, executed, to ``target``."""
    import jupytext  # noqa: PLC0415  (imported here so that --help works anywhere)
    from nbclient import NotebookClient  # noqa: PLC0415

    notebook = jupytext.read(script)
    notebook.metadata["refimpl"] = {"setting": "tiny" if tiny else "full"}
    began = time.perf_counter()
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own log (cell errors still come)
    finally:
        seconds = time.perf_counter() - began
        jupytext.write(notebook, target)  # also on failure: the traceback is in the notebook
    return seconds, inline_images(notebook)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=[], metavar="NN",
                        help="tutorial numbers (01 02 ...) or stems; default: all")
    parser.add_argument("--tiny", action="store_true", help="the small setting (seconds each)")
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help="with --tiny: folder for the notebooks (default: a temporary one, removed)")
    parser.add_argument("--in-place", action="store_true",
                        help="with --tiny: write the notebooks beside the scripts anyway")
    parser.add_argument("--cwd", choices=["root", "tutorials"], default="root",
                        help="the kernel's working folder (default: the repository root)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)

    scripts = tutorials(args.only)
    cwd = ROOT if args.cwd == "root" else HERE
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                             os.environ.get("PYTHONPATH")]))
    os.environ.update(MPLBACKEND="Agg", REFIMPL_PROGRESS="0")
    scratch = tempfile.TemporaryDirectory(prefix="refimpl-build-")
    if args.tiny:
        os.environ.update(REFIMPL_TUTORIAL_TINY="1",
                          REFIMPL_TUTORIAL_OUT=str(pathlib.Path(scratch.name) / "figures"))
        out = HERE if args.in_place else (args.out or pathlib.Path(scratch.name) / "notebooks")
    else:
        os.environ.pop("REFIMPL_TUTORIAL_TINY", None)
        os.environ.pop("REFIMPL_TUTORIAL_OUT", None)
        out = HERE
    out.mkdir(parents=True, exist_ok=True)

    failed, total = [], time.perf_counter()
    for script in scripts:
        target = out / (script.stem + ".ipynb")
        try:
            seconds, images = execute(script, target, cwd=cwd, tiny=args.tiny,
                                      timeout=args.timeout)
        except Exception as error:  # noqa: BLE001  (report every tutorial, then fail)
            failed.append(script.stem)
            print(f"FAILED {script.name}: {type(error).__name__}: {str(error)[-2000:]}",
                  file=sys.stderr)
            continue
        print(f"{script.stem}: {seconds:6.1f} s, {images} inline image(s) -> {target}",
              flush=True)
    print(f"{len(scripts) - len(failed)}/{len(scripts)} executed in "
          f"{time.perf_counter() - total:.0f} s ({'tiny' if args.tiny else 'full'} setting, "
          f"kernel in {cwd})")
    scratch.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
