"""What the report reads from a run directory: the tables, the seed spread and the layers' scale.

Everything is read back from files a run leaves behind (``profile.json``,
``perturbations.csv``, ``config.json``, ``tasks/*.json``, ``activations/<hash>/`` and
``graphs/<hash>-graph_k<K>/``); any of them but ``profile.json`` may be missing, and the
report then draws what it can and says what it left out.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manifold_probe._validation import InputError
from manifold_probe.analysis.table import SEED_LABELS, combine

__all__ = ["RunData", "SeedSpread", "load_run"]

# <kind>-L<layer>[-L<other>]-s<seed>[-<label>]-<settings hash>, as the runner names task files
_TASK_ID = re.compile(r"^(?P<kind>[a-z_]+)-L(?P<layer>\d+)(?:-L\d+)?-s(?P<seed>\d+)"
                      r"(?:-(?P<label>.+))?-(?P<key>[0-9a-f]+)$")
_WARP_CALL = re.compile(r"\w+_vs_null_(?:prev|input)")  # made family-wise by the table
_BOOTSTRAP = 400  # resamples for the MLE band; its 2.5/97.5% quantiles move < 2% beyond this


@dataclass
class SeedSpread:
    """Per layer (or perturbation row): min and max of a column over seeds, and how many seeds."""

    lo: np.ndarray
    hi: np.ndarray
    n: np.ndarray


@dataclass
class RunData:
    """The tables of a run plus the uncertainty and scale the report derives from its files."""

    out: Path
    columns: list[str]
    rows: list[dict]
    config: dict = field(default_factory=dict)
    perturbations: list[dict] | None = None
    spread: dict[str, SeedSpread] = field(default_factory=dict)
    pert_spread: dict[str, SeedSpread] = field(default_factory=dict)
    n_seeds: int = 1
    radius: np.ndarray | None = None  # RMS distance of the points from their mean, per layer
    gride_error: dict[int, np.ndarray] = field(default_factory=dict)  # n1 -> 1.96 se per layer
    gride_selected: np.ndarray | None = None  # n1 GRIDE's scale analysis picks, per layer
    mle_band: tuple[np.ndarray, np.ndarray] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [str(r.get("layer_name", r.get("layer"))) for r in self.rows]

    def has(self, key: str) -> bool:
        return key in self.columns and np.isfinite(self.col(key)).any()

    def col(self, key: str) -> np.ndarray:
        return _floats([r.get(key) for r in self.rows])

    def gride_scales(self) -> list[int]:
        return sorted(int(c.rsplit("_", 1)[1]) for c in self.columns
                      if re.fullmatch(r"id_gride_\d+", c))


def _floats(values: list[Any]) -> np.ndarray:
    out = []
    for v in values:
        if isinstance(v, str):
            v = {"true": 1.0, "false": 0.0}.get(v.lower(), v)
        try:
            out.append(float(v) if v is not None and v != "" else np.nan)
        except ValueError:
            out.append(np.nan)
    return np.asarray(out, dtype=np.float64)


def load_run(out: str | Path) -> RunData:
    """Read a run directory (``profile.json`` required) and derive the report's extras."""
    out = Path(out)
    path = out / "profile.json"
    if not path.exists():
        raise InputError(f"{out} has no profile.json; run `manifold-probe run` into it first")
    data = json.loads(path.read_text(encoding="utf-8"))
    run = RunData(out, list(data["columns"]), list(data["rows"]))
    if (out / "config.json").exists():
        run.config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    if (out / "perturbations.csv").exists():
        with (out / "perturbations.csv").open(encoding="utf-8") as fh:
            run.perturbations = list(csv.DictReader(fh))
    _seed_spread(run)
    acts = _activation_folder(run)
    if "radius_rms" in run.columns:
        run.radius = run.col("radius_rms")
    elif acts is not None:
        run.radius = np.array([_rms_radius(acts / f"L{i:02d}.npy") for i in range(len(run.rows))])
    else:
        run.notes.append("no saved activations: curvature is shown in raw units only")
    _graph_uncertainty(run, acts)
    return run


# --------------------------------------------------------------------------- seeds
def _matches(values: list[Any], shown: Any) -> bool:
    """Whether ``values`` (one per seed) combine to the value the table shows."""
    c = combine(list(values))
    if isinstance(shown, str):
        shown = {"true": True, "false": False}.get(shown.lower(), shown)
        try:
            shown = float(shown) if not isinstance(shown, bool) else shown
        except ValueError:
            return str(c) == shown
    if c is None or shown is None or shown == "":
        return c is None or (isinstance(c, float) and not np.isfinite(c))
    if isinstance(c, bool) or isinstance(shown, bool):
        return bool(c) == bool(shown)
    try:
        return bool(np.isclose(float(c), float(shown), rtol=1e-6, atol=1e-9))
    except (TypeError, ValueError):
        return False


def _seed_spread(run: RunData) -> None:
    """Min/max over seeds of every column the task files of this profile give per seed.

    Old task files of other settings may share the folder; a group of files (same kind, layer
    and settings hash) is used only when its values combine to exactly what the table shows
    (but for the warp calls, ``<name>_vs_null_<suffix>``, which the table makes family-wise
    over the layer pairs, :func:`~manifold_probe.analysis.warp_null.warp_family_calls`, and
    the labels of :data:`~manifold_probe.analysis.table.SEED_LABELS`, undefined where the
    seeds disagree).
    """
    folder = run.out / "tasks"
    groups: dict[tuple, dict[int, dict]] = {}
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            task = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        m = _TASK_ID.match(str(task.get("id", "")))
        if not m or not isinstance(task.get("values"), dict):
            continue
        key = (m["kind"], int(m["layer"]), m["label"], m["key"])
        groups.setdefault(key, {})[int(m["seed"])] = task["values"]
    per_row: dict[tuple[str, Any], dict[str, list]] = {}  # ("profile"|label, layer) -> col -> values
    for (kind, layer, label, _), seeds in groups.items():
        if len(seeds) < 2:
            continue
        if kind == "perturb":
            shown = next((r for r in run.perturbations or []
                          if r["perturbation"] == label and int(r["layer"]) == layer), None)
            target = (label, layer)
        else:
            shown = run.rows[layer] if layer < len(run.rows) else None
            target = ("profile", layer)
        if shown is None:
            continue
        cols = {c for v in seeds.values() for c in v if not isinstance(v[c], (list, dict))}
        values = {c: [v.get(c) for v in seeds.values()] for c in cols}
        # (the table's warp calls are family-wise over the pairs, not the task's own call, and
        # its labels are undefined where the seeds disagree, not their and-ed value)
        if all(_matches(vals, shown.get(c)) for c, vals in values.items()
               if c in shown and not _WARP_CALL.fullmatch(c) and c not in SEED_LABELS):
            per_row.setdefault(target, {}).update(values)
            run.n_seeds = max(run.n_seeds, len(seeds))
    n = len(run.rows)
    for (where, layer), cols in per_row.items():
        for c, vals in cols.items():
            x = _floats(vals)
            x = x[np.isfinite(x)]
            if len(x) < 2:
                continue
            if where == "profile":
                keys = [c] + ([c[:-5] + "_input"] if layer == 1 and c.endswith("_prev") else [])
                for k in keys:
                    s = run.spread.setdefault(k, SeedSpread(*(np.full(n, np.nan) for _ in range(3))))
                    s.lo[layer], s.hi[layer], s.n[layer] = x.min(), x.max(), len(x)
            else:
                rows = run.perturbations or []
                i = next(j for j, r in enumerate(rows)
                         if r["perturbation"] == where and int(r["layer"]) == layer)
                s = run.pert_spread.setdefault(
                    c, SeedSpread(*(np.full(len(rows), np.nan) for _ in range(3))))
                s.lo[i], s.hi[i], s.n[i] = x.min(), x.max(), len(x)


# --------------------------------------------------------------------------- saved arrays
def _activation_folder(run: RunData) -> Path | None:
    """The saved activations whose layer names and size match the profile (newest first)."""
    names = run.names
    n_points = run.rows[0].get("n_points") if run.rows else None
    found = []
    for meta in (run.out / "activations").glob("*/meta.json"):
        try:
            m = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if list(map(str, m.get("layers", []))) == names and m.get("n_points") == n_points:
            found.append((meta.stat().st_mtime_ns, meta.parent))
    return max(found)[1] if found else None


def _rms_radius(path: Path, chunk: int = 4096) -> float:
    r"""RMS distance of the rows from their mean, :math:`\sqrt{\frac1N\sum_i\|x_i-\bar x\|^2}`.

    For points spread evenly on a round sphere of radius R this is R, so curvature times its
    square is :math:`n(n-1)` there whatever the units of the layer.
    """
    X = np.load(path, mmap_mode="r")
    mean = np.zeros(X.shape[1])
    for s in range(0, len(X), chunk):
        mean += np.asarray(X[s:s + chunk], dtype=np.float64).sum(axis=0)
    mean /= len(X)
    total = 0.0
    for s in range(0, len(X), chunk):
        total += float(((np.asarray(X[s:s + chunk], dtype=np.float64) - mean) ** 2).sum())
    return float(np.sqrt(total / len(X)))


def _quiet(fn, **kwargs):
    """An estimator without its NearDuplicateWarning: near-coincident points are merged here as
    in the profile, whose ``id_near_duplicates`` and ``dimension_note`` already say so."""
    import warnings

    from manifold_probe.dimension import NearDuplicateWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NearDuplicateWarning)
        return fn(**kwargs)


def _graph_uncertainty(run: RunData, acts: Path | None) -> None:
    """GRIDE's per-scale 95% error and chosen scale, and a bootstrap band for the MLE.

    Recomputed from the saved kNN graph of each layer (the same graph the profile used), since
    the profile keeps only the estimates.
    """
    from manifold_probe.analysis.settings import EstimatorSettings
    from manifold_probe.dimension import gride, mle
    from manifold_probe.experiment.layout import graph_folders, load_graph

    if acts is None:
        run.notes.append("no saved kNN graphs: GRIDE and MLE are drawn without intervals")
        return
    # the newest graph folder of these activations (an earlier run may have used another k)
    graphs = sorted(graph_folders(run.out, acts.name), key=lambda p: p.stat().st_mtime_ns)
    if not graphs:
        run.notes.append("no saved kNN graphs: GRIDE and MLE are drawn without intervals")
        return
    try:
        est = EstimatorSettings.from_mapping(run.config.get("estimators", {}))
    except InputError:
        est = EstimatorSettings()
    scales = run.gride_scales()
    n = len(run.rows)
    run.gride_error = {s: np.full(n, np.nan) for s in scales}
    run.gride_selected = np.full(n, np.nan)
    lo, hi = np.full(n, np.nan), np.full(n, np.nan)
    rng = np.random.default_rng(0)
    for i in range(n):
        try:
            nb = load_graph(graphs[-1], i)
        except (OSError, KeyError):
            continue
        if scales and nb.k >= 2 * max(scales):
            try:
                r = _quiet(gride, neighbors=nb.truncate(2 * max(scales)),
                           range_max=2 * max(scales))
                err = dict(zip(np.asarray(r.scale).astype(int).tolist(),
                               np.asarray(r.details["error"], dtype=np.float64), strict=True))
                for s in scales:
                    run.gride_error[s][i] = 1.96 * err.get(s, np.nan)
                run.gride_selected[i] = float(r.details["selected_n1"])
            except (InputError, KeyError):
                pass
        if run.has("id_mle") and nb.k >= est.mle.k:
            try:
                local = np.asarray(_quiet(mle, neighbors=nb.truncate(est.mle.k),
                                          k=est.mle.k).pointwise)
            except InputError:
                continue
            inv = 1.0 / local[np.isfinite(local) & (local > 0)]
            if len(inv) < 10:
                continue
            # MacKay-Ghahramani average: 1 / mean(1 / local estimate), over resampled points
            boots = np.concatenate([  # in blocks of 50 resamples: memory 50 x n_points
                1.0 / inv[rng.integers(0, len(inv), (50, len(inv)))].mean(axis=1)
                for _ in range(_BOOTSTRAP // 50)])
            lo[i], hi[i] = np.quantile(boots, [0.025, 0.975])
    if np.isfinite(lo).any():
        run.mle_band = (lo, hi)
