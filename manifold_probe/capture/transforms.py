r"""Controls: transforms of one block's output whose effect on topology is known by construction.

A control answers "does the verdict say *kept* for a change that provably keeps topology, and
*broken* for one that provably breaks it?" on a real network. Each transform acts on the
residual stream :math:`h` that block ``l`` writes (the layer recorded as ``"layer_l"``).

Keep controls (homeomorphisms of the stream)
    ``rotate``   :math:`f(h) = Q h`, ``Q`` a Haar-random orthogonal matrix (QR of a Gaussian);
    ``rescale``  :math:`f(h) = s h` (``amount`` = ``s``, default 2);
    ``linear``   :math:`f(h) = U \operatorname{diag}(\sigma) V^\top h`, singular values
                 log-uniform in :math:`[\kappa^{-1/2}, \kappa^{1/2}]` (condition number
                 ``amount`` = :math:`\kappa`, default 4);
    ``warp``     a composition of 4 shears :math:`h \mapsto h + \varepsilon s\, u
                 \sin(w^\top(h - \mu)/s)` with unit :math:`u \perp w`; since :math:`w^\top f(h)
                 = w^\top h` each shear has the exact inverse :math:`y \mapsto y - \varepsilon s\,
                 u \sin(w^\top(y - \mu)/s)` and Jacobian :math:`I + \varepsilon \cos(\cdot)\,
                 u w^\top` (unipotent, singular values within :math:`[1/(1+\varepsilon),
                 1+\varepsilon]`): smooth and bi-Lipschitz (a NICE additive coupling; Dinh,
                 Krueger & Bengio 2014). ``amount`` = :math:`\varepsilon` (default 0.3); ``s`` is
                 the clean cloud's spread along ``w`` and :math:`\mu` its mean.

    Design: the map is installed as a forward hook on block ``l``'s output **and its exact
    inverse as a forward-pre-hook on block ``l + 1``'s input**, so the stream recorded at layer
    ``l`` is :math:`f(h)` (token by token; for mean pooling of a linear map the pooled point is
    :math:`f(\bar h)` exactly) while every later layer sees :math:`f^{-1}(f(h)) = h` and is
    unchanged by construction (up to float round-off). At the last block there is no next
    block and no inverse is needed.

Break controls (fed forward, no inverse)
    ``project``  remove class-mean directions of a label (``structure``): the clean run's
                 class means of that label at layer ``l`` give a PCA basis
                 :math:`u_1, u_2, \dots`; :math:`f(h) = h - \sum_{j \in J} u_j u_j^\top (h - m)`
                 with ``J`` = all but the first (``amount=None``: the class means collapse onto
                 a line, so no cycle survives) or the first ``amount`` planes' directions. For
                 the modular-addition model with ``structure="answer"`` the class-mean PCA
                 spans the Fourier planes that carry the circles (Nanda et al. 2023).
    ``glue``     map one category's points onto another's: input ``i`` of category ``A`` is
                 moved to :math:`x_{\pi(i)} + (x_i - m_A)/10`, with :math:`\pi(i)` a random
                 input of category ``B`` and :math:`m_A` the clean mean of ``A``: ``A`` now
                 follows ``B``'s distribution (up to a tenth of its own spread), one region.
    ``tear``     open a known loop: in the top class-mean plane of ``structure`` (centre
                 :math:`c` = centroid of the class means) the angle about :math:`c`, measured
                 from a cut placed in the widest gap between class means, is mapped
                 :math:`\theta \mapsto \tau\theta` on :math:`(-\pi, \pi]` (``amount`` =
                 :math:`\tau`, default 0.75): a gap of :math:`2\pi(1-\tau)` opens at the cut.

    ``glue`` and ``tear`` are maps of the *pooled* point of each input, fitted on the clean
    run's cloud at layer ``l``: the per-input offset :math:`\delta_i = g(x_i) - x_i` is added to
    every token of input ``i`` at block ``l``'s output (inputs are counted batch by batch in
    capture order), so the recorded point of input ``i`` is exactly :math:`g(x_i)` for mean,
    first and last pooling; later blocks receive the changed stream.

Fitted transforms need a :class:`TransformContext`: the clean cloud of the layer and the
inputs' labels (the experiment runner builds it from the clean capture).

References
----------
Dinh, Krueger & Bengio (2014), "NICE: Non-linear independent components estimation", arXiv:1410.8516.
Nanda, Chan, Lieberum, Smith & Steinhardt (2023), "Progress measures for grokking via
mechanistic interpretability", ICLR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manifold_probe._validation import InputError

__all__ = ["KEEP", "BREAK", "TransformContext", "fit_transform", "install_transform"]

KEEP = ("rotate", "rescale", "linear", "warp")
BREAK = ("project", "glue", "tear")
DEFAULT_AMOUNT = {"rescale": 2.0, "linear": 4.0, "warp": 0.3, "tear": 0.75}


@dataclass
class TransformContext:
    """What a fitted transform needs: the clean cloud of a layer and the inputs' labels.

    ``clean(name)`` returns the clean run's pooled cloud (n_inputs, d) at layer ``name``
    (``"layer_l"``); ``labels`` maps a label name to one value per input (``-1`` or ``""``:
    none).
    """

    clean: Callable[[str], np.ndarray] | None = None
    labels: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass
class _Fitted:
    """A fitted transform: per-token maps (forward, inverse) or per-input offsets."""

    forward: Callable[[Any], Any] | None = None
    inverse: Callable[[Any], Any] | None = None
    offsets: np.ndarray | None = None  # (n_inputs, d): added to every token of input i


def _orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def _need(ctx: TransformContext | None, what: str, name: str, label: str | None = None):
    if ctx is None or ctx.clean is None:
        raise InputError(
            f"transform {what!r} is fitted on the clean run's activations at {name}; run it "
            "through the experiment runner (or pass a TransformContext with clean=...)"
        )
    X = np.asarray(ctx.clean(name), dtype=np.float64)
    if label is None:
        return X, None
    if label not in ctx.labels:
        raise InputError(
            f"transform {what!r} needs the inputs' label {label!r}; available: "
            f"{sorted(ctx.labels)}; set structure= to one of them"
        )
    y = np.asarray(ctx.labels[label])
    if len(y) != len(X):
        raise InputError(f"label {label!r} has {len(y)} entries but the layer has {len(X)} inputs")
    return X, y


def _has_label(y: np.ndarray) -> np.ndarray:
    return (y != -1) if y.dtype.kind in "iuf" else (y.astype(str) != "")


def _class_means(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = _has_label(y)
    classes = np.unique(y[keep])
    if len(classes) < 3:
        raise InputError(f"the label has {len(classes)} classes with points; need at least 3")
    return classes, np.stack([X[keep & (y == c)].mean(axis=0) for c in classes])


def _class_mean_pca(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre of the class means and their principal directions (columns, by variance)."""
    _, M = _class_means(X, y)
    centre = M.mean(axis=0)
    _, s, vt = np.linalg.svd(M - centre, full_matrices=False)
    return centre, vt[s > 1e-12 * max(s[0], 1e-300)].T


def fit_transform(p: Any, width: int, name: str, ctx: TransformContext | None,
                  seed: int) -> _Fitted:
    """Fit one transform (``p.transform``, ``p.amount``, ``p.structure``, ``p.categories``)."""
    import torch

    kind = p.transform
    amount = getattr(p, "amount", None)
    amount = DEFAULT_AMOUNT.get(kind) if amount is None else float(amount)
    rng = np.random.default_rng(seed)
    if kind in ("rotate", "rescale", "linear"):
        if kind == "rotate":
            A = _orthogonal(width, rng)
            Ainv = A.T
        elif kind == "rescale":
            if amount == 0:
                raise InputError("rescale needs a non-zero amount (the factor)")
            A, Ainv = amount * np.eye(width), np.eye(width) / amount
        else:
            if amount < 1:
                raise InputError(f"linear: amount is the condition number, >= 1; got {amount}")
            sig = np.exp(rng.uniform(-0.5, 0.5, width) * np.log(amount))
            U, V = _orthogonal(width, rng), _orthogonal(width, rng)
            A, Ainv = (U * sig) @ V.T, (V / sig) @ U.T
        At, Ait = torch.as_tensor(A.T.copy()), torch.as_tensor(Ainv.T.copy())
        return _Fitted(forward=lambda t: t @ At.to(t.device, t.dtype),
                       inverse=lambda t: t @ Ait.to(t.device, t.dtype))
    if kind == "warp":
        X, _ = _need(ctx, kind, name)
        mu = X.mean(axis=0)
        shears = []
        for _ in range(4):
            Q = _orthogonal(width, rng)[:, :2]
            u, w = Q[:, 0], Q[:, 1]
            s = float(np.std((X - mu) @ w)) or 1.0
            shears.append(tuple(torch.as_tensor(v) for v in (u, w, mu)) + (s,))

        def forward(t):
            for u, w, m, s in shears:
                u, w, m = (v.to(t.device, t.dtype) for v in (u, w, m))
                t = t + amount * s * torch.sin(((t - m) @ w)[..., None] / s) * u
            return t

        def inverse(t):
            for u, w, m, s in reversed(shears):
                u, w, m = (v.to(t.device, t.dtype) for v in (u, w, m))
                t = t - amount * s * torch.sin(((t - m) @ w)[..., None] / s) * u
            return t

        return _Fitted(forward=forward, inverse=inverse)
    if kind == "project":
        X, y = _need(ctx, kind, name, p.structure)
        centre, basis = _class_mean_pca(X, y)
        J = basis[:, 1:] if amount is None else basis[:, : int(2 * amount)]
        P = torch.as_tensor(np.eye(width) - J @ J.T)
        c = torch.as_tensor(centre @ (J @ J.T))
        return _Fitted(forward=lambda t: t @ P.to(t.device, t.dtype) + c.to(t.device, t.dtype))
    if kind == "glue":
        X, y = _need(ctx, kind, name, p.structure or "category")
        cats = list(p.categories or [])
        ys = y.astype(str)
        missing = [c for c in cats if not (ys == str(c)).any()]
        if len(cats) != 2 or missing:
            raise InputError(
                f"glue needs categories = [from, onto], two values of label {p.structure!r} present "
                f"in the inputs; got {cats} (missing: {missing}); present: {sorted(set(ys))[:12]}"
            )
        a, b = np.flatnonzero(ys == str(cats[0])), np.flatnonzero(ys == str(cats[1]))
        onto = rng.choice(b, size=len(a), replace=len(a) > len(b))
        offsets = np.zeros_like(X)
        # onto a B point, keeping a tenth of the A point's own deviation (no exact duplicates)
        offsets[a] = X[onto] + 0.1 * (X[a] - X[a].mean(axis=0)) - X[a]
        return _Fitted(offsets=offsets)
    if kind == "tear":
        X, y = _need(ctx, kind, name, p.structure)
        if not 0 < amount < 1:
            raise InputError(f"tear: amount is the angle factor in (0, 1); got {amount}")
        _, M = _class_means(X, y)
        centre, basis = _class_mean_pca(X, y)
        B = basis[:, :2]
        mean_angles = np.sort(np.arctan2(*((M - centre) @ B).T[::-1]))
        gaps = np.diff(np.r_[mean_angles, mean_angles[0] + 2 * np.pi])
        j = int(np.argmax(gaps))
        cut = mean_angles[j] + gaps[j] / 2
        Z = (X - centre) @ B
        r = np.hypot(Z[:, 0], Z[:, 1])
        phi = np.angle(np.exp(1j * (np.arctan2(Z[:, 1], Z[:, 0]) - cut - np.pi)))
        new = amount * phi + cut + np.pi
        Znew = np.c_[r * np.cos(new), r * np.sin(new)]
        return _Fitted(offsets=(Znew - Z) @ B.T)
    raise InputError(f"unknown transform {kind!r}; choose from {KEEP + BREAK}")


def _hidden(args: tuple, kwargs: dict):
    if args:
        return args[0], lambda t: ((t, *args[1:]), kwargs)
    key = "hidden_states" if "hidden_states" in kwargs else next(iter(kwargs))
    return kwargs[key], lambda t: (args, {**kwargs, key: t})


def install_transform(blocks: list, b: int, p: Any, ctx: TransformContext | None, seed: int,
                      first_tensor: Callable, replace_first: Callable, name: str) -> list:
    """Hooks of transform ``p`` on ``blocks[b]`` (and its inverse on ``blocks[b + 1]``).

    ``name`` is the recorded layer of block ``b``'s output (``"layer_{b+1}"``), whose clean
    cloud fitted transforms read from ``ctx``. Returns the hook handles.
    """
    import torch

    block = blocks[b]
    X, _ = _need(ctx, p.transform, name)  # every transform reads the stream width from it
    width = int(X.shape[1])
    fitted = fit_transform(p, width, name, ctx, seed)
    hooks = []
    if fitted.offsets is not None:
        offsets = torch.as_tensor(fitted.offsets)
        cursor = {"row": 0}

        def add_offsets(module, args, output):
            y = first_tensor(output)
            n = y.shape[0]
            start = cursor["row"]
            if start + n > offsets.shape[0]:
                raise InputError(
                    f"transform {p.transform!r} was fitted on {offsets.shape[0]} inputs; the "
                    "capture fed more (capture the same inputs, in order, as the clean run)"
                )
            cursor["row"] = start + n
            d = offsets[start:start + n].to(y.device, y.dtype)
            d = d.reshape(n, *([1] * (y.ndim - 2)), d.shape[-1])
            return replace_first(output, y + d)

        hooks.append(block.register_forward_hook(add_offsets, prepend=True))
        return hooks

    def forward(module, args, output):
        return replace_first(output, fitted.forward(first_tensor(output)))

    hooks.append(block.register_forward_hook(forward, prepend=True))
    if fitted.inverse is not None and b + 1 < len(blocks):
        def pre(module, args, kwargs):
            h, rebuild = _hidden(args, kwargs)
            return rebuild(fitted.inverse(h))

        hooks.append(blocks[b + 1].register_forward_pre_hook(pre, with_kwargs=True))
    return hooks
