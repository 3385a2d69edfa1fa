"""The warp calls family-wise over the layer pairs of a run (Westfall–Young single-step max-T).

Known answers: families of pairs whose readings are one more draw of their own null (each pair
its own centre and scale) are rejected anywhere in the family at most alpha of the time, over
many repetitions (exactly alpha with independent pairs; below it with positively correlated
readings, Šidák's case) — where the per-reading rule rejects somewhere in most families; a
reading far outside its null passes at the floor 1/(B+1) however large the family, where
Holm's cut is out of reach. Invariances (hypothesis): the adjusted p-values follow the pairs
when they are reordered, are never below each pair's own Monte Carlo p, and equal it for a
family of one.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_probe import InputError
from manifold_probe.analysis import warp_null
from manifold_probe.analysis.nulls import holm, max_t_adjust, monte_carlo_p

B = warp_null._WARP_NULL_DRAWS
ALPHA = warp_null.WARP_NULL_ALPHA


def _null_families(reps: int, m: int, rng: np.random.Generator, rho: float = 0.0):
    """``reps`` families of ``m`` pairs under the null: per pair a centre and a scale of its
    own, the readings equicorrelated Gaussians (``rho``), the draws independent of them."""
    centre = rng.uniform(-5, 5, size=(reps, m, 1))
    scale = rng.uniform(0.01, 10, size=(reps, m, 1))
    shared = rng.standard_normal((reps, 1))
    z = np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.standard_normal((reps, m))
    readings = centre[..., 0] + scale[..., 0] * z
    draws = centre + scale * rng.standard_normal((reps, m, B))
    return readings, draws


def _fwer(readings, draws, rule) -> float:
    return float(np.mean([np.any(rule(t, v) <= ALPHA) for t, v in zip(readings, draws,
                                                                       strict=True)]))


def _per_reading(t, v):
    return np.array([monte_carlo_p(ti, vi)[0] for ti, vi in zip(t, v, strict=True)])


# 2000 families: binomial standard error of a rate of 0.05 is 0.0049; 3 of them is the margin
REPS = 2000
MARGIN = 3 * np.sqrt(ALPHA * (1 - ALPHA) / REPS)


@pytest.mark.parametrize("rho", [0.0, 0.6])
def test_all_null_families_keep_the_family_wise_error_at_alpha(rho):
    rng = np.random.default_rng(7)
    readings, draws = _null_families(REPS, 12, rng, rho=rho)
    fwer = _fwer(readings, draws, max_t_adjust)
    assert fwer <= ALPHA + MARGIN, fwer
    if rho == 0.0:
        # independent pairs: exchangeable, so the error is alpha itself (not a test that
        # passes by never rejecting)
        assert fwer >= ALPHA - MARGIN, fwer
    # the same check fails the per-reading rule: 1 - 0.95^12 = 0.46 at rho = 0
    assert _fwer(readings[:300], draws[:300], _per_reading) > 0.2


def test_a_clear_effect_passes_at_the_floor_where_holm_cannot():
    rng = np.random.default_rng(3)
    readings, draws = _null_families(1, 44, rng)  # 4 measures x 11 pairs: MiniLM's family
    readings, draws = readings[0], draws[0]
    centre, spread = draws[5].mean(), draws[5].std()
    readings[5] = centre + 40 * spread  # far outside its own null
    p = max_t_adjust(readings, draws)
    assert p[5] == pytest.approx(1 / (B + 1))
    assert p[5] <= ALPHA
    raw = _per_reading(readings, draws)
    assert raw[5] == pytest.approx(1 / (B + 1))
    assert holm(raw)[5] > ALPHA  # Holm's first cut, alpha / 44, is below the floor 1/20
    assert np.all(p >= raw - 1e-12)


def test_ties_and_constant_pairs_never_reject():
    draws = np.zeros((3, B))
    draws[1] = np.arange(B)
    p = max_t_adjust([0.0, 100.0, 1e-12], draws, tol=1e-9)
    # pair 0: every value the same; pair 2: within the tie tolerance of its draws
    assert p[0] == 1.0 and p[2] == 1.0
    assert p[1] == pytest.approx(1 / (B + 1))


def test_missing_readings_and_draws_leave_the_family():
    draws = np.tile(np.arange(float(B)), (3, 1))
    draws[2, 4] = np.nan
    p = max_t_adjust([30.0, np.nan, 30.0], draws)
    assert np.isnan(p[1]) and np.isnan(p[2])
    assert p[0] == pytest.approx(1 / (B + 1))
    assert np.isnan(max_t_adjust([np.nan], draws[:1])).all()


_values = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6).flatmap(lambda m: st.tuples(
    st.lists(_values, min_size=m, max_size=m),
    st.lists(st.lists(_values, min_size=5, max_size=5), min_size=m, max_size=m),
    st.permutations(range(m)))), st.sampled_from([0.0, 1e-9]))
def test_invariant_to_the_order_of_the_pairs_and_never_below_each_own_p(case, tol):
    readings, draws, order = case
    t, v = np.asarray(readings), np.asarray(draws)
    p = max_t_adjust(t, v, tol=tol)
    order = np.asarray(order)
    assert np.array_equal(max_t_adjust(t[order], v[order], tol=tol), p[order])
    own = np.array([monte_carlo_p(ti, vi, tol=tol)[0] for ti, vi in zip(t, v, strict=True)])
    assert np.all(p >= own - 1e-12)
    assert np.all((p >= 1 / 6 - 1e-12) & (p <= 1.0))
    single = [max_t_adjust(t[i:i + 1], v[i:i + 1], tol=tol)[0] for i in range(len(t))]
    assert np.allclose(single, own)


@pytest.mark.parametrize("readings, draws, tol, match", [
    (np.zeros(3), np.zeros((2, 19)), 0.0, "one row of draws per reading"),
    (np.zeros((3, 1)), np.zeros((3, 19)), 0.0, "1-D"),
    (np.zeros(3), np.zeros(19), 0.0, "2-D"),
    (np.zeros(2), np.zeros((2, 0)), 0.0, "at least one draw"),
    (np.zeros(2), np.zeros((2, 19)), -1.0, "tol"),
])
def test_bad_input(readings, draws, tol, match):
    with pytest.raises(InputError, match=match):
        max_t_adjust(readings, draws, tol=tol)


def _pair_result(reading, draws, sfx="prev", key="knn_overlap"):
    p, side = monte_carlo_p(reading, draws)
    return {f"{key}_{sfx}": reading, f"{key}_p_{sfx}": p,
            f"{key}_vs_null_{sfx}": side if p <= ALPHA else "within",
            f"{key}_null_draws_{sfx}": list(draws)}


def test_family_calls_per_seed_in_place():
    rng = np.random.default_rng(0)
    null = lambda: rng.normal(0.5, 0.01, size=B).tolist()  # noqa: E731
    far = _pair_result(0.8, null())  # a block that keeps neighbourhoods
    # at its own floor (beyond every draw) but within the family's largest draws
    near_draws = null()
    near = _pair_result(max(near_draws) + 1e-4, near_draws)
    assert near["knn_overlap_vs_null_prev"] == "above"
    others = [_pair_result(0.5, null(), sfx) for sfx in ("prev", "input") for _ in range(10)]
    by_seed = {(1, 0): [far], (2, 0): [near], **{(3 + i, 0): [r] for i, r in enumerate(others)},
               (1, 1): [_pair_result(0.8, null())]}
    warp_null.warp_family_calls(by_seed)
    for results in by_seed.values():
        for res in results:
            assert not any("_null_draws_" in c for c in res)  # not table columns
    assert far["knn_overlap_p_fwer_prev"] == pytest.approx(1 / (B + 1))
    assert far["knn_overlap_vs_null_prev"] == "above"
    assert near["knn_overlap_p_fwer_prev"] > ALPHA
    assert near["knn_overlap_vs_null_prev"] == "within"
    # seed 1 is a family of one: its p is its own Monte Carlo p
    assert by_seed[(1, 1)][0]["knn_overlap_p_fwer_prev"] == by_seed[(1, 1)][0]["knn_overlap_p_prev"]


def test_family_calls_without_draws_are_undecided_and_bad_input():
    old = _pair_result(0.8, np.linspace(0.49, 0.51, B))
    del old["knn_overlap_null_draws_prev"]
    warp_null.warp_family_calls({(1, 0): [old]})
    assert old["knn_overlap_vs_null_prev"] == "undecided"
    assert np.isnan(old["knn_overlap_p_fwer_prev"])
    with pytest.raises(InputError, match="alpha"):
        warp_null.warp_family_calls({}, alpha=1.5)
    a, b = _pair_result(0.8, [0.5] * B), _pair_result(0.8, [0.5] * (B - 1), "input")
    with pytest.raises(InputError, match="different numbers of draws"):
        warp_null.warp_family_calls({(1, 0): [a], (2, 0): [b]})


def test_profile_table_gives_family_wise_calls_and_no_draw_columns():
    """profile_layers: every warp reading gets its family-wise p, the call follows it, and the
    draws stay out of the table. Layer 1 is a rotation of layer 0 (linear: within its null),
    layer 2 folds it (a warp no linear map makes)."""
    from manifold_probe.analysis import profile_layers

    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    layers = {"a": X, "b": 2.0 * X @ Q, "c": np.c_[np.abs(X[:, 0]), X[:, 1] ** 2, X[:, 2]]}
    off = {"enabled": False}
    rows = profile_layers(layers, estimators={"curvature": off, "topology": off, "regions": off,
                                              "structure": off, "trajectory": off,
                                              "gride": off, "geodesic": {"n_sources": 30}},
                          seeds=[0], as_rows=True)
    assert not any("_null_draws_" in c for c in rows[0])
    for r in rows[1:]:
        for key in warp_null.WARP_NULL_KEYS[1:]:
            for sfx in ("prev", "input"):
                q, p = r.get(f"{key}_p_fwer_{sfx}"), r.get(f"{key}_p_{sfx}")
                assert q is not None and q >= p - 1e-12, (key, sfx, r)
                assert (r[f"{key}_vs_null_{sfx}"] in ("above", "below")) == (q <= ALPHA)
    # the rotation keeps every neighbourhood, as its Gaussian pair does: no call
    assert rows[1]["knn_overlap_vs_null_prev"] == "within"
    assert rows[1]["knn_overlap_p_fwer_prev"] > ALPHA
    # the fold keeps neighbourhoods its linear part plus noise loses: called at the floor
    # even against the family's largest draws
    assert rows[2]["knn_overlap_vs_null_prev"] == "above"
    assert rows[2]["knn_overlap_p_fwer_prev"] == pytest.approx(1 / (B + 1))
