"""CIFAR-10: Python 2 pickled batches through the restricted unpickler, folders and archives,
malicious pickles and corrupt files."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from data_writers import CIFAR_BATCHES, cifar_batch, cifar_files, write_files, write_tar_gz

from refimpl.data.cifar10 import ARCHIVE, FOLDER, load_cifar10, restricted_loads


def _check(ds, arrays, n):
    assert ds.x_train.shape == (5 * n, 3, 32, 32) and ds.x_test.shape == (n, 3, 32, 32)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    train = [arrays[name] for name in CIFAR_BATCHES[:5]]
    np.testing.assert_allclose(ds.x_train, np.concatenate([a[0] for a in train]) / np.float32(255))
    np.testing.assert_array_equal(ds.y_train, np.concatenate([a[1] for a in train]))
    np.testing.assert_array_equal(ds.y_test, arrays["test_batch"][1])


@pytest.mark.parametrize("layout", ["batches-folder", "root", "archive"])
def test_tiny_set_loads_from_every_layout(tmp_path, layout):
    files, arrays = cifar_files(n=3)
    if layout == "batches-folder":
        write_files(tmp_path / FOLDER, files)
    elif layout == "root":
        write_files(tmp_path, files)
    else:
        write_tar_gz(tmp_path / ARCHIVE, {f"{FOLDER}/{k}": v for k, v in files.items()})
    _check(load_cifar10(tmp_path), arrays, 3)
    if layout == "archive":  # read in memory: nothing extracted
        assert sorted(p.name for p in tmp_path.iterdir()) == [ARCHIVE]


@pytest.mark.parametrize("kwargs", [{"old_numpy_name": True}, {"old_numpy_name": False}])
def test_both_numpy_module_names_rebuild_arrays(kwargs):
    images = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3, 32, 32)
    data = cifar_batch(images, [3, 4], **kwargs)
    assert (b"numpy.core.multiarray" in data) == kwargs["old_numpy_name"]
    batch = restricted_loads(data)
    np.testing.assert_array_equal(batch[b"data"].reshape(2, 3, 32, 32), images)
    assert batch[b"labels"] == [3, 4]


def test_python3_pickles_of_protocol_4_load_too():
    batch = {b"data": np.zeros((1, 3072), dtype=np.uint8), b"labels": [7]}
    out = restricted_loads(pickle.dumps(batch, protocol=4))
    assert out[b"labels"] == [7] and out[b"data"].shape == (1, 3072)


class _Exploit:
    """A pickle payload: unpickling it calls ``target(*args)``."""

    def __init__(self, target, *args):
        self.target, self.args = target, args

    def __reduce__(self):
        return self.target, self.args


def _payloads(marker):
    return {
        "os.system": _Exploit(os.system, f"touch {marker}"),
        "builtins.eval": _Exploit(eval, f"open({str(marker)!r}, 'w')"),
        "builtins.open": _Exploit(open, str(marker), "w"),
        "numpy.save (numpy, but not an array rebuilder)": _Exploit(np.save, str(marker), [1]),
    }


@pytest.mark.parametrize("kind", list(_payloads("m")))
def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path, kind):
    marker = tmp_path / "pwned"
    payload = _payloads(marker)[kind]
    data = pickle.dumps({b"data": payload, b"labels": [0]}, protocol=4)
    with pytest.raises(pickle.UnpicklingError, match="refused to load the global") as err:
        restricted_loads(data, source="evil_batch")
    assert payload.target.__name__ in str(err.value) and "evil_batch" in str(err.value)
    assert not marker.exists() and not marker.with_suffix(".npy").exists()


def test_loader_refuses_a_malicious_batch_file(tmp_path):
    marker = tmp_path / "pwned"
    files, _ = cifar_files(n=1)
    files["data_batch_3"] = pickle.dumps(_Exploit(os.system, f"touch {marker}"), protocol=2)
    write_files(tmp_path / FOLDER, files)
    with pytest.raises(pickle.UnpicklingError, match="system") as err:
        load_cifar10(tmp_path)
    assert "data_batch_3" in str(err.value)
    assert not marker.exists()


def _bad(obj):
    return pickle.dumps(obj, protocol=4)


@pytest.mark.parametrize("data, expected", [
    (cifar_batch(np.zeros((2, 3, 32, 32), np.uint8), [1, 2])[:-40], "not a valid pickle"),
    (_bad([1, 2, 3]), "expected a dict"),
    (_bad({b"data": np.zeros((2, 3000), np.uint8), b"labels": [1, 2]}), "(N, 3072)"),
    (_bad({b"data": np.zeros((2, 3072), np.float32), b"labels": [1, 2]}), "uint8"),
    (_bad({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}), "should be 2 ints"),
    (_bad({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}), "0..9"),
], ids=["truncated", "not-a-dict", "wrong-row-length", "wrong-dtype", "count-mismatch",
        "label-10"])
def test_corrupt_batches_name_the_file(tmp_path, data, expected):
    files, _ = cifar_files(n=2)
    files["test_batch"] = data
    write_files(tmp_path / FOLDER, files)
    with pytest.raises(ValueError) as err:
        load_cifar10(tmp_path)
    assert "test_batch" in str(err.value) and expected in str(err.value)


def test_missing_batches_say_where_and_how_to_fix(tmp_path):
    files, _ = cifar_files(n=1)
    del files["data_batch_5"]
    write_files(tmp_path / FOLDER, files)
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10(tmp_path)
    for hint in (str(tmp_path), "data_batch_1..5", ARCHIVE, "REFIMPL_DATA", "download=True"):
        assert hint in str(err.value)


def _tar_with(path, extra, skip=()):
    """The tiny set as an archive, less the batches ``skip``, with ``extra(tar)`` added first."""
    files, _ = cifar_files(n=1)
    with tarfile.open(path, "w:gz") as tar:
        extra(tar)
        for name, data in files.items():
            if name in skip:
                continue
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_archive_members_outside_the_wanted_names_are_never_written(tmp_path):
    root = tmp_path / "root"
    root.mkdir()

    def traversal(tar):
        info = tarfile.TarInfo(f"{FOLDER}/../../escaped")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))

    _tar_with(root / ARCHIVE, traversal)
    assert load_cifar10(root).x_test.shape == (1, 3, 32, 32)
    assert not (tmp_path / "escaped").exists()
    assert sorted(p.name for p in root.iterdir()) == [ARCHIVE]


def test_archive_links_are_refused(tmp_path):
    def symlink_test_batch(tar):
        info = tarfile.TarInfo(f"{FOLDER}/test_batch")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)

    _tar_with(tmp_path / ARCHIVE, symlink_test_batch, skip=("test_batch",))
    with pytest.raises(ValueError, match="not a regular file"):
        load_cifar10(tmp_path)


def test_corrupt_or_incomplete_archives_are_value_errors(tmp_path):
    (tmp_path / ARCHIVE).write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match="not a readable .tar.gz") as err:
        load_cifar10(tmp_path)
    assert ARCHIVE in str(err.value)
    write_tar_gz(tmp_path / ARCHIVE, {f"{FOLDER}/data_batch_1": b"x"})
    with pytest.raises(ValueError, match="test_batch"):
        load_cifar10(tmp_path)


def test_python3_pickles_of_protocol_2_load_safely(tmp_path):
    """Python 3 writes bytes in protocol 2 as _codecs.encode(str, "latin1"): accepted, and
    only that call (no other codec)."""
    import codecs
    images = np.arange(3 * 3072, dtype=np.uint8).reshape(3, 3072) % 251
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": [1, 2, 9], b"data": images,
             b"filenames": [b"a.png", b"b.png", b"c.png"]}
    data = pickle.dumps(batch, protocol=2)
    assert b"_codecs" in data  # the case of the issue
    out = restricted_loads(data, source="batch")
    np.testing.assert_array_equal(out[b"data"], images)
    assert out[b"filenames"] == batch[b"filenames"] and out[b"labels"] == [1, 2, 9]
    files, _ = cifar_files(n=2)
    files = {name: pickle.dumps(restricted_loads(raw), protocol=2) for name, raw in files.items()}
    write_files(tmp_path / FOLDER, files)
    assert load_cifar10(tmp_path).x_train.shape == (10, 3, 32, 32)

    class OtherCodec:
        def __reduce__(self):
            return codecs.encode, ("payload", "rot13")

    with pytest.raises(pickle.UnpicklingError, match="only the latin1 encoding") as err:
        restricted_loads(pickle.dumps({b"data": OtherCodec()}, protocol=2), source="evil")
    assert "evil" in str(err.value)
