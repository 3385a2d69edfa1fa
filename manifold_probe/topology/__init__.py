"""Topology of point clouds: Rips persistence, significant Betti numbers, diagram distances.

gudhi is imported only when a diagram is computed, so importing this package stays light.
"""

from manifold_probe.topology._compare import TopologyComparison, topology_preserved
from manifold_probe.topology._components import h0_pvalues
from manifold_probe.topology._distances import diagram_distance
from manifold_probe.topology._persistence import persistence
from manifold_probe.topology._significance import betti_numbers, gumbel_pvalues, shared_seed

__all__ = [
    "TopologyComparison",
    "betti_numbers",
    "diagram_distance",
    "gumbel_pvalues",
    "h0_pvalues",
    "persistence",
    "shared_seed",
    "topology_preserved",
]
