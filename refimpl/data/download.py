"""Downloading data files: atomically, with a checksum, from a mirror you can choose.

A file is streamed into a temporary file in the destination folder, hashed on the way, and
renamed onto its final name only when the checksum matches (``os.replace`` is atomic on one
file system), so an interrupted or corrupt download never leaves a file that looks complete.

The base URL of every data set can be replaced by a mirror holding the same file names: pass
``mirror=`` to the loader, or set the environment variable ``REFIMPL_MIRROR`` (the tests point
it at a local HTTP server; this workplace has no internet).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

from tqdm import tqdm

__all__ = ["DownloadError", "fetch", "verify", "file_digest", "url_for", "fetch_missing",
           "MIRROR_ENV"]

MIRROR_ENV = "REFIMPL_MIRROR"
_CHUNK = 1 << 20  # 1 MiB


class DownloadError(OSError):
    """A download failed: the server could not be reached or answered with an error."""


def file_digest(path, algorithm: str) -> str:
    """The hex digest (``"md5"``, ``"sha256"``, ...) of the file at ``path``, read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _check_digests(name, expected: dict, hashes: dict) -> None:
    for algorithm, want in expected.items():
        got = hashes[algorithm].hexdigest()
        if got != want.lower():
            raise ValueError(f"checksum mismatch for {name}: expected {algorithm} {want}, "
                             f"got {got} (the file is corrupt or not the expected version)")


def verify(path, *, sha256: str | None = None, md5: str | None = None) -> None:
    """Check the file at ``path`` against the given digests (those that are ``None`` are skipped).

    Raises:
        ValueError: naming the file, the expected and the actual digest.
    """
    expected = {k: v for k, v in (("sha256", sha256), ("md5", md5)) if v}
    hashes = {k: hashlib.new(k) for k in expected}
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            for h in hashes.values():
                h.update(chunk)
    _check_digests(path, expected, hashes)


def fetch(url: str, dest, *, sha256: str | None = None, md5: str | None = None,
          timeout: float = 60.0) -> pathlib.Path:
    """Download ``url`` to the file ``dest``, atomically, checking the given digests.

    The bytes go to a temporary file in ``dest``'s folder, which is renamed onto ``dest`` only
    once the download is complete and the checksums match; on any failure it is removed. A
    tqdm progress bar is shown when stderr is a terminal.

    Args:
        url: an ``http``, ``https`` or ``file`` URL.
        dest: the path to write (its folder is created if needed).
        sha256: the expected SHA-256 hex digest, or ``None`` to skip that check.
        md5: the expected MD5 hex digest, or ``None`` to skip that check.
        timeout: seconds to wait for the server before giving up.

    Returns:
        ``dest`` as a :class:`pathlib.Path`.

    Raises:
        DownloadError: the server could not be reached, answered with an HTTP error, or sent
            fewer bytes than it announced.
        ValueError: a checksum did not match (the message names the file and both digests),
            or the URL scheme is not supported.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"fetch: url: expected an http, https or file URL, got {url!r}")
    dest = pathlib.Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    expected = {k: v for k, v in (("sha256", sha256), ("md5", md5)) if v}
    hashes = {k: hashlib.new(k) for k in expected}
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            received, announced = _stream(url, out, hashes, dest.name, timeout)
        if announced is not None and received != announced:
            raise DownloadError(f"download of {url} was cut short: got {received} of "
                                f"{announced} bytes")
        _check_digests(f"{dest} (from {url})", expected, hashes)
        os.replace(tmp, dest)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def _stream(url, out, hashes, label, timeout):
    """Copy the body of ``url`` into the open file ``out``, updating ``hashes``.

    Returns (bytes received, bytes announced by Content-Length or None).
    """
    try:
        response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (scheme checked)
    except urllib.error.HTTPError as err:
        raise DownloadError(f"could not download {url}: HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"could not reach {url}: {reason} (no internet? use a mirror with "
                            f"mirror=... or ${MIRROR_ENV}, or copy the files in by hand)") from err
    length = response.headers.get("Content-Length")
    announced = int(length) if length and length.isdigit() else None
    received = 0
    try:
        with response, tqdm(total=announced, unit="B", unit_scale=True, desc=label,
                            disable=not sys.stderr.isatty()) as bar:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                for h in hashes.values():
                    h.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as err:  # cut off or timed out (or disk full)
        raise DownloadError(f"download of {url} failed after {received} bytes: {err}") from err
    return received, announced


def url_for(filename: str, default_base: str, mirror: str | None = None) -> str:
    """The URL of ``filename`` under ``mirror``, else ``$REFIMPL_MIRROR``, else ``default_base``."""
    base = mirror or os.environ.get(MIRROR_ENV) or default_base
    return base.rstrip("/") + "/" + urllib.parse.quote(filename)


def fetch_missing(root, files: dict, *, default_base: str, mirror: str | None = None) -> None:
    """Download into the folder ``root`` each of ``files`` that is not there yet.

    Args:
        root: the destination folder.
        files: ``{file name: {"md5": ..., "sha256": ...}}`` (either digest may be absent).
        default_base: the official base URL of the data set.
        mirror: a base URL that replaces it (see :func:`url_for`).
    """
    root = pathlib.Path(root)
    for name, digests in files.items():
        if not (root / name).exists():
            fetch(url_for(name, default_base, mirror), root / name,
                  sha256=digests.get("sha256"), md5=digests.get("md5"))
