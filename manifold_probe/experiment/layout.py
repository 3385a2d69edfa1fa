"""The run directory of an experiment, and reading layers and graphs back from it.

::

    DIR/config.json                       the validated config of the last run
    DIR/activations/<capture-hash>/       L00.npy ... one array per layer, meta.json last
    DIR/perturbed/<capture-hash>/<label>/ the same, for each perturbed model
    DIR/graphs/<capture-hash>-k<K>/       L00.npz ... the one kNN graph per layer
    DIR/tasks/<task-id>.json              one finished (layer x measure x seed) task each
    DIR/profile.csv, profile.json, perturbations.csv, figures/, report.html
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._io import read_json
from manifold_probe.neighbors import Neighbors

__all__ = [
    "DiskSource",
    "activations_complete",
    "changed_layers",
    "layer_file",
    "load_graph",
    "load_layer",
    "task_done",
    "task_path",
]


def layer_file(folder: str | Path, i: int, ext: str = "npy") -> Path:
    """``folder/Lii.ext``: layer ``i``'s file in an activation or graph folder."""
    return Path(folder) / f"L{i:02d}.{ext}"


def load_layer(folder: str | Path, i: int) -> np.ndarray:
    """Layer ``i`` of a saved activation folder as float64."""
    return np.load(layer_file(folder, i), mmap_mode="r").astype(np.float64)


def load_graph(folder: str | Path, i: int) -> Neighbors:
    """Layer ``i``'s saved kNN graph."""
    with np.load(layer_file(folder, i, "npz")) as data:
        return Neighbors(data["distances"].copy(), data["indices"].copy())


def activations_complete(folder: str | Path) -> bool:
    """Whether an activation folder is complete (its ``meta.json``, written last, exists)."""
    meta = read_json(Path(folder) / "meta.json")
    return isinstance(meta, dict) and "layers" in meta


def changed_layers(acts: str | Path, folder: str | Path, n_layers: int) -> list[int]:
    """Layers whose perturbed activations (in ``folder``) differ from the clean ones."""
    out = []
    for i in range(n_layers):
        a = np.load(layer_file(acts, i), mmap_mode="r")
        b = np.load(layer_file(folder, i), mmap_mode="r")
        if a.shape != b.shape or not np.array_equal(a, b):
            out.append(i)
    return out


def task_path(spec: Mapping[str, Any]) -> Path:
    """Where a measure task's result is written."""
    return Path(spec["dir"]) / "tasks" / f"{spec['id']}.json"


def task_done(spec: Mapping[str, Any]) -> bool:
    """Whether the task's result file exists and is complete."""
    if spec["kind"] == "knn":
        return layer_file(spec["graphs"], spec["layer"], "npz").exists()
    data = read_json(task_path(spec))
    return isinstance(data, dict) and data.get("id") == spec["id"] and "values" in data


class DiskSource:
    """A :class:`~manifold_probe.analysis.tasks.LayerSource` over a run directory's files."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec

    def cloud(self, i: int) -> np.ndarray:
        return load_layer(self.spec["activations"], i)

    def graph(self, i: int) -> Neighbors:
        return load_graph(self.spec["graphs"], i)

    def sentence_ids(self) -> np.ndarray | None:
        if not self.spec.get("has_sentence_ids"):
            return None
        return np.load(Path(self.spec["activations"]) / "sentence_ids.npy")

    def perturbed_cloud(self, i: int) -> np.ndarray:
        return load_layer(self.spec["perturbed"], i)

    def labels(self) -> dict[str, np.ndarray] | None:
        """The inputs' labels saved beside the clean capture (``labels.npz``), if any."""
        path = Path(self.spec["activations"]) / "labels.npz"
        if not path.exists():
            return None
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
