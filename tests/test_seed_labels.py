"""A label of what a block did (kept / broken, merged, split) is written only where it holds at
every seed; where the seeds disagree the table leaves it undefined (undecided), never the
and-ed False that reads "broken" or "not merged"."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_probe.analysis.table import SEED_LABELS, assemble_rows

BASE = [{"n_points": 10, "dim_ambient": 3}] * 3


def _rows(per_layer):
    return assemble_rows(["a", "b", "c"], BASE, per_layer)


def test_region_labels_need_every_seed():
    rows = _rows({1: [{"regions_merged_prev": True, "regions_split_prev": False},
                      {"regions_merged_prev": True, "regions_split_prev": True}],
                  2: [{"regions_merged_prev": False}, {"regions_merged_prev": False}]})
    assert rows[1]["regions_merged_prev"] is True
    assert rows[1]["regions_split_prev"] is None  # seed 0 no, seed 1 yes: undecided
    assert rows[2]["regions_merged_prev"] is False


def test_kept_or_broken_only_where_both_layers_betti_numbers_hold_across_seeds():
    steady = {0: [{"betti_0": 1, "betti_1": 1}] * 2, 1: [{"betti_0": 1, "betti_1": 1}] * 2,
              2: [{"betti_0": 1, "betti_1": 0}] * 2}
    rows = _rows(steady)
    assert rows[0].get("topology_preserved_prev") is None
    assert rows[1]["topology_preserved_prev"] is True
    assert rows[2]["topology_preserved_prev"] is False
    # layer 1 reads one loop at one seed and none at the other (the per-token beta_1):
    # neither the pair 0 -> 1 nor 1 -> 2 gets a label, though the medians would give one
    varying = {**steady, 1: [{"betti_0": 1, "betti_1": 1}, {"betti_0": 1, "betti_1": 0}]}
    rows = _rows(varying)
    assert rows[1]["topology_preserved_prev"] is None
    assert rows[2]["topology_preserved_prev"] is None


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(SEED_LABELS), st.lists(st.booleans(), min_size=1, max_size=5))
def test_a_label_is_the_common_value_or_undefined(key, values):
    rows = _rows({1: [{key: v} for v in values]})
    expected = values[0] if len(set(values)) == 1 else None
    assert rows[1][key] is expected
    # the order of the seeds does not matter
    assert _rows({1: [{key: v} for v in reversed(values)]})[1][key] is expected


def test_the_report_prints_undecided_where_a_layers_betti_numbers_vary():
    from pathlib import Path

    import numpy as np

    from manifold_probe.report.data import RunData, SeedSpread
    from manifold_probe.report.figures import _verdicts

    varying = {0: [{"betti_0": 1, "betti_1": 1}] * 2,
               1: [{"betti_0": 1, "betti_1": 1}, {"betti_0": 1, "betti_1": 0}],
               2: [{"betti_0": 1, "betti_1": 0}] * 2}
    rows = _rows(varying)
    columns = ["layer", "layer_name", "betti_0", "betti_1", "topology_preserved_prev"]
    run = RunData(Path("."), columns, rows)
    # the seed spread the report reads from the task files: layer 1's beta_1 is 0 or 1
    run.spread["betti_1"] = SeedSpread(np.array([1.0, 0.0, 0.0]), np.array([1.0, 1.0, 0.0]),
                                       np.full(3, 2.0))
    assert _verdicts(run) == [None, "undecided", "undecided"]
    run.spread.clear()
    assert _verdicts(run) == [None, None, None]  # no spread to say why: no label either


def test_warp_caption_names_the_calls_the_run_made():
    # a run with family-wise p columns is captioned family-wise; one written before them says
    # its calls are per reading, uncorrected over the layer pairs
    from pathlib import Path

    from manifold_probe.report.data import RunData
    from manifold_probe.report.figures import warp

    base = ["layer", "layer_name", "geodesic_distortion_prev", "knn_overlap_prev",
            "knn_overlap_null_prev", "knn_overlap_vs_null_prev"]
    rows = [{"layer": i, "layer_name": f"L{i}", "geodesic_distortion_prev": 0.1 * i,
             "knn_overlap_prev": 0.5, "knn_overlap_null_prev": 0.4,
             "knn_overlap_vs_null_prev": "above", "knn_overlap_p_fwer_prev": 0.05}
            for i in range(3)]

    def caption(columns):
        fig = warp(RunData(Path("."), columns, rows))
        return " ".join(v for v in vars(fig).values() if isinstance(v, str))

    assert "Westfall" in caption(base + ["knn_overlap_p_fwer_prev"])
    old = caption(base)
    assert "not corrected over the layer pairs" in old and "Westfall" not in old
