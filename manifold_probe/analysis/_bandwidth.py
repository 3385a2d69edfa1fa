r"""Data-adaptive bandwidths of the mean-shift region finder (``bandwidth="lcv"`` and ``"adaptive"``).

Both read the bandwidth from the cloud by one stated criterion, with no constant fitted to a
family of clouds.

*Likelihood cross-validation* (``"lcv"``; Habbema, Hermans & van den Broek 1974, Duin 1976).
The bandwidth maximises the leave-one-out log-likelihood

.. math:: \ell(h) = \sum_{i=1}^n \log \frac{1}{n-1} \sum_{j \ne i}
          (2\pi h_j^2)^{-p/2} \exp\Bigl(-\frac{\lVert X_i - X_j\rVert^2}{2 h_j^2}\Bigr),

with :math:`h_j = h` for every ``j``. :math:`\ell(h)/n` estimates, up to a constant that does
not depend on :math:`h`, minus the Kullback-Leibler divergence from the density to its kernel
estimate, and the maximiser is asymptotically optimal for that loss (Hall 1987, for densities
whose tails are no heavier than the kernel's; Chow, Geman & Wu 1983, consistency on compact
support). The normalisation dimension :math:`p` is the TwoNN intrinsic dimension
:math:`\hat d`, not the ambient :math:`D`: on a cloud concentrated near a
:math:`d`-dimensional set the kernel integrates over that set to
:math:`(2\pi h^2)^{d/2}`, and the estimate with :math:`h^{-d}` is the consistent one there
(Ozakin & Gray 2009, submanifold density estimation), while :math:`h^{-D}` drives
:math:`\ell` to the scale of the thinnest direction. The maximum is found on a grid of
:data:`GRID` log-spaced values between the median nearest-neighbour distance over
:data:`SPAN` and :data:`SPAN` times the root-mean-square radius (wide enough that the
optimum lies inside on every cloud we know of; the result says so when it is on the edge),
refined by a bounded scalar search between the grid neighbours of the best value.

*Sample-point adaptive* (``"adaptive"``; Abramson 1982; Comaniciu, Ramesh & Meer 2001).
Each sample carries its own bandwidth by Abramson's square-root law,
:math:`h_i = h\,(\tilde f(X_i)/G)^{-1/2}`, with the pilot :math:`\tilde f` the finder's own
k-NN density, :math:`\tilde f(X_i) \propto r_k(X_i)^{-\hat d}` (:math:`r_k` the distance to
the ``k``-th neighbour) and :math:`G` its geometric mean, so that
:math:`h_i = h\,(r_k(X_i)/\bar r)^{\hat d/2}` with :math:`\bar r` the geometric mean of
:math:`r_k`. The square-root law removes the leading :math:`O(h^2)` bias term of the kernel
estimate at every point, leaving :math:`O(h^4)` with a second-order kernel (Abramson 1982;
Hall & Marron 1988): narrow kernels where the cloud is dense resolve close groups, wide ones
in the tails do not raise spikes of single points. The global factor :math:`h` is chosen by
the likelihood cross-validation above with these :math:`h_j`. The estimate is
:math:`\hat f(x) \propto \frac1n\sum_i h_i^{-p} \exp(-\lVert x-X_i\rVert^2/2h_i^2)`, and its
mean shift (Comaniciu, Ramesh & Meer 2001, eq. 8) is
:math:`x \leftarrow \sum_i w_i X_i/\sum_i w_i`, :math:`w_i = h_i^{-(p+2)}
\exp(-\lVert x-X_i\rVert^2/2h_i^2)`, whose density values increase monotonically and
converge (their Theorem 1).

References
----------
Abramson (1982), "On bandwidth variation in kernel estimates — a square root law", Ann.
Statist. 10(4). Comaniciu, Ramesh & Meer (2001), "The variable bandwidth mean shift and
data-driven scale selection", ICCV. Habbema, Hermans & van den Broek (1974), COMPSTAT;
Duin (1976), IEEE Trans. Computers C-25 — likelihood cross-validation. Hall (1987), "On
Kullback-Leibler loss and density estimation", Ann. Statist. 15(4). Chow, Geman & Wu (1983),
Ann. Statist. 11(1). Hall & Marron (1988), "Variable window width kernel estimates of
probability densities", Probab. Theory Relat. Fields 80. Ozakin & Gray (2009), "Submanifold
density estimation", NeurIPS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Log-spaced bandwidths on the likelihood cross-validation grid.
GRID = 40
#: The grid runs from median r_1 / SPAN to SPAN x the rms radius of the cloud.
SPAN = 4.0


@dataclass(frozen=True)
class Bandwidths:
    """Per-sample bandwidths ``h`` (n,) and the normalisation dimension ``p`` of the
    sample-point kernel estimate (module docstring)."""

    h: np.ndarray
    p: float

    def log_norm(self) -> np.ndarray:
        """:math:`-p \\log h_i`, the log of each kernel's normalisation up to a constant."""
        return -self.p * np.log(self.h)


def abramson_factors(dist: np.ndarray, k: int, dim: float) -> np.ndarray:
    r""":math:`(r_k(X_i)/\bar r)^{\hat d/2}`, Abramson's law with the k-NN pilot density."""
    r = np.maximum(dist[:, k - 1], np.finfo(float).tiny)
    logr = np.log(r)
    return np.exp(0.5 * dim * (logr - logr.mean()))


def loo_loglik(d2_blocks, n: int, h: float, lam: np.ndarray | None, p: float) -> float:
    r""":math:`\ell(h)` of the module docstring, up to a constant, from blocks of squared
    distances ``(rows, d2)`` (the diagonal read as excluded)."""
    if lam is None:
        hj2, lognorm = h * h, 0.0
    else:
        hj = h * lam
        hj2, lognorm = (hj * hj)[None], -p * np.log(hj)[None]
    total = 0.0
    for rows, d2 in d2_blocks:
        e = -d2 / (2.0 * hj2) + lognorm
        e[np.arange(len(rows)), rows] = -np.inf
        top = e.max(axis=1)
        total += float((top + np.log(np.exp(e - top[:, None]).sum(axis=1))).sum())
    if lam is None:
        total -= n * p * np.log(h)
    return total


def _d2_blocks(A: np.ndarray, block: int):
    a2 = (A * A).sum(axis=1)
    step = max(1, min(len(A), block // max(len(A), 1)))
    out = []
    for s in range(0, len(A), step):
        q = A[s : s + step]
        d2 = np.maximum((q * q).sum(axis=1)[:, None] + a2[None] - 2.0 * q @ A.T, 0.0)
        out.append((np.arange(s, s + len(q)), d2))
    return out


def lcv_bandwidth(A: np.ndarray, dist: np.ndarray, p: float, lam: np.ndarray | None = None,
                  block: int = 2_000_000) -> tuple[float, bool]:
    """The global factor ``h`` maximising the leave-one-out likelihood (module docstring) and
    whether it lies on the edge of the grid."""
    from scipy.optimize import minimize_scalar

    n = len(A)
    r1 = np.median(dist[:, 0])
    rms = float(np.sqrt(((A - A.mean(axis=0)) ** 2).sum(axis=1).mean()))
    lo = max(r1, np.finfo(float).tiny * 1e10) / SPAN
    hi = max(SPAN * rms, 2.0 * lo)
    # with lam (geometric mean 1) the factor is the bandwidth at the geometric-mean point
    grid = np.geomspace(lo, hi, GRID)
    blocks = _d2_blocks(A, block)
    ll = np.array([loo_loglik(blocks, n, h, lam, p) for h in grid])
    b = int(np.argmax(ll))
    edge = b in (0, GRID - 1)
    if edge:
        return float(grid[b]), True
    res = minimize_scalar(lambda t: -loo_loglik(blocks, n, float(np.exp(t)), lam, p),
                          bounds=(np.log(grid[b - 1]), np.log(grid[b + 1])), method="bounded",
                          options=dict(xatol=1e-4))
    h = float(np.exp(res.x)) if -res.fun >= ll[b] else float(grid[b])
    return h, False


def adaptive_bandwidth(A: np.ndarray, dist: np.ndarray, k: int, dim: float, rule: str,
                       block: int = 2_000_000) -> tuple[float | Bandwidths, str]:
    """``rule`` "lcv": the global ``h``; "adaptive": the :class:`Bandwidths`; and a sentence."""
    p = max(dim, 1.0)
    if rule == "lcv":
        h, edge = lcv_bandwidth(A, dist, p, None, block)
        text = (f"h = {h:.4g} by leave-one-out likelihood cross-validation (normalisation in "
                f"d = {p:.3g}, TwoNN)")
    else:
        lam = abramson_factors(dist, k, p)
        h0, edge = lcv_bandwidth(A, dist, p, lam, block)
        h = Bandwidths(h0 * lam, p)
        text = (f"h_i = h (r_{k}(x_i)/geometric mean)^(d/2), d = {p:.3g} (TwoNN; Abramson's "
                f"square-root law with the {k}-NN pilot), h = {h0:.4g} by leave-one-out "
                f"likelihood cross-validation, median h_i = {np.median(h.h):.4g}")
    if edge:
        text += " (the likelihood's maximum is on the edge of the searched range)"
    return h, text
