"""Validation: geodesic-distance error against N, ours beside plain Isomap graph distances.

Spheres S^n (exact distance r * arccos(<x, y>/r^2)), rotated into R^D. "Isomap graph": shortest
paths on the symmetric Euclidean k-nearest-neighbour graph with the same k (Tenenbaum et al.
2000), computed here with scikit-learn's ``kneighbors_graph`` and SciPy's Dijkstra on the same
points and sources. Error: median over source/target pairs of |d_hat - d| / d.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from experiments.paper.common import fmt, fmt_pct, pyplot, require, save_figure, write_table
from experiments.paper.shapes import _embed, sample_sphere

NAME = "geodesic_vs_n"
FIGURES = ("geodesic_vs_n.pdf",)
TABLES = ("geodesic_vs_n.tex",)
MACROS = {
    "GeoK": "k of both neighbour graphs",
    "GeoLargestN": "largest N",
    "GeoOursSTwo": "our median relative error on S^2 at the largest N",
    "GeoIsomapSTwo": "Isomap median relative error on S^2 at the largest N",
    "GeoOursSThree": "our median relative error on S^3 at the largest N",
    "GeoIsomapSThree": "Isomap median relative error on S^3 at the largest N",
    "GeoVerdict": "sentence: whether ours beats Isomap at the largest N on every sphere",
}


def _isomap_graph(X: np.ndarray, k: int, sources: np.ndarray) -> np.ndarray:
    from scipy.sparse.csgraph import dijkstra
    from sklearn.neighbors import kneighbors_graph

    G = kneighbors_graph(X, n_neighbors=k, mode="distance")
    G = G.maximum(G.T)
    return dijkstra(G, directed=False, indices=sources)


def _median_rel_error(D: np.ndarray, truth: np.ndarray) -> float:
    mask = truth > 1e-9
    return float(np.median(np.abs(D[mask] - truth[mask]) / truth[mask]))


def compute(params: dict[str, Any]) -> dict[str, Any]:
    geodesic = require("manifold_probe.geodesic", "geodesic_distances")
    k = int(params["k"])
    r = float(params["radius"])
    curves: dict[str, Any] = {}
    for manifold in params["manifolds"]:
        dim = int(manifold[1:])
        rows = []
        for n in params["n"]:
            rec: dict[str, list[float]] = {"ours": [], "isomap": [], "t_ours": [], "t_isomap": []}
            for seed in range(params["seeds"]):
                rng = np.random.default_rng(seed)
                Y = sample_sphere(int(n), dim, rng, radius=r)
                X = _embed(Y, params["ambient_dim"], 0.0, rng)
                sources = np.arange(int(params["n_sources"]))
                cos = np.clip(Y[sources] @ Y.T / r**2, -1.0, 1.0)
                truth = r * np.arccos(cos)
                t0 = time.perf_counter()
                D_ours = np.asarray(geodesic.geodesic_distances(X, k=k, sources=sources))
                t1 = time.perf_counter()
                D_iso = _isomap_graph(X, k, sources)
                t2 = time.perf_counter()
                rec["ours"].append(_median_rel_error(D_ours, truth))
                rec["isomap"].append(_median_rel_error(D_iso, truth))
                rec["t_ours"].append(t1 - t0)
                rec["t_isomap"].append(t2 - t1)
            rows.append({"n": int(n), **{key: float(np.median(v)) for key, v in rec.items()}})
        curves[manifold] = rows
    return {"curves": curves}


def render(result: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 2.8))
    for i, (manifold, rows) in enumerate(result["curves"].items()):
        color = f"C{i}"
        label = f"$S^{manifold[1:]}$"
        ns = [r["n"] for r in rows]
        ax.loglog(ns, [r["ours"] for r in rows], marker="o", color=color, label=f"{label} ours")
        ax.loglog(
            ns, [r["isomap"] for r in rows], marker="s", ls="--", color=color, label=f"{label} Isomap graph"
        )
    ax.set_xlabel("number of points $N$")
    ax.set_ylabel("median relative error")
    ax.legend(fontsize=7, frameon=False)
    save_figure(fig, FIGURES[0])

    body = []
    for manifold, rows in result["curves"].items():
        for r in rows:
            body.append(
                [
                    f"$S^{manifold[1:]}$",
                    fmt(r["n"]),
                    fmt_pct(r["ours"], 2),
                    fmt_pct(r["isomap"], 2),
                    fmt(r["t_ours"], 2),
                    fmt(r["t_isomap"], 2),
                ]
            )
    write_table(
        TABLES[0],
        ["manifold", "$N$", "ours", "Isomap graph", "ours (s)", "Isomap (s)"],
        body,
        align="lrrrrr",
    )
    last = {m: rows[-1] for m, rows in result["curves"].items()}
    better = [m for m, r in last.items() if r["ours"] < r["isomap"]]
    if len(better) == len(last):
        verdict = "is more accurate than the plain Isomap graph on every sphere tested"
    elif better:
        verdict = "is more accurate than the plain Isomap graph on some spheres but not all"
    else:
        verdict = "is not more accurate than the plain Isomap graph"
    get = lambda m, key: fmt_pct(last[m][key], 2) if m in last else "--"  # noqa: E731
    return {
        "GeoK": fmt(int(params["k"])),
        "GeoLargestN": fmt(max(r["n"] for rows in result["curves"].values() for r in rows)),
        "GeoOursSTwo": get("S2", "ours"),
        "GeoIsomapSTwo": get("S2", "isomap"),
        "GeoOursSThree": get("S3", "ours"),
        "GeoIsomapSThree": get("S3", "isomap"),
        "GeoVerdict": verdict,
    }
