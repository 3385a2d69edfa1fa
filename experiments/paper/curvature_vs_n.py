"""Validation: scalar-curvature error against the number of points N.

Spheres S^n of radius r (closed form S = n(n-1)/r^2), rotated into R^D, and the pseudosphere
(constant Gaussian curvature -1/r^2, so S = -2/r^2) from ``mp.datasets`` when it is available.
Error = |median_i S_hat(x_i) - S| / |S|, median over seeds. Where
``benchmarks/results/bench_curvature_geodesic*.json`` exists, the figure reports its numbers
instead of recomputing (``source`` in the cached result says which).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from experiments.paper.common import (
    Skip,
    fmt,
    fmt_pct,
    pyplot,
    require,
    save_figure,
    tex_escape,
    write_table,
)
from experiments.paper.shapes import _embed, sample_sphere

NAME = "curvature_vs_n"
FIGURES = ("curvature_vs_n.pdf",)
TABLES = ("curvature_vs_n.tex",)
MACROS = {
    "CurvLargestN": "largest N in the sweep",
    "CurvErrSTwoLargestN": "relative error on S^2 at the largest N",
    "CurvErrSThreeLargestN": "relative error on S^3 at the largest N",
    "CurvErrPseudoLargestN": "relative error on the pseudosphere at the largest N",
    "CurvPseudoSign": "whether the pseudosphere's sign is right",
    "CurvAmbient": "ambient dimension",
    "CurvRadius": "sphere radius",
}


def _truth_sphere(dim: int, radius: float) -> float:
    return dim * (dim - 1) / radius**2


def _sample(manifold: str, n: int, params: dict[str, Any], seed: int):
    """Points and their true scalar curvature (a number)."""
    rng = np.random.default_rng(seed)
    if manifold.startswith("S"):
        dim = int(manifold[1:])
        r = float(params["radius"])
        X = _embed(sample_sphere(n, dim, rng, radius=r), params["ambient_dim"], 0.0, rng)
        return X, _truth_sphere(dim, r), dim
    if manifold == "pseudosphere":
        datasets = require("manifold_probe.datasets", "pseudosphere")
        sample = datasets.pseudosphere(n, seed=seed)
        truth = sample.scalar_curvature
        truth = float(np.median(truth)) if np.ndim(truth) else float(truth)
        return sample.points, truth, int(sample.intrinsic_dim)
    raise ValueError(f"unknown manifold {manifold!r}")


def compute(params: dict[str, Any]) -> dict[str, Any]:
    curvature = require("manifold_probe.curvature", "scalar_curvature")
    curves: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for manifold in params["manifolds"]:
        rows = []
        try:
            for n in params["n"]:
                errs, secs, medians = [], [], []
                for seed in range(params["seeds"]):
                    X, truth, dim = _sample(manifold, int(n), params, seed)
                    t0 = time.perf_counter()
                    S = np.asarray(curvature.scalar_curvature(X, dim=dim))
                    secs.append(time.perf_counter() - t0)
                    med = float(np.median(S))
                    medians.append(med)
                    errs.append(abs(med - truth) / abs(truth))
                rows.append(
                    {
                        "n": int(n),
                        "truth": truth,
                        "median_estimate": float(np.median(medians)),
                        "rel_error": float(np.median(errs)),
                        "seconds": float(np.median(secs)),
                    }
                )
        except Skip as exc:  # one manifold missing must not lose the others
            skipped[manifold] = str(exc)
            continue
        curves[manifold] = rows
    if not curves:
        raise Skip("no manifold could be evaluated: " + "; ".join(skipped.values()))
    return {"source": "computed", "curves": curves, "skipped": skipped}


_LABEL = {"S2": "$S^2$", "S3": "$S^3$", "S4": "$S^4$", "S5": "$S^5$", "pseudosphere": "pseudosphere"}


def render(result: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 2.8))
    for manifold, rows in result["curves"].items():
        ax.loglog(
            [r["n"] for r in rows],
            [max(r["rel_error"], 1e-4) for r in rows],
            marker="o",
            label=_LABEL.get(manifold, manifold),
        )
    ax.set_xlabel("number of points $N$")
    ax.set_ylabel("relative error of median $\\hat S$")
    ax.legend(fontsize=7, frameon=False)
    save_figure(fig, FIGURES[0])

    ns = sorted({r["n"] for rows in result["curves"].values() for r in rows})
    header = ["manifold", "true $S$"] + [f"$N={n}$" for n in ns]
    body = []
    for manifold, rows in result["curves"].items():
        by_n = {r["n"]: r for r in rows}
        body.append(
            [_LABEL.get(manifold, tex_escape(manifold)), fmt(rows[0]["truth"], 2)]
            + [
                (fmt(by_n[n]["median_estimate"], 2) + " (" + fmt_pct(by_n[n]["rel_error"], 1) + ")")
                if n in by_n
                else "--"
                for n in ns
            ]
        )
    note = "Median estimate over points (relative error in brackets)."
    if result.get("skipped"):
        note += " Not evaluated: " + "; ".join(
            f"{tex_escape(k)} ({tex_escape(v)})" for k, v in result["skipped"].items()
        )
    write_table(TABLES[0], header, body, align="lr" + "r" * len(ns), note=note)

    def last(manifold: str) -> dict[str, Any] | None:
        rows = result["curves"].get(manifold)
        return rows[-1] if rows else None

    pseudo = last("pseudosphere")
    return {
        "CurvLargestN": fmt(int(ns[-1])),
        "CurvErrSTwoLargestN": fmt_pct(last("S2")["rel_error"], 2) if last("S2") else "--",
        "CurvErrSThreeLargestN": fmt_pct(last("S3")["rel_error"], 2) if last("S3") else "--",
        "CurvErrPseudoLargestN": fmt_pct(pseudo["rel_error"], 2) if pseudo else "not measured",
        "CurvPseudoSign": (
            "not measured"
            if pseudo is None
            else "correct"
            if np.sign(pseudo["median_estimate"]) == np.sign(pseudo["truth"])
            else "wrong"
        ),
        "CurvAmbient": fmt(int(params["ambient_dim"])),
        "CurvRadius": fmt(float(params["radius"]), 1),
    }
