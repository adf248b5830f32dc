"""Reading chosen members of a ``.tar.gz`` archive safely.

Only members whose names are known in advance are read, matched by exact name; a member that
is a link, a device or anything but a regular file is refused, and so is one larger than a
stated limit (a guard against decompression bombs). No path is ever built from a name found
in the archive, so a member called ``../../etc/passwd`` cannot write anywhere: it is simply
not one of the wanted names.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import pathlib
import shutil
import tarfile
import tempfile
import zlib

__all__ = ["read_members", "extract_members"]


def _wanted(folder: str, names) -> dict:
    """``{member name in the archive: file name}`` for ``folder/name`` and ``./folder/name``."""
    wanted = {}
    for name in names:
        wanted[f"{folder}/{name}"] = name
        wanted[f"./{folder}/{name}"] = name
    return wanted


@contextlib.contextmanager
def _archive_errors(archive):
    """Turn the errors of a bad or truncated .tar.gz into a ValueError naming ``archive``."""
    try:
        yield
    except (tarfile.TarError, gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise ValueError(f"{archive}: not a readable .tar.gz archive ({err})") from err


def _members(tar, archive, folder, names, max_bytes):
    """Yield (file name, readable file object) for each wanted member of the open ``tar``."""
    wanted = _wanted(folder, names)
    for member in tar:
        name = wanted.get(member.name)
        if name is None:
            continue
        if not member.isfile():
            raise ValueError(f"{archive}: member {member.name} is not a regular file "
                             "(a link or device); refusing it")
        if member.size > max_bytes:
            raise ValueError(f"{archive}: member {member.name} is {member.size} bytes, "
                             f"more than the {max_bytes} expected")
        yield name, tar.extractfile(member)


def _check_all_found(archive, folder, names, found):
    missing = [n for n in names if n not in found]
    if missing:
        listed = ", ".join(f"{folder}/{n}" for n in missing)
        raise ValueError(f"{archive}: expected members {listed} but the archive does not hold them")


def read_members(archive, folder: str, names, *, max_bytes: int) -> dict[str, bytes]:
    """The bytes of ``folder/name`` for each of ``names`` in the ``.tar.gz`` ``archive``.

    Args:
        archive: path of the archive.
        folder: the folder inside the archive, e.g. ``"cifar-10-batches-py"``.
        names: the file names wanted inside ``folder``.
        max_bytes: the largest size accepted for one member.

    Returns:
        ``{name: content}`` for every name.

    Raises:
        ValueError: naming the archive, when it is not a readable .tar.gz, a wanted member is
            missing, too large or not a regular file.
    """
    with _archive_errors(archive), tarfile.open(archive, "r:gz") as tar:
        found = {name: f.read() for name, f in _members(tar, archive, folder, names, max_bytes)}
    _check_all_found(archive, folder, names, found)
    return found


def extract_members(archive, folder: str, names, dest, *, max_bytes: int) -> None:
    """Write ``folder/name`` of ``archive`` to ``dest / name`` for each of ``names``.

    Each file is streamed to a temporary file in ``dest`` and renamed into place, so a failed
    extraction leaves no partial file under a final name. Errors as :func:`read_members`.
    """
    dest = pathlib.Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    found = set()
    with _archive_errors(archive), tarfile.open(archive, "r:gz") as tar:
        for name, source in _members(tar, archive, folder, names, max_bytes):
            fd, tmp = tempfile.mkstemp(dir=dest, prefix=f".{name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                os.replace(tmp, dest / name)
            except BaseException:
                pathlib.Path(tmp).unlink(missing_ok=True)
                raise
            found.add(name)
    _check_all_found(archive, folder, names, found)
