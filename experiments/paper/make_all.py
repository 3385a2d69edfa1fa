"""Regenerate every figure, table and in-text number of the paper, then build paper/main.pdf.

Usage (from the repository root)::

    python experiments/paper/make_all.py            # paper scale
    python experiments/paper/make_all.py --quick    # small scale, minutes on 2 cores
    python experiments/paper/make_all.py --only betti_noise,id_benchmark
    python experiments/paper/make_all.py --force    # recompute even cached results
    python experiments/paper/make_all.py --no-pdf   # figures and tables only

Each experiment (a module here, parameters in ``experiments/configs/paper.toml``) caches its
result in ``experiments/paper/results/<scale>/<name>.json`` with a hash of its parameters, so a
rerun only redraws. An experiment whose piece of the package is missing is skipped with its
reason; the paper then shows a visible placeholder instead of a number. The driver never
crashes on one experiment's failure: it reports it and carries on.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from experiments.paper import common  # noqa: E402

# computation order: cheap first, the long MiniLM profile run last (the paper's order is main.tex's)
EXPERIMENTS = (
    "id_benchmark",
    "speed",
    "geodesic_vs_n",
    "toy_circles",
    "betti_noise",
    "curvature_vs_n",
    "calendar_circles",
    "controls",
    "minilm_profile",
    "cross_network",
)

TEX_HINT = (
    "LaTeX is not installed, so paper/main.pdf was not built. Figures and tables are in "
    "paper/figures and paper/tables. To build the PDF on Debian/Ubuntu:\n"
    "    apt-get install texlive-latex-recommended texlive-latex-extra latexmk\n"
    "then rerun this command (cached results make it fast), or run\n"
    "    cd paper && latexmk -pdf main.tex"
)


def load(name: str):
    return importlib.import_module(f"experiments.paper.{name}")


def run_experiment(name: str, scale: str, compute: bool, force: bool, log) -> dict[str, Any]:
    """Compute (or load) one experiment and render it. Returns a status record."""
    status: dict[str, Any] = {"name": name, "state": "skipped", "reason": "", "seconds": None}
    try:
        mod = load(name)
        params = common.load_params(name, scale)
    except Exception as exc:
        status["reason"] = f"{type(exc).__name__}: {exc}"
        log(f"[{name}] cannot load: {status['reason']}")
        return status
    status["module"] = mod
    # cheap readers of other scripts' outputs (benchmarks/results) always rerun: their inputs
    # change without their parameters changing
    always = bool(getattr(mod, "ALWAYS_RECOMPUTE", False)) and compute
    cached = None if (force or always) else common.load_cached(name, params)
    if cached is not None:
        status.update(state="cached", seconds=cached["seconds"])
        log(f"[{name}] cached ({cached['seconds']:.1f} s when computed)")
    elif not compute:
        status["reason"] = "not computed in this run (--only) and no cached result"
        log(f"[{name}] {status['reason']}")
    else:
        log(f"[{name}] computing at {scale} scale ...")
        t0 = time.perf_counter()
        try:
            result = mod.compute(params)
        except common.Skip as exc:
            status["reason"] = str(exc)
            log(f"[{name}] SKIPPED: {exc}")
        except Exception as exc:
            status["reason"] = f"failed: {type(exc).__name__}: {exc}"
            log(f"[{name}] FAILED (skipped):\n{traceback.format_exc()}")
        else:
            seconds = time.perf_counter() - t0
            common.save_result(name, params, result, seconds)
            cached = common.load_cached(name, params)
            status.update(state="computed", seconds=seconds)
            log(f"[{name}] done in {seconds:.1f} s")
    macros: dict[str, str] = {}
    if cached is not None:
        try:
            macros = mod.render(cached["result"], params)
            unknown = set(macros) - set(mod.MACROS)
            missing = set(mod.MACROS) - set(macros)
            if unknown or missing:
                raise RuntimeError(f"macros not declared {sorted(unknown)} / not set {sorted(missing)}")
        except Exception as exc:
            status.update(state="skipped", reason=f"render failed: {type(exc).__name__}: {exc}")
            log(f"[{name}] RENDER FAILED:\n{traceback.format_exc()}")
            macros = {}
    if status["state"] == "skipped":
        placeholders(mod, status["reason"])
        macros = {m: common.missing_macro(m, status["reason"]) for m in mod.MACROS}
    status["macros"] = macros
    return status


def placeholders(mod, reason: str) -> None:
    """Remove stale figures and leave placeholder tables that state why they are missing."""
    for fig in getattr(mod, "FIGURES", ()):
        path = common.FIGURES / fig
        if path.exists():
            path.unlink()
    for table in getattr(mod, "TABLES", ()):
        common.write_missing_table(table, reason)


def write_status(records: list[dict[str, Any]], scale: str) -> None:
    rows = []
    for r in records:
        state = r["state"]
        rows.append(
            [
                r"\texttt{" + common.tex_escape(f"experiments/paper/{r['name']}.py") + "}",
                state,
                common.fmt_seconds(r["seconds"]),
                common.tex_escape(common.plain_reason(r["reason"], 160)) if state == "skipped" else "",
            ]
        )
    common.write_table(
        "status.tex",
        ["script", "state", "seconds", "reason if skipped"],
        rows,
        align="llrp{0.45\\linewidth}",
    )


def build_pdf(log) -> bool:
    if shutil.which("latexmk") is None or shutil.which("pdflatex") is None:
        log(TEX_HINT)
        return False
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"]
    log("building paper/main.pdf: " + " ".join(cmd))
    proc = subprocess.run(cmd, cwd=common.PAPER, capture_output=True, text=True)
    if proc.returncode != 0:
        log(proc.stdout[-4000:])
        log("latexmk failed; see paper/main.log")
        return False
    log(f"wrote {common.PAPER / 'main.pdf'}")
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small scale (minutes on 2 cores)")
    ap.add_argument("--only", default="", help="comma-separated experiment names to (re)compute")
    ap.add_argument("--force", action="store_true", help="recompute even when cached")
    ap.add_argument("--no-pdf", action="store_true", help="do not run latexmk")
    args = ap.parse_args(argv)
    scale = "quick" if args.quick else "full"
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in EXPERIMENTS]
    if unknown:
        ap.error(f"unknown experiment(s) {', '.join(unknown)}; known: {', '.join(EXPERIMENTS)}")
    common.limit_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))

    def log(msg: str) -> None:
        print(msg, flush=True)

    records = []
    for name in EXPERIMENTS:
        compute = not only or name in only
        records.append(run_experiment(name, scale, compute, args.force and compute, log))

    macros = {"PaperScale": "quick (development)" if args.quick else "paper"}
    for r in records:
        macros.update(r["macros"])
    common.write_macros(macros)
    write_status(records, scale)

    done = [r["name"] for r in records if r["state"] != "skipped"]
    skipped = [r for r in records if r["state"] == "skipped"]
    log(f"\n{len(done)}/{len(records)} experiments rendered at {scale} scale.")
    for r in skipped:
        log(f"  skipped {r['name']}: {r['reason'].splitlines()[0] if r['reason'] else ''}")
    if not args.no_pdf:
        build_pdf(log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
