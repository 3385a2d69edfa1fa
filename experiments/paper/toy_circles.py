"""Results: circles in the modular-addition transformer, layer by layer.

The shipped toy model (``mp.capture.load_model("toy-modadd")``) on all p^2 pairs (a, b). For each
captured layer and each *reading* -- the residual at the ``a`` position grouped by ``a``, and at
the ``=`` position grouped by ``a`` and by ``c = a + b mod p`` -- we average the activations over
the inputs in each class (p class means), find the key Fourier frequencies of the class means
(the frequencies f whose cos/sin components carry most of their norm; Nanda et al. 2023), project
the class means on each key frequency's plane, and count the significant Betti numbers there with
``mp.betti_numbers``. A circle is "present" at a layer and reading when beta = (1, 1) on the
plane of the strongest key frequency.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from experiments.paper.common import (
    Skip,
    fmt,
    fmt_pct,
    limit_threads,
    pyplot,
    require,
    save_figure,
    tex_escape,
    write_table,
)

NAME = "toy_circles"
FIGURES = ("toy_circles.pdf",)
TABLES = ("toy_circles.tex",)
MACROS = {
    "ToyPrime": "the modulus p",
    "ToyAccuracy": "test accuracy of the shipped model",
    "ToyFrequencies": "number of key frequencies examined",
    "ToyCirclesVerdict": "sentence: at which layers/readings circles were found",
}

# reading name -> (pooling passed to capture, label of each pair)
READINGS = {
    "a-token, by a": (0, "a"),
    "=-token, by a": ("last", "a"),
    "=-token, by a+b": ("last", "c"),
}


def _class_means(X: np.ndarray, labels: np.ndarray, p: int) -> np.ndarray:
    M = np.zeros((p, X.shape[1]))
    np.add.at(M, labels, X)
    return M / np.bincount(labels, minlength=p)[:, None]


def compute(params: dict[str, Any]) -> dict[str, Any]:
    capture = require("manifold_probe.capture", "load_model")
    topology = require("manifold_probe.topology", "betti_numbers")
    toy = require("manifold_probe.capture.toy", "fourier_key_frequencies", "fourier_plane_projection")
    limit_threads(1)
    try:
        handle = capture.load_model("toy-modadd")
    except Exception as exc:
        raise Skip(f"the toy model does not load yet ({type(exc).__name__}: {exc})") from exc
    p = int(handle.extra["p"])
    pairs = handle.default_inputs()
    labels = {"a": pairs[:, 0], "c": (pairs[:, 0] + pairs[:, 1]) % p}
    accuracy = None
    try:
        model, _ = toy.load_toy_modadd()
        tokens = np.concatenate([pairs, np.full((len(pairs), 1), p)], 1)
        accuracy = float(toy.toy_accuracy(model, tokens, labels["c"]))
    except Exception:  # accuracy is a nicety; the circles are the result
        pass
    rng = np.random.default_rng(params["seed"])
    if params.get("max_pairs"):
        keep = np.sort(rng.choice(len(pairs), size=min(int(params["max_pairs"]), len(pairs)), replace=False))
    else:
        keep = np.arange(len(pairs))
    cells = []
    captured: dict[Any, Any] = {}
    for reading, (pooling, label) in READINGS.items():
        if pooling not in captured:
            captured[pooling] = handle.capture(pairs[keep], pooling=pooling)
        acts = captured[pooling]
        for layer in acts.layers:
            X = np.asarray(acts[layer], dtype=np.float64)
            lab = labels[label][keep]
            if np.bincount(lab, minlength=p).min() == 0:
                raise Skip(f"max_pairs={params['max_pairs']} leaves a residue without inputs")
            M = _class_means(X, lab, p)
            spread = float(np.linalg.norm(M - M.mean(0)))
            cell: dict[str, Any] = {"reading": reading, "layer": layer, "spread": spread, "planes": []}
            if spread < 1e-9 * max(1.0, float(np.linalg.norm(X))):
                cell["constant"] = True  # e.g. the '=' token's embedding: the same for every input
                cells.append(cell)
                continue
            freqs = toy.fourier_key_frequencies(M, n=int(params["n_frequencies"]))
            total = float(np.sum((M - M.mean(0)) ** 2))
            for f in freqs:
                P = toy.fourier_plane_projection(M, int(f))
                betti = topology.betti_numbers(
                    P, maxdim=1, confidence=params["confidence"], seed=params["seed"]
                )
                cell["planes"].append(
                    {
                        "f": int(f),
                        "betti": [int(b) for b in betti],
                        "share": float(np.sum(P**2) / total),
                        "points": P.tolist(),
                    }
                )
            cells.append(cell)
    return {"p": p, "accuracy": accuracy, "n_pairs": int(len(keep)), "cells": cells}


def _is_circle(plane: dict[str, Any]) -> bool:
    return plane["betti"][:2] == [1, 1]


def render(result: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    cells = result["cells"]
    layers = list(dict.fromkeys(c["layer"] for c in cells))
    readings = list(dict.fromkeys(c["reading"] for c in cells))
    plt = pyplot()
    fig, axes = plt.subplots(
        len(readings), len(layers), figsize=(2.0 * len(layers), 2.0 * len(readings)), squeeze=False
    )
    for c in cells:
        ax = axes[readings.index(c["reading"]), layers.index(c["layer"])]
        ax.set_xticks([])
        ax.set_yticks([])
        if c["planes"]:
            plane = c["planes"][0]
            P = np.asarray(plane["points"])
            ax.scatter(P[:, 0], P[:, 1], c=np.arange(len(P)), cmap="twilight", s=8)
            ax.set_title(f"f={plane['f']}  $\\beta_1$={plane['betti'][1] if len(plane['betti']) > 1 else '?'}", fontsize=7)
        else:
            ax.text(0.5, 0.5, "constant", ha="center", va="center", fontsize=7, transform=ax.transAxes)
        if c["layer"] == layers[0]:
            ax.set_ylabel(c["reading"], fontsize=7)
        if c["reading"] == readings[-1]:
            ax.set_xlabel(c["layer"], fontsize=7)
    fig.tight_layout()
    save_figure(fig, FIGURES[0])

    body = []
    for c in cells:
        if not c["planes"]:
            body.append([tex_escape(c["layer"]), tex_escape(c["reading"]), "constant", "--", "--"])
            continue
        body.append(
            [
                tex_escape(c["layer"]),
                tex_escape(c["reading"]),
                ", ".join(str(pl["f"]) for pl in c["planes"]),
                ", ".join("(" + ",".join(map(str, pl["betti"])) + ")" for pl in c["planes"]),
                ", ".join(fmt_pct(pl["share"], 0) for pl in c["planes"]),
            ]
        )
    write_table(
        TABLES[0],
        ["layer", "reading", "key $f$", "$\\beta$ per plane", "variance share"],
        body,
        align="lllll",
        note="Variance share: fraction of the class means' total variance on each frequency's plane.",
    )

    with_circle = [c for c in cells if c["planes"] and _is_circle(c["planes"][0])]
    without = [c for c in cells if c["planes"] and not _is_circle(c["planes"][0])]

    def where(cs):
        return "; ".join(f"\\texttt{{{tex_escape(c['layer'])}}} ({tex_escape(c['reading'])})" for c in cs)

    if with_circle and without:
        verdict = (
            "The strongest key frequency's plane carries a significant circle, $\\beta=(1,1)$, at "
            f"{where(with_circle)}; it does not at {where(without)}."
        )
    elif with_circle:
        verdict = "The strongest key frequency's plane carries a significant circle, $\\beta=(1,1)$, at every layer and reading examined."
    else:
        verdict = "No layer or reading shows a significant circle on the strongest key frequency's plane."
    constant = [c for c in cells if not c["planes"]]
    if constant:
        verdict += (
            " Not examined: "
            + "; ".join(f"\\texttt{{{tex_escape(c['layer'])}}} ({tex_escape(c['reading'])})" for c in constant)
            + ", where the activation is the same for every input (the $=$ token before any attention)."
        )
    return {
        "ToyPrime": fmt(int(result["p"])),
        "ToyAccuracy": fmt_pct(result["accuracy"], 1) if result["accuracy"] is not None else "not measured",
        "ToyFrequencies": fmt(int(params["n_frequencies"])),
        "ToyCirclesVerdict": verdict,
    }
