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
ALWAYS_RECOMPUTE = True  # reads benchmarks/results/*.json, which change on their own
TABLES = ("speed.tex",)
MACROS = {
    "SpeedSummary": "sentence summarising the speed table",
}

_CONTEXT = ("what", "data", "name", "dataset", "set", "method", "estimator", "manifold", "n", "N", "d", "D", "dim", "k", "threads")


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


def _row(bench: str, context: dict[str, Any], ours: tuple[str, float], refs: dict[str, float]) -> dict[str, Any]:
    return {"bench": bench, "path": bench, "context": context, "ours": dict([ours]), "refs": refs}


def _known(stem: str, data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Adapters for the benchmark files whose layout we know; None: use the generic search."""
    rows = []
    if stem == "bench_knn" and "side_by_side" in data:
        s = data["side_by_side"]
        rows.append(_row(stem, {"n": s["n"]}, ("ours", s["ours_seconds"]), {"sklearn brute": s["sklearn_seconds"]}))
        return rows
    if stem == "bench_knn" and "runs" in data:
        for r in data["runs"]:
            refs = {name: r[name]["seconds"] for name in ("faiss", "sklearn") if name in r}
            ctx = {"n": r["n"], "d": r["d"], "k": r["k"], "threads": r["threads"]}
            rows.append(_row(stem, ctx, ("ours", r["ours"]["seconds"]), refs))
        return rows
    if stem == "bench_dimension_speed" and "user_path" in data:
        ctx = {"data": data.get("data", ""), "what": "TwoNN then MLE, user path"}
        rows.append(
            _row(stem, ctx, ("ours", data["user_path"]["seconds"]), {"skdim": data["skdim"]["seconds_total"]})
        )
        return rows
    if stem == "bench_dimension_speed" and "skdim" in data:
        ctx = {"data": data.get("data", ""), "what": "TwoNN + MLE"}
        rows.append(
            _row(stem, ctx, ("ours", data["ours"]["seconds_total"]), {"skdim": data["skdim"]["seconds_total"]})
        )
        return rows
    if stem == "bench_geodesic" and "rows" in data:
        for r in data["rows"]:
            if "ours_shortcut_all_pairs_s_estimate" in r and "sklearn_isomap_fit_s" in r:
                ctx = {"manifold": r["manifold"], "n": r["n"], "k": r["k"], "what": "all pairs (ours extrapolated)"}
                rows.append(
                    _row(
                        stem,
                        ctx,
                        ("ours", r["ours_shortcut_all_pairs_s_estimate"]),
                        {"sklearn Isomap": r["sklearn_isomap_fit_s"]},
                    )
                )
        return rows
    if stem == "bench_topology" and "rows" in data:
        args = data.get("args", {})
        sub = f"refs on {args.get('ref_n1', '?')}/{args.get('ref_n2', '?')}-point subsamples"
        for r in data["rows"]:
            refs = {}
            for key, label in (("ripser_full", "ripser"), ("giotto_ph_full", "giotto-ph")):
                if key in r:
                    refs[label] = sum(v for k, v in r[key].items() if k.startswith("time_"))
            if refs and "time_s" in r.get("ours", {}):
                ctx = {"cloud": r["cloud"], "n": r["n"], "what": "H0-H2, " + sub}
                rows.append(_row(stem, ctx, ("ours", r["ours"]["time_s"]), refs))
        return rows
    if stem == "bench_capture" and "results" in data:
        res = data["results"]
        refs = {k.replace("_", " "): v["seconds"] for k, v in res.items() if k in ("hf_forward", "sentence_transformers")}
        rows.append(_row(stem, {"n": data.get("n_sentences"), "what": "MiniLM, 7 states"}, ("ours", res["ours"]["seconds"]), refs))
        return rows
    return None


def compute(params: dict[str, Any]) -> dict[str, Any]:
    rows = []
    sources = []
    for stem in params["stems"]:
        data = load_bench_json(stem, exact=True)
        if data is None:
            continue
        sources.append(data.get("_path", stem))
        known = _known(stem, data)
        rows += known if known is not None else [{"bench": stem, **c} for c in comparisons(data)]
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
        context = ", ".join(f"{k}={v}" if k in ("n", "k") else str(v) for k, v in r["context"].items()) or r["path"]
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
                    fmt(ratio, 2) + r"$\times$",
                ]
            )
    write_table(
        TABLES[0],
        ["benchmark", "setting", "ours (s)", "reference", "ref.\\ (s)", "ratio"],
        body,
        align="lp{0.36\\linewidth}rlrr",
        note="Ratio: reference time / our time (above 1: ours is faster). Sources: "
        + ", ".join(r"\texttt{" + tex_escape(s) + "}" for s in result["sources"])
        + ".",
    )
    faster = sum(1 for x in ratios if x > 1)
    summary = (
        f"Ours is faster in {faster} of the {len(ratios)} side-by-side comparisons"
        f" (ratios from {fmt(min(ratios), 2)} to {fmt(max(ratios), 2)})."
    )
    return {"SpeedSummary": summary}
