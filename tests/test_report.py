"""The report: uncertainty on every figure, scale-free curvature, optional figures, redraw on
rerun, and the page checked in headless Chromium (DOM + screenshot)."""

import base64
import json
import os
import re
import shutil
import subprocess
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from manifold_probe.analysis import profile_layers
from manifold_probe.analysis.table import column_order
from manifold_probe.experiment.layout import graph_folder
from manifold_probe.report import FIGURES, load_run, write_report
from manifold_probe.report.data import _rms_radius
from manifold_probe.report.figures import build_figures
from manifold_probe.report.html import column_help
from manifold_probe.report.render import plotly_figure

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
OPTIONAL = ("profile_regions", "profile_structure")


def _toy_config(out: Path, seeds=(0, 1)):
    from manifold_probe.capture.toy import TOY_WEIGHTS
    from manifold_probe.config import load_config

    if not TOY_WEIGHTS.exists():
        pytest.skip(f"toy weights {TOY_WEIGHTS} not shipped")
    config = load_config(ROOT / "experiments/configs/tiny.toml")
    # the run without the optional region / structure columns (the synthetic run has them)
    est = config.estimators
    est = est.model_copy(update={
        "regions": est.regions.model_copy(update={"enabled": False}),
        "structure": est.structure.model_copy(update={"enabled": False}),
    })
    return config.model_copy(update={"seeds": list(seeds), "out": str(out), "estimators": est})


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A real run of the toy model with two seeds (tasks, activations and graphs on disk)."""
    from manifold_probe.experiment.runner import run_experiment

    out = tmp_path_factory.mktemp("toy")
    run_experiment(_toy_config(out), out)
    return out


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    """A profile of 4 synthetic layers plus the region / structure columns, with 2 seeds of
    task files for the region columns and no saved arrays (so the report must cope)."""
    from manifold_probe.neighbors import knn

    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, 150)
    X = np.c_[np.cos(t), np.sin(t), 0.01 * rng.normal(size=(150, 2))]
    layers = {"embeddings": X, "layer_1": np.tanh(2 * X), "layer_2": X**3, "layer_3": 5 * X}
    rows = profile_layers(layers,
                          estimators={"curvature": {"enabled": False},
                                      "geodesic": {"n_sources": 20},
                                      "gride": {"scales": [1, 2, 4]},
                                      "topology": {"max_points": 80, "n_landmarks": 40}},
                          as_rows=True)
    out = tmp_path_factory.mktemp("synthetic")
    # the saved arrays a run leaves: activations and the kNN graph of each layer
    acts, graphs = out / "activations" / "h", graph_folder(out, "h", 10)
    acts.mkdir(parents=True)
    graphs.mkdir(parents=True)
    for i, Y in enumerate(layers.values()):
        np.save(acts / f"L{i:02d}.npy", Y)
        nb = knn(Y, 10)
        np.savez(graphs / f"L{i:02d}.npz", distances=nb.distances, indices=nb.indices)
    (acts / "meta.json").write_text(json.dumps({"layers": list(layers), "n_points": 150}))
    (out / "tasks").mkdir()
    for i, r in enumerate(rows):
        seeds = [{"n_regions": 2 + s, "regions_ari": 0.2 * i + 0.1 * s,
                  "regions_nmi": 0.25 * i + 0.05 * s, "label_purity": 0.5 + 0.1 * i}
                 for s in range(2)]
        for s, values in enumerate(seeds):
            (out / "tasks" / f"regions-L{i:02d}-s{s}-abc123.json").write_text(json.dumps(
                {"id": f"regions-L{i:02d}-s{s}-abc123", "kind": "regions", "layer": i,
                 "seed": s, "values": values}))
        r.update(n_regions=2, regions_ari=0.2 * i + 0.05, regions_nmi=0.25 * i + 0.025,
                 label_purity=0.5 + 0.1 * i, structure_days_p=[0.5, 0.2, 0.01, 0.001][i],
                 structure_days_stat=float(i), structure_days_variance=0.2 * i,
                 topology_verdict_prev=[None, "kept", "undecided", "broken"][i],
                 regions_split_prev=i == 2, regions_merged_prev=False)
    cols = column_order(rows)
    clean = [{c: (None if isinstance(r.get(c), float) and not np.isfinite(r[c]) else r.get(c))
              for c in cols} for r in rows]
    (out / "profile.json").write_text(json.dumps({"columns": cols, "rows": clean}))
    (out / "perturbations.csv").write_text(
        "perturbation,layer,layer_name,topology_preserved,verdict,knn_overlap\n"
        "scale@0-x2,1,layer_1,true,kept,1.0\nnoise@0-n1,1,layer_1,false,broken,0.4\n"
        "noise@0-n1,2,layer_2,false,undecided,0.35\n")
    (out / "config.json").write_text(json.dumps({"name": "t", "model": {"spec": "synthetic"}}))
    write_report(out)
    return out


@pytest.fixture(scope="module", params=["toy", "synthetic"])
def any_run(request):
    return request.getfixturevalue(f"{request.param}_run")


def _stems(run_dir: Path) -> list[str]:
    return re.findall(r"data-figure='([a-z_]+)'", (run_dir / "report.html").read_text())


def test_every_figure_in_png_and_svg(any_run):
    stems = _stems(any_run)
    assert {"profile_dimension", "profile_gride", "profile_warp", "profile_topology",
            "perturbations"} <= set(stems)
    for stem in stems:
        assert (any_run / "figures" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (any_run / "figures" / f"{stem}.svg").read_bytes()[:2000]


def test_report_is_self_contained_and_explained(any_run):
    html = (any_run / "report.html").read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == len(_stems(any_run)) >= 5
    assert all(base64.b64decode(d)[:4] == b"\x89PNG" for d in images)
    # plotly.js is inlined; nothing is fetched (no external scripts, styles or images)
    library = re.search(r"<script src='data:text/javascript;base64,([A-Za-z0-9+/=]+)'>", html)
    assert b"plotly.js" in base64.b64decode(library.group(1))[:2000]  # inlined, not a CDN
    assert "Plotly.newPlot" in html
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", html)
    assert "http://" not in html and "https://" not in html
    for col in json.loads((any_run / "profile.json").read_text())["columns"]:
        assert f">{col}</th>" in html
    for col in ("id_twonn", "knn_overlap_prev", "betti_1", "id_gride_2"):
        assert html_escape(column_help(col)) in html
    assert "<dt>id_gride_2</dt>" in html
    assert "Why MLE and TwoNN differ" in html and "class='table-wrap'" in html


def test_seed_spread_is_the_range_over_the_task_files(toy_run):
    run = load_run(toy_run)
    assert run.n_seeds == 2
    per_seed = {}
    for path in (toy_run / "tasks").glob("pair_prev-L01-*.json"):
        task = json.loads(path.read_text())
        per_seed[task["seed"]] = task["values"]["geodesic_distortion_prev"]
    values = np.array(list(per_seed.values()))
    s = run.spread["geodesic_distortion_prev"]
    assert (s.lo[1], s.hi[1], s.n[1]) == (values.min(), values.max(), 2)
    # the table shows the mean over seeds, which the spread brackets
    assert s.lo[1] <= run.col("geodesic_distortion_prev")[1] <= s.hi[1]


def test_seed_spread_ignores_task_files_of_other_settings(synthetic_run, tmp_path):
    shutil.copytree(synthetic_run, tmp_path / "r")
    for s, v in enumerate((9.0, 11.0)):  # a stale settings hash whose values the table never showed
        (tmp_path / "r" / "tasks" / f"regions-L01-s{s}-fff000.json").write_text(json.dumps(
            {"id": f"regions-L01-s{s}-fff000", "values": {"n_regions": v}}))
    run = load_run(tmp_path / "r")
    assert (run.spread["n_regions"].lo[1], run.spread["n_regions"].hi[1]) == (2, 3)
    assert run.spread["regions_ari"].hi[2] == pytest.approx(0.5)


def test_rms_radius_of_a_sphere_is_its_radius(tmp_path):
    # points evenly on a sphere of radius 3 in R^5: every point at distance 3 from the centre,
    # the sample mean within ~3/sqrt(n) of it, so the RMS radius is 3 to O(1/n)
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(4000, 5))
    np.save(tmp_path / "L00.npy", 3 * Z / np.linalg.norm(Z, axis=1, keepdims=True) + 7.0)
    assert _rms_radius(tmp_path / "L00.npy", chunk=512) == pytest.approx(3.0, rel=2e-3)


def test_scale_free_curvature_does_not_change_when_a_layer_is_rescaled(toy_run, tmp_path):
    shutil.copytree(toy_run, tmp_path / "r")
    run = load_run(tmp_path / "r")
    r_ref = load_run(toy_run)
    # a layer scaled by c: distances x c, curvature / c^2, RMS radius x c
    c = 10.0
    run.radius = r_ref.radius * c
    for row in run.rows:
        for k in ("curvature_median", "curvature_q25", "curvature_q75"):
            row[k] = row[k] / c**2
    run.spread = {k: type(v)(v.lo / c**2, v.hi / c**2, v.n) if k.startswith("curvature_")
                  else v for k, v in r_ref.spread.items()}

    def scaled(r):
        fig = next(f for f in build_figures(r) if f.stem == "profile_curvature")
        assert len(fig.panels) == 2 and "1/(activation units)²" in fig.panels[0].ylabel
        return fig.panels[1].traces[0].y

    np.testing.assert_allclose(scaled(run), scaled(r_ref), rtol=1e-12)
    np.testing.assert_allclose(r_ref.radius, [_rms_radius(p) for p in sorted(
        next((toy_run / "activations").iterdir()).glob("L*.npy"))], rtol=1e-12)


def test_every_figure_carries_its_uncertainty(toy_run):
    run = load_run(toy_run)
    figs = build_figures(run)
    assert [f.stem for f in figs] == [s for s in FIGURES if s not in OPTIONAL]
    for fig in figs:
        traces = [t for p in fig.panels for t in p.traces]
        has = any(t.has_uncertainty for t in traces) or (
            fig.stem == "perturbations" and "[" in json.dumps(traces[0].text))
        assert has, fig.stem
        assert fig.uncertainty and fig.caption
    gride = next(f for f in figs if f.stem == "profile_gride")
    assert any(t.marker == "star" for t in gride.panels[0].traces)  # the chosen scale
    assert run.mle_band is not None and np.all(run.mle_band[0] <= run.mle_band[1])


def test_optional_figures_only_with_their_columns(toy_run, synthetic_run):
    assert not set(OPTIONAL) & set(_stems(toy_run))
    assert set(OPTIONAL) <= set(_stems(synthetic_run))
    assert "profile_curvature" not in _stems(synthetic_run)  # curvature was not computed
    spec = plotly_figure(next(f for f in build_figures(load_run(synthetic_run))
                              if f.stem == "profile_topology"))
    words = {t["name"] for t in spec["data"] if t.get("mode") == "markers+text"}
    assert words == {"kept", "broken", "undecided"}
    regions = next(f for f in build_figures(load_run(synthetic_run)) if f.stem == "profile_regions")
    split = [t for t in regions.panels[0].traces if t.text == ["split"]]
    assert len(split) == 1 and split[0].x.tolist() == [2.0]


def test_missing_arrays_are_reported_not_fatal(synthetic_run, tmp_path):
    shutil.copytree(synthetic_run, tmp_path / "r")
    shutil.rmtree(tmp_path / "r" / "activations")
    write_report(tmp_path / "r")
    html = (tmp_path / "r" / "report.html").read_text()
    assert "no saved activations" in html and "no saved kNN graphs" in html
    assert "not drawn: the kNN graphs were not found" in html  # GRIDE's caption says so


def test_rerun_and_report_command_redraw_a_stale_report(toy_run, tmp_path):
    from manifold_probe.cli import app
    from manifold_probe.experiment.runner import run_experiment

    shutil.copytree(toy_run, tmp_path / "r")
    page = tmp_path / "r" / "report.html"
    future = page.stat().st_mtime + 3600  # newer than every table: the old check skipped it
    for redraw in (lambda: run_experiment(_toy_config(tmp_path / "r"), tmp_path / "r"),
                   lambda: CliRunner().invoke(app, ["report", str(tmp_path / "r")])):
        page.write_text("stale")
        os.utime(page, (future, future))
        result = redraw()
        assert page.read_text().startswith("<!DOCTYPE html>"), result
    assert result.exit_code == 0


def test_report_is_current_only_when_nothing_it_depends_on_changed(toy_run, tmp_path,
                                                                   monkeypatch):
    import manifold_probe.report as report

    shutil.copytree(toy_run, tmp_path / "r")
    r = tmp_path / "r"
    write_report(r)
    assert report.report_is_current(r)
    (r / "figures" / "profile_gride.svg").unlink()  # a figure file gone
    assert not report.report_is_current(r)
    write_report(r)
    os.utime(r / "profile.json")  # a table newer than the page
    assert not report.report_is_current(r)
    write_report(r)
    monkeypatch.setattr(report, "code_fingerprint", lambda: "0" * 16)  # other drawing code
    assert not report.report_is_current(r)


def test_column_help_covers_the_required_columns():
    from manifold_probe.analysis import PROFILE_COLUMNS

    assert all(column_help(c) for c in PROFILE_COLUMNS)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                    "(Debian package `chromium`); the report's rendering is not checked")
def test_report_renders_in_headless_chromium(any_run, tmp_path):
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--no-first-run", "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any fetch would fail
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000",
            "--window-size=1280,2400"]
    url = (any_run / "report.html").as_uri()
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=120).stdout
    n = len(_stems(any_run))
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', body.group(1)))
    # the page's load handler: every plotly figure drew, each has an error bar / band trace,
    # every static image decoded, no label box intersects another, nothing overflows sideways
    assert attrs["data-figures-drawn"] == f"{n}/{n}", attrs
    # every figure shows its uncertainty, or (one seed, nothing else to show) says so
    for block in dom.split("<figure")[1:]:
        traces = int(re.search(r'data-uncertainty-traces="(\d+)"', block).group(1))
        note = re.search(r"<b>Uncertainty:</b>(.*?)</p>", block, re.S).group(1)
        assert traces > 0 or "one seed" in note, block[:200]
    if any_run.name.startswith("toy"):  # two seeds: bars or bands on every figure
        assert attrs["data-figures-with-uncertainty"] == f"{n}/{n}", attrs
    assert attrs["data-images-loaded"] == f"{n}/{n}", attrs
    assert attrs["data-text-overlaps"] == "0", re.findall(r'data-overlap-detail="[^"]*"', dom)
    assert attrs["data-page-overflow"] == "no"
    assert all(int(c) > 0 for c in re.findall(r'data-labels-checked="(\d+)"', dom))
    shot = tmp_path / "report.png"
    subprocess.run(base + [f"--screenshot={shot}", url], capture_output=True, timeout=120)
    from PIL import Image

    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("L"), dtype=np.float64)
    assert pixels.shape == (2400, 1280) and pixels.std() > 10  # drawn, not a blank page


def test_every_reading_with_a_null_is_drawn_beside_it(toy_run):
    """The toy run (nulls on by default) draws the matched-Gaussian null of the dimension and
    the curvature in grey, hollow markers where the call is not above/below, and the page and
    the Markdown table list every measure's call per layer."""
    from manifold_probe.report.nulls import NULL_MEASURES, null_table

    run = load_run(toy_run)
    figs = {f.stem: f for f in build_figures(run)}
    for stem, key in (("profile_dimension", "id_twonn_vs_null"),
                      ("profile_curvature", "curvature_median_vs_null")):
        traces = [t for p in figs[stem].panels for t in p.traces]
        assert any(t.name.startswith("null") for t in traces), stem
        reading = traces[0]
        within = [r.get(key) in ("within", "undecided") for r in run.rows]
        assert reading.hollow is not None and reading.hollow.tolist() == within
    table = null_table(toy_run)
    assert "intrinsic dimension, TwoNN" in table and "scalar curvature, median" in table
    assert table.count("\n") == 1 + sum(1 for m in NULL_MEASURES if m[3] in run.columns) + sum(
        1 for c in run.columns if c.startswith("structure_") and c.endswith("_vs_null"))
    # the warp measures between layers carry their matched-Gaussian-pair null too
    assert "trustworthiness_vs_null_prev" in run.columns
    assert "trustworthiness from the previous layer" in table
    warp = [t for p in figs["profile_warp"].panels for t in p.traces]
    assert any(t.name.startswith("null") for t in warp)
    assert "Readings against their nulls" in (toy_run / "report.html").read_text()


def test_labels_are_printed_only_where_every_seed_agrees(synthetic_run):
    """Seeds that disagree on kept/broken or on a split make the label undecided."""
    from manifold_probe.report.data import SeedSpread
    from manifold_probe.report.figures import _verdicts, regions

    run = load_run(synthetic_run)
    n = len(run.rows)
    run.spread["topology_verdict_prev"] = SeedSpread(np.full(n, np.nan), np.full(n, np.nan),
                                                     np.full(n, np.nan))
    base = _verdicts(run)
    assert base == [None, "kept", "undecided", "broken"]
    # seeds give split = 0 and 1 at layer 2: no "split" marker there, an undecided one instead
    run.spread["regions_split_prev"] = SeedSpread(np.array([np.nan, 0, 0, 0.0]),
                                                  np.array([np.nan, 0, 1, 0.0]), np.full(n, 2.0))
    fig = regions(run)
    names = [t.name for t in fig.panels[0].traces]
    assert "block split regions" not in names and "seeds disagree" in names
    run.spread["topology_preserved_prev"] = SeedSpread(np.array([np.nan, 1, 0, 1.0]),
                                                       np.array([np.nan, 1, 1, 1.0]),
                                                       np.full(n, 2.0))
    run.columns = [c for c in run.columns if c != "topology_verdict_prev"]
    for i, r in enumerate(run.rows):
        r["topology_preserved_prev"] = [None, True, False, True][i]
    assert _verdicts(run) == [None, "kept", "undecided", "kept"]
