"""The cross-network rules decide from the run's uncertainty, and 'both' needs both networks."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.paper.cross_network import (  # noqa: E402
    _structure,
    combine,
    id_rise_fall,
    relative_depth,
    topology_kept,
    trajectories_straighten,
)


def _rows(**cols):
    n = len(next(iter(cols.values())))
    return [{"layer": str(i), **{k: str(v[i]) for k, v in cols.items()}} for i in range(n)]


def test_rise_fall_needs_the_peak_interval_above_both_ends():
    ids = [5, 9, 6]
    clear = _rows(id_twonn=ids, id_twonn_lo=[4.5, 8.5, 5.5], id_twonn_hi=[5.5, 9.5, 6.5])
    assert id_rise_fall(clear)[0] == "yes"
    overlapping = _rows(id_twonn=ids, id_twonn_lo=[4, 6, 5], id_twonn_hi=[6.5, 12, 7])
    assert id_rise_fall(overlapping)[0] == "undecided"
    monotone = _rows(id_twonn=[5, 6, 9], id_twonn_lo=[4, 5, 8], id_twonn_hi=[6, 7, 10])
    assert id_rise_fall(monotone)[0] == "no"


def test_structure_cut_is_bonferroni_over_layers_and_a_floored_test_is_undecided():
    rows = _rows(structure_days_p=[0.5, 0.2, 0.01])  # cut 0.05 / 3
    assert _structure(rows, "days", 0.05)[0] == "yes"
    rows = _rows(structure_days_p=[0.5, 0.2, 0.02])
    assert _structure(rows, "days", 0.05)[0] == "no"
    floored = _rows(structure_days_p=[0.003] * 21, structure_days_p_min=[0.003] * 21)
    assert _structure(floored, "days", 0.05)[0] == "undecided"  # cut 0.0024 unreachable
    assert _structure(_rows(id_twonn=[1, 2]), "days", 0.05)[0] == "n/a"
    best = _rows(structure_t_p=[0.5, 0.001, 0.4])
    assert _structure(best, "t", 0.05, "best")[0] == "yes"


def test_straightening_and_topology_and_combine():
    assert trajectories_straighten(_rows(trajectory_curvature=[120, 100, 110]))[0] == "yes"
    assert trajectories_straighten(_rows(trajectory_curvature=[120, 119, 110]))[0] == "no"
    assert topology_kept(_rows(topology_preserved_prev=["", "True", "True"]))[0] == "yes"
    assert topology_kept(_rows(topology_preserved_prev=["", "True", ""]))[0] == "undecided"
    assert topology_kept(_rows(topology_preserved_prev=["", "False", "True"]))[0] == "no"
    assert combine("yes", "yes") == "both"
    assert combine("yes", "undecided") == "one"
    assert combine("undecided", "no") == "undecided"
    assert combine("no", "n/a") == "not testable"
    assert combine("no", "no") == "neither"
    assert list(relative_depth(_rows(id_twonn=[1, 1, 1, 1, 1]))) == [0, 0.25, 0.5, 0.75, 1]


def test_straightening_margin_is_the_shuffled_range():
    rows = _rows(trajectory_curvature=[120, 115, 118],
                 trajectory_curvature_null_lo=[119, 112, 119], trajectory_curvature_null_hi=[121, 121, 121])
    assert trajectories_straighten(rows)[0] == "no"  # 5 degrees, within a 9-degree shuffled range
    rows = _rows(trajectory_curvature=[120, 115, 118],
                 trajectory_curvature_null_lo=[119, 119, 119], trajectory_curvature_null_hi=[121, 121, 121])
    assert trajectories_straighten(rows)[0] == "yes"


def test_readme_block_is_replaced_between_its_markers(tmp_path):
    from experiments.paper.cross_network import README_BEGIN, README_END, _update_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_BEGIN}\nold table\n{README_END}\nrest\n")
    assert _update_readme(readme, "<!-- note -->\n| new | table |\n")
    assert readme.read_text() == f"intro\n{README_BEGIN}\n| new | table |\n{README_END}\nrest\n"
    plain = tmp_path / "OTHER.md"
    plain.write_text("no markers\n")
    assert not _update_readme(plain, "x") and plain.read_text() == "no markers\n"
