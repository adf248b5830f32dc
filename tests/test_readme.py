"""The README's example code runs as written, and its two commands are the ones CI uses."""

import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_python_example_runs():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README has no python example"
    for code in blocks:
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
        assert run.returncode == 0, run.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    assert len(commands) == 2, "the README gives exactly two commands"
    assert "refimpl" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_readme_main_job_shows_adversarial_training_working(tmp_path, capsys):
    """The first command's job, as written after ``pip install``: the normal net reaches >= 95 %
    on digits, and the adversarially trained one beats it by >= 15 points under every attack at
    the README's radii (measured: 28 to 36 points)."""
    from refimpl.cli import main
    readme = (ROOT / "README.md").read_text()
    job = re.findall(r"```bash\n(.*?)\n```", readme, re.S)[0].split("&&")[-1].split()
    assert job[0] == "refimpl"
    assert main(job[1:] + ["--out", str(tmp_path), "--quiet"]) == 0
    nets = json.loads((tmp_path / "compare.json").read_text())["nets"]
    normal, adversarial = nets.pop("normal"), nets.popitem()[1]
    assert normal["clean"] >= 0.95 and adversarial["clean"] >= 0.95, (normal, adversarial)
    for column in ("fgsm@0.1", "pgd_linf@0.1", "adv_alpha@0.77"):
        assert adversarial[column] >= normal[column] + 0.15, (column, normal, adversarial)
