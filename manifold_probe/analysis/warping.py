"""How a map between two representations of the same inputs bends the point cloud.

``X[i]`` and ``Y[i]`` are the same input seen in two representations — two layers of a network,
or one layer before and after a change to the model. :func:`warp` summarises the map
``X[i] -> Y[i]`` by how it distorts geodesic distances, how well it keeps neighbourhoods, how it
changes intrinsic dimension and curvature, and (when the map itself is at hand as a torch
callable) by its exact local stretch along the tangent space of the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from manifold_probe._params import Param, Schema
from manifold_probe._validation import (
    InputError,
    check_int,
    check_points,
    check_seed,
)
from manifold_probe.analysis.neighbourhoods import (
    continuity,
    knn_overlap,
    rank_excess,
    trustworthiness,
    venna_kaski,
)
from manifold_probe.neighbors import Neighbors, graphs_built_here, resolve_neighbors

__all__ = [
    "WARP_PARAMS",
    "WarpSummary",
    "continuity",
    "knn_overlap",
    "local_stretch",
    "rounded_twonn_dimension",
    "trustworthiness",
    "warp",
]


@dataclass(frozen=True)
class WarpSummary:
    """Summary of the map ``X[i] -> Y[i]`` (see :func:`warp`).

    Attributes
    ----------
    n_points : int
        Number of paired points.
    k : int
        Neighbourhood size used for the neighbourhood measures and the geodesic graphs.
    knn_overlap : float
        Mean Jaccard overlap ``|N_X(i) ∩ N_Y(i)| / |N_X(i) ∪ N_Y(i)|`` of the k-nearest-neighbour
        sets, in [0, 1]; 1 when every neighbourhood is kept.
    trustworthiness : float
        Venna & Kaski's trustworthiness T(k) in [0, 1]: 1 when no point becomes a neighbour in Y
        that was not one in X.
    continuity : float
        Continuity C(k) in [0, 1]: 1 when no neighbour in X is lost in Y.
    geodesic_log_ratio_median : float
        Median over pairs of ``log(d_Y / d_X)`` of graph-geodesic distances; ``log s`` for a
        map that scales everything by s. NaN when geodesics were not computed.
    geodesic_distortion : float
        Spread of the log-ratios (see :func:`manifold_probe.geodesic_distortion`); 0 for a
        scaled isometry, larger the more the map bends the cloud. NaN when not computed.
    geodesic : object or None
        The full :class:`manifold_probe.GeodesicDistortion` result, or ``None``.
    id_x, id_y : float
        TwoNN intrinsic dimension of X and of Y (NaN when not computed).
    curvature_median_x, curvature_median_y : float
        Median scalar curvature of X and of Y (NaN when not computed).
    stretch : ndarray of shape (n_stretch_points, n_tangent) or None
        Singular values, descending, of the map's Jacobian restricted to the estimated tangent
        space of X at each sampled point (only when ``model_block`` was given).
    stretch_points : ndarray of int64 or None
        Rows of X at which ``stretch`` was evaluated.
    """

    n_points: int
    k: int
    knn_overlap: float
    trustworthiness: float
    continuity: float
    geodesic_log_ratio_median: float = float("nan")
    geodesic_distortion: float = float("nan")
    geodesic: Any = None
    id_x: float = float("nan")
    id_y: float = float("nan")
    curvature_median_x: float = float("nan")
    curvature_median_y: float = float("nan")
    stretch: np.ndarray | None = None
    stretch_points: np.ndarray | None = None

    @property
    def id_change(self) -> float:
        """``id_y - id_x``."""
        return self.id_y - self.id_x

    @property
    def curvature_change(self) -> float:
        """``curvature_median_y - curvature_median_x``."""
        return self.curvature_median_y - self.curvature_median_x

    def as_dict(self) -> dict[str, float]:
        """The scalar fields, for tables (CSV/JSON)."""
        out = {
            "knn_overlap": self.knn_overlap,
            "trustworthiness": self.trustworthiness,
            "continuity": self.continuity,
            "geodesic_log_ratio_median": self.geodesic_log_ratio_median,
            "geodesic_distortion": self.geodesic_distortion,
            "id_x": self.id_x,
            "id_y": self.id_y,
            "id_change": self.id_change,
            "curvature_median_x": self.curvature_median_x,
            "curvature_median_y": self.curvature_median_y,
            "curvature_change": self.curvature_change,
        }
        if self.stretch is not None:
            logs = np.log(np.maximum(self.stretch, np.finfo(float).tiny))
            out["log_stretch_median"] = float(np.median(logs))
            out["stretch_anisotropy_median"] = float(np.median(logs[:, 0] - logs[:, -1]))
        return {key: float(value) for key, value in out.items()}


# --------------------------------------------------------------------------- local stretch
def local_stretch(
    X: Any,
    model_block: Callable[[Any], Any],
    *,
    points: Any = None,
    tangent_dim: int | None = None,
    k: int = 20,
    neighbors: Neighbors | None = None,
    n_points: int = 32,
    seed: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact local stretch of a map along the data's tangent space.

    At a point :math:`x`, let :math:`U \in \mathbb{R}^{D \times n}` be an orthonormal basis of
    the estimated tangent space (the top n principal directions of x's k nearest neighbours,
    centred at their mean) and :math:`J = \partial f / \partial x` the Jacobian of the block
    :math:`f`. The singular values :math:`\sigma_1 \ge \dots \ge \sigma_n` of :math:`J U` are
    the factors by which the map stretches lengths along the manifold at x: all equal to s for a
    scaled isometry, and :math:`\sigma_n \to 0` where the map folds a tangent direction away.
    :math:`J U` is computed exactly with forward-mode automatic differentiation
    (``torch.func.jvp``), one Jacobian–vector product per tangent direction.

    Parameters
    ----------
    X : array-like of shape (n_points, D)
        Inputs of the block.
    model_block : callable
        Maps a torch tensor of shape (m, D) to one of shape (m, D'); differentiable.
    points : array-like of int, optional
        Rows at which to evaluate; default ``n_points`` rows drawn with ``seed``.
    tangent_dim : int, optional
        Tangent dimension n; default the rounded TwoNN dimension of X.
    k : int, default=20
        Neighbourhood size of the local PCA (must exceed ``tangent_dim``).

    Returns
    -------
    stretch : ndarray of float64, shape (n_evaluated, n)
    points : ndarray of int64, shape (n_evaluated,)
    """
    import torch

    A, nb = resolve_neighbors(X, k, neighbors=neighbors, min_k=2, what="local_stretch")
    if A is None:
        raise InputError("local_stretch needs the points X, not only their neighbour graph")
    n, D = A.shape
    if tangent_dim is None:
        tangent_dim = rounded_twonn_dimension(A, nb, min(D, nb.k))
    tangent_dim = check_int(tangent_dim, name="tangent_dim", minimum=1, maximum=min(D, nb.k))
    if points is None:
        rng = check_seed(seed)
        m = min(check_int(n_points, name="n_points", minimum=1), n)
        pts = np.sort(rng.choice(n, size=m, replace=False)).astype(np.int64)
    else:
        pts = np.asarray(points, dtype=np.int64).ravel()
        if pts.size == 0 or pts.min() < 0 or pts.max() >= n:
            raise InputError(f"points must be row indices in [0, {n}); got {pts[:5]}...")
    out = np.empty((len(pts), tangent_dim))
    for row, p in enumerate(pts):
        nbh = A[np.concatenate([[p], nb.indices[p]])]
        centred = nbh - nbh.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        U = torch.as_tensor(vt[:tangent_dim].T.copy())
        x = torch.as_tensor(A[p])
        dtype, device = _block_dtype(model_block, torch)
        x = x.to(device, dtype)
        U = U.to(device, dtype)

        def f(v, _x=x):
            return model_block(v[None, :])[0]

        cols = []
        for j in range(tangent_dim):
            _, jv = torch.func.jvp(f, (x,), (U[:, j],))
            cols.append(jv.detach().to("cpu", torch.float64).reshape(-1))
        JU = torch.stack(cols, dim=1).numpy()
        out[row] = np.linalg.svd(JU, compute_uv=False)[:tangent_dim]
    return out, pts


def _block_dtype(block, torch):
    """The dtype and device of a block's first parameter (float64 on the CPU without any)."""
    params = getattr(block, "parameters", None)
    if callable(params):
        for p in params():
            return p.dtype, p.device
    return torch.float64, torch.device("cpu")


# --------------------------------------------------------------------------- warp
#: The settings of :func:`warp` that the layer profile exposes (``[estimators.knn]`` ``k`` and
#: ``rank_rows``, ``[estimators.geodesic]`` ``n_sources``; see :mod:`manifold_probe._params`).
WARP_PARAMS = Schema(
    "warp",
    Param("k", int, 10, "neighbourhood size of the kNN graphs compared (overlap, "
          "trustworthiness, continuity; a neighbourhood needs a second point)", ge=2),
    Param("n_sources", int, 200, "geodesic sources drawn with the seed (None: all points)",
          ge=1, nullable=True),
    Param("rank_rows", int, None, "trustworthiness and continuity rank at most this many rows "
          "from all distances (a uniform sample above it; None: all)", ge=1, nullable=True),
)


def warp(
    X: Any,
    Y: Any,
    k: int = 10,
    *,
    neighbors_x: Neighbors | None = None,
    neighbors_y: Neighbors | None = None,
    geodesic: bool = True,
    n_sources: int | None = 200,
    geodesic_method: str = "shortcut",
    dimension: bool = True,
    curvature: bool = False,
    model_block: Callable[[Any], Any] | None = None,
    n_stretch_points: int = 32,
    tangent_dim: int | None = None,
    seed: Any = None,
    rank_rows: int | None = None,
) -> WarpSummary:
    r"""How the map ``X[i] -> Y[i]`` warps the point cloud.

    ``X[i]`` and ``Y[i]`` must be the same input in two representations (two layers of a
    network; one layer before and after a change to the model).

    - **Geodesic distortion**: with :math:`d_X, d_Y` the graph-geodesic distances
      (:func:`manifold_probe.geodesic_distances`, from ``n_sources`` sources drawn with
      ``seed``), the distribution of :math:`\log(d_Y(i,j)/d_X(i,j))` over pairs; its median
      is the overall scale change, its spread (:func:`manifold_probe.geodesic_distortion`) is
      0 for a scaled isometry and grows as the map bends the cloud. Pairs that lie in
      different connected components of either kNN graph (infinite distance) are left out.
    - **Neighbourhoods**: mean Jaccard overlap of the kNN sets (:func:`knn_overlap`),
      trustworthiness and continuity (Venna & Kaski 2001, :func:`trustworthiness`).
    - **Dimension and curvature**: TwoNN intrinsic dimension and median scalar curvature of X
      and of Y (curvature is off by default: it is the costly part).
    - **Exact local stretch** (only with ``model_block``, a differentiable torch callable with
      ``model_block(X) ≈ Y``): singular values of its Jacobian restricted to X's estimated
      tangent space at ``n_stretch_points`` points (:func:`local_stretch`).

    Parameters
    ----------
    X, Y : array-like of shape (n_points, D) and (n_points, D')
        The same inputs in two representations (dimensions may differ).
    k : int, default=10
        Neighbourhood size of the kNN graphs.
    neighbors_x, neighbors_y : Neighbors, optional
        Precomputed graphs (``mp.knn(X, k')`` with k' >= k); then no graph is recomputed.
    geodesic : bool, default=True
        Compute the geodesic distortion.
    n_sources : int or None, default=200
        Geodesic sources (None: all points; cost grows as ``n_sources * N log N``).
    geodesic_method : {"shortcut", "graph"}, default="shortcut"
        ``method`` of :func:`manifold_probe.geodesic_distances` (``"graph"``: plain kNN-graph
        shortest paths, much faster; both clouds use the same method, so much of the graph's
        overestimate cancels in the log-ratio).
    dimension, curvature : bool
        Compute the change of intrinsic dimension / of median scalar curvature.
    seed : int or numpy Generator, optional
        Draws the geodesic sources and the stretch points.
    rank_rows : int, optional
        Trustworthiness and continuity rank each point's new neighbours; those beyond the
        graphs' lists need a row of all distances (``N D`` operations). When more than
        ``rank_rows`` rows need one, a uniform sample of that many (drawn from ``seed``) is
        ranked and their sum scaled up (unbiased; error measured in
        ``benchmarks/bench_scaling.py``). Default: every row, exact.

    Returns
    -------
    WarpSummary

    Raises
    ------
    InputError
        Shapes that do not pair up, too few points for k, non-finite values.

    References
    ----------
    Venna, J. & Kaski, S. (2001). Neighborhood preservation in nonlinear projection methods.
    Tenenbaum, J. B., de Silva, V. & Langford, J. C. (2000). A global geometric framework for
    nonlinear dimensionality reduction. Science 290, 2319–2323.

    Examples
    --------
    >>> import numpy as np, manifold_probe as mp
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> s = mp.warp(X, 2.0 * X, k=8, geodesic=False, dimension=False)
    >>> s.knn_overlap, s.trustworthiness, s.continuity
    (1.0, 1.0, 1.0)
    """
    A = check_points(X, min_points=3, name="X", what="warp")
    B = check_points(Y, min_points=3, name="Y", what="warp")
    if A.shape[0] != B.shape[0]:
        raise InputError(
            f"X has {A.shape[0]} rows and Y has {B.shape[0]}; X[i] and Y[i] must be the same "
            "input in two representations, so they need equally many rows"
        )
    rng = check_seed(seed)
    if geodesic and (n_sources is None or (isinstance(n_sources, (int, np.integer))
                                            and n_sources >= A.shape[0])):
        from manifold_probe._cost_guards import guard_warp_all_sources

        guard_warp_all_sources(A.shape[0], k)
    k, n_sources, rank_rows = WARP_PARAMS.check(k=k, n_sources=n_sources,
                                                 rank_rows=rank_rows).values()
    A, nx = resolve_neighbors(A, k, neighbors=neighbors_x, min_k=2, what="warp")
    B, ny = resolve_neighbors(B, k, neighbors=neighbors_y, min_k=2, what="warp")
    n = A.shape[0]
    k = nx.k
    overlap = float(knn_overlap(nx, ny).mean())
    # a given graph's columns beyond k list the next neighbours in rank order: their ranks
    # need no distances
    # a given graph's columns beyond k list the next neighbours in rank order: their ranks
    # need no distances. The sample of ranked rows has generators of its own (spawned, so the
    # geodesic sources drawn from rng below are those of an unsampled run)
    gx, gy = rng.spawn(2) if rank_rows is not None else (None, None)
    trust = venna_kaski(rank_excess(A, ny.indices, nx.indices, ranked=_listed(neighbors_x, nx),
                                      max_rows=rank_rows, rng=gx), n, k)
    cont = venna_kaski(rank_excess(B, nx.indices, ny.indices, ranked=_listed(neighbors_y, ny),
                                     max_rows=rank_rows, rng=gy), n, k)

    fields: dict[str, Any] = {}
    if geodesic:
        from manifold_probe.analysis._reuse import cached_geodesic_distances
        from manifold_probe.distortion import geodesic_distortion

        if n_sources is None or n_sources >= n:
            sources = None
        else:
            sources = np.sort(rng.choice(n, size=n_sources, replace=False))
        with warnings.catch_warnings():
            # pairs in different components of a graph (inf) are left out of the log-ratios
            warnings.filterwarnings("ignore", message=".*connected components", category=UserWarning)
            # a layer in several pairs: its distances are computed once (content-keyed reuse);
            # nx and ny were checked against A and B above (resolve_neighbors), so the graph
            # search's own check of the same arrays is left out (it could only pass)
            with graphs_built_here():
                DX = cached_geodesic_distances(A, nx, k, sources, geodesic_method)
                DY = cached_geodesic_distances(B, ny, k, sources, geodesic_method)
        result = geodesic_distortion(DX, DY)
        fields["geodesic"] = result
        fields["geodesic_log_ratio_median"] = float(result.scale)
        fields["geodesic_distortion"] = float(result.spread)
    if dimension:
        from manifold_probe.dimension import NearDuplicateWarning, intrinsic_dimension

        # the whole graph, not its first 2 columns: where rows repeat, TwoNN collapses the
        # copies and needs the next distinct neighbours from the columns beyond
        with warnings.catch_warnings():  # near-coincident points: merged, as in the profile
            warnings.simplefilter("ignore", NearDuplicateWarning)
            fields["id_x"] = float(intrinsic_dimension(A, method="twonn",
                                                       neighbors=nx).dimension)
            fields["id_y"] = float(intrinsic_dimension(B, method="twonn",
                                                       neighbors=ny).dimension)
    if curvature:
        from manifold_probe.curvature import scalar_curvature

        fields["curvature_median_x"] = _curvature_median(scalar_curvature(A))
        fields["curvature_median_y"] = _curvature_median(scalar_curvature(B))
    if model_block is not None:
        stretch, pts = local_stretch(
            A, model_block, tangent_dim=tangent_dim, n_points=n_stretch_points, seed=rng,
            k=max(k, 2),
        )
        fields["stretch"] = stretch
        fields["stretch_points"] = pts
    return WarpSummary(
        n_points=n, k=k, knn_overlap=overlap, trustworthiness=trust, continuity=cont, **fields
    )


def _listed(given: Neighbors | None, used: Neighbors) -> np.ndarray:
    """The longest Euclidean neighbour list at hand (a given graph's columns), else ``used``'s."""
    if (isinstance(given, Neighbors) and given.metric == "euclidean"
            and given.n_points == used.n_points and given.k > used.k):
        return given.indices
    return used.indices


def rounded_twonn_dimension(X: np.ndarray, neighbors: Neighbors, upper: int) -> int:
    """TwoNN dimension of ``X`` from its graph, rounded into ``[1, upper]`` (for tangent fits).

    Near-coincident points are merged first, as TwoNN does by default (the profile's dimension
    columns report them, so the warning is not repeated here). TwoNN reads the first two
    columns; the graph is passed whole so that the merged cloud's graph is read off its other
    columns rather than searched again, and without the scale check (it moves the interval,
    never the dimension).
    """
    import warnings

    from manifold_probe.dimension import NearDuplicateWarning, intrinsic_dimension

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NearDuplicateWarning)
        d = intrinsic_dimension(X, method="twonn", neighbors=neighbors,
                                scale_check=False).dimension
    return int(np.clip(round(float(d)), 1, upper))


def _curvature_median(result: Any) -> float:
    values = np.asarray(getattr(result, "curvature", result), dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")
