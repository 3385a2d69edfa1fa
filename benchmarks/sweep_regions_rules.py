"""Which significance rule for the region finder: a sweep over the error bar and the density's k.

Variants of :func:`manifold_probe.analysis.regions.regions` (``method="peak"``,
``correction="fdr"``), each run on the same clouds:

* ``error_bar``: ``"sum"`` (sd(peak) + sd(saddle), DPA's bound) or ``"difference"`` (the
  bootstrap sd of g*(peak) - g*(saddle));
* ``k``: fixed (15, 25, 40, 60) or the rule ``k = round(sqrt(n))``.

Families (from ``bench_regions_truth.py``): ``mixture`` and ``unimodal`` are the development
set on which a rule is chosen; ``heldout`` (anisotropic components, unequal weights, unequal
gaps, d = 4 ... 50, n = 400 ... 900) is only reported. A rule is admissible when it reads no
more false regions on the featureless clouds than the nominal level allows (at most
``alpha`` = 5% of them); among admissible rules, the one with the most clear mixture groups
with the right count at >= 4/5 seeds, then the highest mean ARI.

Run: ``PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/sweep_regions_rules.py``
Writes ``benchmarks/results/sweep_regions_rules.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine  # noqa: E402
from bench_regions_truth import clouds  # noqa: E402

VARIANTS = {
    "sum k=15": dict(error_bar="sum", k=15),
    "sum k=40": dict(error_bar="sum", k=40),
    "difference k=15": dict(error_bar="difference", k=15),
    "difference k=25": dict(error_bar="difference", k=25),
    "difference k=40": dict(error_bar="difference", k=40),
    "difference k=60": dict(error_bar="difference", k=60),
    "difference k=sqrt(n)": dict(error_bar="difference", k="sqrt"),
    "sum k=sqrt(n)": dict(error_bar="sum", k="sqrt"),
}


def main() -> None:
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from manifold_probe.analysis.regions import regions

    out: dict = {"variants": {v: {} for v in VARIANTS}}
    t0 = time.perf_counter()
    for family in ("mixture", "unimodal", "heldout"):
        rows: dict = {v: {} for v in VARIANTS}
        clear: dict = {}
        for group, seed, X, y in clouds(family):
            if y is not None and seed == 0:
                clear[group] = []
            if y is not None:
                km = KMeans(len(np.unique(y)), n_init=10, random_state=seed).fit_predict(X)
                clear[group].append(adjusted_rand_score(y, km))
            for name, kw in VARIANTS.items():
                k = int(round(np.sqrt(len(X)))) if kw["k"] == "sqrt" else kw["k"]
                r = regions(X, k=k, seed=seed, error_bar=kw["error_bar"])
                rows[name].setdefault(group, []).append(dict(
                    n_regions=r.n_regions,
                    ari=None if y is None else adjusted_rand_score(y, r.labels),
                    truth=None if y is None else int(len(np.unique(y)))))
        for name in VARIANTS:
            groups = {}
            for g, rs in rows[name].items():
                counts = [r["n_regions"] for r in rs]
                modal = max(set(counts), key=counts.count)
                e = dict(counts=counts, stable=counts.count(modal) >= 4)
                if rs[0]["truth"] is not None:
                    e["mean_ari"] = round(float(np.mean([r["ari"] for r in rs])), 3)
                    e["right_count"] = sum(c == rs[0]["truth"] for c in counts)
                    e["truth_clear"] = bool(np.mean(clear[g]) >= 0.9)
                groups[g] = e
            s: dict = dict(groups=groups)
            if family == "unimodal":
                cs = [c for e in groups.values() for c in e["counts"]]
                s["false_regions"] = f"{sum(c > 1 for c in cs)} of {len(cs)}"
            else:
                cl = [e for e in groups.values() if e["truth_clear"]]
                s["clear_right_count_4of5"] = f"{sum(e['right_count'] >= 4 for e in cl)} of {len(cl)}"
                s["mean_ari"] = round(float(np.mean([e["mean_ari"] for e in groups.values()])), 3)
            out["variants"][name][family] = s
            print(family, name, {k: v for k, v in s.items() if k != "groups"}, flush=True)
    out["machine"] = machine()
    out["elapsed_s"] = round(time.perf_counter() - t0, 1)
    out["loadavg"] = os.getloadavg()
    out["timing_note"] = "wall seconds on a shared, loaded machine; not a speed benchmark"
    out["command"] = "PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/sweep_regions_rules.py"
    (RESULTS / "sweep_regions_rules.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
