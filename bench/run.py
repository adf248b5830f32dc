"""Run the step benchmark once per allocator setting and print one table: the launcher.

Each run is a fresh process of ``autodiff_overhead.py`` with ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` removed from its environment (OpenBLAS's native kernel) and with

- ``default``: glibc's malloc as every user has it (the ``MALLOC_*_THRESHOLD_`` variables
  removed), so large temporaries are mmapped, page-faulted in and unmapped again;
- ``tuned``: ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` set to 1e9, so freed
  memory stays in the heap and is reused (what ``refimpl``'s command sets through mallopt).

Within a run the sides (hand NumPy, refimpl, PyTorch eager, JAX jit when installed) alternate
step by step, so the ratios to hand NumPy are meaningful on a busy machine even when absolute
times are not; the machine's load average is printed with each run.

Run: ``python bench/run.py [--reps N] [--only mlp|cnn] [--threads N] [--json PATH]``
(extra options go to ``autodiff_overhead.py``). Never used by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

BENCH = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from _environment import BLAS_OVERRIDES, MALLOC_VARIABLES, TUNED_MALLOC  # noqa: E402

SETTINGS = {"default": {}, "tuned": TUNED_MALLOC}
STEPS = {"mlp": "MLP 784-400-400-10, batch 128, SGD step",
         "fgsm": "same MLP, FGSM input gradient",
         "cnn": "LeNet-style CNN, batch 64, SGD step"}
SIDES = ("hand", "refimpl", "torch", "jax")


def run_one(setting, extra):
    """One benchmark process under the allocator ``setting``; returns its JSON results."""
    env = {k: v for k, v in os.environ.items()
           if k not in BLAS_OVERRIDES and k not in MALLOC_VARIABLES}
    env.update(SETTINGS[setting])
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
        subprocess.run([sys.executable, str(BENCH / "autodiff_overhead.py"), "--json", str(out),
                        *extra], env=env, check=True)
        return json.loads(out.read_text())


def table(runs):
    """Markdown: one row per step and allocator; each side's time over hand NumPy's.

    Two ratios per side: of median wall times, and of median CPU times of the stepping thread
    (``wall`` / ``cpu``); on a shared machine the CPU-time ratio leaves out waiting for a core.
    """
    lines = ["| step | malloc | load | hand ms (wall, cpu) | "
             + " | ".join(f"{s} / hand (wall, cpu)" for s in SIDES[1:])
             + " | faults/step (hand, refimpl) |",
             "|---|---|---|---|" + "---|" * (len(SIDES) - 1) + "---|"]
    for setting, run in runs.items():
        load = run["environment"]["process"]["load_average"][0]
        for step, label in STEPS.items():
            sides = run["results"].get(step, {}).get("sides")
            if not sides:
                continue
            hand = sides["hand"]
            cells = [f"{sides[s]['median_ms'] / hand['median_ms']:.2f}, "
                     f"{sides[s]['cpu_median_ms'] / hand['cpu_median_ms']:.2f}"
                     if s in sides else "—" for s in SIDES[1:]]
            faults = f"{hand['faults_per_step']:.0f}, {sides['refimpl']['faults_per_step']:.0f}"
            lines.append(f"| {label} | {setting} | {load:.1f} | {hand['median_ms']:.2f}, "
                         f"{hand['cpu_median_ms']:.2f} | " + " | ".join(cells) + f" | {faults} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write both runs here")
    parser.add_argument("--settings", nargs="+", choices=tuple(SETTINGS), default=list(SETTINGS))
    args, extra = parser.parse_known_args(argv)
    runs = {setting: run_one(setting, extra) for setting in args.settings}
    print()
    print(table(runs))
    blas = runs[args.settings[0]]["environment"]["process"]["blas"]
    print(f"\nBLAS: {blas}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
