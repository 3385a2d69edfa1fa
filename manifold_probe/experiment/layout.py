"""The run directory of an experiment, its manifest of checksums, its lock, and reading
layers and graphs back from it.

::

    DIR/config.json                       the config of the tables below (written after them)
    DIR/manifest.json                     the checksum of every file the runner wrote
    DIR/.lock                             held (flock) by the one run writing DIR; names it
    DIR/activations/<capture-hash>/       L00.npy ... one array per layer, meta.json last
    DIR/perturbed/<capture-hash>/<label>/ the same, for each perturbed model
    DIR/graphs/<capture-hash>-graph_k<K>/ L00.npz ... the one kNN graph per layer
    DIR/tasks/<task-id>.json              one finished (layer x measure x seed) task each
    DIR/profile.csv, profile.json, perturbations.csv, figures/, report.html

Integrity: :class:`RunManifest` records a BLAKE2b checksum (and the size) of every file the
runner writes and later reads back. A file is used only when its bytes match the record; a
deleted, truncated, bit-flipped, swapped (another layer's file) or foreign file, or one left
unrecorded by a killed run, is reported on one line and recomputed. The readers here
(:func:`load_layer`, :func:`load_graph`, :class:`DiskSource`) check the checksum they are
given before parsing a byte, and raise :class:`~manifold_probe.IntegrityError` on a mismatch.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._io import (
    DirLock,
    LockHeldError,
    atomic_write_json,
    bytes_digest,
    file_digest,
    read_json,
)
from manifold_probe._validation import IntegrityError
from manifold_probe.neighbors import Neighbors

__all__ = [
    "MANIFEST",
    "DiskSource",
    "LockHeldError",
    "RunLock",
    "RunManifest",
    "capture_files",
    "activations_complete",
    "changed_layers",
    "graph_folder",
    "graph_folders",
    "layer_file",
    "load_graph",
    "load_layer",
    "read_checked",
    "read_labels",
    "shared_layer",
    "subsample_spec",
    "task_done",
    "task_path",
]


def graph_folder(out: str | Path, capture: str, graph_k: int) -> Path:
    """Where the kNN graphs of ``graph_k`` columns
    (:meth:`~manifold_probe.analysis.EstimatorSettings.graph_k`) of a capture are saved:
    ``OUT/graphs/<capture>-graph_k<graph_k>``."""
    return Path(out) / "graphs" / f"{capture}-graph_k{graph_k}"


def graph_folders(out: str | Path, capture: str) -> list[Path]:
    """Every graph folder of a capture (one per ``graph_k`` a run has used, and per
    ``profile.max_rows`` below the capture's rows: ``<capture>-rows<max_rows>-graph_k<k>``)."""
    return [p for p in (Path(out) / "graphs").glob(f"{capture}-*graph_k*") if p.is_dir()]


def subsample_spec(meta: Mapping[str, Any], max_rows: int | None) -> tuple[dict, str]:
    """What a run's task specs carry above ``profile.max_rows`` rows, and the suffix of the
    capture's name in their keys and graph folder (``({}, "")`` at or below it): every task
    then reads the same subsample of the rows (:meth:`DiskSource.rows`), the rows
    :func:`~manifold_probe.analysis.profile_layers` measures."""
    n = int(meta["n_points"])
    if max_rows is None or n <= max_rows:
        return {}, ""
    return {"max_rows": int(max_rows), "n_points": n}, f"-rows{int(max_rows)}"


def layer_file(folder: str | Path, i: int, ext: str = "npy") -> Path:
    """``folder/Lii.ext``: layer ``i``'s file in an activation or graph folder."""
    return Path(folder) / f"L{i:02d}.{ext}"


def read_checked(path: str | Path, digest: str | None) -> bytes:
    """The bytes of ``path``, after checking them against ``digest`` (``None``: unchecked).

    Raises
    ------
    IntegrityError
        The file is missing or its checksum differs from the recorded one.
    """
    path = Path(path)
    try:
        before = _signature(path)
        data = path.read_bytes()
        after = _signature(path)
    except FileNotFoundError:
        raise IntegrityError(f"{path} is missing; rerun to recompute it") from None
    key = (str(path), digest)
    if digest is None or (before == after and _VERIFIED.get(key) == after):
        return data
    if bytes_digest(data) != digest:
        raise IntegrityError(
            f"{path} does not match its recorded checksum (corrupted, truncated or replaced); "
            "rerun to recompute it"
        )
    if before == after:
        _VERIFIED[key] = after
    return data


# Files this process has already checked, by (path, digest) -> (inode, size, mtime): a task
# reading the same layer again skips hashing it unless the file was replaced or written since.
_VERIFIED: dict[tuple[str, str], tuple[int, int, int]] = {}


def _signature(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def load_layer(folder: str | Path, i: int, digest: str | None = None) -> np.ndarray:
    """Layer ``i`` of a saved activation folder as float64, checked against ``digest``."""
    path = layer_file(folder, i)
    if digest is None:
        return np.load(path, mmap_mode="r").astype(np.float64)
    return _parse(path, lambda: np.load(io.BytesIO(read_checked(path, digest)),
                                        allow_pickle=False).astype(np.float64))


#: Bytes of float64 layers :class:`DiskSource` keeps in this process for the next task that
#: reads them (least recently used dropped first; a larger layer is never kept). The per-token
#: MiniLM run's 53 tasks read its 7 layers (59 MB each) 76 times, about 40 ms of CPU a read.
LAYER_CACHE_BYTES = 512 * 2**20
_LAYERS: OrderedDict[tuple, np.ndarray] = OrderedDict()
_LAYERS_LOCK = threading.Lock()


def shared_layer(folder: str | Path, i: int, digest: str) -> np.ndarray:
    """:func:`load_layer` of a checked file, read-only and shared: the same array again while
    the file on disk is unchanged (same inode, size and modification time, as at its check)
    and this process keeps it (:data:`LAYER_CACHE_BYTES`).

    Tasks side by side in one process read the same layers many times; each read costs a copy
    of the file and its conversion to float64. Read-only, so that no task can change what
    another reads (a task writing into its cloud raises instead).
    """
    path = layer_file(folder, i)
    try:
        key = (str(path), digest, _signature(path))
    except FileNotFoundError:
        return load_layer(folder, i, digest)  # raises IntegrityError: missing
    with _LAYERS_LOCK:
        hit = _LAYERS.get(key)
        if hit is not None:
            _LAYERS.move_to_end(key)
            return hit
    X = load_layer(folder, i, digest)
    X.setflags(write=False)
    if _signature(path) == key[2] and X.nbytes <= LAYER_CACHE_BYTES:
        with _LAYERS_LOCK:
            _LAYERS[key] = X
            while sum(a.nbytes for a in _LAYERS.values()) > LAYER_CACHE_BYTES:
                _LAYERS.popitem(last=False)
    return X


def load_graph(folder: str | Path, i: int, digest: str | None = None) -> Neighbors:
    """Layer ``i``'s saved kNN graph, checked against ``digest``."""
    path = layer_file(folder, i, "npz")

    def parse():
        source = io.BytesIO(read_checked(path, digest)) if digest is not None else path
        with np.load(source, allow_pickle=False) as data:
            return Neighbors(data["distances"].copy(), data["indices"].copy())

    return _parse(path, parse)


def _parse(path: Path, parse):
    """Run ``parse``; an unreadable file (bad zip, bad header, missing key) is an IntegrityError."""
    try:
        return parse()
    except IntegrityError:
        raise
    except (zipfile.BadZipFile, KeyError, EOFError, ValueError, OSError) as exc:
        raise IntegrityError(
            f"{path} is unreadable ({type(exc).__name__}: {exc}); rerun to recompute it"
        ) from None


def read_labels(path: str | Path, digest: str | None) -> dict[str, np.ndarray]:
    """A ``labels.npz`` (``{label name: one value per row}``), checked against ``digest``.

    Raises
    ------
    IntegrityError
        The file is missing, fails its checksum, or cannot be parsed.
    """
    path = Path(path)

    def parse():
        source = io.BytesIO(read_checked(path, digest)) if digest is not None else path
        with np.load(source, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    return _parse(path, parse)


def activations_complete(folder: str | Path) -> bool:
    """Whether an activation folder is complete (its ``meta.json``, written last, exists)."""
    meta = read_json(Path(folder) / "meta.json")
    return isinstance(meta, dict) and "layers" in meta


def changed_layers(acts: str | Path, folder: str | Path, n_layers: int) -> list[int]:
    """Layers whose perturbed activations (in ``folder``) differ from the clean ones."""
    out = []
    for i in range(n_layers):
        a = np.load(layer_file(acts, i), mmap_mode="r")
        b = np.load(layer_file(folder, i), mmap_mode="r")
        if a.shape != b.shape or not np.array_equal(a, b):
            out.append(i)
    return out


def task_path(spec: Mapping[str, Any]) -> Path:
    """Where a measure task's result is written."""
    return Path(spec["dir"]) / "tasks" / f"{spec['id']}.json"


def task_done(spec: Mapping[str, Any]) -> bool:
    """Whether the task's result file exists and is complete."""
    if spec["kind"] == "knn":
        return layer_file(spec["graphs"], spec["layer"], "npz").exists()
    data = read_json(task_path(spec))
    return isinstance(data, dict) and data.get("id") == spec["id"] and "values" in data


class DiskSource:
    """A :class:`~manifold_probe.analysis.tasks.LayerSource` over a run directory's files.

    When the spec carries ``"checksums"`` (``{"activations"|"graphs"|"perturbed": {file name:
    digest}}``, set by the runner from its manifest), every file is checked before it is read
    and one without a recorded checksum is refused.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self._rows: np.ndarray | None = None

    def _digest(self, role: str, name: str) -> str | None:
        sums = self.spec.get("checksums")
        if sums is None:
            return None
        digest = sums.get(role, {}).get(name)
        if digest is None:
            raise IntegrityError(
                f"{Path(self.spec[role]) / name} has no recorded checksum; rerun to recompute it"
            )
        return digest

    def rows(self) -> np.ndarray | None:
        """The rows the tasks measure, or None for all: with ``"max_rows"`` in the spec (the
        setting ``profile.max_rows``, set by the runner above it), those of
        :func:`~manifold_probe.analysis.profile.profile_rows` for the capture's ``n_points``
        and sentence ids, as :func:`~manifold_probe.analysis.profile_layers` chooses them."""
        if self.spec.get("max_rows") is None:
            return None
        if self._rows is None:
            from manifold_probe.analysis.profile import profile_rows

            kept = profile_rows(int(self.spec["n_points"]), int(self.spec["max_rows"]),
                                self._all_sentence_ids())
            self._rows = np.arange(int(self.spec["n_points"])) if kept is None else kept
        return self._rows

    def _subsample(self, values: np.ndarray) -> np.ndarray:
        rows = self.rows()
        return values if rows is None else values[rows]

    def _layer(self, role: str, i: int) -> np.ndarray:
        digest = self._digest(role, f"L{i:02d}.npy")
        if digest is None:
            return load_layer(self.spec[role], i)
        return shared_layer(self.spec[role], i, digest)

    def cloud(self, i: int) -> np.ndarray:
        """Layer ``i`` (its measured rows), float64; read-only when its checksum is known
        (:func:`shared_layer`)."""
        return self._subsample(self._layer("activations", i))

    def graph(self, i: int) -> Neighbors:
        return load_graph(self.spec["graphs"], i, self._digest("graphs", f"L{i:02d}.npz"))

    def _all_sentence_ids(self) -> np.ndarray | None:
        if not self.spec.get("has_sentence_ids"):
            return None
        path = Path(self.spec["activations"]) / "sentence_ids.npy"
        digest = self._digest("activations", path.name)
        if digest is None:
            return np.load(path)
        return _parse(path, lambda: np.load(io.BytesIO(read_checked(path, digest)),
                                            allow_pickle=False))

    def sentence_ids(self) -> np.ndarray | None:
        sid = self._all_sentence_ids()
        return None if sid is None else self._subsample(sid)

    def perturbed_cloud(self, i: int) -> np.ndarray:
        return self._subsample(self._layer("perturbed", i))

    def labels(self) -> dict[str, np.ndarray] | None:
        """The inputs' labels saved beside the clean capture (``labels.npz``), if any; checked
        against its recorded checksum like every other file."""
        path = Path(self.spec["activations"]) / "labels.npz"
        if self.spec.get("checksums") is None and not path.exists():
            return None
        labels = read_labels(path, self._digest("activations", path.name))
        return {k: v if k.endswith(("_order", "_parents")) else self._subsample(v)
                for k, v in labels.items()}


def capture_files(folder: str | Path, meta: Mapping[str, Any]) -> list[Path]:
    """The files of a finished capture folder: its layers, sentence ids and ``meta.json``."""
    folder = Path(folder)
    files = [layer_file(folder, i) for i in range(len(meta["layers"]))]
    if meta.get("has_sentence_ids"):
        files.append(folder / "sentence_ids.npy")
    return [*files, folder / "meta.json"]


# --------------------------------------------------------------------------- the manifest
MANIFEST = "manifest.json"
_FORMAT = "manifold_probe.run/1"


class RunManifest:
    """The checksums of a run directory's files: ``DIR/manifest.json``.

    ``{"format", "files": {relative path: {"blake2b": hex, "size": bytes}}, "checksum"}``,
    where ``checksum`` is the BLAKE2b of the rest, so an edited manifest is noticed (it is
    then ignored as a whole, and every file is recomputed). Only the one process holding
    the directory's :class:`RunLock` writes it, atomically; :meth:`save` writes it at most
    every ``interval`` seconds unless forced, so a killed run loses at most the records of
    its last seconds (those files are then recomputed, never trusted).
    """

    def __init__(self, out: str | Path, files: Mapping[str, Mapping[str, Any]] | None = None,
                 note: str | None = None) -> None:
        self.out = Path(out)
        self.files: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (files or {}).items()}
        self.note = note  # why the stored manifest was not usable, if it was not
        self._saved = time.monotonic()
        self._dirty = False

    @classmethod
    def load(cls, out: str | Path) -> RunManifest:
        """The manifest of ``out`` (empty, with a :attr:`note`, when absent or altered)."""
        path = Path(out) / MANIFEST
        if not path.exists():
            return cls(out)
        data = read_json(path)
        files = data.get("files") if isinstance(data, dict) else None
        if not (isinstance(files, dict) and data.get("format") == _FORMAT
                and data.get("checksum") == _manifest_checksum(files)):
            return cls(out, note=f"{path} is corrupted or edited; every file of the run "
                                 "directory is recomputed")
        return cls(out, files)

    def rel(self, path: str | Path) -> str:
        return Path(os.path.relpath(Path(path), self.out)).as_posix()

    def digest(self, path: str | Path) -> str | None:
        entry = self.files.get(self.rel(path))
        return None if entry is None else entry["blake2b"]

    def problem(self, path: str | Path) -> str | None:
        """Why ``path`` cannot be used (``"missing"``, ...), or ``None`` when it matches."""
        path = Path(path)
        entry = self.files.get(self.rel(path))
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return "missing" if entry is None else "deleted (recorded in the manifest, now missing)"
        except OSError as exc:
            return f"unreadable ({exc.strerror})"
        if entry is None:
            return "not in the manifest (left by an interrupted run, or a foreign file)"
        if size != entry["size"]:
            return (f"{size} bytes where {entry['size']} were written (truncated or replaced)")
        if file_digest(path) != entry["blake2b"]:
            return "checksum differs from the one written (corrupted, or another file swapped in)"
        return None

    def record(self, path: str | Path, digest: str | None = None) -> None:
        """Record ``path`` as written now (its checksum is read from disk unless given)."""
        path = Path(path)
        self.files[self.rel(path)] = {"blake2b": digest or file_digest(path),
                                      "size": path.stat().st_size}
        self._dirty = True

    def forget(self, paths: Iterable[str | Path] = (), under: str | Path | None = None) -> None:
        """Drop the records of ``paths`` and of every file under the folder ``under``."""
        for p in paths:
            self._dirty |= self.files.pop(self.rel(p), None) is not None
        if under is not None:
            prefix = self.rel(under).rstrip("/") + "/"
            for key in [k for k in self.files if k.startswith(prefix)]:
                del self.files[key]
                self._dirty = True

    def folder_digests(self, folder: str | Path) -> dict[str, str]:
        """``{file name: digest}`` of the recorded files directly in ``folder``."""
        prefix = self.rel(folder).rstrip("/") + "/"
        return {k[len(prefix):]: v["blake2b"] for k, v in self.files.items()
                if k.startswith(prefix) and "/" not in k[len(prefix):]}

    def save(self, *, force: bool = True, interval: float = 2.0) -> None:
        """Write the manifest atomically (unless nothing changed, or ``interval`` has not passed)."""
        if not self._dirty or (not force and time.monotonic() - self._saved < interval):
            return
        atomic_write_json(self.out / MANIFEST, {"format": _FORMAT, "files": self.files,
                                                "checksum": _manifest_checksum(self.files)})
        self._saved, self._dirty = time.monotonic(), False


def _manifest_checksum(files: Mapping[str, Any]) -> str:
    return bytes_digest(json.dumps(files, sort_keys=True, separators=(",", ":")).encode())


# --------------------------------------------------------------------------- the lock
class RunLock(DirLock):
    """One writer per run directory: an exclusive ``flock`` on ``DIR/.lock``
    (:class:`~manifold_probe._io.DirLock`; a second writer gets :class:`LockHeldError`)."""

    what = "run"
    fix = "wait for it to finish, or choose another --out"
