"""Downloads from a local HTTP server: checksums, atomic writes, HTTP errors, and each loader's
download=True path (this workplace has no internet)."""

import hashlib
import socket

import numpy as np
import pytest
from data_writers import (REAL_MNIST, CutShortHandler, cifar_files, serve, stl_files, write_mnist,
                          write_tar_gz)

from refimpl.data import cifar10, load, mnist, stl10
from refimpl.data.download import DownloadError, fetch, url_for, verify


def _digests(data):
    return {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.fixture
def site(tmp_path):
    """A served folder with one file; yields (folder, base URL, content)."""
    folder = tmp_path / "site"
    folder.mkdir()
    content = np.random.default_rng(0).bytes(3 << 20)  # several chunks
    (folder / "blob.bin").write_bytes(content)
    with serve(folder) as base:
        yield folder, base, content


def test_fetch_writes_the_file_and_checks_both_digests(site, tmp_path):
    _, base, content = site
    dest = tmp_path / "out" / "blob.bin"
    assert fetch(base + "blob.bin", dest, **_digests(content)) == dest
    assert dest.read_bytes() == content
    assert [p.name for p in dest.parent.iterdir()] == ["blob.bin"]  # no temporary file left


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_checksum_mismatch_names_file_and_digests_and_leaves_nothing(site, tmp_path, algorithm):
    _, base, content = site
    dest = tmp_path / "out" / "blob.bin"
    wrong = "0" * len(_digests(content)[algorithm])
    with pytest.raises(ValueError) as err:
        fetch(base + "blob.bin", dest, **{algorithm: wrong})
    message = str(err.value)
    assert "checksum mismatch" in message and str(dest) in message
    assert wrong in message and _digests(content)[algorithm] in message
    assert list(dest.parent.iterdir()) == []


def test_http_404_is_a_download_error_naming_the_url(site, tmp_path):
    _, base, _ = site
    dest = tmp_path / "out" / "missing.bin"
    with pytest.raises(DownloadError, match="404") as err:
        fetch(base + "missing.bin", dest)
    assert base + "missing.bin" in str(err.value)
    assert isinstance(err.value, OSError)
    assert list(dest.parent.iterdir()) == []


def test_a_transfer_cut_short_is_a_download_error_and_leaves_nothing(tmp_path):
    with serve(handler=CutShortHandler) as base:
        with pytest.raises(DownloadError, match="failed after|cut short") as err:
            fetch(base + "file", tmp_path / "out" / "file")
    assert base + "file" in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_unreachable_server_suggests_a_mirror(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="could not reach") as err:
        fetch(f"http://127.0.0.1:{port}/x", tmp_path / "x", timeout=5)
    assert "mirror" in str(err.value) and not (tmp_path / "x").exists()


def test_only_http_https_and_file_urls(tmp_path):
    with pytest.raises(ValueError, match="http"):
        fetch("ftp://example.org/x", tmp_path / "x")


def test_verify_accepts_the_right_digest_and_names_the_wrong_one(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    verify(path, **_digests(b"abc"))
    with pytest.raises(ValueError, match="expected md5 0+, got " + _digests(b"abc")["md5"]):
        verify(path, md5="0" * 32)


def test_mirror_argument_beats_environment_beats_default(monkeypatch):
    monkeypatch.delenv("REFIMPL_MIRROR", raising=False)
    assert url_for("a.gz", "https://official/x/") == "https://official/x/a.gz"
    monkeypatch.setenv("REFIMPL_MIRROR", "http://env-mirror")
    assert url_for("a.gz", "https://official/x/") == "http://env-mirror/a.gz"
    assert url_for("a.gz", "https://official/x/", "http://arg/") == "http://arg/a.gz"


def _mnist_site(tmp_path, monkeypatch):
    """A tiny MNIST served from a folder, its checksums patched into the loader."""
    written = write_mnist(tmp_path / "site", n_train=6, n_test=4)
    monkeypatch.setattr(mnist, "FILES", {name: _digests((tmp_path / "site" / name).read_bytes())
                                         for name in mnist.FILES})
    return written


def test_mnist_download_through_load(tmp_path, monkeypatch):
    written = _mnist_site(tmp_path, monkeypatch)
    with serve(tmp_path / "site") as base:
        ds = load("mnist", root=tmp_path / "cache", download=True, mirror=base)
    np.testing.assert_array_equal(ds.y_train, written["train"][1])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(mnist.FILES)
    # Present files are not fetched again: this works with the server gone.
    again = load("mnist", root=tmp_path / "cache", download=True, mirror=base)
    assert again.x_test.shape[0] == 4


def test_mnist_download_of_a_corrupt_file_fails_and_keeps_nothing(tmp_path, monkeypatch):
    _mnist_site(tmp_path, monkeypatch)
    (tmp_path / "site" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"tampered")
    with serve(tmp_path / "site") as base:
        monkeypatch.setenv("REFIMPL_MIRROR", base)  # the environment variable route
        with pytest.raises(ValueError, match="checksum mismatch.*t10k-labels"):
            load("mnist", root=tmp_path / "cache", download=True)
    assert "t10k-labels-idx1-ubyte.gz" not in {p.name for p in (tmp_path / "cache").iterdir()}


def test_real_mnist_served_locally_passes_the_official_checksums(tmp_path):
    if not all((REAL_MNIST / name).is_file() for name in mnist.FILES):
        pytest.skip(f"the real MNIST files are not in {REAL_MNIST}")
    with serve(REAL_MNIST) as base:
        ds = load("mnist", root=tmp_path, download=True, mirror=base)
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.y_test.shape == (10000,)


def test_cifar10_download_through_load(tmp_path, monkeypatch):
    files, arrays = cifar_files(n=2)
    site = tmp_path / "site"
    site.mkdir()
    write_tar_gz(site / cifar10.ARCHIVE, {f"{cifar10.FOLDER}/{k}": v for k, v in files.items()})
    md5 = _digests((site / cifar10.ARCHIVE).read_bytes())["md5"]
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", md5)
    with serve(site) as base:
        ds = load("cifar10", root=tmp_path / "cache", download=True, mirror=base)
    np.testing.assert_array_equal(ds.y_test, arrays["test_batch"][1])
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [cifar10.ARCHIVE]


def test_stl10_download_extracts_the_labelled_files(tmp_path, monkeypatch):
    files, arrays = stl_files(n_train=2, n_test=1)
    site = tmp_path / "site"
    site.mkdir()
    write_tar_gz(site / stl10.ARCHIVE, {f"{stl10.FOLDER}/{k}": v for k, v in files.items()})
    monkeypatch.setattr(stl10, "ARCHIVE_MD5", _digests((site / stl10.ARCHIVE).read_bytes())["md5"])
    with serve(site) as base:
        ds = load("stl10", root=tmp_path / "cache", download=True, mirror=base)
    assert ds.x_train.shape == (2, 1, 48, 48)
    np.testing.assert_array_equal(ds.y_train, arrays["train"][1])
    assert sorted(p.name for p in (tmp_path / "cache" / stl10.FOLDER).iterdir()) == sorted(files)
