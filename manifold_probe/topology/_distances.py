"""Distances between persistence diagrams (gudhi backend), optionally scale-normalised."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._validation import (
    InputError,
    check_float,
    check_option,
    rescale,
    scale_exponent,
    to_numpy,
)

__all__ = ["diagram_distance", "as_diagram"]

KINDS = ("bottleneck", "wasserstein")


def as_diagram(D: Any, name: str = "D") -> np.ndarray:
    """Validate one diagram: shape (m, 2), real, no NaN, birth <= death, births finite."""
    try:
        A = np.asarray(to_numpy(D), dtype=np.float64)  # torch tensors of any float dtype too
    except (TypeError, ValueError):  # InputError included
        raise InputError(
            f"{name} must be a persistence diagram: an array of shape (m, 2) with rows "
            f"(birth, death); got {type(D).__name__}"
        ) from None
    if A.size == 0:
        return np.zeros((0, 2))
    if A.ndim != 2 or A.shape[1] != 2:
        raise InputError(
            f"{name} must be a persistence diagram of shape (m, 2) with rows (birth, death); "
            f"got shape {A.shape}. Pass one dimension at a time, e.g. dgms[1]"
        )
    if np.isnan(A).any() or not np.isfinite(A[:, 0]).all():
        raise InputError(f"{name} has NaN entries or infinite births; births must be finite")
    if (A[:, 1] < A[:, 0]).any():
        bad = int(np.flatnonzero(A[:, 1] < A[:, 0])[0])
        raise InputError(
            f"{name} row {bad} dies before it is born ({A[bad, 0]}, {A[bad, 1]}); rows must be "
            "(birth, death) with birth <= death"
        )
    return A


def _scales(normalize: Any) -> tuple[float, float]:
    if normalize is None:
        return 1.0, 1.0
    if isinstance(normalize, (tuple, list)):
        if len(normalize) != 2:
            raise InputError(
                f"normalize must be one scale or a pair (scale_1, scale_2); got {normalize!r}"
            )
        s1, s2 = normalize
    else:
        s1 = s2 = normalize
    return (
        check_float(s1, name="normalize scale", low=0.0, low_open=True),
        check_float(s2, name="normalize scale", low=0.0, low_open=True),
    )


def diagram_distance(
    D1: Any,
    D2: Any,
    kind: str = "bottleneck",
    order: float = 1.0,
    internal_p: float | None = None,
    normalize: float | tuple[float, float] | None = None,
) -> float:
    r"""Bottleneck or Wasserstein distance between two persistence diagrams.

    The diagrams of this package are those of homology with :math:`\mathbb{Z}/2`
    coefficients (:func:`persistence`); the distance itself is field-agnostic.

    With points matched to each other or to the diagonal :math:`\Delta`, over all matchings
    :math:`\gamma` of :math:`D_1 \cup \Delta` with :math:`D_2 \cup \Delta`:

    .. math::

        d_B(D_1, D_2) = \inf_\gamma \sup_{x} \|x - \gamma(x)\|_\infty, \qquad
        W_{q,p}(D_1, D_2) = \Big(\inf_\gamma \sum_{x} \|x - \gamma(x)\|_p^{\,q}\Big)^{1/q},

    with :math:`q` = ``order`` and :math:`p` = ``internal_p``. Infinite bars are matched
    among themselves (different numbers of them give ``inf``).

    **Normalisation.** Rips diagrams scale with the cloud: :math:`D(aX) = a\,D(X)`. To compare
    clouds of different size, each diagram is divided by a scale of its own cloud before the
    distance is taken: ``normalize=(s1, s2)`` uses :math:`D_1/s_1` and :math:`D_2/s_2` (one
    number uses it for both). :func:`topology_preserved` uses the median pairwise distance of
    each cloud's landmarks, so its distances are unitless and invariant under scaling.

    Magnitude: both diagrams are brought to one common scale by an exact power of two before
    the distance is taken, and the distance is scaled back, so diagrams of any magnitude from
    ``1e-300`` to ``1e300`` compare correctly (``d(D, 1e300 D)`` is about ``1e300``).

    Parameters
    ----------
    D1, D2 : array-like of shape (m, 2)
        Diagrams of one homology dimension, rows (birth, death); deaths may be ``inf``.
    kind : {"bottleneck", "wasserstein"}, default="bottleneck"
    order : float, default=1.0
        Wasserstein exponent :math:`q \ge 1` (ignored for bottleneck).
    internal_p : float or None, default=None
        Ground norm between diagram points. ``None``: :math:`\infty` for bottleneck (the
        norm of the stability theorem; gudhi supports no other) and 2 (Euclidean, as in
        persim) for Wasserstein.
    normalize : float, (float, float) or None, default=None
        Scale(s) the diagrams are divided by first.

    Returns
    -------
    float

    Raises
    ------
    InputError
        Not an (m, 2) diagram, NaN, death before birth, bad ``kind``/``order``/``internal_p``
        /``normalize``, or a finite ``internal_p`` with ``kind="bottleneck"``.

    References
    ----------
    Cohen-Steiner, Edelsbrunner & Harer (2007), "Stability of persistence diagrams".
    Kerber, Morozov & Nigmetov (2017), "Geometry helps to compare persistence diagrams".

    Examples
    --------
    >>> diagram_distance([[0.0, 2.0]], [[0.0, 1.0]])
    1.0
    >>> diagram_distance([[0.0, 2.0]], [[0.0, 1.0]], normalize=(2.0, 1.0))
    0.0
    """
    kind = check_option(kind, KINDS, name="kind")
    A = as_diagram(D1, "D1")
    B = as_diagram(D2, "D2")
    s1, s2 = _scales(normalize)
    A, B = A / s1, B / s2
    # magnitude: the distance is homogeneous of degree 1, d(cA, cB) = c d(A, B); both diagrams
    # go to one common exact power-of-two scale (largest finite entry ~1), so that the
    # backends' squared costs neither overflow nor underflow, and the distance scales back
    finite = np.concatenate([A[np.isfinite(A)], B[np.isfinite(B)]])
    e = scale_exponent(finite)
    A, B = np.ldexp(A, -e), np.ldexp(B, -e)
    return float(rescale(_distance(A, B, kind, order, internal_p), e,
                         what="the diagram distance", unit_power=1))


def _distance(A: np.ndarray, B: np.ndarray, kind: str, order: Any, internal_p: Any) -> float:
    if kind == "bottleneck":
        if internal_p is not None and not (
            isinstance(internal_p, (int, float, np.number)) and np.isposinf(internal_p)
        ):
            raise InputError(
                f"internal_p={internal_p!r} with kind='bottleneck': the bottleneck distance "
                "uses the max norm (internal_p=inf); use kind='wasserstein' for another norm"
            )
        import gudhi

        return float(gudhi.bottleneck_distance(A, B, e=0))
    q = check_float(order, name="order", low=1.0)
    p = 2.0 if internal_p is None else internal_p
    if not (isinstance(p, (int, float, np.number)) and np.isposinf(p)):
        p = check_float(p, name="internal_p", low=1.0)
    import warnings

    from gudhi.wasserstein import wasserstein_distance

    with warnings.catch_warnings():
        # POT warns on an empty transport problem (diagrams with only infinite bars); the
        # distance gudhi returns is still right.
        warnings.simplefilter("ignore")
        return float(
            wasserstein_distance(A, B, order=q, internal_p=float(p), keep_essential_parts=True)
        )
