"""Topology of point clouds: Rips persistence, significant Betti numbers, diagram distances.

Homology is taken with coefficients in the field Z/2 throughout (Betti numbers are ranks over
Z/2: RP^2 reads (1, 1, 1), the Klein bottle (1, 2, 1)).

gudhi is imported only when a diagram is computed, so importing this package stays light.
"""

from manifold_probe.topology._compare import TopologyComparison, topology_preserved
from manifold_probe.topology._components import h0_pvalues
from manifold_probe.topology._distances import diagram_distance
from manifold_probe.topology._persistence import (  # PERSISTENCE_PARAMS: package-public only
    PERSISTENCE_PARAMS as PERSISTENCE_PARAMS,
)
from manifold_probe.topology._persistence import persistence
from manifold_probe.topology._significance import (  # BETTI_PARAMS: package-public only
    BETTI_PARAMS as BETTI_PARAMS,
)
from manifold_probe.topology._significance import (
    BettiNumbers,
    ResolutionWarning,
    betti_numbers,
    gumbel_pvalues,
    noise_pvalues,
    shared_seed,
)

__all__ = [
    "BettiNumbers",
    "ResolutionWarning",
    "TopologyComparison",
    "betti_numbers",
    "diagram_distance",
    "gumbel_pvalues",
    "h0_pvalues",
    "noise_pvalues",
    "persistence",
    "shared_seed",
    "topology_preserved",
]
