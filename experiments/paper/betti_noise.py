"""Validation: are the significant Betti numbers exact, and up to which noise level?

Clouds with known homology (circle, two circles, figure eight, 2-sphere, torus), rotated into
R^D with isotropic Gaussian noise of standard deviation sigma (the shapes have unit radius);
for each sigma, the fraction of seeds for which ``mp.betti_numbers`` returns exactly the true
Betti numbers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from experiments.paper.common import (
    fmt,
    fmt_pct,
    pyplot,
    require,
    save_figure,
    tex_escape,
    write_table,
)
from experiments.paper.shapes import HOMOLOGY, shape

NAME = "betti_noise"
FIGURES = ("betti_noise.pdf",)
TABLES = ("betti_noise.tex",)
MACROS = {
    "BettiNoisePoints": "points per cloud",
    "BettiNoiseAmbient": "ambient dimension",
    "BettiNoiseSeeds": "seeds per noise level",
    "BettiNoiseConfidence": "confidence level of the significance test",
    "BettiNoiseExactUpTo": "sentence: up to which sigma every shape is exact, and which shapes fail",
    "BettiNoiseShapes": "number of shapes",
    "BettiNoiseMeanSeconds": "mean seconds per betti_numbers call",
}


def compute(params: dict[str, Any]) -> dict[str, Any]:
    mp = require("manifold_probe.topology", "betti_numbers")
    out: dict[str, Any] = {"shapes": {}}
    seconds = []
    for name in params["shapes"]:
        truth, _ = HOMOLOGY[name]
        maxdim = len(truth) - 1
        rows = []
        for sigma in params["noise"]:
            found = []
            for seed in range(params["seeds"]):
                X = shape(name, params["n"], params["ambient_dim"], sigma, seed=1000 * seed + 7)
                t0 = time.perf_counter()
                betti = mp.betti_numbers(
                    X, maxdim=maxdim, confidence=params["confidence"], seed=seed
                )
                seconds.append(time.perf_counter() - t0)
                found.append([int(b) for b in betti])
            exact = float(np.mean([tuple(b) == truth for b in found]))
            rows.append({"noise": sigma, "exact": exact, "found": found})
        out["shapes"][name] = {"truth": list(truth), "rows": rows}
    out["mean_seconds"] = float(np.mean(seconds))
    return out


def _exact_sentence(result: dict[str, Any], noise: list[float], exact_up_to: float | None) -> str:
    shapes = len(result["shapes"])
    if exact_up_to is not None:
        head = f"All {shapes} shapes are exact for every seed up to $\\sigma = {fmt(exact_up_to, 2)}$."
    else:
        head = f"No noise level tested, not even $\\sigma = {fmt(noise[0], 2)}$, makes all {shapes} shapes exact for every seed."
    never = [n for n, d in result["shapes"].items() if all(r["exact"] < 1.0 for r in d["rows"])]
    if never:
        head += " Never exact: " + ", ".join(tex_escape(n.replace("_", " ")) for n in never) + "."
    return head


def render(result: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 2.8))
    noise = list(params["noise"])
    styles = [("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."), ("v", "-")]
    for i, (name, data) in enumerate(result["shapes"].items()):
        marker, line = styles[i % len(styles)]
        ax.plot(
            [r["noise"] for r in data["rows"]],
            # a small vertical offset per shape so that coinciding curves stay visible
            [r["exact"] + 0.015 * (i - 1) for r in data["rows"]],
            marker=marker,
            ls=line,
            label=f"{name.replace('_', ' ')} {tuple(data['truth'])}",
        )
    ax.set_xlabel(r"noise $\sigma$ per coordinate (unit radius)")
    ax.set_ylabel("fraction of seeds exact\n(curves offset slightly)")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=7, frameon=False)
    save_figure(fig, FIGURES[0])

    header = ["shape", "true $\\beta$"] + [f"$\\sigma={fmt(s, 2)}$" for s in noise]
    rows = []
    for name, data in result["shapes"].items():
        rows.append(
            [tex_escape(name.replace("_", " ")), "(" + ", ".join(map(str, data["truth"])) + ")"]
            + [fmt_pct(r["exact"], 0) for r in data["rows"]]
        )
    write_table(TABLES[0], header, rows, align="ll" + "r" * len(noise))

    exact_up_to = None
    for i, sigma in enumerate(noise):
        if all(d["rows"][i]["exact"] == 1.0 for d in result["shapes"].values()):
            exact_up_to = sigma
        else:
            break
    return {
        "BettiNoisePoints": fmt(int(params["n"])),
        "BettiNoiseAmbient": fmt(int(params["ambient_dim"])),
        "BettiNoiseSeeds": fmt(int(params["seeds"])),
        "BettiNoiseConfidence": fmt_pct(params["confidence"], 0),
        "BettiNoiseExactUpTo": _exact_sentence(result, noise, exact_up_to),
        "BettiNoiseShapes": fmt(len(result["shapes"])),
        "BettiNoiseMeanSeconds": fmt(result["mean_seconds"], 2),
    }

