"""Shared plumbing for the paper's experiments: paths, configs, caching, macros, skipping.

Every experiment module in ``experiments/paper/`` defines

``NAME``       its name (also the section of ``experiments/configs/paper.toml`` it reads);
``MACROS``     the in-text macros it produces (name -> what the number is), so that the paper
               compiles with a visible placeholder while the experiment cannot run yet;
``TABLES``     the ``paper/tables/*.tex`` files it writes; ``FIGURES`` likewise for figures;
``compute(params) -> dict``  the (slow) computation, returning JSON-serialisable results, or
               raising :class:`Skip` with a reason when a piece of the package is missing;
``render(result, params) -> dict[str, str]``  figures and tables from the cached result, and
               the values of ``MACROS``.

No number is typed into ``paper/main.tex``: everything in the text comes from
``paper/tables/macros.tex`` or an ``\\input`` table written here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "paper"
FIGURES = PAPER / "figures"
TABLES = PAPER / "tables"
RESULTS = ROOT / "experiments" / "paper" / "results"
CONFIG = ROOT / "experiments" / "configs" / "paper.toml"
BENCH_RESULTS = ROOT / "benchmarks" / "results"

_MACRO_NAME = re.compile(r"^[A-Za-z]+$")


class Skip(Exception):
    """An experiment cannot run yet (a piece of the package is missing); the reason is shown."""


def require(module: str, *names: str) -> Any:
    """Import ``module`` and check it defines ``names``; raise :class:`Skip` naming what is missing.

    The pieces the paper reports on land at different times; a missing one skips its figure
    instead of crashing the driver.
    """
    import importlib

    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # ImportError, or a half-written module failing at import
        raise Skip(f"`{module}` is not importable yet ({type(exc).__name__}: {exc})") from exc
    missing = []
    for name in names:
        try:
            getattr(mod, name)
        except Exception:
            missing.append(name)
    if missing:
        raise Skip(f"`{module}` does not define {', '.join(missing)} yet")
    return mod


def load_params(name: str, scale: str, config: Path = CONFIG) -> dict[str, Any]:
    """Parameters of experiment ``name`` at ``scale`` ("quick" or "full") from the paper config.

    ``[name]`` holds the shared keys, ``[name.quick]`` / ``[name.full]`` override them.
    """
    with open(config, "rb") as fh:
        cfg = tomllib.load(fh)
    if name not in cfg:
        raise KeyError(f"{config.relative_to(ROOT)} has no section [{name}]")
    section = dict(cfg[name])
    scales = {k: section.pop(k) for k in ("quick", "full", "smoke") if k in section}
    params = {**section, **scales.get(scale, {})}
    params["scale"] = scale
    # a run driven by another config file must rerun when that file changes
    if isinstance(params.get("config"), str) and (ROOT / params["config"]).is_file():
        blob = (ROOT / params["config"]).read_bytes()
        params["config_sha256"] = hashlib.sha256(blob).hexdigest()[:16]
    return params


def params_hash(params: dict[str, Any]) -> str:
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def result_path(name: str, scale: str) -> Path:
    return RESULTS / scale / f"{name}.json"


def load_cached(name: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The cached result of ``name`` if it was computed with exactly these parameters."""
    path = result_path(name, params["scale"])
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if data.get("params_hash") != params_hash(params):
        return None
    return data


def save_result(name: str, params: dict[str, Any], result: dict[str, Any], seconds: float) -> None:
    """Write atomically (temporary name, then rename): an interrupted run leaves no half file."""
    path = result_path(name, params["scale"])
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "name": name,
        "params": params,
        "params_hash": params_hash(params),
        "seconds": seconds,
        "result": result,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=_json_default))
    os.replace(tmp, path)


def _json_default(obj: Any) -> Any:
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# ---------------------------------------------------------------- LaTeX output helpers
def tex_escape(text: str) -> str:
    """Escape LaTeX special characters in plain text (file names, reasons, labels)."""
    out = []
    for ch in str(text):
        if ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch == "~":
            out.append(r"\textasciitilde{}")
        elif ch == "^":
            out.append(r"\textasciicircum{}")
        elif ch == "\\":
            out.append(r"\textbackslash{}")
        else:
            out.append(ch)
    return "".join(out)


def fmt(x: Any, digits: int = 2) -> str:
    """A number for the text: fixed decimals, ``--`` for missing/NaN, ``$\\infty$`` for inf."""
    if x is None:
        return "--"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}".replace(",", "{,}")
    x = float(x)
    if math.isnan(x):
        return "--"
    if math.isinf(x):
        return r"$\infty$" if x > 0 else r"$-\infty$"
    return f"{x:.{digits}f}"


def fmt_pct(x: Any, digits: int = 1) -> str:
    """A fraction 0.123 as ``12.3\\%``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "--"
    return f"{100 * float(x):.{digits}f}\\%"


def fmt_seconds(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "--"
    x = float(x)
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def write_table(
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    align: str | None = None,
    note: str | None = None,
) -> Path:
    """A booktabs ``tabular`` (no float: main.tex wraps it) at ``paper/tables/filename``.

    Cells are LaTeX already (use :func:`fmt`, :func:`tex_escape`).
    """
    TABLES.mkdir(parents=True, exist_ok=True)
    align = align or ("l" + "r" * (len(header) - 1))
    lines = [r"\begin{tabular}{" + align + "}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(str(c) for c in row) + r" \\" for row in rows]
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabular}")
    if note:
        lines.append(r"\par\smallskip{\footnotesize " + note + "}")
    path = TABLES / filename
    path.write_text("\n".join(lines) + "\n")
    return path


def plain_reason(reason: str, limit: int = 300) -> str:
    """A skip reason fit for the PDF: ASCII only (tracebacks carry box-drawing characters)."""
    text = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in str(reason).replace("\n", " | "))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def write_missing_table(filename: str, reason: str) -> Path:
    """The placeholder a skipped experiment leaves, so the paper still builds and says why."""
    TABLES.mkdir(parents=True, exist_ok=True)
    path = TABLES / filename
    path.write_text(r"\missingresult{" + tex_escape(plain_reason(reason)) + "}\n")
    return path


def missing_macro(name: str, reason: str) -> str:
    return r"\missingvalue{" + tex_escape(name) + "}"


def write_macros(macros: dict[str, str], path: Path | None = None) -> Path:
    """``paper/tables/macros.tex``: one ``\\newcommand`` per in-text value, sorted by name."""
    path = path or TABLES / "macros.tex"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["% generated by experiments/paper/make_all.py -- do not edit"]
    for name in sorted(macros):
        if not _MACRO_NAME.match(name):
            raise ValueError(f"macro name {name!r} must be letters only (LaTeX control word)")
        lines.append("\\newcommand{\\" + name + "}{" + macros[name] + "}")
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- figures
def figure_path(filename: str) -> Path:
    FIGURES.mkdir(parents=True, exist_ok=True)
    return FIGURES / filename


def pyplot():
    """matplotlib.pyplot with a headless backend and the paper's style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.figsize": (6.0, 3.2),
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "savefig.bbox": "tight",
            "pdf.fonttype": 42,
            "svg.hashsalt": "manifold_probe",
        }
    )
    return plt


def save_figure(fig: Any, filename: str) -> Path:
    path = figure_path(filename)
    # deterministic PDFs (no creation date) so reruns do not churn the files
    fig.savefig(path, metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def seeded_rng(seed: int):
    import numpy as np

    return np.random.default_rng(seed)


def limit_threads(n: int = 1) -> None:
    """Keep the shared machine usable: experiments run on one or two threads."""
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # pragma: no cover
        pass


def load_bench_json(stem: str, exact: bool = False) -> dict[str, Any] | None:
    """``benchmarks/results/<stem>.json`` (or the newest ``<stem>*.json``) if a benchmark saved it."""
    if not BENCH_RESULTS.exists():
        return None
    pattern = f"{stem}.json" if exact else f"{stem}*.json"
    files = sorted(BENCH_RESULTS.glob(pattern), key=lambda p: p.stat().st_mtime)
    for path in reversed(files):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict):
            data.setdefault("_path", str(path.relative_to(ROOT)))
            return data
    return None


#: run the package's command line in a subprocess (``[sys.executable, "-c", CLI, "run", ...]``)
CLI = (
    "import sys; from manifold_probe.cli import main; "
    "sys.argv[0] = 'manifold-probe'; sys.exit(main())"
)


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file as dicts of strings (``profile.csv``, ``perturbations.csv``)."""
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def num(row: dict[str, str], key: str) -> float:
    """``row[key]`` as a float; NaN where it is empty, absent or not a number."""
    try:
        return float(row.get(key, "") or "nan")
    except ValueError:
        return float("nan")
