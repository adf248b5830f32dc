"""Importing refimpl must stay light: no CuPy, no matplotlib (checked in a fresh interpreter)."""

import json
import subprocess
import sys


def test_import_refimpl_pulls_in_no_cupy_and_no_matplotlib():
    code = ("import json, sys, refimpl, refimpl.autodiff, refimpl.ops, refimpl.cli; "
            "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "refimpl" in loaded
    assert "cupy" not in loaded
    assert "matplotlib" not in loaded
