"""Helpers for the data tests: tiny files in each data set's format, and a local HTTP server.

Every writer follows the published file format, independently of the loaders it tests.
"""

import contextlib
import functools
import gzip
import http.server
import io
import pickle
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np

# Real MNIST files, when this workplace has them: /work/shared/data/mnist for /work/main/tests/data.
REAL_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"

MNIST_NAMES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
               "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def idx_bytes(array, magic=None):
    """An unsigned-byte IDX file: magic 0x08nn (nn = number of dims), big-endian sizes, data."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x800 + array.ndim if magic is None else magic
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_mnist(folder, n_train=12, n_test=7, seed=0):
    """Write the four gzip'd IDX files of a tiny MNIST; return {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        images_name, labels_name = MNIST_NAMES[split]
        (folder / images_name).write_bytes(gzip.compress(idx_bytes(images)))
        (folder / labels_name).write_bytes(gzip.compress(idx_bytes(labels)))
        out[split] = (images, labels)
    return out


class Py2Pickler(pickle._Pickler):
    """Writes byte and text strings as Python 2's ``str`` (SHORT_BINSTRING / BINSTRING), as the
    CIFAR-10 batches were written by Python 2's cPickle with protocol 2."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        n = len(data)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def py2_pickle(obj, *, old_numpy_name=False):
    """``obj`` pickled as Python 2 would; ``old_numpy_name`` writes ``numpy.core.multiarray``
    (NumPy 1) instead of ``numpy._core.multiarray``, as in the real CIFAR files."""
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    data = buf.getvalue()
    if old_numpy_name:
        return data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return data


def cifar_batch(images, labels, **kwargs):
    """A CIFAR-10 batch: images uint8 (N, 3, 32, 32) stored as rows (N, 3072) of R, G, B planes."""
    batch = {b"batch_label": b"a test batch", b"labels": [int(v) for v in labels],
             b"data": np.ascontiguousarray(images.reshape(len(images), 3072)),
             b"filenames": [f"img_{i}.png".encode() for i in range(len(images))]}
    return py2_pickle(batch, **kwargs)


CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def cifar_files(n=4, seed=0, **kwargs):
    """{batch name: pickle bytes} for a tiny CIFAR-10, and {batch name: (images, labels)}."""
    rng = np.random.default_rng(seed)
    files, arrays = {}, {}
    for name in CIFAR_BATCHES:
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n)
        files[name], arrays[name] = cifar_batch(images, labels, **kwargs), (images, labels)
    return files, arrays


def write_tar_gz(path, members):
    """A .tar.gz at ``path`` holding ``{member name: bytes}`` as regular files."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def stl_image_bytes(images):
    """STL-10 image bytes of uint8 (N, 3, H, W): each plane column-major (Fortran order)."""
    return b"".join(np.asarray(plane).tobytes(order="F") for image in images for plane in image)


def stl_files(n_train=3, n_test=2, seed=0):
    """{file name: bytes} for a tiny STL-10 (labels 1..10), and {split: (images, labels 0..9)}."""
    rng = np.random.default_rng(seed)
    files, arrays = {}, {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 3, 96, 96), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n)
        files[f"{split}_X.bin"] = stl_image_bytes(images)
        files[f"{split}_y.bin"] = (labels + 1).astype(np.uint8).tobytes()
        arrays[split] = (images, labels)
    return files, arrays


def write_files(folder, files):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class CutShortHandler(http.server.BaseHTTPRequestHandler):
    """Announces 1000 bytes, sends 10, and closes the connection."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.close_connection = True

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder=None, handler=None):
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) in a thread; yield its base URL.

    ``handler`` replaces the file server by another request handler class."""
    handler = handler or functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
