"""Vietoris–Rips persistence on maxmin landmarks (gudhi backend, edge collapse, threshold)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    InputError,
    check_points,
    check_seed,
    normalize_scale,
    rescale,
    unique_rows,
)

__all__ = ["PERSISTENCE_PARAMS", "persistence", "default_landmarks"]

# Landmark counts at which one Rips computation on 2 cores stays well under a second
# (measured in benchmarks/bench_topology.py: 300 landmarks, H0-H2, threshold: ~0.1-0.4 s with
# gudhi + edge collapse; without threshold ~1 s; cost grows about as m^3 per extra dimension).
# These differ from betti_numbers' nets (400 / max(400, n/5) / 400, in _significance): a diagram
# here is a description whose cost is the constraint, while there the net is part of a
# calibrated test (the law of the noise bars depends on it) and was validated as it stands.
# checked by `benchmarks/bench_topology.py`, see docs/validation.md#persistence-landmarks
# (the H0-H2 entry, 300; 1000 for H0 and 400 for H0-H1 are choices it does not time)
_DEFAULT_LANDMARKS = {0: 1000, 1: 400, 2: 300}
# A choice, not measured: maxdim >= 3 (docs/validation.md#constants-not-yet-measured).
_DEFAULT_LANDMARKS_HIGH = 120
# Simplices allowed in one flag complex (gudhi needs ~100-200 bytes each, persistence more).
# A choice, not measured: 2e7 simplices is 2-4 GB at that size; no benchmark sets it
# (docs/validation.md#constants-not-yet-measured).
MAX_SIMPLICES = 2e7
# Past MAX_SIMPLICES and up to this estimate, ripser computes the diagrams instead: it walks the
# cofaces without storing the complex. Measured (sparse Rips, eps = 0.5, H0-H2): 400 maxmin
# landmarks of S^3 (estimate 7e7) in 7 s and 205 of S^4 (7e7) in ~3.5 s, under 1 GB; 400 of
# S^4 (8e8) took 19 s and 0.9 GB. (Below MAX_SIMPLICES gudhi after edge collapse is faster on
# surfaces: a torus's 400 landmarks 0.4 s against 2.7 s.)
# Not measured by a script: these timings were taken by hand and no benchmark in benchmarks/
# reproduces them (docs/validation.md#constants-not-yet-measured).
MAX_SIMPLICES_RIPSER = 1e8
# Edges allowed into one (dense) Rips graph before edge collapse. Checked from the input sizes
# before any distance matrix or simplex tree is allocated. Measured (benchmarks/
# validate_topology.py --cost): collapsing the 45,150 edges of 300 sphere landmarks takes ~2 s;
# collapse time grows faster than the edge count, and 2e6 edges (2000 points) took 282 s.
# set by `benchmarks/validate_topology.py` (--cost), see docs/validation.md#persistence-cost-caps
MAX_EDGES = 2e5
# Points whose distance matrix may be held (float64): 8 * 6000^2 bytes = 288 MB (a memory
# bound, not a tuned value).
MAX_DENSE_POINTS = 6000


def default_landmarks(maxdim: int) -> int:
    """Number of maxmin landmarks used when ``n_landmarks=None`` (depends on ``maxdim``)."""
    return _DEFAULT_LANDMARKS.get(maxdim, _DEFAULT_LANDMARKS_HIGH)


def _sq_row(X: np.ndarray, i: int) -> np.ndarray:
    # Differences, not the Gram trick: exact, and independent of BLAS threading.
    diff = X - X[i]
    return np.einsum("ij,ij->i", diff, diff)


def pairwise_distances(X: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance matrix (scipy's cdist: differences, single-threaded)."""
    from scipy.spatial.distance import cdist

    return cdist(X, X)


def maxmin_landmarks(
    n_landmarks: int,
    start: int,
    *,
    X: np.ndarray | None = None,
    dist: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Greedy farthest-point (maxmin) landmarks.

    Starting from ``start``, each next landmark is the point farthest from those already
    chosen (ties: smallest index). Either ``X`` (points) or ``dist`` (a full distance matrix)
    is given.

    Returns
    -------
    landmarks : ndarray of int64, shape (n_landmarks,)
    covering_radius : float
        :math:`\\varepsilon_L = d_H(L, X) = \\max_x \\min_{l \\in L} \\|x - l\\|`.
    """
    n = X.shape[0] if X is not None else dist.shape[0]
    m = min(n_landmarks, n)
    out = np.empty(m, dtype=np.int64)
    out[0] = start
    d = dist[start].copy() if dist is not None else np.sqrt(_sq_row(X, start))
    for j in range(1, m):
        i = int(np.argmax(d))
        out[j] = i
        row = dist[i] if dist is not None else np.sqrt(_sq_row(X, i))
        np.minimum(d, row, out=d)
    return out, float(d.max()) if m < n else 0.0


def cone_radius(dist: np.ndarray) -> float:
    r"""Smallest :math:`r` at which the Rips complex of ``dist`` is a cone:
    :math:`r_c = \min_i \max_j D_{ij}`. Above it the complex is contractible, so every class
    of dimension >= 1 has died by :math:`r_c` and cutting the filtration there is exact."""
    return float(dist.max(axis=1).min()) if dist.shape[0] else 0.0


def sparse_rips_edges(dist: np.ndarray, eps: float, threshold: float = np.inf
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The edges of the sparse Rips filtration of Cavanna, Jahanseir & Sheehy (2015).

    The points are put in greedy (farthest-point) order from the first row, with insertion
    radii :math:`\lambda_0 = \infty`, :math:`\lambda_j = \min_{i<j} D_{ij}`. For :math:`i < j`
    (so :math:`\lambda_j \le \lambda_i`) the edge enters at

    .. math::

        \alpha_{ij} = D_{ij} \ \text{if}\ \epsilon D_{ij} \le 2\lambda_j, \quad
        \alpha_{ij} = 2(D_{ij} - \lambda_j/\epsilon) \ \text{if}\ \epsilon D_{ij} \le
        \lambda_i + \lambda_j \ \text{and}\ \alpha_{ij}\,\epsilon(1-\epsilon)/2 \le \lambda_j,

    and never otherwise (Rips, edge-length convention, as in gudhi's ``sparse=``; its flag
    filtration is :math:`(1+\epsilon)`-interleaved with the Rips filtration). Written here
    rather than taken from gudhi because gudhi starts its greedy order at a random point
    that cannot be seeded; here the order starts at row 0, so results are deterministic.

    Returns
    -------
    rows, cols, values : the edges ``rows < cols`` (original indices) entering at ``values``
    (at most ``threshold``).
    """
    n = dist.shape[0]
    order, _ = maxmin_landmarks(n, 0, dist=dist)
    D = dist[np.ix_(order, order)]
    lam = np.full(n, np.inf)
    lam[1:] = [D[j, :j].min() for j in range(1, n)]
    i, j = np.triu_indices(n, 1)
    d, li, lj = D[i, j], lam[i], lam[j]
    alpha = np.where(eps * d <= 2 * lj, d, 2 * (d - lj / eps))
    keep = (eps * d <= 2 * lj) | (
        (eps * d <= li + lj) & ~((eps < 1) & (alpha * eps * (1 - eps) / 2 > lj))
    )
    keep &= alpha <= threshold
    a, b = order[i[keep]], order[j[keep]]
    return np.minimum(a, b), np.maximum(a, b), alpha[keep]


def sparse_rips_graph(dist: np.ndarray, eps: float, threshold: float = np.inf):
    """The graph of :func:`sparse_rips_edges` as a gudhi simplex tree (vertices at 0)."""
    import gudhi
    from scipy.sparse import coo_matrix

    n = dist.shape[0]
    rows, cols, values = sparse_rips_edges(dist, eps, threshold)
    st = gudhi.SimplexTree()
    st.insert_batch(np.arange(n, dtype=np.int32)[None, :], np.zeros(n))
    st.insert_edges_from_coo_matrix(coo_matrix((values, (rows, cols)), shape=(n, n)))
    return st


def _ripser_diagrams(dist: np.ndarray, maxdim: int, threshold: float,
                     sparse: float | None) -> list[np.ndarray]:
    """H0 and H1 of the same flag filtration as the gudhi path, computed by ripser.

    ripser (Bauer 2021) reduces the coboundary matrix with the clearing and apparent-pairs
    shortcuts, without building the complex: for ``maxdim <= 1`` on a few hundred points it
    is 2-5x faster than edge collapse followed by gudhi's persistence. It stores filtration
    values in single precision, so each finite birth and death is mapped back to the
    double-precision edge value that rounds to it (exact when one edge value does; when
    several distinct values share a float32, within one float32 unit, ~6e-8 relative).
    """
    from ripser import ripser
    from scipy.sparse import coo_matrix

    n = dist.shape[0]
    if sparse is None:
        rows, cols = np.triu_indices(n, 1)
        values = dist[rows, cols]
        keep = values <= threshold
        rows, cols, values = rows[keep], cols[keep], values[keep]
    else:
        rows, cols, values = sparse_rips_edges(dist, float(sparse), threshold)
    M = coo_matrix((values, (rows, cols)), shape=(n, n))
    dgms = ripser(M, distance_matrix=True, maxdim=maxdim)["dgms"]
    exact = np.unique(values)
    rounded = exact.astype(np.float32)
    out = []
    for d in dgms:
        d = np.asarray(d, dtype=np.float64).reshape(-1, 2).copy()
        fin = np.isfinite(d) & (d > 0)
        v = d[fin].astype(np.float32)
        pos = np.clip(np.searchsorted(rounded, v), 0, max(len(rounded) - 1, 0))
        if len(rounded):
            d[fin] = np.where(rounded[pos] == v, exact[pos], d[fin])
        out.append(d)
    return out


def rips_diagrams(
    dist: np.ndarray,
    maxdim: int,
    threshold: float = np.inf,
    max_simplices: float = MAX_SIMPLICES,
    sparse: float | None = None,
) -> list[np.ndarray]:
    """Rips persistence diagrams of a distance matrix (Z/2 coefficients).

    The filtration value of a simplex is its diameter (longest edge). Up to H1 (``maxdim <=
    1``) ripser computes them (:func:`_ripser_diagrams`); from H2 on, gudhi after an edge
    collapse (Boissonnat & Pritam 2020), which shrinks the flag complex without changing its
    diagrams. Both read the same filtration and give the same diagrams (checked in
    ``tests/test_topology.py``).
    A complex estimated above ``max_simplices`` (after the collapse) is not stored: ripser
    computes its diagrams, up to ``MAX_SIMPLICES_RIPSER``; past that, :class:`ComplexTooLarge`.
    Classes still alive at ``threshold`` get death ``inf``. With ``sparse=eps`` the sparse
    Rips filtration of Cavanna, Jahanseir & Sheehy (2015) replaces the full one: its diagrams
    are (1 + eps)-multiplicatively interleaved with the Rips diagrams.
    """
    import gudhi

    n = dist.shape[0]
    if n == 1:
        out = [np.array([[0.0, np.inf]])]
        return out + [np.zeros((0, 2)) for _ in range(maxdim)]
    if sparse is None and maxdim >= 1 and not np.isfinite(threshold):
        threshold = cone_radius(dist)  # exact: nothing of dimension >= 1 lives past it
    if maxdim <= 1:
        computed = _ripser_diagrams(dist, maxdim, threshold, sparse)
        st = None
    elif sparse is None:
        rc = gudhi.RipsComplex(distance_matrix=dist, max_edge_length=float(threshold))
        st = rc.create_simplex_tree(max_dimension=1)
    else:
        st = sparse_rips_graph(dist, float(sparse), float(threshold))
    if st is not None:
        st.collapse_edges()
        # Guard memory before the clique expansion: with mean degree g of the collapsed graph
        # a flag complex holds about n C(g, j) / (j + 1) simplices of dimension j.
        mean_degree = 2.0 * (st.num_simplices() - n) / n
        size = sum(n * math.comb(int(np.ceil(mean_degree)), j) / (j + 1) for j in range(2, maxdim + 2))
        ripser_limit = max_simplices * MAX_SIMPLICES_RIPSER / MAX_SIMPLICES
        if size > ripser_limit:
            raise ComplexTooLarge(
                f"the Rips complex up to dimension {maxdim + 1} at threshold {threshold:.4g} "
                f"would hold about {size:.3g} simplices (limit {ripser_limit:.0e}); pass a "
                "smaller threshold, fewer n_landmarks or a smaller maxdim"
            )
        if size > max_simplices:  # too large to store: ripser, which does not build it
            computed = _ripser_diagrams(dist, maxdim, threshold, sparse)
        else:
            st.expansion(maxdim + 1)
            # persistence_dim_max: after a collapse the complex may top out at dimension
            # maxdim, whose homology gudhi otherwise skips.
            st.compute_persistence(homology_coeff_field=2, min_persistence=0.0,
                                   persistence_dim_max=True)
            computed = [np.asarray(st.persistence_intervals_in_dimension(k), dtype=np.float64)
                        for k in range(maxdim + 1)]
    dgms = []
    for k in range(maxdim + 1):
        if k == 0 and np.isfinite(threshold):
            # H0 is the minimum spanning tree: exact at every scale and cheap, so no
            # threshold for it (components separated by more than the threshold stay apart).
            dgms.append(_h0_from_mst(dist))
            continue
        d = computed[k].reshape(-1, 2)
        d = d[d[:, 1] > d[:, 0]]  # zero-length bars carry no information
        order = np.lexsort((d[:, 0], -(d[:, 1] - d[:, 0])))  # longest first, then by birth
        dgms.append(np.ascontiguousarray(d[order]))
    return dgms


def _h0_from_mst(dist: np.ndarray) -> np.ndarray:
    """H0 diagram of the Rips filtration: births 0, deaths the minimum-spanning-tree edges."""
    from scipy.sparse.csgraph import minimum_spanning_tree

    # scipy reads 0 as "no edge"; distinct points have positive distances, and a tiny
    # floor keeps exact zeros (not expected after de-duplication) connected.
    w = np.where(dist > 0, dist, np.finfo(float).tiny)
    np.fill_diagonal(w, 0.0)
    deaths = np.sort(minimum_spanning_tree(w).data)[::-1]
    deaths = deaths[deaths > np.finfo(float).tiny]
    out = np.zeros((len(deaths) + 1, 2))
    out[0, 1] = np.inf
    out[1:, 1] = deaths
    return out


class ComplexTooLarge(InputError):
    """The requested Rips complex would not fit in memory (a subclass of InputError)."""


@dataclass(frozen=True)
class _LandmarkRips:
    """Internal: diagrams of a landmark Rips filtration and how they were made."""

    diagrams: list
    landmarks: np.ndarray  # indices into the de-duplicated cloud
    covering_radius: float  # d_H(landmarks, cloud)
    threshold: float


#: Highest homology dimension: any d is defined; above 5 the flag complex (simplices up to
#: dimension d + 1) is out of reach for every cloud the landmark nets allow.
MAXDIM = Param("maxdim", int, 1, "highest homology dimension", ge=0, le=5)


#: The settings of :func:`persistence` (see :mod:`manifold_probe._params`). ``threshold``
#: also accepts ``inf`` (no limit, as ``None``), which a float bound cannot state.
PERSISTENCE_PARAMS = Schema(
    "persistence",
    MAXDIM,
    Param("n_landmarks", int, None, "most points entering the complex (None: 1000 for H0, 400 "
          "for H0-H1, 300 for H0-H2, 120 above)", ge=1, nullable=True),
    Param("threshold", float, None, "largest edge length of the filtration (None or inf: no "
          "limit)", gt=0.0, nullable=True),
    Param("sparse", float, None, "eps of the sparse Rips filtration, (1 + eps)-interleaved "
          "with the Rips one (None: the Rips filtration)", gt=0.0, le=10.0, nullable=True),
)


def check_maxdim(maxdim: Any) -> int:
    return MAXDIM.check(maxdim)


def check_n_landmarks(n_landmarks: Any, maxdim: int) -> int:
    n_landmarks = PERSISTENCE_PARAMS["n_landmarks"].check(n_landmarks)
    return default_landmarks(maxdim) if n_landmarks is None else n_landmarks


def check_threshold(threshold: Any) -> float:
    if isinstance(threshold, (int, float, np.floating, np.integer)) and not isinstance(
        threshold, bool
    ) and np.isposinf(threshold):
        return np.inf
    threshold = PERSISTENCE_PARAMS["threshold"].check(threshold)
    return np.inf if threshold is None else threshold


def persistence(
    X: Any,
    maxdim: int = 1,
    n_landmarks: int | None = None,
    seed: Any = None,
    *,
    threshold: float | None = None,
    sparse: float | None = None,
) -> list[np.ndarray]:
    r"""Persistence diagrams of the Vietoris–Rips filtration of a point cloud.

    The Rips complex at scale :math:`r` holds every simplex whose points are pairwise within
    Euclidean distance :math:`r`:

    .. math::

        \mathrm{Rips}_r(X) = \{\sigma \subseteq X : \|x - y\| \le r\ \ \forall x, y \in \sigma\},

    so filtration values are edge lengths (not radii). A class born at :math:`b` and dying at
    :math:`d` is the point :math:`(b, d)` of the diagram; its persistence is :math:`d - b`.

    Which computation is used when:

    * **Exact duplicates** are merged first (they do not change a Rips diagram).
    * **Landmarks.** If the cloud has more than ``n_landmarks`` distinct points, the diagrams
      are those of ``n_landmarks`` maxmin (farthest-point) landmarks :math:`L`, chosen greedily
      from a start point drawn with ``seed``. By the stability theorem the landmark diagrams
      are within bottleneck distance :math:`2\varepsilon_L` of the full ones, where
      :math:`\varepsilon_L = d_H(L, X)` is the landmarks' covering radius. Otherwise all
      points are used, and the result does not depend on ``seed``.
    * **Edge collapse** (Boissonnat & Pritam 2020) always: it shrinks the flag complex and
      leaves the diagrams unchanged.
    * **Threshold.** With ``threshold=r_max`` only edges up to :math:`r_{\max}` enter H1 and
      up; classes alive at :math:`r_{\max}` come back with death ``inf``. H0 is always exact
      (minimum spanning tree). A manifold's homology is already
      visible between the sampling scale and its reach, so a threshold a few times the
      sampling scale keeps the essential classes (as infinite bars) at a fraction of the cost.
      :func:`betti_numbers` sets one itself; here the default is no threshold.

    Magnitude: the diagrams are computed on the cloud rescaled by an exact power of two and
    scaled back, so ``persistence(c * X)`` is ``c`` times ``persistence(X)`` from ``1e-300``
    to ``1e300``.

    The backend is gudhi (Rips complex, edge collapse, :math:`\mathbb{Z}/2` coefficients),
    chosen by measurement over ripser (see ``benchmarks/bench_topology.py``).

    Parameters
    ----------
    X : array-like of shape (n_points, n_features)
        The point cloud (numpy array or torch tensor), Euclidean distances.
    maxdim : int, default=1
        Highest homology dimension (0 <= maxdim <= 5).
    n_landmarks : int or None, default=None
        Most points entering the complex. ``None`` picks by ``maxdim``: 1000 (H0), 400 (H1),
        300 (H2), 120 (higher). Pass ``len(X)`` for the full Rips complex.
    seed : None, int or numpy.random.Generator, default=None
        Chooses the first landmark; the rest follow deterministically.
    threshold : float or None, default=None
        Largest edge length in the filtration (``None``: no limit; the filtration is then
        cut, exactly, at the cone radius :math:`\min_i \max_j \|x_i - x_j\|`, past which
        the complex is contractible).
    sparse : float or None, default=None
        ``eps`` > 0: the sparse Rips filtration (Cavanna, Jahanseir & Sheehy 2015; gudhi's
        ``sparse=``), whose diagrams are (1 + eps)-multiplicatively interleaved with the
        Rips diagrams: a bar (b, d) of one has a partner within a factor 1 + eps at each
        end, or lies within that factor of the diagonal. Size grows linearly in the points.

    Returns
    -------
    list of ndarray of shape (m_k, 2), float64
        One diagram per dimension ``0..maxdim``: rows ``(birth, death)``, longest bar first;
        death may be ``inf`` (the one component in H0, and classes alive at ``threshold``).

    Raises
    ------
    InputError
        Bad points (not 2-D, NaN/inf, fewer than 2 rows) or bad parameters; or the complex
        would not fit: checked from the sizes before anything is allocated (more than 6000
        points entering it, or more than 2e5 edges without a threshold or ``sparse``), and
        after the edge collapse (about 2e7 simplices). The message names the fix.

    References
    ----------
    Chazal, de Silva & Oudot (2014), "Persistence stability for geometric complexes".
    de Silva & Carlsson (2004), "Topological estimation using witness complexes" (maxmin
    landmarks). Boissonnat & Pritam (2020), "Edge collapse and persistence of flag complexes".

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    >>> dgms = persistence(np.c_[np.cos(t), np.sin(t)], maxdim=1)
    >>> len(dgms[1]), bool(dgms[1][0, 1] - dgms[1][0, 0] > 1.5)
    (1, True)
    """
    return _landmark_rips(X, maxdim, n_landmarks, seed, threshold, sparse).diagrams


def _landmark_rips(X, maxdim, n_landmarks, seed, threshold, sparse=None) -> _LandmarkRips:
    # magnitude: Rips diagrams scale with the cloud, D(2^e X) = 2^e D(X), so they are computed
    # on the cloud rescaled by an exact power of two (squared distances of points near 1e-300
    # or 1e200 would underflow or overflow) and scaled back exactly
    X, e = normalize_scale(check_points(X, min_points=1, what="persistence"))
    maxdim = check_maxdim(maxdim)
    m = check_n_landmarks(n_landmarks, maxdim)
    thr = check_threshold(threshold)
    thr_n = float(np.ldexp(thr, -e))
    sparse = check_sparse(sparse)
    rng = check_seed(seed)
    first, _, _ = unique_rows(X)
    U = X[first]
    n = len(U)
    check_cost(min(m, n), maxdim, thr, sparse)
    if m < n:
        L, eps = maxmin_landmarks(m, int(rng.integers(n)), X=U)
    else:
        L, eps = np.arange(n, dtype=np.int64), 0.0
    D = pairwise_distances(U[L])
    dgms = [rescale(d, e, what="a persistence diagram", unit_power=1)
            for d in rips_diagrams(D, maxdim, thr_n, sparse=sparse)]
    return _LandmarkRips(dgms, L, float(np.ldexp(eps, e)), thr)


def check_sparse(sparse: Any) -> float | None:
    return PERSISTENCE_PARAMS["sparse"].check(sparse)


def check_cost(m: int, maxdim: int, threshold: float, sparse: float | None) -> None:
    """Refuse, from the sizes alone, a Rips computation that would not fit (before allocating).

    ``m`` points enter the complex. Their distance matrix takes :math:`8 m^2` bytes; without a
    threshold or sparsification every one of the :math:`m(m-1)/2` edges enters the graph that
    is collapsed. Both are bounded (``MAX_DENSE_POINTS``, ``MAX_EDGES``); the clique expansion
    is bounded after the collapse (``MAX_SIMPLICES``).
    """
    if m > MAX_DENSE_POINTS:
        raise ComplexTooLarge(
            f"{m} points would enter the Rips complex; their distance matrix alone needs "
            f"{8 * m * m / 2**30:.1f} GiB (limit {MAX_DENSE_POINTS} points). Pass "
            f"n_landmarks={MAX_DENSE_POINTS // 4} or fewer (maxmin landmarks keep the diagrams "
            "within twice their covering radius)"
        )
    edges = m * (m - 1) / 2
    if maxdim >= 1 and sparse is None and not np.isfinite(threshold) and edges > MAX_EDGES:
        limit = int((1 + math.sqrt(1 + 8 * MAX_EDGES)) / 2)
        raise ComplexTooLarge(
            f"the full Rips complex of {m} points starts from {edges:.3g} edges (limit "
            f"{MAX_EDGES:.0e}, about {limit} points); edge collapse alone would take minutes. "
            f"Pass n_landmarks <= {limit}, a threshold, or sparse=0.5 (a (1+eps)-approximate "
            "sparse Rips filtration)"
        )
