"""The documentation site's sources stay in step with the code (fast checks; CI also runs
``mkdocs build --strict``, see .ci/run): every tutorial notebook is in the nav, every API page
names importable modules, and every package of refimpl and theory has a page."""

import importlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = (ROOT / "mkdocs.yml").read_text()


def test_every_tutorial_is_in_the_nav_and_every_nav_entry_exists():
    tutorials = sorted(p.stem for p in (ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
    listed = re.findall(r"- tutorials/(\w+)\.ipynb", CONFIG)
    assert listed == tutorials
    for page in re.findall(r":\s+(api/\w+\.md|\w+\.md)\s*$", CONFIG, re.M):
        assert (ROOT / "docs" / page).is_file(), page
    assert (ROOT / "docs" / "tutorials").resolve() == (ROOT / "tutorials").resolve()


def test_api_pages_name_importable_modules_and_cover_every_package():
    named = []
    for page in (ROOT / "docs" / "api").glob("*.md"):
        named += re.findall(r"^::: ([\w.]+)$", page.read_text(), re.M)
    for module in named:
        importlib.import_module(module)
    packages = {p.parent.name for p in (ROOT / "refimpl").glob("*/__init__.py")}
    covered = {m.split(".")[1] for m in named if m.startswith("refimpl.")}
    assert packages - {"commands"} <= covered, packages - covered
    assert "theory" in named
