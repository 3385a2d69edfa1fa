"""Hyperbolic space of constant negative curvature, sampled uniformly by volume."""

from __future__ import annotations

from typing import Any

import numpy as np

from manifold_probe._validation import (
    InputError,
    check_float,
    check_int,
    check_option,
)
from manifold_probe.datasets._manifolds import (
    ManifoldSample,
    check_ambient,
    check_common,
    finish_sample,
    geomstats_model,
    log_sinh,
    sample_increasing,
    seed_repr,
)

__all__ = ["hyperbolic"]


def hyperbolic(
    n: int,
    dim: int = 2,
    radius: float = 1.0,
    max_distance: float | None = None,
    ambient_dim: int | None = None,
    noise: float = 0.0,
    seed: Any = None,
    model: str = "poincare",
) -> ManifoldSample:
    r"""Uniform sample (by hyperbolic volume) of a geodesic ball in hyperbolic space.

    Hyperbolic space :math:`H^{dim}` of constant sectional curvature :math:`-1/r^2`, ball of
    geodesic radius :math:`\rho_{max}` about the origin. In geodesic polar coordinates the volume
    element is :math:`r^{dim-1}\sinh^{dim-1}(\rho/r)\, d\rho\, d\omega`, so the direction
    :math:`\omega` is uniform on :math:`S^{dim-1}` and :math:`\rho` has density
    :math:`\propto \sinh^{dim-1}(\rho/r)` on :math:`[0, \rho_{max}]` (drawn exactly by rejection
    from a piecewise-constant envelope).

    With ``model="poincare"`` the returned ``points`` are Poincaré-ball coordinates scaled by
    :math:`r`,

    .. math:: x = r \tanh\!\left(\frac{\rho}{2r}\right) \omega, \qquad
              ds = \frac{2\,|dx|}{1 - |x|^2 / r^2};

    with ``model="hyperboloid"`` they are points of the hyperboloid
    :math:`-x_0^2 + |x_{1:}|^2 = -r^2` in R^(dim+1),
    :math:`x = r(\cosh(\rho/r), \sinh(\rho/r)\,\omega)` (metric: the Minkowski form).
    Either is a **chart, not an isometric embedding**: Euclidean distances between the points
    are not hyperbolic distances, and an extrinsic curvature estimator applied to them does not
    see the negative curvature. Use :meth:`ManifoldSample.geodesic_distances` for metric work
    (or :func:`pseudosphere` for a surface of constant negative curvature embedded in R^3).

    Parameters
    ----------
    n : int
        Number of points.
    dim : int, default=2
        Intrinsic dimension (>= 2).
    radius : float, default=1.0
        Curvature radius :math:`r` (sectional curvature :math:`-1/r^2`).
    max_distance : float or None, default=None
        Geodesic radius :math:`\rho_{max}` of the ball; ``None`` means :math:`2r`. At most
        :math:`20r` (beyond, the chart coordinates crowd the unit sphere in float64).
    ambient_dim, noise, seed
        As in :func:`sphere` (``ambient_dim >= dim``, or ``>= dim + 1`` for the hyperboloid).
    model : {"poincare", "hyperboloid"}, default="poincare"
        Coordinates of the returned points (the geodesic truth is the same).

    Returns
    -------
    ManifoldSample
        ``scalar_curvature`` the constant :math:`-dim(dim-1)/r^2`; ``latent`` (n, dim+1) =
        (rho, omega); exact geodesic distances, those of geomstats'
        ``PoincareBall(dim).metric.dist`` times :math:`r` (the tests check the two agree),
        evaluated as

        .. math:: d(x, y) = r\,\mathrm{arccosh}\left(1 + \frac{2|u - v|^2}{(1-|u|^2)(1-|v|^2)}
                  \right) = 2r\,\mathrm{arsinh}\sqrt{\frac{|u - v|^2}{(1-|u|^2)(1-|v|^2)}},
                  \quad u = x/r,\ v = y/r.

    References
    ----------
    Ratcliffe 2006, "Foundations of Hyperbolic Manifolds", §4.5 (Poincaré ball model) and
    §3.4 (volume in polar coordinates).
    """
    n, noise, rng = check_common(n, noise, seed)
    dim = check_int(dim, name="dim", minimum=2)
    radius = check_float(radius, name="radius", low=0.0, low_open=True)
    rho_max = 2.0 * radius if max_distance is None else check_float(
        max_distance, name="max_distance", low=0.0, low_open=True
    )
    if rho_max > 20.0 * radius:
        raise InputError(
            f"max_distance={rho_max} exceeds 20 * radius = {20 * radius}: Poincaré coordinates "
            "lose float64 precision there; use a smaller ball or a larger radius"
        )
    model = check_option(model, ("poincare", "hyperboloid"), name="model")
    ambient = check_ambient(ambient_dim, dim if model == "poincare" else dim + 1)

    u = sample_increasing(lambda s: (dim - 1) * log_sinh(s), rho_max / radius, n, rng)
    rho = radius * u
    omega = rng.standard_normal((n, dim))
    omega /= np.linalg.norm(omega, axis=1, keepdims=True)
    ball = np.tanh(u / 2.0)[:, None] * omega  # unit Poincaré ball
    if model == "poincare":
        Y = radius * ball
    else:
        Y = radius * np.column_stack([np.cosh(u), np.sinh(u)[:, None] * omega])
    X = finish_sample(Y, ambient_dim=ambient, noise=noise, rng=rng)

    def metric(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        from scipy.spatial.distance import cdist

        # arccosh(1 + 2 z^2) = 2 arsinh(z): no cancellation for nearby points
        z2 = cdist(A, B, "sqeuclidean") / np.outer(
            1.0 - np.sum(A * A, axis=1), 1.0 - np.sum(B * B, axis=1)
        )
        return 2.0 * radius * np.arcsinh(np.sqrt(z2))

    return ManifoldSample(
        points=X,
        intrinsic_dim=dim,
        name="hyperbolic",
        scalar_curvature=-dim * (dim - 1) / radius**2,
        latent=np.column_stack([rho, omega]),
        params=dict(n=n, dim=dim, radius=radius, max_distance=rho_max, ambient_dim=ambient,
                    noise=noise, seed=seed_repr(seed), model=model),
        _geodesic_coords=ball,
        _metric=metric,
        _geomstats=lambda: (geomstats_model("PoincareBall", dim), radius),
    )
