"""reproduce --jobs / --scheduler: networks trained in parallel processes or on a Dask cluster
equal the serial run's, and the thread arithmetic and argument checks."""

import numpy as np
import pytest
from reproduce_helpers import write_synthetic_mnist

from refimpl import _threads, nn
from refimpl.backend import make_rng
from refimpl.reproduce import reproduce
from refimpl.reproduce.parallel import threads_per_job, train_all
from refimpl.training import fit, load_checkpoint

EXPERIMENT = "ksup-table3"  # three runs of the MLP: a table of independent networks


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    """A tiny learnable MNIST look-alike (each class a bright band at its own rows)."""
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), 60, 20)


def _run(mnist_dir, out, **kw):
    return reproduce(EXPERIMENT, out=out, epochs=1, data_dir=mnist_dir, seeds=[0, 1],
                     subset=30, test_subset=10, quiet=True, log=lambda _: None, **kw)


def _weights(result):
    """Every trained network's parameters, keyed by run label and seed folder."""
    found = {}
    for run in result["runs"]:
        for folder in run["folders"]:
            params, _, _ = load_checkpoint(f"{folder}/checkpoint.npz", np)
            found[(run["label"], folder.rsplit("/", 1)[-1])] = params
    return found


class Run:
    """A stand-in for an experiment's run: a label and a width."""

    def __init__(self, label, hidden):
        self.label, self.hidden = label, hidden


def train_tiny(run, seed, quiet=False):
    """A small MLP trained 2 epochs from ``seed`` on fixed synthetic data; returns its params."""
    rng = np.random.default_rng(123)
    x = rng.uniform(0.0, 1.0, size=(64, 1, 6, 6)).astype(np.float32)
    y = np.arange(64) % 4
    model = nn.build("mlp-100-100", (1, 6, 6), 4)
    result = fit(model, model.init(make_rng(seed)), (x, y), optimizer=nn.SGD(0.1), epochs=2,
                 batch_size=16, seed=seed, quiet=True)
    return {"label": run.label, "seed": seed, "params": result.params}


RUNS = [Run("a", 10), Run("b", 20)]


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for label in a:
        assert [t["seed"] for t in a[label]] == [t["seed"] for t in b[label]] == [0, 1, 2]
        for ta, tb in zip(a[label], b[label]):
            assert ta["label"] == tb["label"] == label
            for name in ta["params"]:
                np.testing.assert_array_equal(ta["params"][name], tb["params"][name])


@pytest.fixture(scope="module")
def serial_tiny():
    # One BLAS thread per network on both sides: OpenBLAS's rounding depends on the thread count.
    with _threads.blas_threads(1):
        return train_all(RUNS, [0, 1, 2], train_tiny, threads=1)


def test_jobs_give_the_serial_results(serial_tiny):
    _assert_same(serial_tiny, train_all(RUNS, [0, 1, 2], train_tiny, jobs=2, threads=2,
                                        quiet=True))


def test_dask_cluster_gives_the_serial_results(serial_tiny):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        parallel = train_all(RUNS, [0, 1, 2], train_tiny, scheduler=cluster.scheduler_address,
                             jobs=2, threads=2, quiet=True)
    _assert_same(serial_tiny, parallel)


@pytest.mark.slow  # two reproductions with their robustness tables (~35 s on a busy machine)
def test_reproduce_with_jobs_equals_serial(mnist_dir, tmp_path):
    """The hook in ``reproduce``: the same networks and table with --jobs 2."""
    serial = _run(mnist_dir, tmp_path / "serial", threads=1)
    parallel = _run(mnist_dir, tmp_path / "parallel", jobs=2, threads=2)
    a, b = _weights(serial), _weights(parallel)
    assert a.keys() == b.keys() and len(a) == 2 * len(serial["runs"])
    for key in a:
        for name in a[key]:
            np.testing.assert_array_equal(a[key][name], b[key][name], err_msg=f"{key} {name}")
    assert serial["rows"] == parallel["rows"]


def test_threads_per_job_splits_the_cores():
    assert threads_per_job(8, 2) == 4
    assert threads_per_job(2, 4) == 1  # never fewer than one
    assert threads_per_job(None, 1) >= 1
    with pytest.raises(ValueError, match="jobs"):
        threads_per_job(4, 0)


def test_blas_threads_are_set_and_restored():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
    with _threads.blas_threads(1):
        assert all(p["num_threads"] == 1 for p in threadpoolctl.threadpool_info())
    assert [p["num_threads"] for p in threadpoolctl.threadpool_info()] == before
    with pytest.raises(ValueError, match="threads"):
        _threads.set_blas_threads(0)
