"""Experiment configs: examples validate, bad configs give one-line errors naming the key."""

from pathlib import Path

import pytest

from manifold_probe.config import (
    ConfigError,
    ExperimentConfig,
    config_hash,
    default_config,
    load_config,
    parse_config,
)

CONFIGS = Path(__file__).resolve().parent.parent / "experiments" / "configs"
OURS = ["default.toml", "toy_modadd.toml", "perturbations.toml", "tiny.toml"]


@pytest.mark.parametrize("name", OURS)
def test_example_configs_validate(name):
    cfg = load_config(CONFIGS / name)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.name == name.removesuffix(".toml")


def test_embedded_default_matches_the_documented_default():
    # default.toml documents the embedded default: same values except comments
    assert load_config(CONFIGS / "default.toml") == default_config()
    cfg = default_config()
    assert cfg.model.spec == "minilm" and cfg.data.n == 2000 and cfg.capture.pooling == "mean"
    assert load_config(None) == cfg


def test_graph_k_covers_every_estimator():
    cfg = default_config()
    # GRIDE at n1 = 16 needs n2 = 32 neighbours, the largest of all; the shared graph holds
    # GRIDE_GRAPH_ROOM = 1.5 times that (the merged cloud's graph is read off it)
    assert cfg.estimators.to_settings().graph_k(room=False) == 32
    assert cfg.estimators.graph_k() == 48


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[estimators.twonn]\nk = 1", "estimators.twonn.k"),
        ("[estimatorz]\nk = 1", "estimatorz"),
        ("[model]\nspecc = 'minilm'", "model.specc"),
        ("[data]\nn = 5", "data.n"),
        ("[data]\nsource = 'web'", "data.source"),
        ("[capture]\npooling = 'max'", "capture.pooling"),
        ("seeds = []", "seeds"),
        ("[estimators.topology]\nconfidence = 1.5", "estimators.topology.confidence"),
        ("[[perturbations]]\nkind = 'noise'\nlayer = 1", "perturbations.0"),
        ("[[perturbations]]\nkind = 'scale'\nlayer = 1\nfactor = 2\nhead = 1", "perturbations.0"),
        ("[[perturbations]]\nkind = 'melt'\nlayer = 1", "perturbations.0.kind"),
        # layers are 1-based like their names: 0 is the embeddings, no block makes it
        ("[[perturbations]]\nkind = 'scale'\nlayer = 0\nfactor = 2", "perturbations.0.layer"),
        ("[[perturbations]]\nkind = 'scale'\nlayer = 'emb'\nfactor = 2", "perturbations.0.layer"),
        ("[executor]\nworkers = 2\nscheduler = 'tcp://x:1'", "executor"),
        ("[executor]\nworkers = -1", "executor.workers"),
        ("seeds = [0, -1]", "seeds.1"),
        ("out = ''", "out"),
        ("out = '   '", "out"),
        ("[model]\nspec = 'os:abort'", "model.spec"),
        ("[model]\ndevice = 'gpu'", "model.device"),
        ("[model]\ndevice = 'cuda:99'", "model.device"),
        ("[model]\nspec = 'toy-modadd'\n[data]\nsource = 'corpus'", "data.source"),
        ("[model]\nspec = 'minilm'\n[data]\nsource = 'model'", "data.source"),
    ],
)
def test_bad_config_one_line_error_naming_the_key(toml, key):
    with pytest.raises(ConfigError) as info:
        parse_config(toml)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"config error at {key}:"), msg


def test_toml_syntax_error_is_one_line():
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        parse_config("[model\nspec=1")
    assert "\n" not in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")


def test_config_error_is_an_input_error():
    from manifold_probe import InputError

    with pytest.raises(InputError):
        parse_config({"nope": 1})


def test_perturbation_labels_and_hash():
    cfg = parse_config(
        "[[perturbations]]\nkind='zero_head'\nlayer=1\nhead=3\n"
        "[[perturbations]]\nkind='noise'\nlayer='layer_2'\nnorm=0.5\n"
    )
    assert [p.label for p in cfg.perturbations] == ["zero_head@1-h3", "noise@2-n0.5"]
    # the hash names cached results: equal configs hash equal, a changed value changes it
    assert config_hash(cfg) == config_hash(parse_config(cfg.model_dump(mode="json")))
    other = parse_config("[[perturbations]]\nkind='zero_head'\nlayer=1\nhead=4\n")
    assert config_hash(cfg.perturbations[0]) != config_hash(other.perturbations[0])


def test_code_spec_runs_only_with_trust_code(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nspec = "os:abort"\n')
    with pytest.raises(ConfigError, match="trust_code"):
        load_config(path)
    # the --trust-code option is applied before validation, so it is checked with the rest
    assert load_config(path, overrides={"model.trust_code": True}).model.trust_code


@pytest.mark.parametrize("text", ["", "  \n", "# nothing yet\n"])
def test_empty_config_file_is_an_error(tmp_path, text):
    path = tmp_path / "empty.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="has no settings"):
        load_config(path)
    assert load_config(None) == default_config()  # no file at all: the embedded default


def test_non_utf8_config_is_a_config_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xe9 at offset 11\)"):
        load_config(path)
