"""Hostile-input fuzzing of every public entry point (issue 13).

The contract, stated in the docstrings and checked here: every public function either returns
a finite, documented result or raises :class:`manifold_probe.InputError`. NaN/inf appear only
where a docstring documents them (and then as documented: ``inf`` geodesic distances between
disconnected components, ``inf`` deaths of essential persistence classes, NaN ball-volume
curvature with a ``RuntimeWarning``, NaN turning angles of trajectories with fewer than two
non-zero steps, NaN optional warp fields that were not computed). No intrinsic dimension is
above the ambient dimension.

Inputs: arrays of every shape (0-D to 3-D, empty, one column, more columns than rows), dtype
(float16/32/64, torch float32 and bfloat16, int, bool, object, complex), magnitude (10^-300 to
10^300), duplicate pattern (none, all rows identical, pairs, one repeated block) and lattices
(integer grids, with ties everywhere). Hypothesis runs derandomized (fixed seed) with a
bounded example budget so that the file runs in about a minute on one core.

Set ``MP_FUZZ_REPORT=path.json`` to write the counts (examples, InputErrors, uncaught
exceptions, undocumented NaN/inf, dimensions above ambient) per entry point.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import manifold_probe as mp
from manifold_probe import InputError

torch = pytest.importorskip("torch")

EXAMPLES = 40
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

COUNTS: dict[str, Counter] = defaultdict(Counter)
FAILURES: dict[str, list[str]] = defaultdict(list)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("MP_FUZZ_REPORT")
    if path:
        out = {
            name: {**dict(c), "failures": FAILURES[name][:10]} for name, c in sorted(COUNTS.items())
        }
        with open(path, "w") as fh:
            json.dump(out, fh, indent=2, sort_keys=True)


# ------------------------------------------------------------------------------ inputs
DTYPES = ["float64", "float32", "float16", "int64", "bool", "object", "complex128",
          "torch32", "torch_bf16"]


@st.composite
def clouds(draw, valid_shape=False, max_rows=40, max_cols=6):
    """Point clouds in every shape, dtype, magnitude, duplicate pattern and lattice.

    ``valid_shape``: 2-D real arrays with enough rows for the small neighbourhoods used here
    (still of every magnitude, float dtype, duplicate pattern and lattice), so that the
    examples reach the numerics rather than the shape checks.
    """
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if valid_shape:
        shape_kind = "2d"
        n = draw(st.sampled_from([12, 20, 30, max_rows]))
        d = draw(st.sampled_from([1, 2, 3, 4, max_cols]))
    else:
        shape_kind = draw(st.sampled_from(["2d"] * 8 + ["1d", "3d", "0d"]))
        n = draw(st.sampled_from([0, 1, 2, 3, 7, 12, 20, 30, max_rows]))
        d = draw(st.sampled_from([0, 1, 2, 3, 4, max_cols]))
    kind = draw(st.sampled_from(["gauss", "lattice", "circle", "identical", "pairs", "block"]))
    if kind == "lattice":
        side = max(2, int(np.ceil(max(n, 1) ** (1 / max(d, 1)))))
        grid = np.stack(np.meshgrid(*[np.arange(side)] * max(d, 1)), -1).reshape(-1, max(d, 1))
        A = grid[:n].astype(float)
    elif kind == "circle" and d >= 2:
        t = rng.uniform(0, 2 * np.pi, n)
        A = np.zeros((n, d))
        A[:, 0], A[:, 1] = np.cos(t), np.sin(t)
    else:
        A = rng.standard_normal((n, d))
    if kind == "identical" and n:
        A[:] = A[0]
    elif kind == "pairs" and n > 1:
        A[1::2] = A[0::2][: len(A[1::2])]
    elif kind == "block" and n > 4:
        A[n // 2 :] = A[: n - n // 2]
    if valid_shape:
        dtype = draw(st.sampled_from(["float64", "float64", "float64", "float32", "float16", "int64", "torch32",
                                      "torch_bf16"]))
    else:
        dtype = draw(st.sampled_from(DTYPES))
    # the magnitudes each dtype can hold (beyond them the cast itself makes inf or 0, which the
    # gate refuses as non-finite or duplicate rows: covered by the wide dtypes' extremes)
    exps = {"float16": [0, -3, 3], "torch_bf16": [0, -30, 30], "float32": [0, -30, 30],
            "torch32": [0, -30, 30], "int64": [0, 3, 15]}.get(
        dtype, [0, 0, -300, -200, -150, -20, 20, 150, 200, 300])
    scale = 10.0 ** draw(st.sampled_from(exps))
    A = A * scale
    if shape_kind == "1d":
        A = A.reshape(-1)
    elif shape_kind == "3d":
        A = A.reshape(1, n, d)
    elif shape_kind == "0d":
        A = np.float64(A.ravel()[0] if A.size else 0.0)
    with np.errstate(all="ignore"):
        if dtype == "torch32":
            return torch.as_tensor(np.asarray(A, dtype=np.float32))
        if dtype == "torch_bf16":
            return torch.as_tensor(np.asarray(A, dtype=np.float32)).to(torch.bfloat16)
        if dtype == "object":
            return np.asarray(A).astype(object)
        return np.asarray(A).astype(dtype)


# ------------------------------------------------------------------------------ checking
def _ambient(X) -> int | None:
    shape = tuple(X.shape) if hasattr(X, "shape") else ()
    return int(shape[-1]) if len(shape) == 2 else None


def _run(name, fn, X, check):
    """Call ``fn``; record the outcome; return a failure message or None."""
    COUNTS[name]["examples"] += 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn()
        except InputError:
            COUNTS[name]["input_error"] += 1
            return None
        except Exception as exc:  # noqa: BLE001 - exactly what the contract forbids
            COUNTS[name]["uncaught"] += 1
            msg = f"{type(exc).__name__}: {str(exc)[:160]} on {_describe(X)}"
            FAILURES[name].append(msg)
            return msg
    problem = check(out, X, [w.category for w in caught])
    if problem:
        key = "above_ambient" if problem.startswith("dimension") else "undocumented_nonfinite"
        COUNTS[name][key] += 1
        msg = f"{problem} on {_describe(X)}"
        FAILURES[name].append(msg)
        return msg
    COUNTS[name]["ok"] += 1
    return None


def _describe(X) -> str:
    dt = getattr(X, "dtype", type(X).__name__)
    shape = tuple(getattr(X, "shape", ()))
    try:
        mag = float(np.max(np.abs(np.asarray(X, dtype=float)))) if np.size(X) else 0.0
    except Exception:  # noqa: BLE001
        mag = float("nan")
    return f"dtype={dt} shape={shape} max|x|={mag:.3g}"


def _finite(*arrays) -> bool:
    return all(np.isfinite(np.asarray(a, dtype=float)).all() for a in arrays)


def check_knn(nb, X, _w):
    if not _finite(nb.distances) or (nb.distances < 0).any():
        return "non-finite or negative kNN distance"
    return None


def check_dimension(est, X, _w):
    if not _finite(est.dimension):
        return "non-finite dimension"
    if est.pointwise is not None:
        pw = np.asarray(est.pointwise, dtype=float)
        # documented: MLE's raw local statistics are inf where all k neighbours are equidistant
        if np.isnan(pw).any() or (est.method != "mle" and np.isinf(pw).any()):
            return "NaN (or undocumented inf) pointwise dimension"
        D = _ambient(X)
        # local PCA's pointwise values are bounded by D; MLE's are documented raw statistics
        if D is not None and est.method == "lpca" and pw.max() > D:
            return f"dimension (pointwise) {pw.max()} above ambient {D}"
    D = _ambient(X)
    if D is not None and est.dimension > D + 1e-9:
        return f"dimension {est.dimension} above ambient {D}"
    return None


def check_curvature(S, X, categories):
    S = np.asarray(S, dtype=float)
    if np.isinf(S).any():
        return "inf curvature"
    if np.isnan(S).any() and RuntimeWarning not in categories:
        return "NaN curvature without a warning"
    return None


def check_ollivier(r, X, _w):
    return None if _finite(r.edge_curvature, r.node_curvature) else "non-finite Ollivier-Ricci"


def check_geodesic(D, X, _w):
    D = np.asarray(D)
    if np.isnan(D).any() or (D < 0).any():
        return "NaN or negative geodesic distance"
    return None


def check_distortion(g, X, _w):
    vals = [g.scale, g.mean, g.spread, g.iqr, g.fraction_distorted, *np.ravel(g.quantiles)]
    return None if _finite(vals) else "non-finite distortion summary"


def check_persistence(dgms, X, _w):
    for dg in dgms:
        dg = np.asarray(dg)
        if np.isnan(dg).any() or not np.isfinite(dg[:, 0]).all() or np.isneginf(dg).any():
            return "NaN, -inf or infinite birth in a diagram"
    return None


def check_betti(b, X, _w):
    if not all(isinstance(v, (int, np.integer)) and v >= 0 for v in b):
        return "Betti numbers are not non-negative integers"
    return None


def check_topology(c, X, _w):
    return None if _finite(c.distances) else "non-finite diagram distance"


def check_scalar(v, X, _w):
    return None if _finite(v) else "non-finite distance"


def check_trajectory(a, X, _w):
    a = np.asarray(a, dtype=float)
    return "inf turning angle" if np.isinf(a).any() else None


def check_warp(w, X, _w):
    core = [w.knn_overlap, w.trustworthiness, w.continuity]
    return None if _finite(core) else "non-finite kNN overlap / trustworthiness / continuity"


def _as_float(X):
    """A float64 version of X for building companion inputs (distance matrices, images)."""
    try:
        A = np.asarray(X.float().numpy() if hasattr(X, "float") else X, dtype=np.float64)
    except Exception:  # noqa: BLE001
        return None
    return A if A.ndim == 2 and np.isfinite(A).all() else None


def _pairwise(X):
    A = _as_float(X)
    if A is None or A.size == 0:
        return X
    A = A / max(np.max(np.abs(A)), 1e-300)
    return np.sqrt(np.maximum(((A[:, None, :] - A[None, :, :]) ** 2).sum(-1), 0.0))


def _diagram(X):
    """A persistence diagram (birth <= death) from the first two columns of X, else X as is."""
    A = _as_float(X)
    if A is None or A.shape[1] < 2:
        return X
    return np.sort(A[:, :2], axis=1)


def _image(X):
    """Y[i] = f(X[i]) for the map-comparison functions: a smooth bend of X."""
    A = _as_float(X)
    if A is None:
        return X
    with np.errstate(all="ignore"):
        return np.c_[A, np.sin(A[:, :1])] if A.shape[1] else A


# ------------------------------------------------------------------------------ entry points
ENTRY_POINTS = {
    "knn": (lambda X: mp.knn(X, k=3), check_knn),
    "id_twonn": (lambda X: mp.intrinsic_dimension(X, method="twonn"), check_dimension),
    "id_mle": (lambda X: mp.intrinsic_dimension(X, method="mle", k=5), check_dimension),
    "id_gride": (lambda X: mp.intrinsic_dimension(X, method="gride", range_max=8),
                 check_dimension),
    "id_lpca": (lambda X: mp.intrinsic_dimension(X, method="lpca", k=5), check_dimension),
    "id_phd": (lambda X: mp.intrinsic_dimension(X, method="phd", min_points=5, max_points=40,
                                                n_sizes=3, n_repeats=1), check_dimension),
    "scalar_curvature": (lambda X: mp.scalar_curvature(X, dim=1, k=10, degree=2),
                         check_curvature),
    "scalar_curvature_auto": (lambda X: mp.scalar_curvature(X), check_curvature),
    "ball_volume": (lambda X: mp.scalar_curvature(X, dim=1, k=5, method="ball_volume",
                                                  ball_fraction=0.3, density_k=2),
                    check_curvature),
    "ollivier_ricci": (lambda X: mp.ollivier_ricci(X, k=3), check_ollivier),
    "trajectory_curvature": (lambda X: mp.trajectory_curvature(X), check_trajectory),
    "geodesic_distances": (lambda X: mp.geodesic_distances(X, k=3), check_geodesic),
    "geodesic_distortion": (lambda X: mp.geodesic_distortion(_pairwise(X), 2 * _pairwise(X)),
                            check_distortion),
    "persistence": (lambda X: mp.persistence(X, maxdim=1, seed=0), check_persistence),
    "betti_numbers": (lambda X: mp.betti_numbers(X, maxdim=1, seed=0), check_betti),
    "topology_preserved": (lambda X: mp.topology_preserved(X, _image(X), maxdim=1, seed=0),
                           check_topology),
    "diagram_distance": (lambda X: mp.diagram_distance(_diagram(X), 2 * _diagram(X),
                                                       "wasserstein"), check_scalar),
    "warp": (lambda X: mp.warp(X, _image(X), k=3), check_warp),
}

@pytest.mark.parametrize("valid_shape", [False, True], ids=["any-shape", "2d-float"])
@pytest.mark.parametrize(
    "name", list(ENTRY_POINTS)
)
def test_contract(name, valid_shape):
    fn, check = ENTRY_POINTS[name]
    failures = []

    @FUZZ
    @given(X=clouds(valid_shape=valid_shape))
    def run(X):
        msg = _run(name, lambda: fn(X), X, check)
        if msg:
            failures.append(msg)

    run()
    assert COUNTS[name]["examples"] >= EXAMPLES
    assert not failures, f"{len(failures)} contract violations, first: {failures[:3]}"


@FUZZ
@given(seed=st.one_of(st.integers(-2**70, 2**70), st.sampled_from([np.int8(-1), np.uint64(7),
                                                                  np.int64(-5), True, 1.5, "3"])))
def test_seeds_are_accepted_or_refused_cleanly(seed):
    X = np.random.default_rng(0).standard_normal((60, 2))
    for call in (
        lambda: mp.intrinsic_dimension(X, method="mle", k=5, seed=seed),
        lambda: mp.intrinsic_dimension(X, method="phd", min_points=10, max_points=60,
                                       n_sizes=3, n_repeats=1, seed=seed),
        lambda: mp.scalar_curvature(X, seed=seed, dim=1, k=10, degree=2),
    ):
        try:
            first = call()
        except InputError:
            continue
        second = call()  # accepted seeds are deterministic
        a = getattr(first, "dimension", first)
        b = getattr(second, "dimension", second)
        np.testing.assert_array_equal(a, b)


@FUZZ
@given(k=st.one_of(st.sampled_from(["5", 5.0, 2.5, None, True, -1, 0, [3], np.float64(3)]),
                   st.integers(-10, 10)))
def test_parameter_types_are_refused_cleanly(k):
    X = np.random.default_rng(1).standard_normal((40, 3))
    for call in (
        lambda: mp.knn(X, k=k),
        lambda: mp.intrinsic_dimension(X, method="mle", k=k),
        lambda: mp.intrinsic_dimension(X, method="lpca", k=k),
        lambda: mp.scalar_curvature(X, dim=1, k=k),
        lambda: mp.geodesic_distances(X, k=k),
        lambda: mp.ollivier_ricci(X, k=k),
    ):
        try:
            call()
        except InputError:
            pass


@settings(max_examples=15, derandomize=True, deadline=None, database=None)
@given(
    power=st.sampled_from([-1000, -700, -300, -60, 60, 300, 700, 1000]),
    seed=st.integers(0, 2**16),
    d=st.sampled_from([2, 3, 5]),
)
def test_magnitude_invariance_is_exact(power, seed, d):
    """Scaling by 2**p leaves dimensions unchanged and multiplies curvature by 2**-2p, exactly
    (the gate's power-of-two normalisation); a curvature float64 cannot hold is refused."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((80, d))
    X[:, -1] = 0.3 * (X[:, 0] ** 2)  # a curved (d-1)-dimensional graph surface in R^d
    A = np.ldexp(X, power)
    for method in ("mle", "lpca"):
        assert (mp.intrinsic_dimension(A, method=method, k=8).dimension
                == mp.intrinsic_dimension(X, method=method, k=8).dimension)
    ref = mp.scalar_curvature(X, dim=d - 1, k=40, degree=2)
    try:
        got = mp.scalar_curvature(A, dim=d - 1, k=40, degree=2)
    except InputError as exc:
        assert "beyond the range of float64" in str(exc)
        assert abs(2 * power) > 900  # only when 2**-2p itself leaves the float64 range
        return
    np.testing.assert_array_equal(got, np.ldexp(ref, -2 * power))


# ------------------------------------------------------------------------------ issue 23
# Precomputed neighbour graphs: every mutation of a good graph is refused (InputError) or the
# call is "silently wrong"; the unmutated graph gives the result computed without it.
GRAPH_MUTATIONS = ["none", "reversed", "unsorted", "nan", "inf", "negative", "self",
                   "other cloud", "index too large", "negative index", "float indices",
                   "repeated neighbour", "shuffled rows", "scaled by 3", "shifted indices"]


def _mutate(nb, mutation, rng, X):
    from manifold_probe.neighbors import Neighbors

    d, i = nb.distances.copy(), nb.indices.copy()
    n, k = i.shape
    r, c = int(rng.integers(n)), int(rng.integers(k))
    if mutation == "reversed":
        d, i = d[:, ::-1].copy(), i[:, ::-1].copy()
    elif mutation == "unsorted":
        d[r] = d[r][::-1].copy()
        i[r] = i[r][::-1].copy()
    elif mutation in ("nan", "inf"):
        d[r, c] = np.nan if mutation == "nan" else np.inf
    elif mutation == "negative":
        d[r, 0] = -abs(d[r, 0]) - 1.0
    elif mutation == "self":
        i[r, 0] = r
    elif mutation == "other cloud":
        return mp.knn(rng.standard_normal(X.shape), k)
    elif mutation == "index too large":
        i[r, c] = n + int(rng.integers(1, 100))
    elif mutation == "negative index":
        i[r, c] = -1
    elif mutation == "float indices":
        return Neighbors(d, i.astype(np.float64))
    elif mutation == "repeated neighbour" and k > 1:
        i[r, 1] = i[r, 0]
    elif mutation == "shuffled rows":
        p = rng.permutation(n)
        d, i = d[p], i[p]
    elif mutation == "scaled by 3":
        d = 3.0 * d
    elif mutation == "shifted indices":
        i = (i + 1) % n
    return Neighbors(d, i)


def _graph_entry_points():
    from manifold_probe.analysis.neighbourhoods import trustworthiness
    from manifold_probe.analysis.regions import regions

    return {
        "twonn": lambda X, g: mp.intrinsic_dimension(X, method="twonn", neighbors=g).dimension,
        "mle": lambda X, g: mp.intrinsic_dimension(X, method="mle", k=8, neighbors=g).dimension,
        "gride": lambda X, g: mp.intrinsic_dimension(X, method="gride", range_max=8,
                                                     neighbors=g).dimension,
        "scalar_curvature": lambda X, g: mp.scalar_curvature(X, dim=1, k=10, degree=2,
                                                              neighbors=g),
        "geodesic_distances": lambda X, g: mp.geodesic_distances(X, k=8, sources=[0, 1],
                                                                 neighbors=g),
        "ollivier_ricci": lambda X, g: mp.ollivier_ricci(X, k=5, neighbors=g).edge_curvature,
        "trustworthiness": lambda X, g: trustworthiness(X, X, 5, neighbors_x=g, neighbors_y=g),
        "regions": lambda X, g: regions(X, k=5, n_boot=20, seed=0, neighbors=g).labels,
    }


@settings(max_examples=120, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**16), mutation=st.sampled_from(GRAPH_MUTATIONS),
       entry=st.sampled_from(["twonn", "mle", "gride", "scalar_curvature", "geodesic_distances",
                              "ollivier_ricci", "trustworthiness", "regions"]),
       offset=st.sampled_from([0.0, 1e4, 1e8]))
def test_neighbor_graphs_are_checked(seed, mutation, entry, offset):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 2)) + offset
    fn = _graph_entry_points()[entry]
    good = mp.knn(X, 26)  # enough columns for every entry point (regions needs 2k + 10)
    g = _mutate(good, mutation, rng, X)
    name = f"neighbors=:{entry}"
    COUNTS[name]["examples"] += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = fn(X, g)
        except InputError:
            COUNTS[name]["input_error"] += 1
            assert mutation != "none", f"{entry} refused the graph of its own X"
            return
        except Exception as exc:  # noqa: BLE001 - what the contract forbids
            COUNTS[name]["uncaught"] += 1
            FAILURES[name].append(f"{mutation}: {type(exc).__name__}: {exc}")
            raise AssertionError(f"{entry} with a {mutation} graph: {type(exc).__name__}: {exc}") from exc
        if mutation != "none":
            COUNTS[name]["silently_wrong"] += 1
            FAILURES[name].append(f"{mutation} graph accepted")
            raise AssertionError(f"{entry} used a {mutation} graph silently")
        ref = fn(X, None)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
    COUNTS[name]["ok"] += 1


# Translations: a translation-invariant measure reads the same at +1e4 ... +1e8 (the offset
# costs offset * 2**-52 of the coordinates' precision, about 1e-8 on unit-scale clouds).
def _translation_measures():
    from manifold_probe.analysis.regions import regions
    from manifold_probe.analysis.structure import hyperbolicity

    return {
        "twonn": (lambda X: mp.intrinsic_dimension(X, method="twonn").dimension, 1e-6),
        "mle": (lambda X: mp.intrinsic_dimension(X, method="mle", k=8).dimension, 1e-6),
        "knn distances": (lambda X: mp.knn(X, 5).distances, 1e-6),
        "geodesic_distances": (lambda X: mp.geodesic_distances(X, k=8, sources=[0, 3]), 1e-6),
        "ball_volume": (lambda X: np.nanmedian(mp.scalar_curvature(
            X, dim=2, method="ball_volume")), 1e-4),
        "regions threshold": (lambda X: regions(X, n_boot=20, seed=0).threshold, 1e-6),
        "hyperbolicity": (lambda X: hyperbolicity(X[:30], n_surrogates=19, seed=0).delta, 1e-6),
        "betti_numbers": (lambda X: np.array(mp.betti_numbers(X, seed=0)), 0.0),
    }


@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**16), offset=st.sampled_from([1e4, 1e5, 1e6, 1e7, 1e8]),
       measure=st.sampled_from(["twonn", "mle", "knn distances", "geodesic_distances",
                                "ball_volume", "regions threshold", "hyperbolicity",
                                "betti_numbers"]))
def test_translation_invariance(seed, offset, measure):
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((120, 3))
    X = V / np.linalg.norm(V, axis=1, keepdims=True)  # a unit sphere: curved, of known scale
    fn, rtol = _translation_measures()[measure]
    name = f"translation:{measure}"
    COUNTS[name]["examples"] += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.asarray(fn(X), dtype=float)
        try:
            got = np.asarray(fn(X + offset), dtype=float)
        except InputError:
            COUNTS[name]["input_error"] += 1
            raise
        except Exception:
            COUNTS[name]["uncaught"] += 1
            raise
    scale = np.maximum(np.abs(ref), 1e-12)
    if not np.all(np.abs(got - ref) <= rtol * scale + 1e-12):
        COUNTS[name]["silently_wrong"] += 1
        FAILURES[name].append(f"+{offset:g}: {got} vs {ref}")
        raise AssertionError(f"{measure} at +{offset:g}: {got} vs {ref}")
    COUNTS[name]["ok"] += 1


# Names from a config become paths: every name is refused or stays inside the run directory.
@settings(max_examples=150, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(name=st.one_of(
    st.text(max_size=30),
    st.sampled_from(["../../../../ESCAPED", "/some/dir/X", "..", ".", "a/../../b", "~/x",
                     "C:\\x", "a\x00b", "con", "x" * 120, "-rf", ".git"]),
    st.from_regex(r"[./a-z]{1,12}", fullmatch=True)))
def test_config_names_never_escape_the_run_directory(name, tmp_path_factory):
    from pathlib import Path

    from manifold_probe.config import ConfigError, config_hash, parse_config
    from manifold_probe.experiment.integrity import inside_run

    COUNTS["config names"]["examples"] += 1
    cfg = {"model": {"spec": "toy-modadd"}, "data": {"source": "model"},
           "perturbations": [{"kind": "scale", "layer": 1, "factor": 0.5, "name": name}]}
    try:
        p = parse_config(cfg).perturbations[0]
    except ConfigError:
        COUNTS["config names"]["input_error"] += 1
        return
    out = Path("/nonexistent-run-dir/run")
    folder = out / "perturbed" / "abc" / f"{p.label}-{config_hash(p)[:8]}"
    resolved = Path(os.path.normpath(folder))
    if not resolved.is_relative_to(out) or resolved.parent != out / "perturbed" / "abc":
        COUNTS["config names"]["writes_outside_out"] += 1
        raise AssertionError(f"name {name!r} leads to {resolved}")
    inside_run(out, folder)  # the runner's own check agrees
    COUNTS["config names"]["ok"] += 1


# labels.npz: any change of its bytes is refused (IntegrityError), never read as labels.
@settings(max_examples=60, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(edit=st.sampled_from(["flip", "truncate", "append", "permute", "zero"]),
       at=st.floats(0, 1), seed=st.integers(0, 2**16))
def test_labels_file_corruption_is_detected(edit, at, seed, tmp_path_factory):
    import io

    from manifold_probe._io import bytes_digest
    from manifold_probe._validation import IntegrityError
    from manifold_probe.experiment.layout import read_labels

    rng = np.random.default_rng(seed)
    labels = {"answer": rng.integers(0, 7, 50), "category": rng.choice(["a", "b"], 50)}
    buf = io.BytesIO()
    np.savez(buf, **labels)
    data = buf.getvalue()
    digest = bytes_digest(data)
    pos = min(int(at * len(data)), len(data) - 1)
    if edit == "flip":
        bad = bytearray(data)
        bad[pos] ^= 1 << int(rng.integers(8))
        bad = bytes(bad)
    elif edit == "truncate":
        bad = data[:pos]
    elif edit == "append":
        bad = data + b"\0"
    elif edit == "permute":
        b2 = io.BytesIO()
        np.savez(b2, **{k: rng.permutation(v) for k, v in labels.items()})
        bad = b2.getvalue()
    else:
        bad = bytes(len(data))
    path = tmp_path_factory.mktemp("labels") / "labels.npz"
    path.write_bytes(bad)
    COUNTS["labels.npz"]["examples"] += 1
    try:
        got = read_labels(path, digest)
    except IntegrityError:
        COUNTS["labels.npz"]["input_error"] += 1
        return
    # accepted only when the bytes are the recorded ones (an edit that changed nothing)
    if bad != data:
        COUNTS["labels.npz"]["silently_wrong"] += 1
        raise AssertionError(f"{edit} at {pos}: altered labels read")
    for k, v in labels.items():
        np.testing.assert_array_equal(got[k], v)
    COUNTS["labels.npz"]["ok"] += 1
