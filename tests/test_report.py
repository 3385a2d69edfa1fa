"""Figures and the self-contained HTML report; the report opens in headless Chromium."""

import base64
import json
import re
import shutil
import subprocess
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pytest

from manifold_probe.analysis import profile_layers
from manifold_probe.analysis.table import column_order
from manifold_probe.report import COLUMN_HELP, FIGURES, write_report

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, 150)
    X = np.c_[np.cos(t), np.sin(t), 0.01 * rng.normal(size=(150, 2))]
    rows = profile_layers({"embeddings": X, "layer_1": np.tanh(2 * X), "layer_2": X**3},
                          estimators={"curvature": {"enabled": False},
                                      "geodesic": {"n_sources": 20},
                                      "gride": {"scales": [1, 2, 4]},
                                      "topology": {"max_points": 80, "n_landmarks": 40,
                                                   "n_bootstrap": 4}},
                          as_rows=True)
    out = tmp_path_factory.mktemp("run")
    cols = column_order(rows)
    clean = [{c: (None if isinstance(r.get(c), float) and not np.isfinite(r[c]) else r.get(c))
              for c in cols} for r in rows]
    (out / "profile.json").write_text(json.dumps({"columns": cols, "rows": clean}))
    (out / "perturbations.csv").write_text(
        "perturbation,layer,layer_name,topology_preserved,knn_overlap\n"
        "scale@0-x2,1,layer_1,true,1.0\nnoise@0-n1,1,layer_1,false,0.4\n"
        "noise@0-n1,2,layer_2,false,0.35\n"
    )
    (out / "config.json").write_text(json.dumps({"name": "t", "model": {"spec": "synthetic"}}))
    write_report(out)
    return out


def test_every_figure_in_png_and_svg(run_dir):
    for stem in FIGURES:
        png = run_dir / "figures" / f"{stem}.png"
        svg = run_dir / "figures" / f"{stem}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in svg.read_bytes()[:2000]


def test_report_is_self_contained(run_dir):
    html = (run_dir / "report.html").read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(images) == len(FIGURES)
    for data in images:
        assert base64.b64decode(data)[:4] == b"\x89PNG"
    # nothing to fetch: no external scripts, styles or images
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", html)
    # every profile column appears in the table, and the known ones are explained
    for col in json.loads((run_dir / "profile.json").read_text())["columns"]:
        assert f">{col}</th>" in html
    for col in ("id_twonn", "knn_overlap_prev", "betti_1", "topology_preserved_prev"):
        assert html_escape(COLUMN_HELP[col]) in html


def test_column_help_covers_the_required_columns():
    from manifold_probe.analysis import PROFILE_COLUMNS

    assert set(PROFILE_COLUMNS) <= set(COLUMN_HELP)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                    "(Debian package `chromium`); the report's rendering is not checked")
def test_report_renders_every_figure_in_headless_chromium(run_dir, tmp_path):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
           "--dump-dom", (run_dir / "report.html").as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=90).stdout
    # the page's load handler counts the images that decoded (naturalWidth > 0)
    found = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert found, dom[:500]
    assert found.group(1) == found.group(2) == str(len(FIGURES))
