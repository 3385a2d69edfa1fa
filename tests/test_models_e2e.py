"""`manifold-probe run` end to end on tiny random GPT-2, Llama and GPT-NeoX models saved locally.

Each model (width 32, 2 blocks, 4 heads; tests/tiny_models.py) is saved as a Hugging Face
directory with a BPE tokenizer trained on our corpus, and run through the CLI with per-token and
mean pooling on 40 sentences: every run finishes, the last layer is the residual stream before
the final norm, a ``zero_head`` perturbation at layer 2 changes layer 2 only, and the cache keys
follow the weights (one changed weight reruns every task; unchanged weights reuse them all).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

from tiny_models import bpe_tokenizer, build, save_model  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from manifold_probe.cli import app  # noqa: E402

runner = CliRunner()
FAMILIES = ["gpt2", "llama", "gpt_neox"]

CONFIG = """
name = "tiny-{family}-{pooling}"
seeds = [0]
[model]
spec = "{spec}"
[data]
n = 40
[capture]
pooling = "{pooling}"
batch_size = 40
[estimators.knn]
k = 6
[estimators.mle]
k = 6
[estimators.gride]
scales = [1, 2]
[estimators.curvature]
max_points = 50
dim = 2
[estimators.geodesic]
n_sources = 10
method = "graph"
[estimators.topology]
max_points = 50
n_landmarks = 30
[[perturbations]]
kind = "zero_head"
layer = "layer_2"
head = 1
"""


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    tok = bpe_tokenizer()
    root = tmp_path_factory.mktemp("models")
    return {f: Path(save_model(build(f), tok, root / f)) for f in FAMILIES}


def _run(spec: Path, family: str, pooling: str, out: Path) -> Path:
    cfg = out.parent / f"{out.name}.toml"
    cfg.write_text(CONFIG.format(spec=spec.as_posix(), family=family, pooling=pooling))
    result = runner.invoke(app, ["run", str(cfg), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _layers(out: Path) -> dict[str, np.ndarray]:
    import json

    (acts,) = (out / "activations").iterdir()
    meta = json.loads((acts / "meta.json").read_text())
    return {name: np.load(acts / f"L{i:02d}.npy") for i, name in enumerate(meta["layers"])}


@pytest.mark.parametrize("pooling", ["tokens", "mean"])
@pytest.mark.parametrize("family", FAMILIES)
def test_run_finishes_on_every_architecture(model_dirs, family, pooling, tmp_path):
    out = _run(model_dirs[family], family, pooling, tmp_path / "run")
    rows = _csv(out / "profile.csv")
    assert [r["layer_name"] for r in rows] == ["embeddings", "layer_1", "layer_2"]
    for r in rows:
        # TwoNN ran on every layer (per-token clouds hold exact BOS duplicates: collapsed)
        assert 0 < float(r["id_twonn"]) < 32
    layers = _layers(out)
    if pooling == "tokens":
        # the BOS row of every sentence is one point: 40 copies collapse to one
        assert int(rows[-1]["n_distinct"]) <= layers["layer_2"].shape[0] - 39
    # the last layer is the residual stream before the final norm: no jump in scale
    norm = {n: float(np.linalg.norm(a, axis=1).mean()) for n, a in layers.items()}
    assert 1 / 3 < norm["layer_2"] / norm["layer_1"] < 3
    # zero_head at layer 2 (block 2) reaches layer_2 only
    pert = _csv(out / "perturbations.csv")
    assert [(r["perturbation"], r["layer"]) for r in pert] == [("zero_head@2-h1", "2")]
    assert pert[0]["topology_preserved"] == {"kept": "true", "broken": "false",
                                             "undecided": ""}[pert[0]["verdict"]]
    # the results as data, beside the CSV
    import xarray as xr

    with xr.open_dataset(out / "profile.nc", engine="scipy") as ds:
        assert list(ds["layer_name"].values) == ["embeddings", "layer_1", "layer_2"]
        np.testing.assert_allclose(ds["id_twonn"].values, [float(r["id_twonn"]) for r in rows],
                                   rtol=1e-9)


def test_a_changed_weight_reruns_the_tasks_and_unchanged_weights_reuse_them(model_dirs, tmp_path):
    import shutil

    from transformers import AutoModel

    spec = tmp_path / "gpt2"
    shutil.copytree(model_dirs["gpt2"], spec)
    out = _run(spec, "gpt2", "mean", tmp_path / "run")
    tasks = {p.name: p.stat().st_mtime_ns for p in (out / "tasks").iterdir()}
    profile = (out / "profile.csv").read_text()
    assert tasks

    _run(spec, "gpt2", "mean", out)  # same weights: every task reused, none rewritten
    assert {p.name: p.stat().st_mtime_ns for p in (out / "tasks").iterdir()} == tasks

    model = AutoModel.from_pretrained(str(spec), local_files_only=True)
    with __import__("torch").no_grad():
        model.h[0].attn.c_attn.weight[0, 0] += 0.5  # one weight of block 1
    model.save_pretrained(str(spec))
    _run(spec, "gpt2", "mean", out)
    after = {p.name for p in (out / "tasks").iterdir()}
    # every task ran again under a new key (the old results stay, unused)
    assert len(after - set(tasks)) == len(tasks)
    assert (out / "profile.csv").read_text() != profile
