"""The public face: every exported name exists, and importing the package stays light."""

import subprocess
import sys

import manifold_probe as mp


def test_every_name_in_all_exists():
    missing = [name for name in mp.__all__ if not hasattr(mp, name)]
    assert missing == []


def test_import_is_light():
    code = (
        "import sys, manifold_probe\n"
        "heavy = {'torch', 'gudhi', 'transformers', 'typer', 'geomstats', 'ot', 'ripser', 'dask'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
