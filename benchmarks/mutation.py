"""Mutation score of the maths packages: mutmut over each package against its own tests.

Each package (``dimension/``, ``curvature/``, ``geodesic.py``, ``topology/``) is mutated in a
scratch copy of the repository (``mutants/`` never lands in the checkout) and tested only with
its own test files, ``-x``, and mutmut's per-mutant CPU limit (a multiple of the clean run of
the tests that reach the mutated function). mutmut 3 records which tests call which function,
so a mutant runs only the tests that reach it.

Which mutants. mutmut also rewrites string literals (``"msg"`` -> ``"XXmsgXX"``, case
changes): those change error texts and array-API keywords, not the maths, and are left out of
the score (their count is recorded). The rest — arithmetic and comparison operators, numeric
constants (``n + 1``), boolean operators, returned/assigned values, dropped arguments — are
the population. A full run (several thousand mutants at tens of seconds each) does not fit
on a shared two-core machine, so ``--per-package`` mutants are drawn per package, seeded,
stratified by file (proportional allocation, at least one per file), and the score is given
with its 95% Wilson interval for the population of that package.

Usage (``make mutation``)::

    python benchmarks/mutation.py --per-package 40 --seed 0

writes ``benchmarks/results/mutation.json`` and the README's "Mutation score" table (between
the ``mutation-score`` markers). ``--rerun benchmarks/results/mutation.json`` reruns exactly the
mutants recorded there (e.g. after adding tests) instead of drawing a new sample;
``--survivors-only`` reruns only its survivors and updates their rows in place.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

#: package -> (path mutated, its own test files)
PACKAGES: dict[str, tuple[str, list[str]]] = {
    "dimension": ("manifold_probe/dimension/", [
        "tests/test_dimension.py", "tests/test_dimension_api.py",
        "tests/test_dimension_correction.py", "tests/test_dimension_near.py",
        "tests/test_dimension_scale.py", "tests/test_mutation_kills.py",
    ]),
    "curvature": ("manifold_probe/curvature/", [
        "tests/test_scalar_curvature.py", "tests/test_scalar_curvature_ball_volume.py",
        "tests/test_scalar_curvature_intervals.py", "tests/test_ollivier.py",
        "tests/test_trajectory.py", "tests/test_mutation_kills.py",
    ]),
    "geodesic": ("manifold_probe/geodesic.py", [
        "tests/test_geodesic.py", "tests/test_geodesic_reuse.py",
        "tests/test_mutation_kills.py",
    ]),
    "topology": ("manifold_probe/topology/", [
        "tests/test_topology.py", "tests/test_betti_significance.py",
        "tests/test_mutation_kills.py",
    ]),
}

KILLED = {1, 3}
SURVIVED = {0, 33, 5}  # 33/5: no selected test reaches the mutated function
TIMEOUT = {36, -24, 24, 152, 255}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion ``k / n``."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def _copy_repo(dst: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for f in files:
        if not f or not (f.startswith(("manifold_probe/", "tests/", "experiments/"))
                         or f == "pyproject.toml"):
            continue
        src = ROOT / f
        if not src.is_file():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst / f)


def _configure(work: Path, source: str, tests: list[str]) -> None:
    tests = [t for t in tests if (work / t).exists()]
    cfg = (
        "\n[tool.mutmut]\n"
        f"source_paths = [{json.dumps(source)}]\n"
        'also_copy = ["manifold_probe/", "experiments/"]\n'
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"]\n'
    )
    with open(work / "pyproject.toml", "a") as fh:
        fh.write(cfg)


_PY = r"""
import json, sys
from mutmut.__main__ import (copy_src_dir, copy_also_copy_files, setup_source_paths,
                             create_mutants, get_diff_for_mutant, find_mutant)
from mutmut.utils.file_utils import walk_mutatable_files
from mutmut.mutation.data import SourceFileMutationData
if sys.argv[1] == "generate":
    import os
    os.makedirs("mutants", exist_ok=True)
    copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)
out = {}
for path in walk_mutatable_files():
    m = SourceFileMutationData(path=path); m.load()
    for key, code in m.exit_code_by_key.items():
        entry = {"file": str(path), "exit_code": code}
        if sys.argv[1] == "generate":
            entry["diff"] = get_diff_for_mutant(key, path=path)
        out[key] = entry
json.dump(out, open(sys.argv[2], "w"))
"""


def _mutmut_py(work: Path, mode: str, out: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH="")
    subprocess.run([sys.executable, "-c", _PY, mode, str(out)], cwd=work, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def _changed(diff: str) -> tuple[list[str], list[str]]:
    minus = [ln[1:] for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return minus, plus


_STR = re.compile(r"""(?:[rbfu]{0,2})("([^"\\]|\\.)*"|'([^'\\]|\\.)*')""")


def is_string_only(diff: str) -> bool:
    """True if the mutant changes nothing but the text of string literals."""
    minus, plus = _changed(diff)
    if len(minus) != len(plus) or not minus:
        return False
    return all(_STR.sub('""', a) == _STR.sub('""', b) for a, b in zip(minus, plus, strict=True))


def kind_of(diff: str) -> str:
    """A coarse label of the mutation (for the survivor triage)."""
    minus, plus = _changed(diff)
    a, b = " ".join(minus), " ".join(plus)
    if re.sub(r"\d+\.?\d*(e-?\d+)?", "#", a) == re.sub(r"\d+\.?\d*(e-?\d+)?", "#", b):
        return "constant"
    if "None" in b and "None" not in a:
        return "value->None"
    if re.sub(r"[<>=!]=?", "~", a) == re.sub(r"[<>=!]=?", "~", b):
        return "comparison"
    if re.sub(r"[-+*/%]|\*\*|//", "~", a) == re.sub(r"[-+*/%]|\*\*|//", "~", b):
        return "arithmetic"
    if any(w in a + b for w in (" and ", " or ", " not ", "True", "False")):
        return "boolean"
    if "break" in a + b or "continue" in a + b:
        return "control"
    return "other"


def sample(mutants: dict, n: int, rng: random.Random) -> list[str]:
    """``n`` names, stratified by file: proportional allocation, at least one per file."""
    by_file: dict[str, list[str]] = {}
    for key in sorted(mutants):
        by_file.setdefault(mutants[key]["file"], []).append(key)
    total = sum(len(v) for v in by_file.values())
    if n >= total:
        return sorted(mutants)
    quota = {f: max(1, round(n * len(v) / total)) for f, v in by_file.items()}
    picked = []
    for f in sorted(by_file):
        picked += rng.sample(by_file[f], min(quota[f], len(by_file[f])))
    return sorted(picked)


def run_package(name: str, per_package: int, seed: int, rerun: list[str] | None,
                keep: bool) -> dict:
    source, tests = PACKAGES[name]
    work = Path(tempfile.mkdtemp(prefix=f"mutation_{name}_"))
    t0 = time.time()
    try:
        _copy_repo(work)
        _configure(work, source, tests)
        all_m = _mutmut_py(work, "generate", work / "generated.json")
        string_only = {k for k, v in all_m.items() if is_string_only(v["diff"])}
        population = {k: v for k, v in all_m.items() if k not in string_only}
        if rerun is not None:
            names = sorted(k for k in rerun if k in population)
        else:
            names = sample(population, per_package, random.Random(f"{seed}:{name}"))
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH="")
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", "1", *names],
            cwd=work, env=env, capture_output=True, text=True,
        )
        done = _mutmut_py(work, "results", work / "results.json")
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        rows = []
        for k in names:
            code = done[k]["exit_code"]
            status = ("killed" if code in KILLED else "survived" if code in SURVIVED
                      else "timeout" if code in TIMEOUT else f"other({code})")
            rows.append({"mutant": k, "file": all_m[k]["file"], "status": status,
                         "exit_code": code, "kind": kind_of(all_m[k]["diff"]),
                         "diff": "\n".join(ln for ln in all_m[k]["diff"].splitlines()
                                           if ln[:1] in "+-" and ln[:3] not in ("---", "+++"))})
        by_file: dict[str, int] = {}
        for v in population.values():
            by_file[v["file"]] = by_file.get(v["file"], 0) + 1
        return summarise({
            "source": source, "tests": [t for t in tests if (ROOT / t).exists()],
            "population": len(population), "string_only_excluded": len(string_only),
            "population_by_file": by_file, "seconds": round(time.time() - t0, 1),
            "mutmut_returncode": proc.returncode, "results": rows,
        })
    finally:
        if keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def summarise(r: dict) -> dict:
    """Counts, score and its 95% Wilson interval from ``r["results"]`` (in place)."""
    rows = r["results"]
    killed = sum(x["status"] == "killed" for x in rows)
    timeout = sum(x["status"] == "timeout" for x in rows)
    survived = sum(x["status"] == "survived" for x in rows)
    detected = killed + timeout  # a mutant that hangs the tests is detected
    r.update({
        "mutants": len(rows), "killed": killed, "survived": survived, "timeout": timeout,
        "other": len(rows) - killed - survived - timeout,
        "score": detected / len(rows) if rows else float("nan"),
        "score_ci95": list(wilson(detected, len(rows))),
    })
    return r


def readme_table(res: dict) -> str:
    lines = [
        "| package | mutants tested (of) | killed | timeout | survived | score (95% CI) |",
        "|---|---|---|---|---|---|",
    ]
    for r in res["packages"].values():
        lo, hi = r["score_ci95"]
        lines.append(
            f"| `{r['source'].removeprefix('manifold_probe/')}` | {r['mutants']} "
            f"({r['population']}) | {r['killed']} | {r['timeout']} | {r['survived']} | "
            f"{100 * r['score']:.0f}% ({100 * lo:.0f}–{100 * hi:.0f}%) |"
        )
    lines.append("")
    lines.append(
        f"`make mutation` (`python benchmarks/mutation.py --per-package {res['per_package']} "
        f"--seed {res['seed']}`), mutmut {res.get('mutmut_version', '3')}; "
        "population in brackets: every mutant of the package but string-text ones."
    )
    return "\n".join(lines)


def write_readme(res: dict) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = "<!-- mutation-score:start -->", "<!-- mutation-score:end -->"
    if start not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + start + "\n" + readme_table(res) + "\n" + end + tail)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-package", type=int, default=40,
                    help="mutants drawn per package (stratified by file); 0: all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--packages", default=",".join(PACKAGES))
    ap.add_argument("--rerun", type=Path, help="rerun the mutants listed in this JSON")
    ap.add_argument("--survivors-only", action="store_true",
                    help="with --rerun: rerun only its survivors and update that file's rows")
    ap.add_argument("--out", type=Path, default=RESULTS / "mutation.json")
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="packages run side by side")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copies")
    a = ap.parse_args(argv)
    previous = json.loads(a.rerun.read_text()) if a.rerun else None
    from importlib.metadata import version

    out = {"tool": "mutmut", "mutmut_version": version("mutmut"), "seed": a.seed,
           "per_package": a.per_package,
           "sampling": "seeded, stratified by file (proportional, >= 1 per file); "
                       "string-literal-only mutants excluded",
           "loadavg_before": list(os.getloadavg()),
           "note": "timings taken on a shared, loaded machine", "packages": {}}
    if a.rerun:
        out["rerun_of"] = str(a.rerun)
        if a.survivors_only:
            out = {**previous, "survivors_rerun_loadavg": list(os.getloadavg())}
    names = a.packages.split(",")
    if previous is not None:
        names = [x for x in names if x in previous["packages"]]

    def one(name: str) -> dict:
        rerun = None
        if previous is not None:
            rows = previous["packages"][name]["results"]
            rerun = [r["mutant"] for r in rows
                     if not a.survivors_only or r["status"] == "survived"]
        n = a.per_package if a.per_package > 0 else 10**9
        r = run_package(name, n, a.seed, rerun, a.keep)
        if a.survivors_only:
            new = {x["mutant"]: x for x in r["results"]}
            old = previous["packages"][name]
            old["results"] = [new.get(x["mutant"], x) for x in old["results"]]
            old["seconds_rerun"] = r["seconds"]
            r = summarise(old)
        print(f"{name}: {r['killed']}+{r['timeout']} of {r['mutants']} "
              f"({100 * r['score']:.0f}%), {r['seconds']} s", flush=True)
        return r

    with ThreadPoolExecutor(max(1, a.jobs)) as pool:
        results = list(pool.map(one, names))
    for name, r in zip(names, results, strict=True):
        out["packages"][name] = r
    a.out.parent.mkdir(parents=True, exist_ok=True)
    out["loadavg_after"] = list(os.getloadavg())
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    if not a.no_readme:
        write_readme(out)


if __name__ == "__main__":
    main()
