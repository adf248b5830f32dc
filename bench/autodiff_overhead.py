"""How much does refimpl's autodiff cost over the same training step written by hand in NumPy?

Three measurements, each timed side by side in one run:

1. ``mlp``: one SGD step (lr 0.1) of a ReLU MLP 784-400-400-10 on a float32 batch of 128 with
   the mean softmax cross-entropy. refimpl: ``value_and_grad`` of the library's own model
   (``nn.build("mlp-400-400")``, ``nn.cross_entropy_unchecked``: labels are checked once at
   the training entry, not in every step), then ``nn.SGD(lr).update``, as ``refimpl train``
   runs a step. PyTorch (eager) and JAX (jit, when installed) run the same
   step from the same parameters (``bench/_peers.py``). By hand: forward, fused
   softmax-CE backward, matmuls, ReLU masks, bias sums, update into the gradient buffers
   (``bench/_handwritten.py``).
2. ``cnn``: one SGD step of a LeNet-style CNN on (64, 1, 28, 28) images: conv 5x5 1->32, ReLU,
   max-pool 2, conv 5x5 32->64, ReLU, max-pool 2, flatten, dense 1024->400, ReLU, dense
   400->10 (``nn.build("lenet")``: ``ops.conv2d``, ``ops.max_pool2d``); the hand version is im2col
   (``sliding_window_view``, one GEMM per convolution), col2im for the input gradient of conv2
   and a max-pool backward by mask.
3. ``fgsm`` (for information): the input gradient ``grad(loss, argnum=1)(params, x, y)`` of the
   MLP, against a normal refimpl step (and the hand-written input gradient). refimpl records
   only the paths from the differentiated argument, so the weight-gradient matmuls are never
   run and the ratio to a step is well under 2.

Before any timing, refimpl's gradients are checked against the hand-written ones
(``np.allclose``, rtol 1e-4, float32), so both sides compute the same thing.

Timing: a few warm-up steps, then repetitions that alternate between the two sides (so that a
slow phase of the machine hits both); reported are the median and the minimum per step, the
ratio refimpl / hand of each, and the minor page faults per step (``getrusage``; most come
from glibc handing large temporaries back to the OS and mapping them again, so a side with
more temporaries pays twice).

BLAS runs single-threaded unless ``--threads N`` says otherwise, for stable numbers. glibc's
allocator reads its environment when the process starts; to see the steps without the page
faults of large temporaries, run::

    MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000 \\
        PYTHONPATH=. python3 bench/autodiff_overhead.py

(``--mallopt`` does the same from inside the process, through glibc's ``mallopt``.)

The plain command is ``PYTHONPATH=. python3 bench/autodiff_overhead.py`` (options:
``--reps N``, ``--only mlp|cnn``, ``--json PATH``, ``--threads N``, ``--mallopt``). It takes
a few seconds.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--reps", type=int, default=None,
                        help="timed steps per side (default: 20 for the MLP, 10 for the CNN)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per side first")
    parser.add_argument("--only", choices=("mlp", "cnn"), default=None,
                        help="run one benchmark (mlp includes fgsm)")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write results here")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads (default 1, or what the environment says)")
    parser.add_argument("--mallopt", action="store_true",
                        help="keep freed memory in the process (glibc): no page faults from "
                             "temporaries, like the MALLOC_*_THRESHOLD_ variables")
    return parser.parse_args(argv)


_BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_BENCH, os.path.dirname(_BENCH)]  # _handwritten, and refimpl without PYTHONPATH

import _environment  # noqa: E402

# OpenBLAS reads its kernel overrides and thread count once, when NumPy loads it.
if __name__ == "__main__":
    _environment.native_blas_or_reexec()
_threads = parse_args(sys.argv[1:] if __name__ == "__main__" else []).threads
_environment.set_threads(_threads)

import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import _handwritten as hand  # noqa: E402
import _peers as peers  # noqa: E402
from refimpl import nn  # noqa: E402
from refimpl.autodiff import grad, value_and_grad  # noqa: E402

LR = 0.1
GOALS = {"mlp": 1.05, "cnn": 0.87}  # refimpl / hand, median step time (the speed issue's goals)


# --------------------------------------------------------------------------- the models

# refimpl's side is the library's own models and optimizer, as ``refimpl train`` runs them
# (``nn.Dense`` is ``ops.linear``: the bias added in place into the product's buffer).
MLP_MODEL = nn.build("mlp-400-400", (784,))
CNN_MODEL = nn.build("lenet", (1, 28, 28))


def mlp_loss(params, x, labels):
    """Mean softmax cross-entropy of the ReLU MLP dense1 -> dense2 -> dense3, as a training
    step computes it (``train=True``, labels checked once before training)."""
    return nn.cross_entropy_unchecked(MLP_MODEL.apply(params, x, train=True), labels)


def cnn_loss(params, x, labels):
    """Mean softmax cross-entropy of the LeNet-style CNN, as a training step computes it."""
    return nn.cross_entropy_unchecked(CNN_MODEL.apply(params, x, train=True), labels)


def refimpl_sgd(params, grads, lr):
    """The library's SGD update (``nn.SGD``, no momentum), as the training loop calls it: the
    step's gradients are given up (``reuse_grads``), as the hand step's are."""
    optimizer = nn.SGD(lr)
    return optimizer.update(params, grads, optimizer.init(params), reuse_grads=True)[0]


def init_params(shapes, rng):
    """He-normal weights, float32; biases 0.01, so that the check covers nonzero biases too."""
    params = {}
    for name, shape in shapes.items():
        if name.endswith(".bias"):
            params[name] = np.full(shape, 0.01, dtype=np.float32)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
            params[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return params


MLP_SHAPES = {"dense1.weight": (784, 400), "dense1.bias": (400,),
              "dense2.weight": (400, 400), "dense2.bias": (400,),
              "dense3.weight": (400, 10), "dense3.bias": (10,)}
CNN_SHAPES = {"conv1.weight": (32, 1, 5, 5), "conv1.bias": (32,),
              "conv2.weight": (64, 32, 5, 5), "conv2.bias": (64,),
              "dense1.weight": (1024, 400), "dense1.bias": (400,),
              "dense2.weight": (400, 10), "dense2.bias": (10,)}


def make_problem(shapes, x_shape, seed):
    """Params, a float32 batch x of ``x_shape`` and integer labels in 0..9."""
    rng = np.random.default_rng(seed)
    params = init_params(shapes, rng)
    x = rng.standard_normal(x_shape).astype(np.float32)
    labels = rng.integers(0, 10, size=x_shape[0])
    return params, x, labels


# --------------------------------------------------------------------------- checking

def check_same(name, got, want, rtol=1e-4):
    """Assert refimpl's ``got`` equals the hand-written ``want`` (dicts or arrays)."""
    if isinstance(want, dict):
        assert got.keys() == want.keys(), f"{name}: keys {sorted(got)} != {sorted(want)}"
        for key in want:
            check_same(f"{name}[{key!r}]", got[key], want[key], rtol)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    assert got.dtype == np.float32, f"{name}: refimpl gave dtype {got.dtype}, not float32"
    # atol: float32 sums of a few thousand terms in another order differ by ~1e-7 of their size
    atol = 1e-6 * float(np.max(np.abs(want)))
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(got - want)))
        raise AssertionError(f"{name}: refimpl and hand-written gradients differ (max abs "
                             f"difference {worst:.3g}, max |grad| {np.max(np.abs(want)):.3g})")


# --------------------------------------------------------------------------- timing

def keep_freed_memory() -> bool:
    """Tell glibc's malloc to never return freed memory to the OS; False where it is not glibc.

    The same as starting with MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ set high:
    large arrays are carved from the heap instead of fresh mmaps, and the heap is never trimmed.
    """
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    try:
        libc = ctypes.CDLL(None)
        return (libc.mallopt(m_mmap_threshold, 1 << 30) == 1
                and libc.mallopt(m_trim_threshold, 1 << 30) == 1)
    except (OSError, AttributeError):
        return False


class Stepper:
    """One side of a benchmark: a training step (or any call) that keeps its own params."""

    def __init__(self, loss_and_grads, update, params, x, labels):
        self.loss_and_grads, self.update = loss_and_grads, update
        self.params = {k: v.copy() for k, v in params.items()}
        self.x, self.labels = x, labels

    def __call__(self):
        loss, grads = self.loss_and_grads(self.params, self.x, self.labels)
        if self.update is not None:
            self.params = self.update(self.params, grads, LR)
        return loss


def _minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def race(sides, reps, warmup):
    """Time each callable of ``sides`` (name -> callable) ``reps`` times, alternating.

    Each timed call follows one untimed call of the same side: in training a step follows a
    step of the same model, with its weights and batch in cache. Without it, the side timed
    right after another library's (which has its own copies of the weights) starts cold, and
    the side after it finds the arrays they share warm: on the MLP that order alone moved
    refimpl / hand from about 1.15 to 1.31.

    Returns name -> {"median_ms", "min_ms", "cpu_median_ms", "faults_per_step", "times_ms"}.
    ``cpu_median_ms`` is the median of the thread's CPU time per step (``time.thread_time``):
    on a machine shared with other processes it leaves out the time spent waiting for a core,
    so with one BLAS thread it is the steadier measure (``--clock cpu`` ranks by it).
    """
    for _ in range(warmup):
        for step in sides.values():
            step()
    times = {name: [] for name in sides}
    cpu = {name: [] for name in sides}
    faults = dict.fromkeys(sides, 0)
    gc.collect()
    for _ in range(reps):
        for name, step in sides.items():
            step()  # untimed: the timed step then finds its own side's arrays in cache
            f0, c0, t0 = _minor_faults(), time.thread_time(), time.perf_counter()
            step()
            t1, c1, f1 = time.perf_counter(), time.thread_time(), _minor_faults()
            times[name].append((t1 - t0) * 1e3)
            cpu[name].append((c1 - c0) * 1e3)
            faults[name] += f1 - f0
    return {name: {"median_ms": statistics.median(ts), "min_ms": min(ts),
                   "cpu_median_ms": statistics.median(cpu[name]),
                   "faults_per_step": faults[name] / reps, "times_ms": ts}
            for name, ts in times.items()}


def ratios(result, num, den, goal=None):
    out = {"median": result[num]["median_ms"] / result[den]["median_ms"],
           "min": result[num]["min_ms"] / result[den]["min_ms"]}
    if goal is not None:
        out["goal"] = goal
        out["met"] = out["median"] <= goal
    return out


# --------------------------------------------------------------------------- the benchmarks

PEERS = {"torch": peers.torch_steps, "jax": peers.jax_steps}


def peer_sides(params, x, labels, model, want_loss):
    """{"torch": {...}, "jax": {...}} for the installed peers, their first loss checked."""
    found = {}
    for name, build in PEERS.items():
        sides = build(params, x, labels, model=model, lr=LR, threads=_threads or 1)
        if sides is None:
            continue
        first = build(params, x, labels, model=model, lr=LR, threads=_threads or 1)["step"]()
        check_same(f"{model} loss ({name})", np.float32(float(first.detach()) if hasattr(first, "detach") else float(first)), want_loss)
        found[name] = sides
    return found


def bench_mlp(reps, warmup):
    params, x, labels = make_problem(MLP_SHAPES, (128, 784), seed=0)
    loss_and_grad = value_and_grad(mlp_loss)
    input_grad = grad(mlp_loss, argnum=1)

    loss, grads = loss_and_grad(params, x, labels)
    want_loss, want_grads = hand.mlp_loss_and_grads(params, x, labels)
    check_same("mlp loss", loss, want_loss)
    check_same("mlp grads", grads, want_grads)
    check_same("mlp input grad", input_grad(params, x, labels),
               hand.mlp_input_grad(params, x, labels))

    others = peer_sides(params, x, labels, "mlp", want_loss)
    step = race({"refimpl": Stepper(loss_and_grad, refimpl_sgd, params, x, labels),
                 "hand": Stepper(hand.mlp_loss_and_grads, hand.sgd_update, params, x, labels),
                 **{name: sides["step"] for name, sides in others.items()}},
                reps, warmup)
    fgsm = race({"refimpl": lambda: input_grad(params, x, labels),
                 "hand": lambda: hand.mlp_input_grad(params, x, labels),
                 **{name: sides["input_grad"] for name, sides in others.items()},
                 "refimpl step": Stepper(loss_and_grad, refimpl_sgd, params, x, labels)},
                reps, warmup)
    return {
        "mlp": {"sides": step, "ratio": ratios(step, "refimpl", "hand", GOALS["mlp"])},
        "fgsm": {"sides": fgsm, "ratio": ratios(fgsm, "refimpl", "hand"),
                 "input_grad_over_step": ratios(fgsm, "refimpl", "refimpl step")},
    }


def bench_cnn(reps, warmup):
    params, x, labels = make_problem(CNN_SHAPES, (64, 1, 28, 28), seed=1)
    loss_and_grad = value_and_grad(cnn_loss)

    loss, grads = loss_and_grad(params, x, labels)
    want_loss, want_grads = hand.cnn_loss_and_grads(params, x, labels)
    check_same("cnn loss", loss, want_loss)
    check_same("cnn grads", grads, want_grads)

    others = peer_sides(params, x, labels, "cnn", want_loss)
    step = race({"refimpl": Stepper(loss_and_grad, refimpl_sgd, params, x, labels),
                 "hand": Stepper(hand.cnn_loss_and_grads, hand.sgd_update, params, x, labels),
                 **{name: sides["step"] for name, sides in others.items()}},
                reps, warmup)
    return {"cnn": {"sides": step, "ratio": ratios(step, "refimpl", "hand", GOALS["cnn"])}}


# --------------------------------------------------------------------------- reporting

def environment(mallopt):
    env = {var: os.environ.get(var) for var in BLAS_THREAD_VARIABLES + MALLOC_VARIABLES}
    return {"python": platform.python_version(), "numpy": np.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(), "env": env,
            "mallopt": mallopt, "process": _environment.describe(),
            "peers_missing": [name for name in PEERS if not peers.available(name)]}


def print_report(results, env):
    threads = env["env"]["OPENBLAS_NUM_THREADS"]
    malloc = [f"{v}={env['env'][v]}" for v in MALLOC_VARIABLES if env["env"][v] is not None]
    if env["mallopt"]:
        malloc.append("mallopt (--mallopt)")
    print(f"numpy {env['numpy']}, python {env['python']}, {env['cpus']} cpus, "
          f"BLAS threads {threads}, load average {env['process']['load_average']}")
    for pool in env["process"]["blas"]:
        print(f"threadpool: {pool}")
    print(f"OpenBLAS kernel overrides removed: {env['process']['blas_overrides_removed']}")
    if env["peers_missing"]:
        print(f"not installed (skipped): {', '.join(env['peers_missing'])}")
    print("glibc malloc tuning: " + (", ".join(malloc) if malloc else
                                     "not set (see the module docstring to set it)"))
    print()
    print(f"{'benchmark':<10} {'side':<13} {'median ms':>10} {'min ms':>9} {'faults/step':>12}"
          f" {'/ hand':>7} {'cpu ms':>8} {'/ hand':>7}")
    for bench, res in results.items():
        hand = res["sides"]["hand"]
        for i, (side, r) in enumerate(res["sides"].items()):
            print(f"{bench if i == 0 else '':<10} {side:<13} {r['median_ms']:>10.2f} "
                  f"{r['min_ms']:>9.2f} {r['faults_per_step']:>12.0f} "
                  f"{r['median_ms'] / hand['median_ms']:>7.2f} {r['cpu_median_ms']:>8.2f} "
                  f"{r['cpu_median_ms'] / hand['cpu_median_ms']:>7.2f}")
        ratio = res["ratio"]
        goal = ""
        if "goal" in ratio:
            goal = f"   goal <= {ratio['goal']:.2f}: {'met' if ratio['met'] else 'NOT met'}"
        print(f"{'':<10} {'refimpl/hand':<13} {ratio['median']:>10.2f} {ratio['min']:>9.2f}"
              f"{'':>13}{goal}")
        if "input_grad_over_step" in res:
            r = res["input_grad_over_step"]
            print(f"{'':<10} {'grad_x/step':<13} {r['median']:>10.2f} {r['min']:>9.2f}"
                  f"{'':>13}   refimpl input gradient / refimpl SGD step (< 2 expected)")
        print()


def main(argv=None):
    args = parse_args(argv)
    warmup = args.warmup
    mallopt = keep_freed_memory() if args.mallopt else False
    results = {}
    if args.only in (None, "mlp"):
        results.update(bench_mlp(args.reps or 20, warmup))
    if args.only in (None, "cnn"):
        results.update(bench_cnn(args.reps or 10, warmup))
    env = environment(mallopt)
    print_report(results, env)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "results": results}, f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
