"""Regression tests of issue 23: nothing escapes the run directory, nothing unchecked is
trusted, no call runs away. Each test is one of the issue's reproducers (the corruption
matrix of the run directory, labels included, lives in ``test_run_integrity.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import manifold_probe as mp
from manifold_probe._io import LockHeldError
from manifold_probe._validation import InputError, IntegrityError
from manifold_probe.config import ConfigError, load_config, parse_config
from manifold_probe.neighbors import Neighbors
from manifold_probe.store import ActivationStore

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "experiments" / "configs" / "tiny.toml"


# ------------------------------------------------------------------ 1. names that become paths
@pytest.mark.parametrize("name", ["../../../../ESCAPED", "/some/dir/X", "a/b", "..", ".",
                                  "", ".hidden", "-flag", "a\\b", "x" * 101, "tab\tname"])
def test_perturbation_name_that_is_not_a_file_name_is_refused(name):
    toml = TINY.read_text().replace('factor = 0.5', f'factor = 0.5\nname = {json.dumps(name)}')
    with pytest.raises(ConfigError, match="perturbations.0.name"):
        parse_config(toml)


@pytest.mark.parametrize("name", ["keep_rotate", "noise@2-n0.5", "x1e+10", "A.b,c=d"])
def test_safe_perturbation_names_load(name):
    toml = TINY.read_text().replace('factor = 0.5', f'factor = 0.5\nname = {json.dumps(name)}')
    assert parse_config(toml).perturbations[0].label == name


def test_runner_refuses_a_folder_outside_the_run_directory(tmp_path):
    from manifold_probe.experiment.integrity import inside_run

    out = tmp_path / "run"
    assert inside_run(out, out / "perturbed" / "x") == out / "perturbed" / "x"
    with pytest.raises(InputError, match="outside the run directory"):
        inside_run(out, out / "perturbed" / ".." / ".." / "ESCAPED")


# ------------------------------------------------------------------ 2./3. the store
def _store(path, rows=20, chunk_rows=8):
    s = ActivationStore(path)
    s.begin(["a"], meta={"model": "m"}, chunk_rows=chunk_rows)
    s.append({"a": np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)}, n_inputs=rows)
    s.complete()
    return s


@pytest.mark.parametrize("fmt", ["manifold_probe.activations/1", "manifold_probe.activations/0",
                                 "manifold_probe.activations/3", None])
def test_store_manifest_format_cannot_downgrade_checks(tmp_path, fmt):
    path = tmp_path / "s"
    _store(path)
    f = path / "manifest.json"
    man = json.loads(f.read_text())
    man["format"] = fmt  # the checksums stay: a downgrade, not an old store
    f.write_text(json.dumps(man))
    chunks = sorted(p for p in (path / "a").rglob("*") if p.is_file() and "c" in p.parts)
    chunks[0].unlink()  # zarr alone would read these rows as zeros
    with pytest.raises(IntegrityError, match="format"):
        ActivationStore(path).read("a")


def test_store_deleted_chunk_is_detected(tmp_path):
    path = tmp_path / "s"
    _store(path)
    chunks = sorted(p for p in (path / "a").rglob("*") if p.is_file() and "c" in p.parts)
    chunks[1].unlink()
    with pytest.raises(IntegrityError, match="chunk 1"):
        ActivationStore(path).read("a")


def test_second_writer_on_a_store_fails_fast(tmp_path):
    path = tmp_path / "s"
    first = ActivationStore(path)
    first.begin(["a"], meta={"model": "m"}, chunk_rows=8)
    with pytest.raises(LockHeldError, match="another capture"):
        ActivationStore(path).begin(["a"], meta={"model": "m"}, chunk_rows=8)
    with pytest.raises(LockHeldError):
        ActivationStore(path).resume()
    with pytest.raises(LockHeldError):
        ActivationStore(path, overwrite=True).begin(["a"], meta={"model": "m"})
    first.append({"a": np.ones((5, 2), np.float32)}, n_inputs=5)
    first.complete()  # releases the lock: the store is whole, 5 rows
    assert ActivationStore(path).read("a").shape == (5, 2)
    assert ActivationStore(path).begin(["a"], meta={"model": "m"}) == 5  # complete: left as is


def test_second_writer_in_another_process_fails_fast(tmp_path):
    path = tmp_path / "s"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from manifold_probe.store import ActivationStore
            s = ActivationStore({str(path)!r}); s.begin(["a"], meta={{"model": "m"}})
            print("held", flush=True); sys.stdin.readline()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError, match=f"pid {holder.pid}"):
            ActivationStore(path).begin(["a"], meta={"model": "m"})
    finally:
        holder.communicate("\n", timeout=60)
    ActivationStore(path).begin(["a"], meta={"model": "m"})  # released when the holder ended


# ------------------------------------------------------------------ 4. neighbour graphs
def _cloud(n=200, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 2))


def _bad_graphs(X, nb):
    n, k = nb.indices.shape
    d, i = nb.distances, nb.indices
    nan = d.copy()
    nan[3, 2] = np.nan
    big = i.copy()
    big[7, 1] = n + 5
    neg = i.copy()
    neg[7, 1] = -1
    dup = i.copy()
    dup[4, 1] = dup[4, 0]
    return {
        "reversed": Neighbors(d[:, ::-1].copy(), i[:, ::-1].copy()),
        "nan": Neighbors(nan, i),
        "self": Neighbors(np.c_[np.zeros(n), d[:, :-1]], np.c_[np.arange(n), i[:, :-1]]),
        "other cloud": mp.knn(_cloud(n, seed=1), k),
        "index too large": Neighbors(d, big),
        "negative index": Neighbors(d, neg),
        "repeated neighbour": Neighbors(d, dup),
        "float indices": Neighbors(d, i.astype(float)),
        "shuffled rows": Neighbors(d[::-1].copy(), i[::-1].copy()),
    }


@pytest.mark.parametrize("case", ["reversed", "nan", "self", "other cloud", "index too large",
                                  "negative index", "repeated neighbour", "float indices",
                                  "shuffled rows"])
@pytest.mark.parametrize("scale", [1.0, 1e300])
@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow inside the check either
def test_bad_neighbour_graphs_are_refused(case, scale):
    from manifold_probe.analysis.neighbourhoods import trustworthiness

    X = _cloud() * scale
    g = _bad_graphs(X, mp.knn(X, 10))[case]
    with pytest.raises(InputError):
        mp.intrinsic_dimension(X, method="mle", k=10, neighbors=g)
    with pytest.raises(InputError):
        trustworthiness(X, X, 5, neighbors_x=g, neighbors_y=g)


def test_good_graph_of_a_rescaled_and_translated_cloud_is_accepted():
    # the estimators rescale X by powers of two (not the graph): the check must allow that
    X = _cloud() * 1e6 + 3e7
    nb = mp.knn(X, 10)
    assert 1.7 < mp.intrinsic_dimension(X, method="mle", k=10, neighbors=nb).dimension < 2.3
    assert mp.intrinsic_dimension(None, method="twonn", neighbors=nb).dimension > 1.5


# ------------------------------------------------------------------ 5. seeds and settings
@pytest.mark.parametrize("seeds", ["[2147483648]", "[true]", "[-1]", "[1.0]", "[]"])
def test_config_seeds_refused(seeds):
    with pytest.raises(ConfigError, match="seeds"):
        parse_config(TINY.read_text().replace("seeds = [0]", f"seeds = {seeds}"))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"seeds": [-1]}, "seeds"),
    ({"seeds": [True]}, "seeds"),
    ({"seeds": [2**31]}, "seeds"),
    ({"estimators": {"knn": {"k": "5"}}}, "knn.k"),
    ({"estimators": {"knn": {"k": 1}}}, "knn.k"),
    ({"estimators": {"mle": {"enabled": 1}}}, "mle.enabled"),
    ({"estimators": {"topology": {"maxdim": 7}}}, "topology.maxdim"),
    ({"estimators": {"nope": {}}}, "nope"),
])
def test_python_settings_validate_like_the_config(kwargs, match):
    from manifold_probe.analysis import profile_layers

    X = _cloud(40)
    with pytest.raises(InputError, match=match):
        profile_layers([X, X], **kwargs)


def test_hand_built_settings_are_checked_too():
    from manifold_probe.analysis.settings import EstimatorSettings, KnnSettings
    from manifold_probe.analysis.settings_schema import validate_settings

    with pytest.raises(InputError, match="knn.k"):
        validate_settings(EstimatorSettings(knn=KnnSettings(k="5")))
    assert validate_settings({"knn": KnnSettings(k=7)}).knn.k == 7


# ------------------------------------------------------------------ 9. exit codes and trust
def test_missing_distributed_names_the_extra(tmp_path, monkeypatch):
    import importlib.util

    from typer.testing import CliRunner

    from manifold_probe.cli import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    for option in (["--workers", "1"], ["--scheduler", "tcp://127.0.0.1:1"]):
        result = CliRunner().invoke(app, ["run", str(TINY), "--out", str(tmp_path / "o"),
                                          *option])
        assert result.exit_code == 2, result.output
        assert "manifold-probe[distributed]" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()  # refused before anything ran


def test_config_file_cannot_grant_itself_trust_code(tmp_path, monkeypatch):
    monkeypatch.delenv("MANIFOLD_PROBE_TRUST_CODE", raising=False)
    (tmp_path / "m.py").write_text("def make():\n    raise SystemExit('ran')\n")
    path = tmp_path / "c.toml"
    path.write_text(f'[model]\nspec = "{tmp_path / "m.py"}:make"\ntrust_code = true\n'
                    '[data]\nsource = "model"\n')
    with pytest.raises(ConfigError, match="cannot grant itself"):
        load_config(path)
    assert load_config(path, overrides={"model.trust_code": True}).model.trust_code
    monkeypatch.setenv("MANIFOLD_PROBE_TRUST_CODE", "1")
    assert load_config(path).model.trust_code


def test_refused_pickle_weights_are_an_input_error(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import fractions

    from manifold_probe.capture import load_model

    cfg = transformers.BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=16)
    model = transformers.BertModel(cfg)
    cfg.save_pretrained(tmp_path)
    state = dict(model.state_dict())
    state["extra"] = fractions.Fraction(1, 3)  # not a tensor: torch.load(weights_only) refuses
    torch.save(state, tmp_path / "pytorch_model.bin")
    with pytest.raises(InputError, match="pickle"):
        load_model(str(tmp_path))


# ------------------------------------------------------------------ 10. cache keys
def _ids(tmp_path, **sections):
    from manifold_probe.experiment.runner import plan_tasks

    toml = TINY.read_text() + "\n[estimators.verdict]\nlayer_pairs = true\n"
    cfg = parse_config(toml)
    est = cfg.estimators.model_dump()
    for dotted, value in sections.items():
        sec, key = dotted.split("__")
        est[sec][key] = value
    cfg = cfg.model_copy(update={"estimators": type(cfg.estimators).model_validate(est)})
    acts = tmp_path / "activations" / "abc"
    acts.mkdir(parents=True, exist_ok=True)
    meta = {"layers": ["l0", "l1", "l2"], "has_sentence_ids": False, "n_points": 100}
    _, stage2 = plan_tasks(cfg, tmp_path, acts, meta, {})
    return {(s["kind"], s["layer"]): s["id"] for s in stage2}


def test_task_keys_cover_what_tasks_read(tmp_path):
    base = _ids(tmp_path)
    other_k = _ids(tmp_path, knn__k=4)
    other_mle = _ids(tmp_path, mle__k=12)
    # verdict_prev reads knn.k (label separation): another k is another task
    assert base[("verdict_prev", 1)] != other_k[("verdict_prev", 1)]
    # topology never reads mle.k (nor the graph): its tasks are reused
    assert base[("topology", 1)] == other_mle[("topology", 1)]
    assert base[("dimension", 1)] != other_mle[("dimension", 1)]


def test_a_task_sees_only_its_declared_settings():
    from manifold_probe.analysis.settings import EstimatorSettings
    from manifold_probe.analysis.tasks import (
        TASK_GRAPH,
        TASK_SETTINGS,
        UndeclaredSettingError,
        _SourceView,
        settings_view,
    )

    est = EstimatorSettings()
    for kind, sections in TASK_SETTINGS.items():
        view = settings_view(est, kind)
        for name in ("knn", "mle", "topology", "regions", "verdict"):
            if name in sections:
                assert getattr(view, name) == getattr(est, name)
            else:
                with pytest.raises(UndeclaredSettingError, match=kind):
                    _ = getattr(view, name).enabled
        if kind not in TASK_GRAPH:
            with pytest.raises(UndeclaredSettingError, match="graph"):
                _SourceView(object(), kind).graph(0)


# ------------------------------------------------------------------ 7. cost guards
# Each call below would run for minutes or exhaust memory. With CostWarning turned into an
# error, the guard stops it before any work: a guard that only warned after the work (or not
# at all) would make the test run away, and the suite's timeout would fail it.
def _cost_guarded(fn, *args, **kwargs):
    import warnings

    from manifold_probe._validation import CostWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", CostWarning)
        with pytest.raises((CostWarning, InputError)) as info:
            fn(*args, **kwargs)
    return info.value


def test_cost_guard_betti_numbers_landmarks():
    X = np.random.default_rng(0).normal(size=(20000, 3))
    err = _cost_guarded(mp.betti_numbers, X, n_landmarks=20000)
    assert "n_landmarks" in str(err)


def test_cost_guard_hyperbolicity():
    from manifold_probe.analysis.structure import hyperbolicity

    Z = np.random.default_rng(0).normal(size=(20000, 3))
    assert "hyperbolicity" in str(_cost_guarded(hyperbolicity, Z))


def test_cost_guard_knn_k_near_n(monkeypatch):
    import manifold_probe._validation as v

    # the limit is a fraction of this machine's memory: state the machine (16 GiB)
    monkeypatch.setattr(v, "memory_budget", lambda: 8 * 2**30)
    X = np.random.default_rng(0).normal(size=(20000, 3))
    assert "knn" in str(_cost_guarded(mp.knn, X, k=19999))


def test_cost_guard_regions_n_boot():
    from manifold_probe.analysis.regions import regions

    X = np.random.default_rng(0).normal(size=(2000, 2))
    assert "n_boot" in str(_cost_guarded(regions, X, n_boot=10**6))


def test_cost_guard_known_structure_n_perm():
    from manifold_probe.analysis.structure import known_structure

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(7), 10)
    X = rng.normal(size=(70, 5))
    assert "n_perm" in str(_cost_guarded(known_structure, X, y, "cycle", n_perm=10**9))


def test_cost_guard_dataset_ambient_dim(monkeypatch):
    import manifold_probe._validation as v

    monkeypatch.setattr(v, "memory_budget", lambda: 8 * 2**30)
    assert "ambient" in str(_cost_guarded(mp.datasets.sphere, 50, 2, ambient_dim=10**7,
                                          seed=0))


def test_cost_guard_warp_all_sources():
    X = np.random.default_rng(0).normal(size=(20000, 3))
    assert "n_sources" in str(_cost_guarded(mp.warp, X, X, n_sources=None))


def test_cost_guard_ollivier_ricci_k():
    X = np.random.default_rng(0).normal(size=(20000, 3))
    assert "ollivier_ricci" in str(_cost_guarded(mp.ollivier_ricci, X, k=100))


# ------------------------------------------------------------------ 6. translation and scale
def _unit_sphere(n=300, seed=0):
    V = np.random.default_rng(seed).normal(size=(n, 3))
    return V / np.linalg.norm(V, axis=1, keepdims=True)


@pytest.mark.parametrize("offset", [1e4, 1e6, 1e7, 1e8])
def test_ball_volume_curvature_is_translation_invariant(offset):
    import warnings

    X = _unit_sphere()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = np.nanmedian(mp.scalar_curvature(X, dim=2, method="ball_volume"))
        got = np.nanmedian(mp.scalar_curvature(X + offset, dim=2, method="ball_volume"))
    # the offset costs the coordinates offset * 2**-52 of their precision (2e-8 at 1e8 on a
    # unit sphere): the estimate moves by far less than 1e-4 of itself
    assert abs(got - ref) <= 1e-4 * abs(ref)


@pytest.mark.parametrize("scale", [1e300, 1e-300, 2.0**-1000])
def test_regions_and_hyperbolicity_are_scale_invariant(scale):
    from manifold_probe.analysis.regions import regions
    from manifold_probe.analysis.structure import hyperbolicity

    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 6]
    ref, got = regions(X, n_boot=40, seed=0), regions(X * scale, n_boot=40, seed=0)
    assert np.isfinite(got.threshold)
    # log-DTM differences: equal up to rounding of the rescaled coordinates
    np.testing.assert_allclose(got.threshold, ref.threshold, rtol=1e-9)
    np.testing.assert_array_equal(got.labels, ref.labels)
    Z = rng.normal(size=(30, 3))
    h0, h1 = hyperbolicity(Z, n_surrogates=19, seed=0), hyperbolicity(Z * scale, n_surrogates=19,
                                                                       seed=0)
    np.testing.assert_allclose(h1.delta, h0.delta, rtol=1e-9)
    assert h1.p_value == h0.p_value


def test_hyperbolicity_of_identical_rows_is_refused():
    from manifold_probe.analysis.structure import hyperbolicity

    with pytest.raises(InputError, match="distinct"):
        hyperbolicity(np.ones((40, 3)), seed=0)


# ------------------------------------------------------------------ 8. intervals within D
@pytest.mark.parametrize("seed", range(6))
def test_dimension_intervals_and_gride_curve_stay_within_the_ambient_dimension(seed):
    # a 2-D cloud of few points: TwoNN's upper end and GRIDE's curve scatter above 2
    X = np.random.default_rng(seed).random((25, 2))
    for method, options in (("twonn", {}), ("gride", {"range_max": 8})):
        est = mp.intrinsic_dimension(X, method=method, **options)
        assert est.dimension <= 2
        if est.interval is not None:
            assert est.interval[0] <= est.dimension <= est.interval[1] <= 2
        if getattr(est, "curve", None) is not None:
            assert np.nanmax(est.curve) <= 2


def test_known_structure_cycle_on_one_column_is_refused():
    from manifold_probe.analysis.structure import known_structure

    y = np.repeat(np.arange(7), 10)
    X = np.random.default_rng(0).normal(size=(70, 1))
    with pytest.raises(InputError, match="column"):
        known_structure(X, y, "cycle", n_perm=99, seed=0)


@pytest.mark.parametrize("name", ["../../../../ESCAPED", "/tmp/ESCAPED-abs"])
def test_cli_refuses_a_config_name_that_would_write_outside_out(tmp_path, name):
    from typer.testing import CliRunner

    from manifold_probe.cli import app

    cfg = tmp_path / "a" / "b" / "c.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(TINY.read_text().replace("factor = 0.5", f"factor = 0.5\nname = {json.dumps(name)}"))
    before = set(Path("/tmp").iterdir())
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "a" / "o"), "-q"])
    assert result.exit_code == 2 and "perturbations.0.name" in result.stderr
    assert not any("ESCAPED" in p.name for p in tmp_path.rglob("*"))
    # nothing written beside the run either (an absolute name aimed at /tmp)
    assert not [p for p in set(Path("/tmp").iterdir()) - before if "ESCAPED" in p.name]


@pytest.mark.parametrize(("scale", "offset"), [(1e300, 0.0), (1e-300, 0.0), (1.0, 1e7)])
def test_known_structure_is_translation_and_scale_invariant(scale, offset):
    from manifold_probe.analysis.structure import known_structure

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(7), 10)
    t = 2 * np.pi * y / 7
    X = np.c_[np.cos(t), np.sin(t), np.zeros((70, 3))] + 0.3 * rng.normal(size=(70, 5))
    ref = known_structure(X, y, "cycle", n_perm=99, seed=0)
    got = known_structure(X * scale + offset, y, "cycle", n_perm=99, seed=0)
    assert got.p_value == ref.p_value and got.in_order == ref.in_order
    np.testing.assert_allclose(got.variance_share, ref.variance_share, rtol=1e-6)
    # coordinates stay in X's units (rounding of +1e7 costs ~1e-9 of unit-scale values)
    np.testing.assert_allclose(np.abs(got.coordinates), np.abs(ref.coordinates) * scale,
                               rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("offset", [1e4, 1e6, 1e8])
def test_hyperbolicity_is_translation_invariant(offset):
    """Gromov's delta is a function of the distances, so a translation leaves it unchanged; the
    input is centred first, so an offset of 1e8 costs only the rounding of the shifted
    coordinates (offset * 2**-52 = 2e-8 at 1e8, against distances of order 1)."""
    from manifold_probe.analysis.structure import hyperbolicity

    Z = np.random.default_rng(3).normal(size=(30, 3))
    h0 = hyperbolicity(Z, n_surrogates=19, seed=0)
    h1 = hyperbolicity(Z + offset, n_surrogates=19, seed=0)
    np.testing.assert_allclose(h1.delta, h0.delta, rtol=1e-5)
    assert h1.p_value == h0.p_value
