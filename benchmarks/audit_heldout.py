"""Held-out audit: the public API on known answers the tests do not use, beside peer libraries.

    OMP_NUM_THREADS=1 python benchmarks/audit_heldout.py

Every cloud is drawn here (not by ``mp.datasets``), so the cases are independent of the
package's own generators. Each case records its truth, our reading, a peer's reading on the
same array where one exists (scikit-dimension, ripser; gudhi's bottleneck distance), and pass/fail against the
accuracy the package states for that method:

- dimension: within the stated ±10% accuracy standard, or the truth inside ``interval``, or
  the result flagged ``scale_dependent`` (the README's promise under noise); the peer must
  agree to 1e-6 (raw TwoNN and MLE are stated to equal scikit-dimension's);
- quadratic curvature: 90% or more of the per-point intervals hold the truth (the stated
  coverage target is 90-97%; coverage above it is recorded, conservative);
- ball-volume curvature: median within 40% of the truth (the spread measured in
  ``docs/validation.md#ball-volume`` plus margin, as in its tests);
- equivariance: S(cX) = S(X)/c^2 and S(X + t) = S(X) to 1e-6 relative;
- geodesics: median relative error within 3.6% (the plain graph's error on S^2, N = 8000,
  k = 10, which the shortcut is documented to improve on);
- Betti numbers: right, or every wrong dimension flagged (``near`` / ``ResolutionWarning``);
- persistence: equal to ripser's full diagrams where every point is used; within the stated
  stability bound 2 x covering radius of the maxmin landmarks otherwise;
- kNN: exact against distances taken one difference at a time (scikit-learn beside it);
- inputs: float32/float16/int/torch/pandas/list/Fortran/strided/memmap give the result of the
  same values as float64; repeated rows are collapsed or refused with a message.

Writes ``benchmarks/results/audit_heldout.json``. About a minute on one thread.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import save  # noqa: E402

import manifold_probe as mp  # noqa: E402

CASES: list[dict] = []

# What the failures measured when this audit was written come from (not fixed: each would
# need a changed rule and its own sweep, not a constant tuned to these cases).
KNOWN_CAUSES = {
    "gride under noise": "S^3 in R^20 with noise 0.01: the stable range starts after the "
    "leading run of significant falls, so one non-significant step stops it early (seed 0: "
    "n1 = 2, 3.34, while the curve goes on to 3.04); the selected scale moves with the seed "
    "(2.98-3.34 over seeds 0-5) far beyond the interval of one scale (+-0.05-0.1)",
    "twonn on a 300-point swiss roll": "one interval of 21 TwoNN readings misses the truth "
    "(2.36, interval 2.10-2.66): the rate a 95% interval allows",
    "two circles at 200 points": "H0 on the net of n/2 landmarks: the merge of two 49-"
    "landmark circles at death/birth 2.5 has p = 0.004 before and 0.07 after Bonferroni over "
    "19 candidates; H0 is never marked near resolution (its filtration is exact), so the miss "
    "is not flagged; at 1000 points every seed reads 2",
}


def record(group, case, truth, ours, passed, criterion, peer=None, **extra):
    CASES.append({"group": group, "case": case, "truth": truth, "ours": ours, "peer": peer,
                  "pass": bool(passed), "criterion": criterion, **extra})
    mark = "pass" if passed else "FAIL"
    print(f"[{mark}] {group:12s} {case:40s} truth={truth} ours={ours} peer={peer}", flush=True)


# ----------------------------------------------------------------------------- clouds
def rotate(X, D, rng):
    Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
    Z = np.zeros((len(X), D))
    Z[:, : X.shape[1]] = X
    return Z @ Q.T


def sphere(n, d, r, rng):
    X = rng.standard_normal((n, d + 1))
    return r * X / np.linalg.norm(X, axis=1, keepdims=True)


def flat_torus(n, rng, a=1.0, b=1.5):
    t = rng.random((n, 2)) * 2 * np.pi
    X = np.c_[a * np.cos(t[:, 0]), a * np.sin(t[:, 0]), b * np.cos(t[:, 1]), b * np.sin(t[:, 1])]
    return X, t


def circle(n, rng, noise):
    t = rng.random(n) * 2 * np.pi
    return np.c_[np.cos(t), np.sin(t)] + noise * rng.standard_normal((n, 2))


SHAPES = {
    "circle": (lambda n, r: circle(n, r, 0.05), (1, 1)),
    "two circles 1 apart": (lambda n, r: np.r_[circle(n // 2, r, 0.03),
                                               circle(n - n // 2, r, 0.03) + [3.0, 0]], (2, 2)),
    "figure eight": (lambda n, r: (lambda t: np.c_[np.cos(t), np.sin(2 * t) / 2]
                                   + 0.02 * r.standard_normal((n, 2)))(r.random(n) * 2 * np.pi),
                     (1, 2)),
    "torus R=2 r=0.8": (lambda n, r: (lambda u, v: np.c_[(2 + 0.8 * np.cos(v)) * np.cos(u),
                                                         (2 + 0.8 * np.cos(v)) * np.sin(u),
                                                         0.8 * np.sin(v)])(
        *(r.random((2, n)) * 2 * np.pi)), (1, 2, 1)),
    "sphere S^2": (lambda n, r: sphere(n, 2, 1.0, r), (1, 0, 1)),
}


# ----------------------------------------------------------------------------- dimension
def dimension_cases():
    import skdim

    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        n = 2000
        clouds = {
            "S^3 in R^20, noise 0.01": (rotate(sphere(n, 3, 1.0, rng), 20, rng)
                                        + 0.01 * rng.standard_normal((n, 20)), 3),
            "S^5 in R^20, noise 0.01": (rotate(sphere(n, 5, 1.0, rng), 20, rng)
                                        + 0.01 * rng.standard_normal((n, 20)), 5),
            "7-d Gaussian, scales 1..0.3": (rotate(rng.standard_normal((n, 7))
                                                   * np.linspace(1, 0.3, 7), 12, rng), 7),
            "uniform 4-cube": (rng.random((n, 4)), 4),
            "helix in R^10": ((lambda t: rotate(np.c_[np.cos(t), np.sin(t), 0.3 * t], 10, rng))(
                rng.random(n) * 4 * np.pi), 1),
        }
        for m in (300, 3000):
            t = 1.5 * np.pi * (1 + 2 * rng.random(m))
            h = 21 * rng.random(m)
            clouds[f"swiss roll n={m}"] = (np.c_[t * np.cos(t), h, t * np.sin(t)], 2)
        for name, (X, d) in clouds.items():
            for method, peer_est in (("twonn", skdim.id.TwoNN()), ("mle", skdim.id.MLE()),
                                     ("gride", None)):
                e = mp.intrinsic_dimension(X, method=method)
                peer = float(peer_est.fit(X).dimension_) if peer_est is not None else None
                iv = e.interval
                inside = iv is not None and iv[0] <= d <= iv[1]
                rel = abs(e.dimension / d - 1)
                flagged = bool(getattr(e, "scale_dependent", False))
                agree = peer is None or abs(peer - e.dimension) <= 1e-6 * max(1.0, peer)
                record("dimension", f"{name} {method} seed {seed}", d, round(e.dimension, 4),
                       (rel <= 0.10 or inside or flagged) and agree,
                       "within 10%, or truth in interval, or scale_dependent; peer equal",
                       peer=None if peer is None else round(peer, 4),
                       interval=None if iv is None else [round(float(v), 4) for v in iv],
                       scale_dependent=flagged)


# ----------------------------------------------------------------------------- curvature
def curvature_cases():
    rng = np.random.default_rng(7)
    cases = {
        "S^2 r=0.5": (sphere(2000, 2, 0.5, rng), 8.0),
        "S^2 r=3": (sphere(2000, 2, 3.0, rng), 2 / 9),
        "S^3 r=1": (sphere(3000, 3, 1.0, rng), 6.0),
        "flat torus in R^4": (flat_torus(2000, rng)[0], 0.0),
        "S^2 in R^6, noise 0.002": (rotate(sphere(1500, 2, 1.0, rng), 6, rng)
                                    + 0.002 * rng.standard_normal((1500, 6)), 2.0),
    }
    for name, (X, truth) in cases.items():
        r = mp.scalar_curvature(X, return_se=True)
        iv = np.asarray(r.interval)
        cov = float(np.mean((iv[:, 0] <= truth) & (truth <= iv[:, 1])))
        record("curvature", f"quadratic {name}", truth, round(float(np.median(r.curvature)), 4),
               cov >= 0.90, "coverage of the per-point intervals >= 90% (target 90-97%)",
               coverage=round(cov, 3), above_target=cov > 0.97)
    X = rotate(sphere(1500, 2, 1.0, rng), 6, rng) + 0.002 * rng.standard_normal((1500, 6))
    for method, opts in (("quadratic", {}), ("ball_volume", {"dim": 2})):
        base = mp.scalar_curvature(X, method=method, **opts)
        for label, Y, factor in (("x 1e-3", X * 1e-3, 1e-3), ("x 1e3", X * 1e3, 1e3),
                                 ("+ 1e6", X + 1e6, 1.0)):
            c = mp.scalar_curvature(Y, method=method, **opts) * factor**2
            err = float(np.max(np.abs(c - base)) / np.max(np.abs(base)))
            record("equivariance", f"{method} S^2 in R^6 {label}", "S(X)/c^2",
                   f"max rel diff {err:.2e}", err <= 1e-6, "<= 1e-6 relative")
    for seed in range(3):
        X = sphere(2000, 2, 1.0, np.random.default_rng(seed))
        G = np.arccos(np.clip(X @ X.T, -1, 1))
        np.fill_diagonal(G, 0.0)
        c = float(np.median(mp.scalar_curvature(distances=G, dim=2, method="ball_volume")))
        record("curvature", f"ball_volume S^2 r=1 exact distances seed {seed}", 2.0,
               round(c, 3), abs(c / 2 - 1) <= 0.40, "median within 40%")


# ----------------------------------------------------------------------------- geodesics
def geodesic_cases():
    for seed in range(2):
        rng = np.random.default_rng(seed)
        X = sphere(2000, 2, 1.0, rng)
        src = np.arange(20)
        G = np.arccos(np.clip(X[src] @ X.T, -1, 1))
        far = G > 0.3
        rel = (mp.geodesic_distances(X, k=10, sources=src) - G)[far] / G[far]
        med = float(np.median(rel))
        record("geodesic", f"S^2 great circles seed {seed}", 0.0, round(med, 4),
               abs(med) <= 0.036, "median relative error within 3.6%",
               p95=round(float(np.percentile(np.abs(rel), 95)), 4))
        T, th = flat_torus(2000, rng)
        dth = np.abs(th[src, None, :] - th[None, :, :])
        dth = np.minimum(dth, 2 * np.pi - dth)
        GT = np.hypot(dth[..., 0], 1.5 * dth[..., 1])
        far = GT > 0.3
        for off in (0.0, 1e6):
            rel = (mp.geodesic_distances(T + off, k=10, sources=src) - GT)[far] / GT[far]
            med = float(np.median(rel))
            record("geodesic", f"flat torus in R^4 offset {off:g} seed {seed}", 0.0,
                   round(med, 4), abs(med) <= 0.036, "median relative error within 3.6%")


# ----------------------------------------------------------------------------- topology
def topology_cases():
    import ripser

    for name, (gen, truth) in SHAPES.items():
        for n in (200, 1000):
            for seed in range(3):
                X = gen(n, np.random.default_rng(1000 + seed))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    b = mp.betti_numbers(X, maxdim=len(truth) - 1, seed=seed)
                wrong = [k for k in range(len(truth)) if b[k] != truth[k]]
                flagged = all(b.near_resolution[k] for k in wrong)
                dg = ripser.ripser(X, maxdim=len(truth) - 1, n_perm=min(n, 200))["dgms"]
                top = [[round(float(v), 2) for v in np.sort(d[:, 1] / d[:, 0])[::-1][:3]]
                       for d in dg[1:]]
                record("betti", f"{name} n={n} seed {seed}", list(truth), list(b),
                       not wrong or flagged, "right, or each wrong dimension near resolution",
                       peer=f"ripser (200 maxmin points) largest death/birth, dimensions >= 1: {top}",
                       wrong_unflagged=[k for k in wrong if not b.near_resolution[k]])
    for seed in range(2):
        rng = np.random.default_rng(seed)
        for n in (300, 1000):
            X = circle(n, rng, 0.02)
            Y = np.c_[X[:, 0] * (1.5 + 0.5 * np.tanh(X[:, 1])), X[:, 1] ** 3 + X[:, 1],
                      0.3 * np.sin(2 * X[:, 0])]
            cut = np.c_[np.arctan2(X[:, 1], X[:, 0]) % (2 * np.pi),
                        0.02 * rng.standard_normal(n)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                a = mp.topology_preserved(X, Y, seed=seed).verdict
                c = mp.topology_preserved(X, cut, seed=seed).verdict
            record("preserved", f"circle, smooth stretch n={n} seed {seed}", "preserved", a,
                   a == "preserved", "verdict preserved")
            record("preserved", f"circle, cut open n={n} seed {seed}", "broken", c,
                   c in ("broken", "undecided"), "verdict broken (or undecided, flagged)")


def persistence_cases():
    import gudhi
    import ripser
    from scipy.spatial.distance import cdist

    for name in ("circle", "figure eight", "torus R=2 r=0.8"):
        for n in (200, 500):
            X = SHAPES[name][0](n, np.random.default_rng(7))
            ours = mp.persistence(X, maxdim=1, seed=0)
            ref = ripser.ripser(X, maxdim=1)["dgms"]
            if n <= 400:
                bound, crit = 1e-6, "equal to ripser (bottleneck <= 1e-6)"
            else:  # the stability bound of 400 maxmin landmarks, smallest over starts
                D = cdist(X, X)
                eps = []
                for start in range(0, n, 100):
                    dmin = D[start].copy()
                    for _ in range(399):
                        dmin = np.minimum(dmin, D[int(np.argmax(dmin))])
                    eps.append(dmin.max())
                bound, crit = 2 * min(eps), "bottleneck <= 2 x covering radius of the landmarks"
            for d in (0, 1):
                a, b = ours[d], ref[d]
                bn = float(gudhi.bottleneck_distance(a[np.isfinite(a[:, 1])],
                                                     b[np.isfinite(b[:, 1])]))
                record("persistence", f"{name} n={n} H{d}", f"<= {bound:.3g}", round(bn, 6),
                       bn <= bound, crit, peer="ripser full Rips")


# ----------------------------------------------------------------------------- knn
def knn_cases():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(3)
    for name, X, unit in (("50-d Gaussian + 1e6", rng.standard_normal((800, 50)) + 1e6, 1.0),
                          ("5-d Gaussian x 1e-200", rng.standard_normal((800, 5)) * 1e-200,
                           1e200)):
        Y = X * unit  # the truth: differences taken one by one, at magnitude 1
        D = np.sqrt(((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)) / unit
        np.fill_diagonal(D, np.inf)
        truth = np.sort(D, axis=1)[:, :8]
        ours = mp.knn(X, k=8).distances
        peer = NearestNeighbors(n_neighbors=9).fit(X).kneighbors(X)[0][:, 1:]
        err = float(np.max(np.abs(ours - truth) / truth))
        perr = float(np.max(np.abs(peer - truth) / truth))
        record("knn", name, "direct differences", f"max rel err {err:.2e}", err <= 1e-12,
               "exact to 1e-12 relative", peer=f"scikit-learn max rel err {perr:.2e}")


# ----------------------------------------------------------------------------- inputs
def input_cases():
    import pandas as pd
    import torch

    rng = np.random.default_rng(0)
    t = rng.random(300) * 2 * np.pi
    X = np.c_[np.cos(t), np.sin(t), 0.3 * np.cos(3 * t), 0.01 * rng.random(300)]
    fns = {
        "knn": lambda A: mp.knn(A, k=10).distances,
        "twonn": lambda A: mp.intrinsic_dimension(A).dimension,
        "curvature": lambda A: np.median(mp.scalar_curvature(A, dim=1)),
        "betti": lambda A: np.array(mp.betti_numbers(A, seed=0)),
    }
    big = np.zeros((300, 8))
    big[:, ::2] = X
    path = os.path.join(tempfile.mkdtemp(), "x.dat")
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    variants = {
        "float32": X.astype(np.float32), "float16": X.astype(np.float16),
        "int64": np.round(X * 1000).astype(np.int64), "torch float64": torch.from_numpy(X.copy()),
        "pandas DataFrame": pd.DataFrame(X), "list": X.tolist(), "Fortran order": np.asfortranarray(X),
        "strided view": big[:, ::2], "memmap": mm, "torch strided": torch.from_numpy(big)[:, ::2],
    }
    for v, A in variants.items():
        # the reference: the same values as a C-ordered float64 array
        R = np.ascontiguousarray(np.asarray(A.numpy() if hasattr(A, "numpy") else A,
                                            dtype=np.float64))
        for f, fn in fns.items():
            try:
                got, ref = np.asarray(fn(A), float), np.asarray(fn(R), float)
                ok = got.shape == ref.shape and np.allclose(got, ref, rtol=1e-12, atol=0)
                record("inputs", f"{v} {f}", "as float64 of the same values", "equal" if ok
                       else f"differs by {np.max(np.abs(got - ref)):.3g}", ok, "equal to 1e-12")
            except Exception as ex:  # noqa: BLE001 - the audit records crashes
                record("inputs", f"{v} {f}", "as float64", f"{type(ex).__name__}: {ex}"[:200],
                       False, "no exception")
    Xd = np.r_[X, X[:1], X[:1]]
    w = mp.warp(Xd, 2 * Xd, k=10, seed=0)
    ref = mp.intrinsic_dimension(Xd).dimension
    record("inputs", "repeated rows: warp id_x", round(ref, 6), round(w.id_x, 6),
           abs(w.id_x - ref) <= 1e-9, "equal to intrinsic_dimension on the same rows")
    try:
        mp.ollivier_ricci(Xd, k=10)
        got, ok = "no error", False
    except mp.InputError as ex:
        got, ok = str(ex)[:120], "row 0" in str(ex)
    record("inputs", "repeated rows: ollivier_ricci", "InputError naming the rows", got, ok,
           "InputError naming a repeated row")


def main():
    start = time.time()
    load = os.getloadavg()
    warnings.simplefilter("ignore", category=DeprecationWarning)
    for part in (dimension_cases, curvature_cases, geodesic_cases, topology_cases,
                 persistence_cases, knn_cases, input_cases):
        part()
    n_fail = sum(not c["pass"] for c in CASES)
    summary = {"cases": len(CASES), "failed": n_fail,
               "failed_cases": [c["case"] for c in CASES if not c["pass"]],
               "known_causes": KNOWN_CAUSES}
    print(f"{len(CASES)} cases, {n_fail} failed, {time.time() - start:.0f} s")
    save("audit_heldout", {"summary": summary, "seconds": round(time.time() - start, 1),
                           "loadavg_at_start": load, "threads": 1,
                           "note": "timings under a shared machine's load; truths are exact",
                           "cases": CASES})


if __name__ == "__main__":
    main()
