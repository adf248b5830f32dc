"""Where does a refimpl training step spend its time? A per-primitive breakdown.

In this process only (refimpl itself is not modified), every primitive of ``refimpl.ops`` is
wrapped so that each raw computation it runs is timed, and every VJP is timed as a whole. The
report splits one step into

* forward: the loss function, i.e. the primitives' array work plus the cost of recording them;
* backward: ``tracer.backward``, i.e. each VJP (its array work, including NumPy calls made
  outside any primitive, such as the masks of the ReLU and max VJPs) plus the bookkeeping;
* the SGD update and the rest (boxing the params, unflattening the gradients).

Run ``PYTHONPATH=. python3 bench/profile_autodiff.py [--model mlp|cnn] [--steps N]
[--mallopt] [--cprofile]``. Timing every call adds a few microseconds per primitive, so the step is
slightly slower here than in ``autodiff_overhead.py``.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _environment  # noqa: E402

if __name__ == "__main__":  # OpenBLAS's native kernel: re-run without the image's overrides
    _environment.native_blas_or_reexec()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import cProfile  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import autodiff_overhead as bench  # noqa: E402
from refimpl import tracer  # noqa: E402
from refimpl.autodiff import api  # noqa: E402
from refimpl.ops import conv, elementwise, linalg, pool, reductions, shape  # noqa: E402


class Clock:
    """Accumulates seconds and call counts under string keys, while ``enabled``."""

    def __init__(self):
        self.seconds, self.calls = defaultdict(float), defaultdict(int)
        self.enabled = False

    def wrap(self, key_of, fun):
        """``fun``, timed under ``key_of(*args, **kwargs)`` on each call."""
        def timed(*args, **kwargs):
            if not self.enabled:
                return fun(*args, **kwargs)
            t0 = time.perf_counter()
            try:
                return fun(*args, **kwargs)
            finally:
                key = key_of(*args, **kwargs)
                self.seconds[key] += time.perf_counter() - t0
                self.calls[key] += 1
        return timed

    def ms(self, key, steps):
        return self.seconds[key] * 1e3 / steps


def instrument(clock):
    """Wrap refimpl's primitives, VJPs and backward pass to report to ``clock``."""
    phase = ["forward"]

    def raw_key(name):
        return lambda *args, **kwargs: ("raw", phase[0], name, _shapes(args))

    seen = set()
    for module in (conv, elementwise, linalg, pool, reductions, shape):
        for value in vars(module).values():
            if isinstance(value, tracer.primitive) and id(value) not in seen:
                seen.add(id(value))
                value.fun = clock.wrap(raw_key(value.__name__), value.fun)

    original_vjp = tracer.primitive.vjp

    def vjp(prim, argnum, g, out, args, kwargs):
        outer, phase[0] = phase[0], f"vjp {prim.__name__}[{argnum}] {_shapes(args)}"
        try:
            return original_vjp(prim, argnum, g, out, args, kwargs)
        finally:
            phase[0] = outer
    vjp_key = lambda prim, argnum, g, out, args, kwargs: (  # noqa: E731
        "vjp", f"vjp {prim.__name__}[{argnum}] {_shapes(args)}")
    tracer.primitive.vjp = clock.wrap(vjp_key, vjp)
    api.backward = clock.wrap(lambda *a: ("phase", "backward"), api.backward)


def _shapes(args):
    return ",".join(_describe(a) for a in args)


def _describe(a):
    a = tracer.getval(a)
    if not hasattr(a, "shape"):
        return type(a).__name__
    text = "x".join(map(str, a.shape)) or "()"
    flags = getattr(a, "flags", None)
    if flags is not None and not flags["C_CONTIGUOUS"] and a.ndim > 1:
        text += "(nc)"  # not C-contiguous: a view from a transpose or a permute
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--model", choices=("mlp", "cnn"), default="cnn")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--cprofile", action="store_true", help="also print a cProfile table")
    parser.add_argument("--mallopt", action="store_true",
                        help="keep freed memory in the process (no page faults from temporaries)")
    args = parser.parse_args(argv)
    steps = args.steps
    if args.mallopt:
        bench.keep_freed_memory()

    clock = Clock()
    if args.model == "mlp":
        params, x, labels = bench.make_problem(bench.MLP_SHAPES, (128, 784), seed=0)
        loss = bench.mlp_loss
    else:
        params, x, labels = bench.make_problem(bench.CNN_SHAPES, (64, 1, 28, 28), seed=1)
        loss = bench.cnn_loss
    instrument(clock)
    timed_loss = clock.wrap(lambda *a: ("phase", "forward"), loss)
    timed_loss.__name__ = loss.__name__
    update = clock.wrap(lambda *a: ("phase", "sgd update"), bench.refimpl_sgd)
    step = bench.Stepper(bench.value_and_grad(timed_loss), update, params, x, labels)

    for _ in range(3):
        step()
    clock.enabled = True
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    total = (time.perf_counter() - t0) * 1e3 / steps
    clock.enabled = False

    raw = {k: v for k, v in clock.seconds.items() if k[0] == "raw"}
    vjps = {k: v for k, v in clock.seconds.items() if k[0] == "vjp"}
    fwd, bwd = clock.ms(("phase", "forward"), steps), clock.ms(("phase", "backward"), steps)
    sgd = clock.ms(("phase", "sgd update"), steps)
    fwd_raw = sum(v for k, v in raw.items() if k[1] == "forward") * 1e3 / steps
    bwd_vjp = sum(vjps.values()) * 1e3 / steps
    n_fwd = sum(c for k, c in clock.calls.items() if k[0] == "raw" and k[1] == "forward")
    n_vjp = sum(c for k, c in clock.calls.items() if k[0] == "vjp")
    n_raw_bwd = sum(c for k, c in clock.calls.items() if k[0] == "raw" and k[1] != "forward")

    print(f"refimpl {args.model} step (instrumented): {total:.2f} ms")
    print(f"  forward   {fwd:7.2f} ms: {n_fwd // steps} primitives, {fwd_raw:.2f} ms of array "
          f"work, {fwd - fwd_raw:.2f} ms recording")
    print(f"  backward  {bwd:7.2f} ms: {n_vjp // steps} VJPs ({n_raw_bwd // steps} primitive "
          f"calls) taking {bwd_vjp:.2f} ms, {bwd - bwd_vjp:.2f} ms bookkeeping")
    print(f"  sgd       {sgd:7.2f} ms")
    print(f"  other     {total - fwd - bwd - sgd:7.2f} ms (boxing, unflattening, loop)")

    print("\nforward primitives (array work):")
    for key in sorted((k for k in raw if k[1] == "forward"), key=raw.get, reverse=True):
        print(f"  {clock.ms(key, steps):7.3f} ms  {key[2]:<22} {key[3]}")
    print("\nVJPs (whole VJP, then the primitives it called):")
    for key in sorted(vjps, key=vjps.get, reverse=True):
        name = key[1]
        print(f"  {clock.ms(key, steps):7.3f} ms  {name}")
        inner = sorted((k for k in raw if k[1] == name), key=raw.get, reverse=True)
        for k in inner:
            if clock.ms(k, steps) >= 0.01:
                print(f"      {clock.ms(k, steps):7.3f} ms  {k[2]:<18} {k[3]}")

    if args.cprofile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(steps):
            step()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
