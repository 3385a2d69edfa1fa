r"""Nulls for the readings of a layer: surrogate clouds, intervals, and the call against them.

A reading on a real layer is a finding only when it stands outside what a featureless cloud of
the same size and second moments gives. This module holds what every profile measure uses to
say so:

- :func:`matched_gaussian`: a Gaussian cloud with the layer's mean and covariance and the same
  number of points — no clusters, no curvature, no loops, but the same spectrum of variances.
- :func:`matched_gaussian_pair`: two layers' matched Gaussian together — a jointly Gaussian pair
  with their joint mean and covariance (a linear map plus independent noise of the same
  second moments), the null of the warp measures between layers;
  :func:`matched_gaussian_pairs` draws many such pairs from one factorisation.
- :func:`monte_carlo_p`: the p-value of a reading against draws of its null (a Monte Carlo
  test, smallest value ``1/(B+1)``) and the side it lies on.
- :func:`median_interval`: a distribution-free interval for a median (order statistics).
- :func:`null_call`: ``"above"``, ``"within"`` or ``"below"`` the null, from the reading's
  interval and the null's interval (``"within"`` when they overlap).
- :func:`combine_calls`: one call from several seeds: the common call when every seed agrees,
  ``"undecided"`` otherwise.
- :func:`holm`: Holm's step-down adjustment of a family of p-values, and
  :func:`structure_calls`, which applies it to every known-structure test of a profile.
- :func:`max_t_adjust`: Westfall and Young's single-step max-T adjustment of a family of Monte
  Carlo tests from their own draws, whose floor stays 1/(B+1) however large the family.

References
----------
Holm (1979), "A simple sequentially rejective multiple test procedure", Scand. J. Stat. 6.
Westfall & Young (1993), *Resampling-Based Multiple Testing*, Wiley, §2.6 (single-step
max-T adjusted p-values, Algorithm 4.1). Šidák (1967), "Rectangular confidence regions for
the means of multivariate normal distributions", J. Am. Stat. Assoc. 62.
Barnard (1963), discussion of Bartlett, "The spectral analysis of point processes", J. R.
Stat. Soc. B 25 — the Monte Carlo test; Davison & Hinkley (1997), *Bootstrap Methods and their
Application*, §4.2.5 (its p-value ``(1 + #)/(B + 1)``); Phipson & Smyth (2010), "Permutation
p-values should never be zero", Stat. Appl. Genet. Mol. Biol. 9(1).
Hollander, Wolfe & Chicken (2014), *Nonparametric Statistical Methods*, 3rd ed., §3.6 —
the order-statistic confidence interval of a median.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["CALLS", "NULL_MAX_ROWS", "combine_calls", "holm", "matched_gaussian",
           "matched_gaussian_gram", "matched_gaussian_pair", "matched_gaussian_pairs",
           "max_t_adjust", "median_interval", "monte_carlo_p", "null_call", "structure_calls"]

#: Above this many rows a layer's matched-Gaussian dimension null and its shuffled trajectory
#: null run on this many rows (a Gaussian of this size; a random set of whole inputs of at
#: most this many tokens), not on all of them: both nulls cost at least as much as the
#: reading itself (a second kNN graph, 39 reshufflings), and a per-token cloud (19,296 rows
#: per layer for the default corpus; 10^5 and more for a decoder) would pay that twice.
#: Mean-pooled runs (2000 rows) never reach it. What it costs against the full-size null at
#: 19,296 rows is measured in ``benchmarks/bench_null_subsample.py``
#: (``benchmarks/results/bench_null_subsample.json``).
# checked by `benchmarks/bench_null_subsample.py`, see docs/validation.md#null-rows
NULL_MAX_ROWS = 5000

#: The words of a call against a null (``"undecided"``: seeds disagree, or the test cannot
#: reach its multiple-testing threshold).
CALLS = ("above", "within", "below", "undecided")


def matched_gaussian(X: np.ndarray, seed: int | np.random.Generator | None = 0,
                     n: int | None = None) -> np.ndarray:
    r"""A Gaussian cloud with the mean and covariance of ``X`` (``n`` points, default ``len(X)``).

    With the centred data :math:`X_c = U S V^\top` (thin SVD), the sample covariance is
    :math:`V S^2 V^\top / (N-1)`, and :math:`\bar x + Z S V^\top / \sqrt{N-1}` with
    :math:`Z_{ij} \sim \mathcal N(0, 1)` has exactly that covariance in expectation: the same
    spectrum of variances in the same directions, and nothing else (no clusters, curvature
    or holes). Cost: one SVD of ``X`` (``N d min(N, d)``). For :math:`N \ge 2d` the SVD is
    taken of the triangular factor :math:`R` of :math:`X_c = QR` (the same :math:`S` and
    :math:`V`), without forming :math:`U` or :math:`Q`: LAPACK's ``gesdd`` takes this route
    itself for so tall a matrix and then forms :math:`U`, so the draws are the same, bit for bit
    with numpy's OpenBLAS on the per-token MiniLM layers (19,296 x 384: 2.9 s against 5.5 s of
    CPU over the 7 layers, ``benchmarks/bench_tokens_shortcuts.py``).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(4000, 3)) * [1.0, 2.0, 0.1]
    >>> np.round(matched_gaussian(X, seed=1).std(axis=0), 1).tolist()
    [1.0, 2.0, 0.1]
    """
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(seed)
    mean = X.mean(axis=0)
    Xc = X - mean
    if Xc.shape[0] >= 2 * Xc.shape[1]:  # tall: the SVD of its R factor (gesdd's own route)
        Xc = np.linalg.qr(Xc, mode="r")
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    m = len(X) if n is None else int(n)
    Z = rng.standard_normal((m, len(s)))
    return mean + (Z * (s / np.sqrt(max(len(X) - 1, 1)))) @ Vt


def matched_gaussian_pair(X: np.ndarray, Y: np.ndarray, seed: int | np.random.Generator | None = 0
                          ) -> tuple[np.ndarray, np.ndarray]:
    r"""A jointly Gaussian pair ``(X', Y')`` with the joint mean and covariance of ``(X, Y)``.

    The first pair of :func:`matched_gaussian_pairs`: a Gaussian cloud with the mean and
    covariance of the concatenated rows :math:`[X \mid Y]`, split back into its two blocks. Row
    ``i`` of ``X'`` and of ``Y'`` stay paired, and

    .. math:: Y' = \bar y + (X' - \bar x) B + E, \qquad B = \Sigma_{xx}^{+} \Sigma_{xy},

    with :math:`E` Gaussian noise independent of :math:`X'` with the residual covariance of the
    least-squares regression of ``Y`` on ``X``: the map between the layers reduced to its linear
    part and an unstructured remainder of the same size. A warp measure (neighbourhoods kept,
    trustworthiness, geodesic distortion) read on ``(X', Y')`` is what the two layers' second
    moments alone give; a block that keeps the inputs' neighbourhoods better than that reads
    above, one that rearranges them more reads below.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(5000, 2))
    >>> Xn, Yn = matched_gaussian_pair(X, 2.0 * X + [0.0, 1.0], seed=1)
    >>> bool(np.allclose(Yn, 2.0 * Xn + [0.0, 1.0], atol=1e-8))
    True
    """
    return next(matched_gaussian_pairs(X, Y, 1, seed=seed))


def matched_gaussian_pairs(X: np.ndarray, Y: np.ndarray, count: int,
                           seed: int | np.random.Generator | None = 0, n: int | None = None
                           ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    r"""``count`` jointly Gaussian pairs with the joint mean and covariance of ``(X, Y)``.

    With :math:`W = [X \mid Y]` (:math:`N` rows, :math:`D` columns), its mean :math:`\bar w`
    and covariance :math:`\Sigma = W_c^\top W_c / (N-1) = V \Lambda V^\top`, each draw is

    .. math:: W' = \bar w + Z\,\Sigma^{1/2}, \qquad \Sigma^{1/2} = V \Lambda^{1/2} V^\top,
              \qquad Z_{ij} \sim \mathcal N(0, 1),

    of ``n`` rows (default :math:`N`), split into its ``X`` and ``Y`` columns (the linear map
    plus independent noise of :func:`matched_gaussian_pair`). The covariance is factored once
    for all draws (one :math:`D \times D` eigenproblem, :math:`N D^2` to form), and each draw
    costs :math:`n D \min(D, 2r)` (:math:`r` the rank kept). Eigenvalues below
    :math:`\max(N, D)\,\epsilon\,\lambda_{\max}` (the round-off of the Gram matrix) are
    set to 0, so an exactly linear map stays exactly linear in every draw. The symmetric root
    depends on :math:`\Sigma` alone (not on the signs or the basis the eigensolver picks), so
    the draws of a seed are a function of the mean and covariance: permuting the rows of
    ``X`` and ``Y`` together leaves them unchanged up to round-off.

    Parameters
    ----------
    X, Y : ndarray of shape (N, d_x) and (N, d_y)
        The same inputs at two layers.
    count : int
        Number of pairs.
    seed : int, Generator or None, default=0
        The draws come from this generator, one after the other.
    n : int, optional
        Rows of each pair (default: ``N``).

    Yields
    ------
    (X', Y') : ndarrays of shape (n, d_x) and (n, d_y)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(3000, 2)) * [1.0, 3.0]
    >>> pairs = list(matched_gaussian_pairs(X, X @ [[0.0, 1.0], [1.0, 0.0]], 2, seed=1, n=4000))
    >>> [P[0].shape for P in pairs], [np.round(P[1].std(axis=0)).tolist() for P in pairs]
    ([(4000, 2), (4000, 2)], [[3.0, 1.0], [3.0, 1.0]])
    """
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y):
        from manifold_probe._validation import InputError

        raise InputError(f"X and Y must be 2-D with the same rows (one per input); got shapes "
                         f"{X.shape} and {Y.shape}")
    rng = np.random.default_rng(seed)
    # [X | Y] in float64, written once (the conversion is exact), and centred in place
    W = np.empty((len(X), X.shape[1] + Y.shape[1]), dtype=np.float64)
    W[:, : X.shape[1]] = X
    W[:, X.shape[1]:] = Y
    mean = W.mean(axis=0)
    W -= mean
    lam, V = np.linalg.eigh(W.T @ W / max(len(W) - 1, 1))
    keep = lam > max(W.shape) * np.finfo(np.float64).eps * max(float(lam[-1]), 0.0)
    V, root = V[:, keep], np.sqrt(lam[keep])
    D, r = W.shape[1], len(root)
    # Z Σ^{1/2} as (Z V) Λ^{1/2} V^T (2 n D r) where the rank is low, else with Σ^{1/2} formed
    # once (n D^2): the same product, the cheaper order
    S = (V * root) @ V.T if 2 * r >= D else None
    m = len(W) if n is None else int(n)
    for _ in range(int(count)):
        Z = rng.standard_normal((m, D))
        Wn = mean + (Z @ S if S is not None else ((Z @ V) * root) @ V.T)
        yield Wn[:, : X.shape[1]], Wn[:, X.shape[1]:]


def matched_gaussian_gram(X: np.ndarray, seed: int | np.random.Generator | None = 0,
                          n: int | None = None) -> np.ndarray:
    r""":func:`matched_gaussian` from the eigenvectors of the covariance, not an SVD of ``X``.

    With :math:`X_c^\top X_c / (N-1) = V \Lambda V^\top` (a :math:`d \times d` symmetric
    eigenproblem, :math:`N d^2` to form), :math:`\bar x + Z \Lambda^{1/2} V^\top` has the same
    distribution as :func:`matched_gaussian`'s cloud (the same mean and covariance; the draws
    differ). For the large clouds of :data:`NULL_MAX_ROWS`: an SVD of 19,296 × 384 takes
    seconds, the covariance a tenth of that.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(4000, 3)) * [1.0, 2.0, 0.1]
    >>> np.round(matched_gaussian_gram(X, seed=1).std(axis=0), 1).tolist()
    [1.0, 2.0, 0.1]
    """
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(seed)
    mean = X.mean(axis=0)
    Xc = X - mean
    lam, V = np.linalg.eigh(Xc.T @ Xc / max(len(X) - 1, 1))
    m = len(X) if n is None else int(n)
    Z = rng.standard_normal((m, len(lam)))
    return mean + (Z * np.sqrt(np.clip(lam, 0.0, None))) @ V.T


def median_interval(values: Any, level: float = 0.95) -> tuple[float, float]:
    r"""Distribution-free ``level`` interval for the median of ``values`` (order statistics).

    For a sample of size :math:`n` the number of values below the population median is
    Binomial(:math:`n`, 1/2), so :math:`[x_{(j)}, x_{(n-j+1)}]` with :math:`j` the largest
    integer whose lower binomial tail :math:`P(B < j)` is at most :math:`(1-\text{level})/2`
    covers the median with probability at least ``level`` (Hollander, Wolfe & Chicken 2014,
    §3.6). NaN values are dropped; fewer than 6 values give ``(nan, nan)``.

    >>> median_interval(np.arange(100.0))
    (39.0, 60.0)
    """
    from scipy.stats import binom

    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 6:
        return float("nan"), float("nan")
    j = int(binom.ppf((1.0 - level) / 2.0, n, 0.5))  # P(B <= j-1) <= (1 - level)/2
    j = max(j, 1)
    return float(x[j - 1]), float(x[n - j])


def null_call(lo: float, hi: float, null_lo: float, null_hi: float) -> str | None:
    """``"above"`` when the reading's interval ``[lo, hi]`` lies wholly above the null's,
    ``"below"`` when wholly below, ``"within"`` when they overlap; None when either is missing.

    >>> null_call(5, 6, 1, 2), null_call(1, 3, 2, 4), null_call(0, 1, 2, 3), null_call(1, 2, float("nan"), 1)
    ('above', 'within', 'below', None)
    """
    vals = np.asarray([lo, hi, null_lo, null_hi], dtype=np.float64)
    if not np.isfinite(vals).all():
        return None
    if lo > null_hi:
        return "above"
    if hi < null_lo:
        return "below"
    return "within"


def monte_carlo_p(reading: float, draws: Any, tol: float = 0.0) -> tuple[float, str | None]:
    r"""Two-sided Monte Carlo p-value of ``reading`` against ``draws`` of its null, and its side.

    With the reading :math:`t`, the :math:`B` draws :math:`T_1, \dots, T_B` and :math:`c` the
    median of all :math:`B + 1` values, each value's distance from the centre
    :math:`s_j = |T_j - c|` (and :math:`s_0 = |t - c|`) gives

    .. math:: p = \frac{1 + \#\{b : s_b \ge s_0 - \mathrm{tol}\}}{B + 1}.

    Under the null the reading is one more draw of the same law: the :math:`B + 1` values are
    exchangeable, and so are their distances from :math:`c` (a symmetric function of all of
    them), so the rank of :math:`s_0` is uniform and :math:`P(p \le j/(B+1)) \le j/(B+1)`
    (Barnard 1963; Davison & Hinkley 1997, §4.2.5): a test at level :math:`\alpha` rejects
    where :math:`p \le \alpha`. Ties count against the reading, so the test stays valid for
    a discrete statistic. **Floor**: the smallest value is :math:`1/(B+1)` (the reading
    farther from the centre than every draw), so :math:`\alpha` is reachable only with
    :math:`B \ge 1/\alpha - 1` (19 draws for 0.05). The side is ``"above"`` or ``"below"``
    the centre (None where the reading is within ``tol`` of it). NaN draws are left out; a
    non-finite reading or no finite draw gives ``(nan, None)``.

    Examples
    --------
    >>> monte_carlo_p(30.0, np.arange(19.0))  # beyond every draw: the floor, 1/20
    (0.05, 'above')
    >>> monte_carlo_p(9.0, np.arange(19.0))  # at the centre
    (1.0, None)
    >>> monte_carlo_p(-1.0, np.arange(19.0))  # as far out as the draw 18 on the other side
    (0.1, 'below')
    """
    v = np.asarray(draws, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    t = float(reading) if reading is not None else float("nan")
    if not np.isfinite(t) or len(v) == 0:
        return float("nan"), None
    c = float(np.median(np.append(v, t)))
    s0 = abs(t - c)
    p = (1 + int(np.count_nonzero(np.abs(v - c) >= s0 - tol))) / (len(v) + 1)
    side = "above" if t > c + tol else "below" if t < c - tol else None
    return float(p), side


def combine_calls(values: Iterable[Any]) -> str | None:
    """One call from several seeds: the shared call, or ``"undecided"`` when they differ.

    >>> combine_calls(["above", "above"]), combine_calls(["above", "within"]), combine_calls([None])
    ('above', 'undecided', None)
    """
    present = [v for v in values if v is not None and v != ""]
    if not present:
        return None
    return present[0] if all(v == present[0] for v in present) else "undecided"


def holm(pvalues: Sequence[float]) -> np.ndarray:
    r"""Holm's step-down adjusted p-values (NaN entries are left out of the family and stay NaN).

    With the :math:`m` p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`, the adjusted
    values are :math:`\tilde p_{(i)} = \max_{j \le i} \min(1, (m - j + 1) p_{(j)})`; rejecting
    where :math:`\tilde p \le \alpha` controls the family-wise error rate at :math:`\alpha`
    under any dependence (Holm 1979). The smallest p needs :math:`p_{(1)} \le \alpha/m`, so a
    permutation test with :math:`B` permutations (smallest p :math:`1/(B+1)`) can pass only
    when :math:`1/(B+1) \le \alpha/m`.

    >>> holm([0.01, 0.04, 0.03, float("nan")]).round(2).tolist()
    [0.03, 0.06, 0.06, nan]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def max_t_adjust(readings: Any, draws: Any, tol: float = 0.0) -> np.ndarray:
    r"""Westfall–Young single-step max-T adjusted p-values of a family of Monte Carlo tests.

    Test :math:`j` of :math:`m` has its reading :math:`t_j` and :math:`B` draws of its null
    :math:`T_{j1}, \dots, T_{jB}` (row ``j`` of ``draws``; every test the same :math:`B`).
    Each test's :math:`B + 1` values :math:`x_{j0} = t_j, x_{jb} = T_{jb}` are standardised by
    their own centre and spread, symmetric functions of all :math:`B + 1` of them,

    .. math:: Z_{jb} = \frac{|x_{jb} - c_j|}{s_j}, \qquad
              c_j = \operatorname{median}_b x_{jb}, \qquad
              s_j = \max\bigl(\operatorname{sd}_b x_{jb},\ \mathrm{tol}\bigr)

    (the centre of :func:`monte_carlo_p`; the standard deviation over the :math:`B + 1`
    values, :math:`Z \equiv 0` where they are all the same), and with the largest
    standardised draw of each draw index over the family, :math:`M_b = \max_i Z_{ib}`,

    .. math:: \tilde p_j = \frac{1 + \#\{b \ge 1 : M_b \ge Z_{j0} - \mathrm{tol}/s_j\}}{B + 1}.

    **Guarantee.** Rejecting every test with :math:`\tilde p_j \le \alpha` controls the
    family-wise error rate: the chance of rejecting any true null is at most :math:`\alpha`
    (exactly :math:`\alpha` when :math:`\alpha(B + 1)` is an integer and nothing ties).
    Where the tests' draws are made jointly (draw :math:`b` of every test from one draw of
    the joint null) this needs only that each true null's reading is exchangeable with its
    draws, jointly over the true nulls (Westfall & Young 1993, §2.6; subset pivotality gives
    strong control). Where each test draws its own null independently, as the warp null does
    per layer pair, the :math:`B + 1` vectors :math:`(Z_{\cdot b})` are exchangeable when the
    true nulls' readings are independent, and the control is then exact; when they are
    dependent (layer pairs share a layer) it holds, conservatively, under Šidák's condition
    :math:`P(\bigcap_j \{Z_{j0} < z_j\}) \ge \prod_j P(Z_{j0} < z_j)`, which Šidák (1967)
    proved for two-sided statistics of any multivariate normal vector: dependent readings
    are then less likely to all stay inside than independent ones, so their maximum is
    stochastically below :math:`M_b`. A test that is false adds its own null draws to
    :math:`M_b`, which only raises the others' :math:`\tilde p`. **Floor**: :math:`1/(B+1)`,
    whatever :math:`m` (a reading farther out, in its own null's units, than every
    :math:`M_b`), against Holm's :math:`m/(B+1)`: with 19 draws and a family of 44 warp
    readings Holm cannot reject anything at 0.05, max-T can. Always
    :math:`\tilde p_j \ge p_j`, the test's own Monte Carlo p (:func:`monte_carlo_p`), with
    equality for a family of one. The spread is the standard deviation rather than the MAD:
    at the same error it calls a shifted reading among 44 more often (6 null sd: 0.90
    against 0.68), and as often with heavy-tailed nulls
    (``benchmarks/bench_warp_fwer.py``, ``docs/validation.md#warp-null``).

    Parameters
    ----------
    readings : array of shape (m,)
        One reading per test; NaN leaves the test out of the family (its result is NaN).
    draws : array of shape (m, B)
        The null draws of each test, in the order drawn; a row with a non-finite draw is left
        out of the family.
    tol : float, default=0
        Values closer than this count as tied (counted against the reading), as in
        :func:`monte_carlo_p`.

    Returns
    -------
    ndarray of shape (m,)
        The adjusted p-values, in the order of the tests (NaN for those left out).

    Raises
    ------
    InputError
        ``draws`` not 2-D with one row per reading, no draw, or a negative ``tol``.

    Examples
    --------
    >>> draws = np.tile(np.arange(19.0), (3, 1))
    >>> max_t_adjust([30.0, 9.0, 40.0], draws).round(3).tolist()  # two far out, one central
    [0.05, 1.0, 0.05]
    >>> float(max_t_adjust([30.0], draws[:1])[0]) == monte_carlo_p(30.0, draws[0])[0]
    True
    """
    from manifold_probe._validation import InputError

    t = np.asarray(readings, dtype=np.float64)
    v = np.asarray(draws, dtype=np.float64)
    if t.ndim != 1 or v.ndim != 2 or v.shape[0] != t.shape[0]:
        raise InputError(f"readings must be 1-D (m,) and draws 2-D (m, B), one row of draws per "
                         f"reading; got shapes {t.shape} and {v.shape}")
    if v.shape[1] < 1:
        raise InputError("draws has no column: each test needs at least one draw of its null "
                         "(B >= 1; the floor of the adjusted p is 1/(B+1))")
    tol = float(tol)
    if not tol >= 0.0:
        raise InputError(f"tol must be a number >= 0 (values closer than it tie); got {tol}")
    out = np.full(t.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(t) & np.isfinite(v).all(axis=1))
    if len(ok) == 0:
        return out
    x = np.column_stack([t[ok], v[ok]])  # (m', B+1): the reading first
    dev = np.abs(x - np.median(x, axis=1, keepdims=True))
    scale = np.maximum(x.std(axis=1), tol)
    tied = scale == 0.0  # every value the same: no test, Z = 0
    z = np.divide(dev, scale[:, None], out=np.zeros_like(dev), where=~tied[:, None])
    margin = np.divide(tol, scale, out=np.zeros_like(scale), where=~tied)
    biggest = z[:, 1:].max(axis=0)  # M_b, b = 1..B
    count = (biggest[None, :] >= (z[:, 0] - margin)[:, None]).sum(axis=1)
    out[ok] = (1.0 + count) / (v.shape[1] + 1.0)
    return out


_STRUCTURE_P = re.compile(r"structure_(.+)_p")


def structure_calls(rows: list[dict], alpha: float = 0.05) -> None:
    """Holm over every known-structure test of a profile (all structures × layers), in place.

    Adds ``structure_<name>_p_holm`` (the Holm-adjusted p) and ``structure_<name>_vs_null``:
    ``"above"`` where the adjusted p is at most ``alpha``; ``"undecided"`` where it is not but
    the test could not have passed (its smallest attainable p, ``structure_<name>_p_min``,
    exceeds ``alpha / m`` with ``m`` the number of tests); ``"within"`` otherwise.
    """
    keys = [(i, m[1]) for i, row in enumerate(rows) for c in row
            if (m := _STRUCTURE_P.fullmatch(c)) and not m[1].endswith(("_delta", "_p"))]
    values = [rows[i].get(f"structure_{name}_p") for i, name in keys]
    p = np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    adjusted = holm(p)
    m = int(np.isfinite(p).sum())
    for (i, name), q in zip(keys, adjusted, strict=True):
        row = rows[i]
        if not np.isfinite(q):
            row[f"structure_{name}_p_holm"] = float("nan")
            row[f"structure_{name}_vs_null"] = None
            continue
        row[f"structure_{name}_p_holm"] = float(q)
        p_min = row.get(f"structure_{name}_p_min")
        if q <= alpha:
            row[f"structure_{name}_vs_null"] = "above"
        elif p_min is not None and np.isfinite(p_min) and p_min > alpha / max(m, 1):
            row[f"structure_{name}_vs_null"] = "undecided"
        else:
            row[f"structure_{name}_vs_null"] = "within"
