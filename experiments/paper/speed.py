"""Validation: speed against the reference implementations, read from the benchmark scripts.

Each ``benchmarks/bench_*.py`` runs ours and a reference on the same data in one run and saves
JSON under ``benchmarks/results/``. Nothing is recomputed here: every dictionary in those files
that holds a time of ours (a key naming ``ours`` and seconds/time) beside times of references
becomes one row of the table, with the ratio reference/ours.
"""

from __future__ import annotations

from typing import Any

from experiments.paper.common import (
    Skip,
    fmt,
    fmt_seconds,
    load_bench_json,
    tex_escape,
    write_table,
)

NAME = "speed"
FIGURES: tuple[str, ...] = ()
TABLES = ("speed.tex",)
MACROS = {
    "SpeedSummary": "sentence summarising the speed table",
}

_CONTEXT = ("name", "dataset", "set", "method", "estimator", "manifold", "n", "N", "d", "D", "dim", "k", "threads")


def _is_time(key: str) -> bool:
    k = key.lower()
    if any(bad in k for bad in ("mb", "memory", "gflop", "fraction", "speedup", "ratio")):
        return False
    return k.endswith("_s") or "second" in k or "time" in k or k.endswith("_sec")


def comparisons(obj: Any, path: str = "") -> list[dict[str, Any]]:
    """Every dict with a numeric time of ours and at least one numeric time of a reference."""
    found = []
    if isinstance(obj, dict):
        times = {k: v for k, v in obj.items() if isinstance(v, int | float) and not isinstance(v, bool) and _is_time(k)}
        ours = {k: v for k, v in times.items() if "ours" in k.lower() or "manifold_probe" in k.lower()}
        refs = {k: v for k, v in times.items() if k not in ours}
        if ours and refs:
            context = {k: obj[k] for k in _CONTEXT if k in obj and isinstance(obj[k], str | int | float)}
            found.append({"path": path, "context": context, "ours": ours, "refs": refs})
        for k, v in obj.items():
            found += comparisons(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += comparisons(v, f"{path}[{i}]")
    return found


def compute(params: dict[str, Any]) -> dict[str, Any]:
    rows = []
    sources = []
    for stem in params["stems"]:
        data = load_bench_json(stem)
        if data is None:
            continue
        sources.append(data.get("_path", stem))
        for c in comparisons(data):
            rows.append({"bench": stem, **c})
    if not rows:
        raise Skip("no benchmarks/results/*.json with side-by-side timings yet (run the benchmark scripts)")
    return {"rows": rows, "sources": sources}


def _label(key: str) -> str:
    k = key.lower()
    for suffix in ("_seconds", "_second", "_time", "_sec", "_s", "seconds", "time"):
        if k.endswith(suffix):
            k = k[: -len(suffix)]
            break
    return k.strip("_") or key


def render(result: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    body = []
    ratios = []
    for r in result["rows"]:
        (ok, ov), *_ = r["ours"].items()
        context = ", ".join(f"{k}={v}" for k, v in r["context"].items()) or r["path"]
        for rk, rv in r["refs"].items():
            ratio = rv / ov if ov > 0 else float("nan")
            ratios.append(ratio)
            body.append(
                [
                    tex_escape(r["bench"].removeprefix("bench_")),
                    tex_escape(context),
                    fmt_seconds(ov),
                    tex_escape(_label(rk)),
                    fmt_seconds(rv),
                    fmt(ratio, 1) + r"$\times$",
                ]
            )
    write_table(
        TABLES[0],
        ["benchmark", "setting", "ours (s)", "reference", "ref.\\ (s)", "ratio"],
        body,
        align="llrlrr",
        note="Ratio: reference time / our time (above 1: ours is faster). Sources: "
        + ", ".join(r"\texttt{" + tex_escape(s) + "}" for s in result["sources"])
        + ".",
    )
    faster = sum(1 for x in ratios if x > 1)
    summary = (
        f"Ours is faster in {faster} of the {len(ratios)} side-by-side comparisons"
        f" (ratios from {fmt(min(ratios), 1)} to {fmt(max(ratios), 1)})."
    )
    return {"SpeedSummary": summary}
