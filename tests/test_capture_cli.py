"""The CLI treats a config as data: a `package.module:function` model spec needs --trust-code."""

from __future__ import annotations

import os
import subprocess
import sys

EVIL = """
import pathlib
pathlib.Path(__file__).with_name("marker.txt").write_text("imported")

def pwn():
    pathlib.Path(__file__).with_name("marker.txt").write_text("called")
"""


def test_code_spec_without_trust_code_exits_with_an_error_line_and_runs_nothing(tmp_path):
    (tmp_path / "evilmod.py").write_text(EVIL)
    (tmp_path / "c.toml").write_text('[model]\nspec = "evilmod:pwn"\n[data]\nn = 20\n')
    # `python -c` puts '' (the current directory, holding evilmod.py) first on sys.path
    out = subprocess.run(
        [sys.executable, "-c", "from manifold_probe.cli import main; main()", "run", "c.toml",
         "--out", str(tmp_path / "out"), "-q"],
        cwd=tmp_path, capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"},
        timeout=300,
    )
    assert out.returncode != 0
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "trust" in errors[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "marker.txt").exists()
