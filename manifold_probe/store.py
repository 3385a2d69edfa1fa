"""On-disk activation store: one zarr array per layer, streamed batch by batch, resumable.

Layout of a store directory::

    path/
      zarr.json                  the zarr v3 group
      <layer>/ ...               one array per layer, shape (N, d), float32 or float16,
                                 chunked along N (``chunk_rows`` rows per chunk)
      _sentence_ids/, _position_ids/   int64 (N,), only for token-level captures
      manifest.json              what the store holds (written to a temporary file, then
                                 renamed: a reader never sees a half-written manifest)

The manifest records the model, layer names, pooling, a hash of the inputs, the package
version, and the number of rows and inputs *committed*. Rows are committed in this order:
arrays grown and written first, manifest updated second. A crash between the two leaves rows
beyond the committed count; they are cut off when the store is reopened, so an interrupted
capture resumes exactly where its last committed batch ended — no row lost, none duplicated.
A store is marked ``complete`` only after its last batch is committed.

Integrity: every chunk's committed rows and the manifest carry checksums, verified on
every read and resume (see :mod:`manifold_probe._store_integrity`).

One writer at a time: the writing calls hold an exclusive lock on ``path/.lock``.

Longer than 500 lines: the writer's protocol (begin, append, complete, resume, close, each
under the lock and releasing it on failure) is one state machine over one manifest, and
splitting it would spread its commit order over two files; the checksums and the manifest's
checks live in :mod:`manifold_probe._store_integrity`.

Examples
--------
>>> import numpy as np, tempfile
>>> from manifold_probe.store import ActivationStore
>>> s = ActivationStore(tempfile.mkdtemp() + "/acts")
>>> _ = s.begin(["layer_1"], meta={"model": "demo", "pooling": "mean"})
>>> s.append({"layer_1": np.ones((3, 2), np.float32)}, n_inputs=3)
>>> s.complete()
>>> s.read("layer_1").shape
(3, 2)
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._io import DirLock, atomic_write_bytes
from manifold_probe._store_integrity import (
    IDS,
    SELF_CHECKSUM,
    chunk_digest,
    manifest_digest,
    read_manifest,
    verify_store,
)
from manifold_probe._validation import InputError, IntegrityError, check_int, check_option
from manifold_probe._version import __version__
from manifold_probe.activations import Activations

__all__ = ["ActivationStore", "Activations", "IntegrityError"]

MANIFEST = "manifest.json"
FORMAT = "manifold_probe.activations/2"
# meta keys that must agree for a partial store to be resumed by a new run
_IDENTITY_KEYS = ("model", "pooling", "layers", "modules", "max_length")


class _StoreLock(DirLock):
    what = "capture"
    fix = "wait for it to finish, or write to another path"


class ActivationStore:
    """A directory of per-layer activation arrays (zarr v3) plus a manifest.

    Parameters
    ----------
    path : str or Path
        Store directory (created on :meth:`begin`).
    overwrite : bool, default=False
        Start afresh on :meth:`begin`, deleting whatever is at ``path``.

    Notes
    -----
    Writing: :meth:`begin` (returns how many inputs are already stored, for resuming),
    :meth:`append` per batch, :meth:`complete`; or :meth:`write` for a whole
    :class:`~manifold_probe.capture.Activations` at once. Reading: :meth:`read` (numpy or dask),
    :meth:`read_ids`, :meth:`to_activations`. One writer at a time: :meth:`begin`,
    :meth:`resume` and :meth:`append` take an exclusive lock on ``path/.lock`` (held until
    :meth:`complete`, or until the writer's process ends), and a second writer, in this
    process or another, gets :class:`~manifold_probe._io.LockHeldError` at once.
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False):
        self.path = Path(path)
        self.overwrite = overwrite
        self._group = None
        self._lock = _StoreLock(self.path)

    # ------------------------------------------------------------------ manifest
    @property
    def manifest(self) -> dict:
        """The committed manifest (empty dict if the store does not exist yet)."""
        return read_manifest(self.path / MANIFEST, FORMAT)

    def _write_manifest(self, manifest: dict) -> None:
        manifest = dict(manifest)
        manifest[SELF_CHECKSUM] = manifest_digest(manifest)
        atomic_write_bytes(
            self.path / MANIFEST,
            json.dumps(manifest, indent=2, sort_keys=True, default=str).encode("utf-8"),
        )

    @property
    def exists(self) -> bool:
        return (self.path / MANIFEST).exists()

    @property
    def is_complete(self) -> bool:
        return bool(self.manifest.get("complete", False))

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.manifest.get("layers", ()))

    @property
    def n_rows(self) -> int:
        """Committed rows per layer."""
        return int(self.manifest.get("n_rows", 0))

    @property
    def n_inputs(self) -> int:
        """Committed inputs (sentences / batches rows); a resumed capture skips this many."""
        return int(self.manifest.get("n_inputs", 0))

    @property
    def meta(self) -> dict:
        return dict(self.manifest.get("meta", {}))

    def _clear(self) -> None:
        """Delete everything in the store's folder but the lock this writer holds."""
        for child in self.path.iterdir():
            if child.name != ".lock":
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()

    def _take_lock(self) -> None:
        """Hold the store's writer lock (``path/.lock``) until :meth:`complete`."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()

    def _open_group(self, mode: str = "a"):
        import zarr

        if self._group is None or mode == "r":
            g = zarr.open_group(store=str(self.path), mode=mode)
            if mode == "r":
                return g
            self._group = g
        return self._group

    # ------------------------------------------------------------------ writing
    def begin(
        self,
        layers: Sequence[str],
        *,
        meta: Mapping[str, Any] | None = None,
        input_hash: str | None = None,
        chunk_rows: int = 4096,
        dtype: str = "float32",
    ) -> int:
        """Open the store for writing a capture; return the number of inputs already stored.

        A new (or ``overwrite``) store is initialised empty and 0 is returned. An existing store
        must hold the same capture (model, layers, pooling and, when both are known, input
        hash); its uncommitted rows are cut off and its committed input count is returned, so
        the caller skips those inputs. A complete store is left as it is.

        Takes the store's writer lock (released by :meth:`complete` or :meth:`close`, or
        here when opening fails).

        Raises
        ------
        InputError
            The existing store holds a different capture, or a layer name is not a valid
            array name.
        LockHeldError
            Another writer holds the store.
        """
        try:
            return self._begin(layers, meta=meta, input_hash=input_hash, chunk_rows=chunk_rows,
                               dtype=dtype)
        except BaseException:
            self._lock.release()
            raise

    def close(self) -> None:
        """Give up writing without completing: release the writer lock (the committed rows stay,
        and a later :meth:`resume` or :meth:`begin` continues from them)."""
        self._lock.release()

    def _begin(
        self,
        layers: Sequence[str],
        *,
        meta: Mapping[str, Any] | None = None,
        input_hash: str | None = None,
        chunk_rows: int = 4096,
        dtype: str = "float32",
    ) -> int:
        """The body of :meth:`begin`."""
        layers = tuple(layers)
        for name in layers:
            if not name or "/" in name or name.startswith(("_", ".")) or name == MANIFEST:
                raise InputError(
                    f"layer name {name!r} cannot name a store array; use names without '/' "
                    "that do not start with '_' or '.'"
                )
        chunk_rows = check_int(chunk_rows, name="chunk_rows", minimum=1)
        dtype = check_option(dtype, ("float32", "float16"), name="dtype")
        meta = dict(meta or {})
        meta.setdefault("layers", list(layers))
        self._take_lock()
        if self.overwrite:
            self._clear()
            self.overwrite = False  # only once: a resumed run must not wipe its own progress
        if self.exists:
            man = self.manifest
            old = man.get("meta", {})
            diffs = [
                k
                for k in _IDENTITY_KEYS
                if k in old and k in meta and json.dumps(old[k], default=str) != json.dumps(meta[k], default=str)
            ]
            if tuple(man.get("layers", ())) != layers:
                diffs.append("layers")
            if input_hash and man.get("input_hash") and man["input_hash"] != input_hash:
                diffs.append("input_hash")
            if diffs:
                raise InputError(
                    f"the store at {self.path} holds a different capture (differs in "
                    f"{sorted(set(diffs))}); use a new path or ActivationStore(path, overwrite=True)"
                )
            if not man.get("complete"):
                self._truncate(man)
                self.verify()
            else:
                self._lock.release()  # a complete store is left as it is
            return int(man.get("n_inputs", 0))
        self._clear()  # leftovers of a store never committed
        self._group = None
        self._open_group("a")
        self._write_manifest(
            {
                "format": FORMAT,
                "version": __version__,
                "layers": list(layers),
                "meta": meta,
                "input_hash": input_hash,
                "prefix_hash": None,
                "chunk_rows": chunk_rows,
                "dtype": dtype,
                "n_rows": 0,
                "n_inputs": 0,
                "token_level": None,
                "complete": False,
                "checksums": {},
                "checksum": "blake2b-128 of the decoded committed rows of each chunk",
            }
        )
        return 0

    def resume(self) -> int:
        """Reopen an existing store for appending; return how many inputs it already holds.

        Rows written after the last commit (a crash between writing a batch and committing it)
        are cut off first, so appending the inputs from index :meth:`n_inputs` on neither
        duplicates nor loses a row. :func:`~manifold_probe.capture.capture_modules` does this
        by itself through :meth:`begin`.

        Raises
        ------
        IntegrityError
            A committed chunk fails its checksum (deleted, truncated, altered, swapped or
            foreign file): its rows are not counted as done; recapture with
            ``overwrite=True``.
        """
        try:
            return self._resume()
        except BaseException:
            self._lock.release()
            raise

    def _resume(self) -> int:
        """The body of :meth:`resume`."""
        man = self.manifest
        if not man:
            raise InputError(f"no activation store at {self.path} to resume; call begin() first")
        self._take_lock()
        man = self.manifest  # as committed by the last writer, read under the lock
        if not man.get("complete"):
            self._truncate(man)
        self.verify()
        return int(man.get("n_inputs", 0))

    def _truncate(self, man: dict) -> None:
        """Cut every array back to the committed row count (drops a crashed batch's rows)."""
        g = self._open_group("a")
        n = int(man.get("n_rows", 0))
        for name in (*man["layers"], *IDS):
            if name in g:
                arr = g[name]
                if arr.shape[0] != n:
                    arr.resize((n, *arr.shape[1:]))

    def check_prefix(self, prefix_hash: str) -> None:
        """Check that the inputs a resumed run skipped hash as the stored ones did."""
        stored = self.manifest.get("prefix_hash")
        if stored is not None and stored != prefix_hash:
            raise InputError(
                f"the inputs differ from those already in the store at {self.path} (the first "
                f"{self.n_inputs} inputs hash differently); pass the same inputs in the same order "
                "to resume, or start a new store"
            )

    def append(
        self,
        arrays: Mapping[str, np.ndarray],
        *,
        n_inputs: int,
        sentence_ids: np.ndarray | None = None,
        position_ids: np.ndarray | None = None,
        prefix_hash: str | None = None,
    ) -> None:
        """Append one batch (rows aligned across layers) and commit it.

        ``n_inputs`` is how many inputs the batch covers (equal to its rows unless rows are
        tokens). Token-level captures pass ``sentence_ids`` and ``position_ids`` (global input
        index and token position per row).
        """
        try:
            self._append(arrays, n_inputs=n_inputs, sentence_ids=sentence_ids,
                         position_ids=position_ids, prefix_hash=prefix_hash)
        except BaseException:
            self._lock.release()  # a failed writer stops; resume() cuts its uncommitted rows
            raise

    def _append(
        self,
        arrays: Mapping[str, np.ndarray],
        *,
        n_inputs: int,
        sentence_ids: np.ndarray | None = None,
        position_ids: np.ndarray | None = None,
        prefix_hash: str | None = None,
    ) -> None:
        man = self.manifest
        if not man:
            raise InputError(f"the store at {self.path} is not open for writing; call begin() first")
        self._take_lock()
        man = self.manifest  # as committed, read under the lock
        if man.get("complete"):
            raise InputError(f"the store at {self.path} is complete; open a new store to add rows")
        layers = man["layers"]
        if set(arrays) != set(layers):
            raise InputError(
                f"append() needs exactly the store's layers {layers}; got {sorted(arrays)}"
            )
        batch = {k: np.asarray(v) for k, v in arrays.items()}
        rows = {v.shape[0] for v in batch.values()}
        if len(rows) != 1 or any(v.ndim != 2 for v in batch.values()):
            raise InputError(
                "append() needs 2-D arrays (rows, width) with the same number of rows in every "
                f"layer; got shapes { {k: v.shape for k, v in batch.items()} }"
            )
        b = rows.pop()
        token_level = sentence_ids is not None
        if man.get("token_level") is not None and man["token_level"] != token_level:
            raise InputError("a store holds either token-level rows (with ids) or pooled rows, not both")
        if token_level and (position_ids is None or len(sentence_ids) != b or len(position_ids) != b):
            raise InputError("sentence_ids and position_ids must both be given, one per row")
        n0 = int(man["n_rows"])
        g = self._open_group("a")
        dtype = man["dtype"]
        for name in layers:
            x = batch[name]
            if name not in g:
                # uncompressed: activations compress by ~7% (zstd, MiniLM tokens) at 6x the
                # cost of writing them, which would make the store, not the model, the
                # bottleneck of a capture (benchmarks/bench_capture_llm.py)
                g.create_array(
                    name, shape=(0, x.shape[1]), chunks=(man["chunk_rows"], x.shape[1]), dtype=dtype,
                    compressors=None,
                )
            arr = g[name]
            if arr.shape[1] != x.shape[1]:
                raise InputError(
                    f"layer {name!r} has width {arr.shape[1]} in the store but {x.shape[1]} in "
                    "this batch"
                )
            arr.resize((n0 + b, arr.shape[1]))
            arr[n0 : n0 + b] = x.astype(dtype, copy=False)
        if token_level:
            for name, ids in zip(IDS, (sentence_ids, position_ids), strict=True):
                if name not in g:
                    g.create_array(name, shape=(0,), chunks=(man["chunk_rows"],), dtype="int64")
                arr = g[name]
                arr.resize((n0 + b,))
                arr[n0 : n0 + b] = np.asarray(ids, dtype=np.int64)
        sums = man.setdefault("checksums", {})
        names = [*layers, *(IDS if token_level else ())]
        cr = int(man["chunk_rows"])
        for name in names:
            arr = g[name]
            lst = list(sums.get(name, []))
            for c in range(n0 // cr, (n0 + b - 1) // cr + 1):
                lo, hi = c * cr, min((c + 1) * cr, n0 + b)
                digest = chunk_digest(np.asarray(arr[lo:hi]))  # read back what was stored
                if c < len(lst):
                    lst[c] = digest
                else:
                    lst.append(digest)
            sums[name] = lst
        man["n_rows"] = n0 + b
        man["n_inputs"] = int(man["n_inputs"]) + int(n_inputs)
        man["token_level"] = token_level
        if prefix_hash is not None:
            man["prefix_hash"] = prefix_hash
        self._write_manifest(man)  # the commit point

    def complete(self, *, input_hash: str | None = None, meta: Mapping[str, Any] | None = None) -> None:
        """Mark the store complete (after its last batch); optionally record the input hash."""
        if not self.manifest:
            raise InputError(f"no store at {self.path}; call begin() first")
        self._take_lock()
        man = self.manifest
        if input_hash is not None:
            man["input_hash"] = input_hash
        man["meta"] = {**man.get("meta", {}), **dict(meta or {}), "n_inputs": man["n_inputs"]}
        if man.get("input_hash"):
            man["meta"]["input_hash"] = man["input_hash"]
        man["complete"] = True
        self._write_manifest(man)
        self._lock.release()  # the capture is done: another writer may open it

    def write(self, activations, *, chunk_rows: int = 4096, dtype: str = "float32") -> ActivationStore:
        """Write a whole :class:`~manifold_probe.capture.Activations` (begin, append, complete)."""
        meta = dict(activations.meta)
        skip = self.begin(
            activations.layers,
            meta=meta,
            input_hash=meta.get("input_hash"),
            chunk_rows=chunk_rows,
            dtype=dtype,
        )
        if self.is_complete:
            return self
        if skip:
            raise InputError(
                f"the store at {self.path} already holds a partial capture; use overwrite=True "
                "to replace it with these activations"
            )
        n = activations.n_rows
        if activations.sentence_ids is not None:
            n_inputs = int(meta.get("n_inputs", int(np.max(activations.sentence_ids)) + 1))
        else:
            n_inputs = int(meta.get("n_inputs", n))
        self.append(
            {k: np.asarray(activations.arrays[k]) for k in activations.layers},
            n_inputs=n_inputs,
            sentence_ids=activations.sentence_ids,
            position_ids=activations.position_ids,
        )
        self.complete(input_hash=meta.get("input_hash"))
        return self

    # ------------------------------------------------------------------ integrity
    def verify(self, names: Sequence[str] | None = None) -> None:
        """Recompute the checksum of every committed chunk and compare it with the manifest.

        Parameters
        ----------
        names : sequence of str, optional
            Arrays to check (layer names, ``"_sentence_ids"``, ``"_position_ids"``); default
            all of them.

        Raises
        ------
        IntegrityError
            An array is missing, has another dtype, width or fewer rows than committed, or a
            chunk cannot be decoded or differs from its checksum. The message names the array
            and the chunk (rows) and says how to recover.
        """
        verify_store(self.path, self.manifest, names)

    # ------------------------------------------------------------------ reading
    def _check_readable(self, allow_incomplete: bool) -> dict:
        man = self.manifest
        if not man:
            raise InputError(f"no activation store at {self.path} (no {MANIFEST})")
        if not man.get("complete") and not allow_incomplete:
            raise InputError(
                f"the store at {self.path} is incomplete ({man.get('n_inputs', 0)} inputs "
                "committed): resume the capture with the same inputs, or pass "
                "allow_incomplete=True to read what is there"
            )
        return man

    def read(
        self,
        layer: str,
        *,
        as_dask: bool = False,
        allow_incomplete: bool = False,
        verify: bool = True,
    ):
        """One layer's committed rows: numpy ``(N, d)`` or, with ``as_dask``, a dask array.

        With ``verify`` (default) every chunk is checked against its checksum first (one
        streaming pass over the layer, also for dask); :class:`IntegrityError` if one fails,
        and for a store of the older format without checksums, which can be read only with
        ``verify=False`` (unchecked: a deleted chunk would read as zeros).
        """
        man = self._check_readable(allow_incomplete)
        if layer not in man["layers"]:
            raise InputError(f"layer {layer!r} is not in the store; it has {man['layers']}")
        if verify:
            self.verify([layer])
        return self._read_array(layer, int(man["n_rows"]), as_dask)

    def _read_array(self, name: str, n: int, as_dask: bool):
        g = self._open_group("r")
        if name not in g:
            return None
        arr = g[name]
        if as_dask:
            import dask.array as da

            return da.from_zarr(arr)[:n]
        return np.asarray(arr[:n])

    def read_ids(self, *, allow_incomplete: bool = False,
                 verify: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``(sentence_ids, position_ids)`` for token-level stores, else ``(None, None)``."""
        man = self._check_readable(allow_incomplete)
        n = int(man["n_rows"])
        if not man.get("token_level"):
            return None, None
        if verify:
            self.verify(list(IDS))
        return tuple(self._read_array(name, n, False) for name in IDS)  # type: ignore[return-value]

    def to_activations(self, *, load: bool = True, allow_incomplete: bool = False,
                       verify: bool = True):
        """The store as :class:`~manifold_probe.capture.Activations` (numpy, or dask if not
        load); ``verify`` as in :meth:`read`."""
        man = self._check_readable(allow_incomplete)
        sid, pid = self.read_ids(allow_incomplete=allow_incomplete, verify=verify)
        arrays = {
            name: self.read(name, as_dask=not load, allow_incomplete=allow_incomplete,
                            verify=verify)
            for name in man["layers"]
        }
        meta = {**man.get("meta", {}), "store": str(self.path), "version": man.get("version")}
        return Activations(
            layers=tuple(man["layers"]), arrays=arrays, sentence_ids=sid, position_ids=pid, meta=meta
        )

    def __repr__(self) -> str:
        state = "complete" if self.is_complete else ("partial" if self.exists else "empty")
        return f"ActivationStore({str(self.path)!r}, {state}, rows={self.n_rows})"
