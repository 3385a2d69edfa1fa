"""The paper (issue 7): every figure script runs end to end at the "quick" scale of
`make paper-quick` (about a minute in all on 2 cores) and at a tiny "smoke" scale, and main.tex
inputs only generated files and generated numbers.

Experiments whose piece of the package has not landed skip with the reason their script gives;
the smoke runs of the heavy ones (a MiniLM capture and profile run) are marked slow, since the
quick-scale test already runs them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.paper import common, make_all  # noqa: E402

MAIN_TEX = (ROOT / "paper" / "main.tex").read_text()
HEAVY = {"minilm_profile", "calendar_circles", "cross_network"}  # capture + CLI runs
# two networks x three runs (MPNet: 110M parameters): minutes even at quick scale, so only
# `make test-slow` and `make paper-quick` run it; its rules are tested in test_cross_network.py
QUICK_HEAVY = {"cross_network"}


def _modules():
    return {name: make_all.load(name) for name in make_all.EXPERIMENTS}


def _strip_comments(tex: str) -> str:
    return re.sub(r"(?<!\\)%.*", "", tex)


# ----------------------------------------------------------------- main.tex is generated-only
def test_main_tex_inputs_only_generated_tables():
    mods = _modules()
    generated = {"macros.tex", "status.tex"} | {t for m in mods.values() for t in m.TABLES}
    inputs = re.findall(r"\\input\{([^}]*)\}", _strip_comments(MAIN_TEX))
    assert inputs, "main.tex inputs nothing"
    for path in inputs:
        assert path.startswith("tables/"), f"\\input{{{path}}} is not under paper/tables/"
        name = path.removeprefix("tables/")
        name = name if name.endswith(".tex") else name + ".tex"
        assert name in generated, f"\\input{{{path}}} is written by no experiment"


def test_main_tex_figures_only_generated():
    mods = _modules()
    generated = {f for m in mods.values() for f in m.FIGURES}
    tex = _strip_comments(MAIN_TEX)
    figures = re.findall(r"\\paperfigure\{([^}]*)\}", tex)
    assert not re.search(r"\\includegraphics(\[[^]]*\])?\{(?!figures/#1)", tex), (
        "use \\paperfigure, which shows a placeholder while a figure is missing"
    )
    assert set(figures) == generated, "every generated figure appears once, nothing else"
    for fig in figures:
        assert fig.endswith((".pdf", ".png")), fig


def test_main_tex_uses_only_declared_macros():
    """Every capitalised macro in the text is generated (or one of main.tex's own helpers)."""
    mods = _modules()
    declared = {"PaperScale"} | {name for m in mods.values() for name in m.MACROS}
    own = {"IfFileExists"}  # LaTeX itself
    used = set(re.findall(r"\\([A-Z][A-Za-z]+)", _strip_comments(MAIN_TEX)))
    assert used - declared - own == set()
    unused = declared - used
    # every generated number is used somewhere in the text
    assert unused == set(), f"generated but never used in main.tex: {sorted(unused)}"


def test_main_tex_has_no_hand_typed_results():
    """No decimal numbers or percentages typed in the prose: they come from macros."""
    tex = _strip_comments(MAIN_TEX).split("\\begin{document}", 1)[1]
    tex = re.sub(r"\\paperfigure\{[^}]*\}\{[^}]*\}", " ", tex)  # figure widths
    tex = re.sub(r"\$[^$]*\$", " ", tex)  # inline maths (exponents, formulas)
    tex = re.sub(r"\\begin\{equation\}.*?\\end\{equation\}", " ", tex, flags=re.S)
    assert not re.findall(r"\d+\.\d+", tex), "decimal number typed by hand"
    assert not re.findall(r"\d\s*\\%", tex), "percentage typed by hand"


def test_every_table_and_figure_caption_names_its_script():
    tex = _strip_comments(MAIN_TEX)
    for env in re.findall(r"\\begin\{(?:figure|table)\}.*?\\end\{(?:figure|table)\}", tex, flags=re.S):
        assert "\\script{" in env or "\\input{tables/status}" in env, env[:200]


def test_every_experiment_has_a_config_section_for_both_scales():
    for name in make_all.EXPERIMENTS:
        for scale in ("smoke", "quick", "full"):
            params = common.load_params(name, scale)
            assert params["scale"] == scale


# ----------------------------------------------------------------- helpers
def test_write_macros_rejects_names_latex_cannot_parse(tmp_path):
    with pytest.raises(ValueError, match="letters only"):
        common.write_macros({"Err2": "1"}, tmp_path / "m.tex")
    path = common.write_macros({"B": "2", "A": "1"}, tmp_path / "m.tex")
    assert path.read_text().splitlines()[1:] == [r"\newcommand{\A}{1}", r"\newcommand{\B}{2}"]


def test_tex_escape_and_number_formats():
    assert common.tex_escape("a_b 50% #1 & {x}") == r"a\_b 50\% \#1 \& \{x\}"
    assert common.fmt(float("nan")) == "--"
    assert common.fmt(12345) == "12{,}345"
    assert common.fmt_pct(0.1234) == r"12.3\%"
    assert common.plain_reason("bad\n╭──╮ thing") == "bad | thing"


def test_cache_is_keyed_by_parameters(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    params = {"scale": "quick", "n": 10}
    common.save_result("x", params, {"v": np.float64(1.5)}, 0.1)
    assert common.load_cached("x", params)["result"] == {"v": 1.5}
    assert common.load_cached("x", {**params, "n": 11}) is None


def test_cyclic_order_score_and_shared_order_test():
    from experiments.paper.calendar_circles import cyclic_order_score, holm_adjust, order_tests

    K = 12
    angles = 2 * np.pi * np.arange(K) / K
    assert cyclic_order_score(angles) == K
    assert cyclic_order_score(-angles) == K  # orientation does not matter
    # swapping two non-adjacent classes breaks exactly four successor relations
    swapped = angles.copy()
    swapped[[2, 7]] = swapped[[7, 2]]
    assert cyclic_order_score(swapped) == K - 4
    # sentences around a 7-day circle: the shared test (rows permuted) reaches its smallest p,
    # 1/(P+1) = 0.0025, below the floor 1/360 of a test that permutes the 7 classes
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(7), 15)
    t = 2 * np.pi * y / 7
    X = np.c_[np.cos(t), np.sin(t), np.zeros((len(y), 6))] + 0.2 * rng.normal(size=(len(y), 8))
    test = order_tests(X, y, 399, 0)
    assert test.in_order and test.p_value == pytest.approx(1 / 400) == test.p_min
    # the same sentences with the days shuffled among themselves: no calendar order
    control = order_tests(X, rng.permutation(y), 399, 0)
    assert control.p_value > 0.05
    result = {"families": {"day": {"rows": [{"order_p": test.p_value}, {"order_p": 0.2}]}}}
    holm_adjust(result)
    assert [r["order_p_holm"] for r in result["families"]["day"]["rows"]] == pytest.approx(
        [2 / 400, 0.2])


def test_rise_fall_rule():
    from experiments.paper.minilm_profile import rise_fall

    assert rise_fall(np.array([5.0, 9.0, 12.0, 8.0, 6.0]), 0.1) == ("rise-fall", 2)
    assert rise_fall(np.array([12.0, 9.0, 8.0]), 0.1) == ("first", 0)
    assert rise_fall(np.array([5.0, 6.0, 7.0]), 0.1) == ("last", 2)
    # peak only 5% above the last layer: not counted at a 10% margin
    assert rise_fall(np.array([5.0, 10.5, 10.0]), 0.1) == ("interior-small", 1)


def test_speed_extractor_finds_side_by_side_timings():
    from experiments.paper.speed import comparisons

    data = {
        "machine": {"cpu_count": 2},
        "runs": [{"impl": "x", "seconds": 3.0}],  # no reference: not a comparison
        "side_by_side": {"n": 5000, "ours_seconds": 1.0, "sklearn_seconds": 2.0, "peak_mb": 9.0},
    }
    found = comparisons(data)
    assert len(found) == 1
    assert found[0]["ours"] == {"ours_seconds": 1.0}
    assert found[0]["refs"] == {"sklearn_seconds": 2.0}
    assert found[0]["context"] == {"n": 5000}


# ----------------------------------------------------------------- each script at quick scale
@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """Redirect every output of the experiments into a temporary folder."""
    monkeypatch.setattr(common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(common, "FIGURES", tmp_path / "figures")
    monkeypatch.setattr(common, "TABLES", tmp_path / "tables")
    return tmp_path


def _run_and_render(name: str, scale: str, sandbox: Path) -> None:
    common.limit_threads(1)
    mod = make_all.load(name)
    params = common.load_params(name, scale)
    try:
        result = mod.compute(params)
    except common.Skip as exc:
        pytest.skip(f"{name}: {exc}")
    json.dumps(result, default=common._json_default)  # cacheable
    macros = mod.render(result, params)
    assert set(macros) == set(mod.MACROS)
    for value in macros.values():
        assert isinstance(value, str) and value and "nan" not in value.lower()
    for fig in mod.FIGURES:
        assert (sandbox / "figures" / fig).stat().st_size > 1000
    for table in mod.TABLES:
        text = (sandbox / "tables" / table).read_text()
        assert "\\begin{tabular}" in text or "\\missingresult" in text


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in make_all.EXPERIMENTS],
)
def test_experiment_runs_at_smoke_scale(name, sandbox):
    """Every script end to end on tiny data ([name.smoke] in paper.toml): CI-sized."""
    _run_and_render(name, "smoke", sandbox)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in QUICK_HEAVY else n for n in make_all.EXPERIMENTS],
)
def test_experiment_runs_at_quick_scale(name, sandbox):
    """What `make paper-quick` runs, in a fresh directory."""
    _run_and_render(name, "quick", sandbox)


def test_driver_never_crashes_and_writes_placeholders(sandbox, monkeypatch):
    """A failing experiment is reported as skipped, its table says why, the macros still exist."""
    mod = make_all.load("betti_noise")

    def boom(params):
        raise RuntimeError("deliberate failure")

    monkeypatch.setattr(mod, "compute", boom)
    status = make_all.run_experiment("betti_noise", "quick", compute=True, force=True, log=lambda m: None)
    assert status["state"] == "skipped" and "deliberate failure" in status["reason"]
    assert set(status["macros"]) == set(mod.MACROS)
    assert "missingresult" in (sandbox / "tables" / "betti_noise.tex").read_text()
