"""Results: controls — does the verdict read "kept" for homeomorphisms and not for breaks?

Runs the control configs (``experiments/configs/controls.toml`` on MiniLM,
``controls_toy.toml`` on the modular-addition model) through the experiment runner and tabulates
``perturbations.csv``: one row per control × later layer with the scale-aware verdict
(``kept`` / ``broken`` / ``undecided``), the checks that broke, and the share of (seed,
subsample size) configurations that kept. The control rule: every ``keep_*`` row kept, every
``break_*`` row at the perturbed layer not kept. Smaller scales run a slice of the toy config
(fewer inputs, fewer controls; ``[controls.<scale>]`` in ``paper.toml``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from experiments.paper.common import ROOT, Skip, limit_threads, require, tex_escape, write_table

NAME = "controls"
FIGURES = ()
TABLES = ("controls.tex",)
MACROS = {
    "ControlsVerdict": "sentence: whether the control rule holds on each model, and the exceptions",
    "ControlsUndetected": "sentence: the break controls no check of the verdict detects",
    "VerdictScales": "sentence: does the default run's verdict agree between quick and full scale",
}
SCALES_FILE = ROOT / "benchmarks" / "results" / "verdict_scales.json"


def _config(path: str, params: dict[str, Any]):
    from manifold_probe.config import load_config, parse_config

    cfg = load_config(ROOT / path).model_dump()
    if cfg["estimators"]["topology"].get("n_bootstrap") is None:  # None dumps but does not parse
        cfg["estimators"]["topology"].pop("n_bootstrap", None)
    if params.get("n"):
        cfg["data"]["n"] = int(params["n"])
    if params.get("max_points"):
        cfg["estimators"]["topology"]["max_points"] = int(params["max_points"])
    if params.get("n_boot"):
        cfg["estimators"]["regions"]["n_boot"] = int(params["n_boot"])
    if params.get("n_perm"):
        cfg["estimators"]["structure"]["n_perm"] = int(params["n_perm"])
    only = params.get("only")
    if only:
        cfg["perturbations"] = [p for p in cfg["perturbations"] if p["name"] in only]
    return parse_config(cfg, source=path)


def compute(params: dict[str, Any]) -> dict[str, Any]:
    require("manifold_probe.capture.transforms", "install_transform")
    runner = require("manifold_probe.experiment.runner", "run_experiment")
    from experiments.paper import common

    limit_threads(1)
    runs = []
    for path in params["configs"]:
        config = _config(path, params)
        out = common.RESULTS / params["scale"] / f"controls_{config.name}"
        try:
            runner.run_experiment(config, out, make_report=False)
        except Exception as exc:
            raise Skip(f"the control run {path} failed ({type(exc).__name__}: {exc})") from exc
        with open(Path(out) / "perturbations.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        runs.append({"config": path, "model": config.model.spec, "n": config.data.n, "rows": rows})
    return {"runs": runs}


def control_rule(rows: list[dict[str, str]]) -> list[str]:
    """The rows that break the control rule (the perturbed layer is each control's first row)."""
    first: dict[str, int] = {}
    for r in rows:
        first[r["perturbation"]] = min(first.get(r["perturbation"], 10**9), int(r["layer"]))
    bad = []
    for r in rows:
        name, layer = r["perturbation"], int(r["layer"])
        if name.startswith("keep_") and r["verdict"] != "kept":
            bad.append(f"{name} at layer {layer} reads {r['verdict']}")
        if name.startswith("break_") and layer == first[name] and r["verdict"] == "kept":
            bad.append(f"{name} at layer {layer} reads kept")
    return bad


def render(result: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    body = []
    sentences = []
    undetected: list[str] = []
    for run in result["runs"]:
        rows = run["rows"]
        for r in rows:
            body.append([
                tex_escape(run["model"]), tex_escape(r["perturbation"]),
                tex_escape(r.get("layer_name", r["layer"])), r["verdict"],
                tex_escape(r.get("broken_by", "") or "--"), tex_escape(r.get("unstable", "") or "--"),
                tex_escape(r.get("configs_kept", "")),
            ])
        bad = control_rule(rows)
        undecided_breaks = sorted({r["perturbation"] for r in rows
                                   if r["perturbation"].startswith("break_") and r["verdict"] == "undecided"})
        model = f"\\texttt{{{tex_escape(run['model'])}}} ({run['n']} inputs)"
        if not bad:
            text = f"On {model} the control rule holds: every keep control reads kept at every layer and every break control is not kept at the perturbed layer"
        else:
            text = f"On {model} the control rule fails: " + "; ".join(tex_escape(b) for b in bad)
        missed = sorted({r["perturbation"] for r in rows if r["perturbation"].startswith("break_")
                         and r["verdict"] == "kept"
                         and int(r["layer"]) == min(int(q["layer"]) for q in rows
                                                    if q["perturbation"] == r["perturbation"])})
        undetected.extend(f"\\texttt{{{tex_escape(m)}}} on {model}" for m in missed)
        if undecided_breaks:
            text += (" (" + ", ".join(f"\\texttt{{{tex_escape(u)}}}" for u in undecided_breaks)
                     + " only undecided: not detected at every seed and size)")
        sentences.append(text + ".")
    write_table(
        TABLES[0],
        ["model", "control", "layer", "verdict", "broken by", "unstable", "configs kept"],
        body,
        align="lllllll",
        note="Each verdict is repeated over the configurations "
        + tex_escape(next((r.get("scales", "") for run in result["runs"] for r in run["rows"]), ""))
        + " (subsample sizes and seeds): kept if every configuration keeps, broken if none "
        "does, undecided otherwise.",
    )
    if undetected:
        missed_text = ("No check of the verdict detects " + ", ".join(undetected) + ": it reads "
                       "kept at the perturbed layer, and we report it rather than drop it.")
    else:
        missed_text = "Every break control is detected (not kept) at the perturbed layer."
    return {"ControlsVerdict": " ".join(sentences), "ControlsUndetected": missed_text,
            "VerdictScales": verdict_scales_sentence()}


def verdict_scales_sentence(path: Path = SCALES_FILE) -> str:
    """The quick-vs-full agreement of the default run's layer-pair verdicts, from
    ``benchmarks/verdict_scales.py``'s results (a placeholder sentence when it was not run)."""
    import json

    if not path.exists():
        return ("(The quick-versus-full comparison of the verdict has not been run: "
                "\\texttt{python benchmarks/verdict_scales.py}.)")
    d = json.loads(path.read_text())
    rows = d["rows"]
    flips = [tex_escape(r["pair"]) for r in rows if r["confident_flip"]]
    text = (f"On the stored default run, the verdict of each of the {len(rows)} consecutive "
            f"layer pairs at full scale ({d['n_full']} sentences, {tex_escape(str(d['full_scales']))}) "
            f"was compared with {d['quick_subsamples']} random {d['n_quick']}-sentence subsamples "
            f"at the \\texttt{{make paper-quick}} settings ({tex_escape(str(d['quick_scales']))}): "
            f"{d['pairs_agree']} of {len(rows)} pairs read the same at every subsample and at full "
            "scale")
    if flips:
        text += f", and {len(flips)} flipped between kept and broken ({', '.join(flips)})."
    else:
        text += ("; where they differ one side reads undecided, never kept at one scale and "
                 "broken at the other.")
    return text
