"""Forward-hook capture of per-layer activations from any PyTorch model, with token pooling.

:class:`Activations` (the in-memory form) is defined beside its on-disk form in
:mod:`manifold_probe.store` and re-exported here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_int
from manifold_probe.activations import Activations
from manifold_probe.capture.batches import (
    batch_parts,
    batch_size,
    hash_rows,
    slice_batch,
    to_device,
)
from manifold_probe.capture.store_writer import StoreWriter
from manifold_probe.store import ActivationStore

__all__ = [
    "Activations",
    "capture_modules",
    "pool_tokens",
    "check_pooling",
    "hash_sentences",
]

POOLINGS = ("all", "mean", "first", "last")


def check_pooling(pooling: Any) -> str | tuple[int, ...]:
    """Validate a pooling spec: ``"all"`` (alias ``"tokens"``, the config's name), ``"mean"``,
    ``"first"``, ``"last"``, an int position or a sequence of int positions (negative counts
    from the last real token)."""
    if isinstance(pooling, str):
        if pooling.lower() == "tokens":
            return "all"
        if pooling.lower() not in POOLINGS:
            raise InputError(
                f"pooling={pooling!r} is not supported; choose one of {list(POOLINGS)}, an int "
                "token position, or a list of positions"
            )
        return pooling.lower()
    if isinstance(pooling, (int, np.integer)) and not isinstance(pooling, bool):
        return (int(pooling),)
    if isinstance(pooling, Sequence) and len(pooling) > 0:
        return tuple(check_int(p, name="pooling position") for p in pooling)
    raise InputError(
        f"pooling={pooling!r} is not supported; choose one of {list(POOLINGS)}, an int token "
        "position, or a non-empty list of positions"
    )


def pool_tokens(hidden, mask, pooling: str | tuple[int, ...]):
    """Pool token states ``hidden`` (B, T, d) under the padding ``mask`` (B, T).

    Padding never enters a result: the mean is over real tokens only,

    .. math:: \\bar h_b = \\frac{\\sum_t m_{bt} h_{bt}}{\\sum_t m_{bt}},

    ``"first"``/``"last"`` pick the first/last *real* token (left or right padding alike), and
    positions index the real tokens (``-1`` = last real token).

    Returns
    -------
    rows : tensor (R, d)
    sentence_ids : tensor (R,) int64 or None   (row -> input index within the batch)
    position_ids : tensor (R,) int64 or None   (row -> position among the real tokens)
    """
    import torch

    mask = mask.to(torch.bool)
    lengths = mask.sum(1)
    if bool((lengths == 0).any()):
        raise InputError("an input has no real tokens (all padding); drop empty inputs")
    # rank of each real token among the real tokens of its row (0 = first real token)
    rank = mask.long().cumsum(1) - 1
    if pooling == "mean":
        w = mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * w).sum(1) / w.sum(1), None, None
    if pooling == "all":
        b_idx, t_idx = mask.nonzero(as_tuple=True)
        return hidden[b_idx, t_idx], b_idx, rank[b_idx, t_idx]
    if pooling == "first":
        t = (mask & (rank == 0)).long().argmax(1)
        return hidden[torch.arange(len(t), device=hidden.device), t], None, None
    if pooling == "last":
        t = (mask & (rank == (lengths - 1).unsqueeze(1))).long().argmax(1)
        return hidden[torch.arange(len(t), device=hidden.device), t], None, None
    # explicit positions
    rows, sids, pids = [], [], []
    B = hidden.shape[0]
    for pos in pooling:
        want = torch.full((B,), pos, dtype=torch.long, device=hidden.device)
        want = torch.where(want < 0, want + lengths, want)
        if bool(((want < 0) | (want >= lengths)).any()):
            short = int(lengths.min())
            raise InputError(
                f"token position {pos} is outside an input with {short} real tokens; choose "
                f"positions in [-{short}, {short - 1}] or drop short inputs"
            )
        t = (mask & (rank == want.unsqueeze(1))).long().argmax(1)
        rows.append(hidden[torch.arange(B, device=hidden.device), t])
        sids.append(torch.arange(B, device=hidden.device))
        pids.append(want)
    # order rows by input, then by requested position
    rows_t = torch.stack(rows, 1).reshape(B * len(pooling), -1)
    sid = torch.stack(sids, 1).reshape(-1)
    pid = torch.stack(pids, 1).reshape(-1)
    if len(pooling) == 1:
        return rows_t, None, None
    return rows_t, sid, pid


def hash_sentences(sentences: Sequence[str]) -> str:
    """SHA-256 of a list of strings (unit-separator joined); identifies a capture's inputs."""
    h = hashlib.sha256()
    for s in sentences:
        h.update(s.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def first_tensor(output):
    import torch

    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    if hasattr(output, "last_hidden_state"):
        return output.last_hidden_state
    raise InputError(
        f"a hooked module returned {type(output).__name__}; hook modules whose output is a "
        "tensor (batch, tokens, width) or a tuple starting with one"
    )


def _progress_callback(progress: bool | Callable[[int], None]) -> Callable[[int], None] | None:
    """The per-batch callback: the caller's, a logger for ``True``, or none."""
    if callable(progress):
        return progress
    if progress:
        import logging

        log = logging.getLogger("manifold_probe.capture")
        return lambda done: log.info("captured %d inputs", done)
    return None


def _resolve_modules(model, module_names: Sequence[str]):
    named = dict(model.named_modules())
    missing = [n for n in module_names if n not in named]
    if missing:
        sample = [n for n in named if n][:12]
        raise InputError(
            f"module(s) {missing} not found in the model; available names include {sample} "
            "(see model.named_modules())"
        )
    return [named[n] for n in module_names]


def _check_names(module_names: Sequence[str], layer_names: Sequence[str] | None):
    """The modules to hook and the names of their layers (default: the module names)."""
    module_names = list(module_names)
    if not module_names:
        raise InputError("module_names is empty; name at least one module to capture")
    layer_names = tuple(layer_names) if layer_names is not None else tuple(module_names)
    if len(layer_names) != len(module_names) or len(set(layer_names)) != len(layer_names):
        raise InputError(
            f"layer_names must be distinct and one per module; got {len(layer_names)} names "
            f"for {len(module_names)} modules"
        )
    return module_names, layer_names


class _RowsInMemory:
    """A capture's batches kept in memory (without a store), joined into :class:`Activations`."""

    def __init__(self, layer_names: tuple[str, ...]):
        self.layer_names = layer_names
        self.rows: dict[str, list[np.ndarray]] = {n: [] for n in layer_names}
        self.sid: list[np.ndarray] = []
        self.pid: list[np.ndarray] = []

    def add(self, batch_arrays: Mapping[str, np.ndarray], sid, pid) -> None:
        for name in self.layer_names:
            self.rows[name].append(batch_arrays[name])
        if sid is not None:
            self.sid.append(sid)
            self.pid.append(pid)

    def activations(self, dtype: str, meta: dict) -> Activations:
        arrays = {n: np.concatenate(self.rows[n], axis=0).astype(dtype, copy=False)
                  for n in self.layer_names}
        return Activations(
            layers=self.layer_names,
            arrays=arrays,
            sentence_ids=np.concatenate(self.sid) if self.sid else None,
            position_ids=np.concatenate(self.pid) if self.pid else None,
            meta=meta,
        )


def _skip_held(hasher, args, kwargs, mask, done: int, skip: int, st):
    """Hash the rows of a batch that the store already holds (``skip`` inputs in all, ``done``
    seen so far), check the store's prefix hash where the held rows end, and return the rest
    of the batch: ``(args, kwargs, mask, size, done)``; size 0 when the store holds it all."""
    bsz = batch_size(args, kwargs)
    if done + bsz <= skip:
        hash_rows(hasher, args, kwargs, mask)
        done += bsz
        if done == skip and st is not None:
            st.check_prefix(hasher.hexdigest())
        return args, kwargs, mask, 0, done
    start = max(0, skip - done)
    if start:
        hash_rows(hasher, args, kwargs, mask, 0, start)
        if st is not None:
            st.check_prefix(hasher.hexdigest())
        args, kwargs = slice_batch(args, kwargs, start)
        mask = kwargs.get("attention_mask", mask)
        bsz -= start
        done += start
    return args, kwargs, mask, bsz, done


def _pooled_rows(captured: Mapping[int, Any], layer_names, module_names, mask, pooling, done: int):
    """One batch's hooked outputs, pooled: ``({layer: rows}, sentence ids, positions)``.

    ``captured[i]`` is module ``i``'s output; ``(B, T, d)`` outputs are pooled under ``mask``
    with :func:`pool_tokens`, ``(B, d)`` outputs kept; sentence ids count from ``done``.
    """
    import torch

    batch_arrays = {}
    sid = pid = None
    for i, name in enumerate(layer_names):
        if i not in captured:
            raise InputError(
                f"module {module_names[i]!r} did not run in the forward pass; "
                "check the module name"
            )
        h = captured[i]
        if h.ndim == 2:
            rows, s, p = h, None, None
        elif h.ndim == 3:
            m = mask if mask is not None else torch.ones(
                h.shape[:2], dtype=torch.bool, device=h.device)
            if m.shape != h.shape[:2]:
                raise InputError(
                    f"module {module_names[i]!r} output has shape {tuple(h.shape)}, "
                    f"but the attention mask has shape {tuple(m.shape)}"
                )
            rows, s, p = pool_tokens(h, m.to(h.device), pooling)
        else:
            raise InputError(
                f"module {module_names[i]!r} output has shape {tuple(h.shape)}; "
                "expected (batch, tokens, width) or (batch, width)"
            )
        batch_arrays[name] = rows.detach().float().cpu().numpy()
        if s is not None and sid is None:
            sid = s.cpu().numpy().astype(np.int64) + done
            pid = p.cpu().numpy().astype(np.int64)
    return batch_arrays, sid, pid


def capture_modules(
    model,
    batches: Iterable,
    module_names: Sequence[str],
    *,
    pooling: Any = "mean",
    layer_names: Sequence[str] | None = None,
    device: Any = None,
    store: Any = None,
    forward_kwargs: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    input_hash: str | None = None,
    progress: bool | Callable[[int], None] = False,
    load: bool = True,
    chunk_rows: int = 4096,
    dtype: str = "float32",
) -> Activations:
    """Capture the outputs of named modules of any torch model with forward hooks.

    Runs ``model(*args, **kwargs)`` under :func:`torch.no_grad` for each batch and records
    each hooked module's output (the first tensor of a tuple output), pooled over tokens with
    :func:`pool_tokens`. Rows are aligned across layers: row ``i`` is the same input (or token)
    in every layer.

    Parameters
    ----------
    model : torch.nn.Module
    batches : iterable
        Each batch is a tensor ``(B, T)`` (token ids; every token real), a tuple of tensors
        (positional arguments), or a dict of tensors (keyword arguments; its
        ``attention_mask``, when present, marks the real tokens).
    module_names : sequence of str
        Names from ``model.named_modules()``; each output must be ``(B, T, d)`` or ``(B, d)``.
    pooling : {"mean", "all", "first", "last"}, int or sequence of int, default="mean"
        Token pooling (see :func:`pool_tokens`); ignored for ``(B, d)`` outputs.
    layer_names : sequence of str, optional
        Names for the captured layers (default: the module names).
    device : str or torch.device, optional
        Where to run; the model is moved there. Default: the model's current device.
    store : ActivationStore or path, optional
        Stream every batch into this store (see :mod:`manifold_probe.store`). If the store
        holds a partial capture of the same run, the inputs it already has are skipped
        (after checking they hash the same), so an interrupted capture resumes.
    input_hash : str, optional
        A hash identifying all the inputs, recorded in the metadata (and checked on resume).
    progress : callable or bool, default=False
        ``progress(n)`` is called after each batch with the number of inputs done so far (the
        command line draws its bars from it; with a store, the latest batch may still be being
        written, and it is committed before this function returns or raises). ``True`` logs
        the same count at INFO level to the ``manifold_probe.capture`` logger; drawing is left
        to the interfaces.
    load : bool, default=True
        With a store: return numpy arrays read back from it (``False``: dask arrays).
    chunk_rows, dtype :
        Store layout: rows per chunk and ``"float32"`` or ``"float16"``.

    Returns
    -------
    Activations
        float32 arrays ``(N, d)``; ``N`` = inputs (pooled) or real tokens (``"all"``).
    """
    import torch

    from manifold_probe._validation import check_option

    pooling = check_pooling(pooling)
    module_names, layer_names = _check_names(module_names, layer_names)
    dtype = check_option(dtype, ("float32", "float16"), name="dtype")
    modules = _resolve_modules(model, module_names)
    if device is not None:
        model = model.to(device)
    else:
        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
    was_training = model.training
    model.eval()

    meta = dict(meta or {})
    meta.setdefault("model", type(model).__name__)
    meta.update(
        pooling=pooling if isinstance(pooling, str) else list(pooling),
        layers=list(layer_names),
        modules=list(module_names),
    )

    st = None
    skip = 0
    if store is not None:
        st = store if isinstance(store, ActivationStore) else ActivationStore(store)
        skip = st.begin(layer_names, meta=meta, input_hash=input_hash, chunk_rows=chunk_rows, dtype=dtype)
        if st.is_complete:
            model.train(was_training)
            return st.to_activations(load=load)

    captured: dict[int, Any] = {}

    def make_hook(i):
        def hook(_module, _inputs, output):
            captured[i] = first_tensor(output)

        return hook

    handles = [m.register_forward_hook(make_hook(i)) for i, m in enumerate(modules)]
    writer = StoreWriter(st) if st is not None else None
    rows = _RowsInMemory(layer_names) if st is None else None
    hasher = hashlib.sha256()
    done = 0  # inputs seen so far (including skipped ones)
    iterator: Iterator = iter(batches)
    report = _progress_callback(progress)
    extra = dict(forward_kwargs or {})
    try:
        with torch.no_grad():
            for batch in iterator:
                args, kwargs, mask = batch_parts(batch)
                args, kwargs, mask, bsz, done = _skip_held(hasher, args, kwargs, mask, done, skip, st)
                if bsz == 0:
                    continue
                hash_rows(hasher, args, kwargs, mask)
                args_d, kwargs_d = to_device(args, kwargs, device)
                captured.clear()
                model(*args_d, **kwargs_d, **extra)
                batch_arrays, sid, pid = _pooled_rows(captured, layer_names, module_names, mask,
                                                      pooling, done)
                done += bsz
                if writer is not None:
                    writer.put({"arrays": batch_arrays, "n_inputs": bsz, "sentence_ids": sid,
                                "position_ids": pid, "prefix_hash": hasher.hexdigest()})
                else:
                    rows.add(batch_arrays, sid, pid)
                if report is not None:
                    report(done)
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:  # the queued batches commit before the store's lock is released
            writer.close(raise_error=False)
        if st is not None:
            st.close()  # the store's writer lock: a rerun resumes from the committed rows
        raise
    finally:
        if writer is not None:  # on an error or an interrupt: the queued batches still commit
            writer.close(raise_error=False)
        for h in handles:
            h.remove()
        model.train(was_training)

    if done < skip:
        raise InputError(
            f"the store already holds {skip} inputs but only {done} were passed; pass the same "
            "inputs as the interrupted run, or start a new store"
        )
    final_hash = input_hash or hasher.hexdigest()
    meta["n_inputs"] = done
    meta["input_hash"] = final_hash
    if st is not None:
        st.complete(input_hash=final_hash)
        return st.to_activations(load=load)
    if done == 0:
        raise InputError("no batches were given; pass at least one batch of inputs")
    return rows.activations(dtype, meta)
