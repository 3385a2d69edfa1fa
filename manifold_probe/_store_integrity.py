"""Checksums of an activation store's chunks and manifest, and their verification.

Integrity: the manifest holds a checksum (BLAKE2b, 128 bits) of the committed rows of every
chunk of every array, written at each commit, and a checksum of itself. Every read and every
resume recomputes them from the stored data and raises :class:`IntegrityError` (an
:class:`InputError`) naming the array and chunk when one differs: a deleted chunk (which zarr
would silently read as zeros), a truncated, bit-flipped, swapped or foreign chunk file, an
edited array dtype or shape, or an edited manifest. Corrupted data is never returned and a
resume never counts rows whose chunks fail the check (it refuses; recapture with
``overwrite=True``). Checksums cover the decoded values of the committed rows only, so rows a
crashed batch wrote beyond the commit point do not invalidate a partly filled chunk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._validation import IntegrityError

FORMATS_WITHOUT_CHECKSUMS = ("manifold_probe.activations/1",)
SELF_CHECKSUM = "manifest_checksum"
IDS = ("_sentence_ids", "_position_ids")


def _digest_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def chunk_digest(values: np.ndarray) -> str:
    """Checksum of decoded chunk rows: dtype, shape and bytes in C order."""
    v = np.ascontiguousarray(values)
    head = f"{v.dtype.str}|{v.shape}|".encode()
    return _digest_bytes(head + v.tobytes())


def manifest_digest(man: Mapping[str, Any]) -> str:
    body = {k: v for k, v in man.items() if k != SELF_CHECKSUM}
    return _digest_bytes(json.dumps(body, sort_keys=True, default=str).encode())


def verify_store(path: Path, man: Mapping[str, Any], names: Sequence[str] | None = None) -> None:
    """Recompute every committed chunk's checksum of the store at ``path`` against ``man``.

    See :meth:`manifold_probe.store.ActivationStore.verify`.
    """
    import zarr

    if not man:
        return
    if man.get("format") in FORMATS_WITHOUT_CHECKSUMS:
        raise IntegrityError(
            f"the store at {path} was written in the older format {man['format']!r}, without "
            "checksums, so its chunks cannot be verified (a deleted chunk would read as zeros); "
            "read it with verify=False if you trust it, or recapture it with "
            "ActivationStore(path, overwrite=True)"
        )
    n = int(man.get("n_rows", 0))
    if n == 0:
        return
    cr = int(man["chunk_rows"])
    sums = man.get("checksums", {})
    if names is None:
        names = [*man["layers"], *(IDS if man.get("token_level") else ())]
    fix = "recapture it with ActivationStore(path, overwrite=True)"
    try:
        g = zarr.open_group(store=str(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - any failure to open is corruption here
        raise IntegrityError(
            f"the store at {path} cannot be opened as a zarr group ({type(exc).__name__}: "
            f"{exc}); {fix}"
        ) from None
    for name in names:
        want_dtype = np.dtype("int64" if name in IDS else man["dtype"])
        try:
            arr = g[name]
            shape, dtype = arr.shape, np.dtype(arr.dtype)
        except Exception as exc:  # noqa: BLE001
            raise IntegrityError(
                f"array {name!r} of the store at {path} is missing or unreadable "
                f"({type(exc).__name__}: {exc}); {fix}"
            ) from None
        if dtype != want_dtype or shape[0] < n:
            raise IntegrityError(
                f"array {name!r} of the store at {path} has dtype {dtype} and "
                f"{shape[0]} rows, but the manifest committed {n} rows of {want_dtype}: "
                f"its metadata was altered; {fix}"
            )
        listed = sums.get(name, [])
        n_chunks = (n + cr - 1) // cr
        if len(listed) < n_chunks:
            raise IntegrityError(
                f"the manifest of {path} lists {len(listed)} checksums for array "
                f"{name!r} but {n_chunks} chunks are committed; {fix}"
            )
        for c in range(n_chunks):
            lo, hi = c * cr, min((c + 1) * cr, n)
            try:
                got = chunk_digest(np.asarray(arr[lo:hi]))
            except Exception as exc:  # noqa: BLE001 - undecodable bytes are corruption
                raise IntegrityError(
                    f"chunk {c} (rows {lo}-{hi - 1}) of array {name!r} in {path} "
                    f"cannot be decoded ({type(exc).__name__}); the file is truncated or "
                    f"altered; {fix}"
                ) from None
            if got != listed[c]:
                raise IntegrityError(
                    f"chunk {c} (rows {lo}-{hi - 1}) of array {name!r} in {path} fails "
                    "its checksum: the chunk file was deleted, altered, swapped or replaced; "
                    f"{fix}"
                )


def read_manifest(f: Path, current: str) -> dict[str, Any]:
    """The committed manifest at ``f`` (``{}`` when absent), checked: it must parse, name a
    known format (``current`` or an older one) that cannot skip checks it carries, and match
    its own checksum. See :attr:`manifold_probe.store.ActivationStore.manifest`."""
    if not f.exists():
        return {}
    try:
        man = json.loads(f.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(
            f"the manifest {f} is corrupted ({exc}); the store cannot be trusted: recapture "
            "it with ActivationStore(path, overwrite=True)"
        ) from None
    if not isinstance(man, dict):
        raise IntegrityError(f"the manifest {f} is not a JSON object; recapture the store")
    fmt = man.get("format")
    if fmt not in (current, *FORMATS_WITHOUT_CHECKSUMS):
        raise IntegrityError(
            f"the manifest {f} names the format {fmt!r}, which this version does not know "
            f"(it writes {current!r}); the manifest was edited or comes from a newer version: "
            "recapture the store with ActivationStore(path, overwrite=True)"
        )
    if fmt in FORMATS_WITHOUT_CHECKSUMS and (SELF_CHECKSUM in man or "checksums" in man):
        # an older format cannot carry checksums: this manifest was edited to skip them
        raise IntegrityError(
            f"the manifest {f} names the older format {fmt!r} but carries checksums: it was "
            "edited; recapture the store with ActivationStore(path, overwrite=True)"
        )
    if fmt not in FORMATS_WITHOUT_CHECKSUMS:
        if man.get(SELF_CHECKSUM) != manifest_digest(man):
            raise IntegrityError(
                f"the manifest {f} was altered after it was written (its checksum does not "
                "match); recapture the store with ActivationStore(path, overwrite=True)"
            )
    return man
