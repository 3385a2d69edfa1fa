"""Atomic files: the one low-level helper that the store, the experiment runner and the report
use to write results.

Every write goes to a temporary file in the target's directory, is flushed to disk, and is
then renamed over the target with :func:`os.replace`, so a reader (or an interrupted run) sees
either the old file or the whole new one, never half of it.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_json(folder / "a.json", {"x": np.float64(1.5), "y": (1, 2)})
>>> read_json(folder / "a.json")
{'x': 1.5, 'y': [1, 2]}
>>> read_json(folder / "missing.json") is None
True
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._validation import InputError

__all__ = [
    "atomic_save_npy",
    "replace_between",
    "rewrite_text",
    "atomic_write_bytes",
    "atomic_write_json",
    "bytes_digest",
    "file_digest",
    "json_bytes",
    "json_default",
    "read_json",
    "write_if_changed",
]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def bytes_digest(data: bytes) -> str:
    """The checksum of a run directory's files: BLAKE2b, 128 bits, as hex.

    >>> bytes_digest(b"")
    'cae66941d9efbd404e4d88758ea67670'
    """
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_digest(path: str | Path) -> str:
    """:func:`bytes_digest` of a file's contents, read in 1 MiB blocks."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays, tuples as lists."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")


def json_bytes(obj: Any, *, indent: int = 1) -> bytes:
    """``obj`` as UTF-8 JSON with sorted keys (NaN written as ``NaN``, numpy types converted)."""
    return json.dumps(obj, indent=indent, sort_keys=True, default=json_default).encode("utf-8")


def atomic_write_json(path: str | Path, obj: Any, *, indent: int = 1) -> None:
    """Atomically write ``obj`` as JSON (see :func:`json_bytes`)."""
    atomic_write_bytes(path, json_bytes(obj, indent=indent))


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    """Atomically save one array in ``.npy`` format."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def read_json(path: str | Path) -> Any | None:
    """The parsed file, or ``None`` when it is absent or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_if_changed(path: str | Path, data: bytes) -> None:
    """Atomic write that leaves the file (and its time stamp) alone when nothing changed."""
    path = Path(path)
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    atomic_write_bytes(path, data)


class LockHeldError(InputError):
    """Another process is writing the directory (it holds the directory's ``.lock``)."""


class DirLock:
    """One writer per directory: an exclusive ``flock`` on ``DIR/.lock``.

    The lock file names its holder (pid, host, start time). The operating system releases a
    flock when its process ends, however it ends, so a killed writer leaves no stale lock. A
    second writer (another process, or another object in this one: each opens its own file
    description) fails at once with :class:`LockHeldError` naming
    the holder. Where ``fcntl`` is missing (Windows) the lock is not taken.
    """

    #: what the error tells a second writer to do
    fix = "wait for it to finish, or write elsewhere"

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / ".lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DirLock:
        if self._fd is not None:
            return self
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        import socket
        import time

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise LockHeldError(
                f"{self.path.parent} is being written by another {self.what} ({holder}); "
                f"{self.fix}"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {stamp}".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    what = "writer"

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
            finally:
                os.close(self._fd)  # closing the descriptor releases the flock
                self._fd = None

    def __enter__(self) -> DirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:  # an abandoned writer releases its lock when collected
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    r"""``text`` with what lies between the markers ``begin`` and ``end`` replaced by ``body``
    (on lines of its own); unchanged when ``begin`` is absent.

    >>> replace_between("a <!-- b -->old<!-- e --> z", "<!-- b -->", "<!-- e -->", "new")
    'a <!-- b -->\nnew\n<!-- e --> z'
    """
    if begin not in text:
        return text
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def rewrite_text(path: str | Path, change: Any) -> bool:
    """Apply ``change`` (text to text) to the file at ``path`` in place; True when it changed."""
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    new = change(old)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old
