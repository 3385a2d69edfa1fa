"""Trajectory curvature of a per-token layer with its baselines: a measure of the layer profile.

The median over inputs of the mean turning angle of each input's token sequence
(:func:`manifold_probe.curvature.trajectory_curvature`), beside the same median with each
input's tokens shuffled and on i.i.d. Gaussian tokens of the layer's mean and covariance
(see :func:`measure_trajectory`). Re-exported by :mod:`manifold_probe.analysis.measures`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["measure_trajectory"]


def measure_trajectory(X: np.ndarray, sentence_ids: np.ndarray | None, *, nulls: bool = True,
                       seed: int = 0) -> dict:
    """Median over inputs of the trajectory curvature of each input's token sequence, with its
    baselines.

    Rows of X are tokens in order; ``sentence_ids`` says which input each row belongs to.
    Inputs with fewer than 3 tokens have no turning angle and are left out.

    With ``nulls``: ``trajectory_curvature_shuffled`` is the same median with each input's
    tokens in a random order (:data:`_TRAJECTORY_SHUFFLES` shufflings; ``_null_lo``/``_null_hi``
    their smallest and largest median, a 95% range), ``trajectory_curvature_gaussian`` the same
    median on i.i.d. tokens from a Gaussian with the layer's mean and covariance (in high
    dimension about 120°: consecutive steps of independent points share one point with opposite
    signs, so their cosine is about −1/2), and ``trajectory_curvature_vs_null`` the call of the
    reading against the shuffled range ("below": straighter than the token order allows by
    chance). Above :data:`~manifold_probe.analysis.nulls.NULL_MAX_ROWS` tokens the nulls and the
    call use a random set of whole inputs of at most that many tokens (``trajectory_null_rows``;
    the call compares that set's own median with its shufflings, a permutation test of the
    same size), while ``trajectory_curvature`` stays the median over every input.
    """
    if sentence_ids is None:
        return {"trajectory_curvature": float("nan")}
    from manifold_probe.analysis.nulls import matched_gaussian

    sid = np.asarray(sentence_ids)
    groups = [np.flatnonzero(sid == s) for s in np.unique(sid)]
    groups = [g for g in groups if len(g) >= 3]
    observed = _median_turning(X, groups)
    out = {"trajectory_curvature": observed}
    if not nulls or not groups or not np.isfinite(observed):
        return out
    from manifold_probe.analysis.nulls import NULL_MAX_ROWS

    rng = np.random.default_rng(seed)
    n_rows = sum(len(g) for g in groups)
    if n_rows > NULL_MAX_ROWS:
        # a large cloud: the shuffles (and the call) on a random set of whole inputs of at
        # most NULL_MAX_ROWS tokens; the reading itself stays that of every input
        order = np.random.default_rng([seed, _TRAJECTORY_SUBSAMPLE_STREAM]).permutation(
            len(groups))
        sizes = np.cumsum([len(groups[j]) for j in order])
        groups = [groups[j] for j in np.sort(order[: max(3, int(np.searchsorted(
            sizes, NULL_MAX_ROWS, side="right")))])]
        observed = _median_turning(X, groups)
        out["trajectory_null_rows"] = int(sum(len(g) for g in groups))
    shuffled = np.array([_median_turning(X, [rng.permutation(g) for g in groups])
                         for _ in range(_TRAJECTORY_SHUFFLES)])
    rows = np.concatenate(groups)
    G = matched_gaussian(X[rows], rng)
    starts = np.cumsum([0] + [len(g) for g in groups])
    lo, hi = float(shuffled.min()), float(shuffled.max())
    out.update(
        trajectory_curvature_shuffled=float(np.median(shuffled)),
        trajectory_curvature_null_lo=lo, trajectory_curvature_null_hi=hi,
        trajectory_curvature_gaussian=_median_turning(
            G, [np.arange(a, b) for a, b in zip(starts[:-1], starts[1:], strict=True)]),
        trajectory_curvature_vs_null="above" if observed > hi else "below" if observed < lo
        else "within",
    )
    return out


_TRAJECTORY_SUBSAMPLE_STREAM = 0x7472  # the inputs of a subsampled null: a stream of its own

#: shufflings of the token order: the observed median lies outside their range with
#: probability 2/(39 + 1) = 5% when token order carries no straightening
_TRAJECTORY_SHUFFLES = 39


def _median_turning(X: np.ndarray, groups: list[np.ndarray]) -> float:
    """Median over sequences (rows ``X[g]`` in order, for each ``g``) of the mean turning angle."""
    from manifold_probe.curvature import trajectory_curvature

    angles = []
    by_length: dict[int, list[np.ndarray]] = {}
    for g in groups:
        by_length.setdefault(len(g), []).append(X[g])
    for group in by_length.values():
        values = np.asarray(trajectory_curvature(np.stack(group)), dtype=np.float64).ravel()
        angles.extend(values[np.isfinite(values)].tolist())
    return float(np.median(angles)) if angles else float("nan")
