"""Every CLI failure is one ``error:`` line with its exit code (issue 13's reproducers).

Exit codes (documented in manifold_probe/cli.py and the README): 1 internal, 2 usage/config,
3 model or input data, 4 file system, 5 integrity, 6 --out locked, 130 interrupted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from manifold_probe.cli import app, main

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "experiments" / "configs" / "tiny.toml"
runner = CliRunner()

PLAIN_MODULE = """
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(4, 4) for _ in range(2)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

def make():
    return Net()
"""


def _one_error(text: str) -> str:
    """The single ``error:`` line, which is also the last line; no traceback anywhere."""
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, text
    assert lines[-1] == errors[0], text
    assert "Traceback" not in text
    return errors[0]


def _run(args):
    result = runner.invoke(app, ["run", *args])
    return result.exit_code, _one_error(result.stderr)


def _main(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code, _one_error(capsys.readouterr().err)


def test_out_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    code, line = _run([str(TINY), "--out", str(tmp_path / "f"), "-q"])
    assert code == 4 and "is a file, not a directory" in line


def test_out_not_writable(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: use a path the kernel refuses
        target = Path("/sys/manifold_probe_test_out")
        try:
            target.mkdir()
        except PermissionError:
            pass
        else:  # pragma: no cover
            target.rmdir()
            pytest.skip("/sys is writable here")
    else:
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        target = locked / "out"
    code, line = _run([str(TINY), "--out", str(target), "-q"])
    assert code == 4 and ("not permitted" in line or "denied" in line) and "writable" in line


def test_non_utf8_config(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\u00e9"\n'.encode("latin-1"))
    code, line = _run([str(path), "--out", str(tmp_path / "o")])
    assert code == 2 and "not UTF-8" in line and "save it as UTF-8" in line
    assert not (tmp_path / "o").exists()


def test_negative_seed_fails_at_validation_before_capture(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(TINY.read_text().replace("seeds = [0]", "seeds = [-1]"))
    code, line = _run([str(path), "--out", str(tmp_path / "o"), "-q"])
    assert code == 2 and "config error at seeds.0" in line and "non-negative" in line
    assert not (tmp_path / "o").exists()  # nothing captured, nothing created


def test_plain_module_with_corpus_source_fails_before_capture(tmp_path):
    (tmp_path / "plainmod.py").write_text(PLAIN_MODULE)
    path = tmp_path / "c.toml"
    path.write_text(f'[model]\nspec = "{tmp_path / "plainmod.py"}:make"\ntrust_code = true\n'
                    '[data]\nsource = "corpus"\nn = 20\n')
    code, line = _run([str(path), "--out", str(tmp_path / "o"), "-q", "--trust-code"])
    assert code == 2 and "config error at data.source" in line and "tokenizer" in line
    assert not (tmp_path / "o" / "activations").exists()


@pytest.mark.parametrize(("toml", "key"), [
    ('[model]\nspec = "toy-modadd"\n[data]\nsource = "corpus"\n', "data.source"),
    ('[model]\nspec = "minilm"\n[data]\nsource = "model"\n', "data.source"),
])
def test_known_model_and_source_mismatch_is_a_config_error(tmp_path, toml, key):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    code, line = _run([str(path), "--out", str(tmp_path / "o")])
    assert code == 2 and f"config error at {key}" in line
    assert not (tmp_path / "o").exists()


def test_negative_workers_refused(tmp_path):
    code, line = _run([str(TINY), "--out", str(tmp_path / "o"), "--workers", "-1"])
    assert code == 2 and "--workers must be at least 1" in line
    assert not (tmp_path / "o").exists()


def test_empty_out_refused_and_cwd_untouched(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, line = _run([str(TINY), "--out", ""])
    assert code == 2 and "--out is empty" in line
    assert list(tmp_path.iterdir()) == []
    path = tmp_path / "c.toml"
    path.write_text('out = ""\n')
    code, line = _run([str(path)])
    assert code == 2 and "config error at out" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


@pytest.mark.parametrize("text", ["", "\n  \n", "# only a comment\n"])
def test_empty_config_file_is_an_error_not_the_default(tmp_path, text):
    path = tmp_path / "empty.toml"
    path.write_text(text)
    code, line = _run([str(path), "--out", str(tmp_path / "o")])
    assert code == 2 and "has no settings" in line and "without a config" in line
    assert not (tmp_path / "o").exists()


def test_code_spec_without_trust_is_a_config_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nspec = "os:abort"\n')
    code, line = _run([str(path), "--out", str(tmp_path / "o")])
    assert code == 2 and "config error at model.spec" in line and "trust_code" in line


def test_unknown_model_is_an_input_error(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nspec = "no-such/model"\n')
    code, line = _run([str(path), "--out", str(tmp_path / "o"), "-q"])
    assert code == 3 and "offline" in line


def test_internal_error_is_one_line(tmp_path, monkeypatch):
    import manifold_probe.experiment as experiment

    def boom(*args, **kwargs):
        raise RuntimeError("unexpected\nstate")

    monkeypatch.setattr(experiment, "run_experiment", boom)
    code, line = _run([str(TINY), "--out", str(tmp_path / "o"), "-q"])
    assert code == 1 and "internal error (RuntimeError: unexpected state)" in line


def test_usage_errors_are_one_line(capsys):
    code, line = _main(["run", "--workers", "many"], capsys)
    assert code == 2 and "--workers" in line and "manifold-probe run --help" in line
    code, line = _main(["run", "--no-such-option"], capsys)
    assert code == 2 and "--no-such-option" in line
    code, line = _main(["frobnicate"], capsys)
    assert code == 2 and "frobnicate" in line and "`manifold-probe --help`" in line


def test_missing_and_directory_config(tmp_path, capsys):
    code, line = _main(["run", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "no such file" in line
    code, line = _main(["run", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in line


def test_report_on_tampered_tables_is_an_integrity_error(tmp_path):
    out = tmp_path / "o"
    result = runner.invoke(app, ["run", str(TINY), "--out", str(out), "-q", "--no-report"])
    assert result.exit_code == 0, result.output
    profile = out / "profile.json"
    profile.write_bytes(profile.read_bytes().replace(b'"layer"', b'"layer" ', 1))
    result = runner.invoke(app, ["report", str(out)])
    line = _one_error(result.stderr)
    assert result.exit_code == 5 and "profile.json" in line and "rerun" in line


def test_subprocess_error_has_no_traceback(tmp_path):
    """The console script itself (not only the test runner) prints one line and the code."""
    (tmp_path / "f").write_text("x")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "manifold_probe.cli", "run", str(TINY), "--out",
                          str(tmp_path / "f")], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 4
    assert _one_error(out.stderr).startswith("error: --out")
