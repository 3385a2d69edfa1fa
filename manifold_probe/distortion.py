r"""How a map distorts distances: the distribution of :math:`\log(d_Y/d_X)` over pairs of points.

:func:`geodesic_distortion` compares two distance matrices between the same points, for example
the geodesic distances (:func:`manifold_probe.geodesic.geodesic_distances`) of the same inputs at
one network layer and the next; a scaled isometry has no spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._validation import InputError, check_float, to_numpy

__all__ = ["geodesic_distortion", "GeodesicDistortion"]


@dataclass(frozen=True)
class GeodesicDistortion:
    r"""How a map distorts distances: the distribution of :math:`\ell = \log(d_Y / d_X)`.

    Attributes
    ----------
    scale : float
        Median log-ratio :math:`\operatorname{med}\ell`; :math:`e^{\text{scale}}` is the typical
        stretch factor (0 when distances are kept).
    mean : float
        Mean log-ratio.
    spread : float
        Standard deviation of :math:`\ell`; 0 for a scaled isometry :math:`d_Y = c\, d_X`.
    iqr : float
        Interquartile range of :math:`\ell` (robust spread; 0 for a scaled isometry).
    quantiles : ndarray of float64, shape (5,)
        The 5 %, 25 %, 50 %, 75 % and 95 % quantiles of :math:`\ell`.
    fraction_distorted : float
        Fraction of pairs with :math:`|\ell - \text{scale}| > \log(\text{factor})`: stretched or
        shrunk by more than ``factor`` relative to the typical scale.
    factor : float
        The factor used for ``fraction_distorted``.
    n_pairs : int
        Number of pairs used (finite, positive distances in both, off the diagonal).
    """

    scale: float
    mean: float
    spread: float
    iqr: float
    quantiles: np.ndarray
    fraction_distorted: float
    factor: float
    n_pairs: int


def geodesic_distortion(DX: Any, DY: Any, *, factor: float = 1.5) -> GeodesicDistortion:
    r"""How a map distorts distances, from the distances before (DX) and after (DY) it.

    For every pair :math:`(i, j)`, :math:`i \ne j` (the diagonal is skipped when the matrices
    are square), with both distances finite and positive,

    .. math::

        \ell_{ij} = \log \frac{D^Y_{ij}}{D^X_{ij}} .

    A scaled isometry :math:`D^Y = c\,D^X` gives :math:`\ell \equiv \log c`: ``scale`` =
    :math:`\log c`, ``spread`` = ``iqr`` = 0. The spread of :math:`\ell` measures how unevenly
    the map stretches the manifold, independently of its overall scale.

    Parameters
    ----------
    DX, DY : array-like of shape (m, n)
        Distances between the same pairs before and after the map, e.g. two outputs of
        :func:`geodesic_distances` for ``X[i]`` and ``Y[i]`` (the same inputs at two layers).
        Infinite or zero entries (disconnected pairs, duplicates) are left out.
    factor : float, default=1.5
        Threshold for ``fraction_distorted`` (> 1).

    Returns
    -------
    GeodesicDistortion

    Raises
    ------
    InputError
        Shapes differ, not 2-D, NaN or negative entries, ``factor <= 1``, or no usable pair.

    Examples
    --------
    >>> import numpy as np, manifold_probe as mp
    >>> DX = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0]])
    >>> g = mp.geodesic_distortion(DX, 3 * DX)
    >>> round(g.scale, 6), round(g.spread, 6)
    (1.098612, 0.0)
    """
    factor = check_float(factor, name="factor", low=1.0, low_open=True)
    mats = []
    for name, M in (("DX", DX), ("DY", DY)):
        A = to_numpy(M)
        if A.ndim != 2:
            raise InputError(f"{name} must be a 2-D distance matrix; got shape {tuple(A.shape)}")
        if A.dtype == object or A.dtype.kind not in "biuf":
            raise InputError(f"{name} must hold real numbers; got dtype {A.dtype}")
        A = A.astype(np.float64)
        if np.isnan(A).any():
            raise InputError(f"{name} contains NaN; distances must be numbers or inf")
        if (A < 0).any():
            raise InputError(f"{name} has negative entries; pass distances (>= 0)")
        mats.append(A)
    A, B = mats
    if A.shape != B.shape:
        raise InputError(
            f"DX and DY must have the same shape (the same pairs); got {A.shape} and {B.shape}"
        )
    use = np.isfinite(A) & np.isfinite(B) & (A > 0) & (B > 0)
    if A.shape[0] == A.shape[1]:
        np.fill_diagonal(use, False)
    n_pairs = int(use.sum())
    if n_pairs == 0:
        raise InputError(
            "no pair has finite, positive distances in both DX and DY; check that the matrices "
            "are distances between the same points"
        )
    ell = np.log(B[use]) - np.log(A[use])
    q = np.quantile(ell, [0.05, 0.25, 0.5, 0.75, 0.95])
    scale = float(q[2])
    return GeodesicDistortion(
        scale=scale,
        mean=float(ell.mean()),
        spread=float(ell.std()),
        iqr=float(q[3] - q[1]),
        quantiles=q,
        fraction_distorted=float(np.mean(np.abs(ell - scale) > np.log(factor))),
        factor=factor,
        n_pairs=n_pairs,
    )
