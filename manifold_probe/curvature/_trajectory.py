r"""Curvature of trajectories: the mean turning angle of a sequence of representations."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, to_numpy

__all__ = ["trajectory_curvature"]

# A step shorter than this fraction of the trajectory's longest step counts as zero length:
# relative, so the result is scale-invariant, and far above float64 rounding (~1e-16).
_ZERO_STEP = 1e-12


def _angles(v: np.ndarray) -> np.ndarray:
    r"""Angles between successive rows of ``v`` (shape (..., m, d)), in radians.

    :math:`2\,\mathrm{atan2}(|\hat a - \hat b|, |\hat a + \hat b|)` is accurate for angles near
    0 and near :math:`\pi`, where :math:`\arccos` of the cosine loses half the digits.
    """
    u = v / np.linalg.norm(v, axis=-1, keepdims=True)
    a, b = u[..., :-1, :], u[..., 1:, :]
    return 2.0 * np.arctan2(np.linalg.norm(a - b, axis=-1), np.linalg.norm(a + b, axis=-1))


def _unit_scale(B: np.ndarray) -> np.ndarray:
    """Each ``B[i]`` times the power of two that brings its largest entry into ``[0.5, 1)``."""
    top = np.max(np.abs(B), axis=(1, 2))
    e = np.frexp(top)[1]  # 0 for an all-zero trajectory
    return np.ldexp(B, -e[:, None, None])


def trajectory_curvature(T: Any, *, degrees: bool = True) -> float | np.ndarray:
    r"""Mean turning angle of trajectories (curvature of a sequence of representations).

    For a trajectory :math:`x_1, \dots, x_m` (for example the representations of successive
    tokens at one layer), with steps :math:`v_t = x_{t+1} - x_t`,

    .. math::

        c = \frac{1}{m - 2} \sum_{t=1}^{m-2} \arccos \frac{v_t \cdot v_{t+1}}
            {\lVert v_t \rVert\,\lVert v_{t+1} \rVert} ,

    in degrees by default: 0 for a straight line traversed in one direction, 180 for a path that
    reverses at every step, :math:`360/p` on a closed regular p-gon (its exterior angle).
    Invariant to rotations, translations and scaling of the representation space; computed
    on each trajectory rescaled by an exact power of two, so that it holds from ``1e-300`` to
    ``1e300``.

    Zero-length steps (a token whose representation repeats the previous one exactly, to a
    relative :math:`10^{-12}` of the longest step) have no direction: they are dropped, and
    the angle is taken between the nonzero steps on either side of them. A trajectory with
    fewer than two nonzero steps has no turning angle: its result is NaN, and a
    :class:`UserWarning` says how many trajectories are affected.

    Parameters
    ----------
    T : array-like of shape (..., n_tokens, n_features)
        One trajectory (2-D) or a batch of them (leading axes), numpy array or torch tensor.
    degrees : bool, default=True
        Degrees (default, as in Hosseini & Fedorenko 2023) or radians.

    Returns
    -------
    float or ndarray of float64, shape T.shape[:-2]
        Mean turning angle per trajectory; a Python float for a single 2-D trajectory.

    Raises
    ------
    InputError
        Fewer than 3 tokens, fewer than 2 dimensions, non-numeric, complex or non-finite input.

    References
    ----------
    Hénaff, O. J., Goris, R. L. T. & Simoncelli, E. P. (2019). Perceptual straightening of
    natural videos. Nature Neuroscience 22, 984–991.
    Hosseini, E. A. & Fedorenko, E. (2023). Large language models implicitly learn to
    straighten neural sentence trajectories to construct a predictive representation of
    natural language. NeurIPS 36.

    Examples
    --------
    >>> import numpy as np, manifold_probe as mp
    >>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], dtype=float)
    >>> mp.trajectory_curvature(square)
    90.0
    """
    A = to_numpy(T)
    if A.dtype == object or A.dtype.kind not in "biuf":
        raise InputError(
            f"T must hold real numbers; got dtype {A.dtype}. Pass an array of shape "
            "(..., n_tokens, n_features)"
        )
    if A.ndim < 2:
        raise InputError(
            f"T must have shape (..., n_tokens, n_features); got shape {tuple(A.shape)}. "
            "For one trajectory of scalars use T.reshape(-1, 1)"
        )
    if A.shape[-2] < 3:
        raise InputError(
            f"a turning angle needs at least 3 tokens per trajectory; T has {A.shape[-2]} "
            f"(shape {tuple(A.shape)}). Is the token axis the second to last?"
        )
    if A.shape[-1] < 1:
        raise InputError(f"T has no features (shape {tuple(A.shape)})")
    A = np.asarray(A, dtype=np.float64)
    if not np.isfinite(A).all():
        raise InputError(
            f"T contains {int((~np.isfinite(A)).sum())} NaN or inf values; drop or impute them"
        )
    batch = A.shape[:-2]
    m, d = A.shape[-2:]
    # magnitude: angles are scale-invariant, so each trajectory is rescaled by an exact power
    # of two (points first, so that the steps cannot overflow; then the steps, so that their
    # squared norms neither overflow nor underflow)
    flat = _unit_scale(A.reshape(-1, m, d))
    v = _unit_scale(np.diff(flat, axis=1))
    norms = np.linalg.norm(v, axis=-1)
    longest = norms.max(axis=1, keepdims=True)
    zero = norms <= _ZERO_STEP * longest
    out = np.empty(flat.shape[0])
    clean = ~zero.any(axis=1)
    if clean.any():
        out[clean] = _angles(v[clean]).mean(axis=1)
    n_undefined = 0
    for i in np.flatnonzero(~clean):
        steps = v[i][~zero[i]]
        if len(steps) < 2:
            out[i] = np.nan
            n_undefined += 1
        else:
            out[i] = _angles(steps).mean()
    if n_undefined:
        warnings.warn(
            f"{n_undefined} trajectory(ies) have fewer than two nonzero steps (repeated or "
            "constant representations), so no turning angle: their curvature is NaN",
            UserWarning,
            stacklevel=2,
        )
    if degrees:
        out = np.degrees(out)
    out = out.reshape(batch)
    if out.ndim == 0:
        return float(out)
    return out
