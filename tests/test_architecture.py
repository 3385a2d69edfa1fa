"""The import-layer contract of the README's "Architecture" section, read from the source with ``ast``.

Layers, bottom to top (the README's diagram; `test_layer_table_follows_the_readme` reads it):
base (the shared internals under every layer) · sources (capture, datasets, store) · engine
(neighbors) · maths (dimension, curvature, geodesic, topology) · analysis · interfaces (cli,
config, executor, report, experiment) · the package root (the lazy public face). Every import
goes to the module's own layer or one below it; no chain of imports among manifold_probe's
modules leads back to where it started. Every import counts, also the ones inside functions (a
deferred import is still a dependency).

Private names stay in their module: no module imports or reads another module's ``_name``
(a single leading underscore; dunders such as ``__version__`` are public). The rule has no
exception. A *module* may be private (``_near.py``): it is then internal to its package, imported
only by the modules of that package (``dimension/__init__.py`` re-exports what other packages
read), and the package root's private modules (``_validation``, ``_io``, ...) are the internals
every layer shares.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "manifold_probe"
README = ROOT / "README.md"
MAX_LINES = 500
# Private reaches still to remove, with the reason (each entry must still reach, so that it goes
# once the reach is gone).
PENDING_PRIVATE: dict[str, str] = {}
# Modules allowed past MAX_LINES for now, with the reason (remove an entry once it is split).
OVER_LIMIT: dict[str, str] = {}

# Bottom to top. A module belongs to the layer of its longest listed prefix; every module must
# belong to one (a new module is placed here, and in the README's diagram when it is a folder or
# a public file).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("_io", "_validation", "_validation_extra", "_unique_kept", "_version",
              "_cost_guards", "_threads", "_params", "_device")),
    ("sources", ("capture", "datasets", "store", "activations", "_store_integrity")),
    ("engine", ("neighbors", "_knn_search", "_knn_exact", "_knn_tiles", "_neighbors_type")),
    ("maths", ("dimension", "curvature", "geodesic", "distortion", "topology")),
    ("analysis", ("analysis",)),
    ("interfaces", ("cli", "config", "config_sections", "executor", "report", "experiment")),
    ("face", ("",)),  # the package root, manifold_probe/__init__.py
)
RANK = {layer: i for i, (layer, _) in enumerate(LAYERS)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(name: str) -> str | None:
    """The layer of module ``name`` (``manifold_probe.x.y``), or None when no prefix lists it."""
    rest = name.split(".", 1)[1] if "." in name else ""
    best, best_len = None, -1
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if (prefix == rest or (prefix and rest.startswith(prefix + "."))) and len(prefix) > best_len:
                best, best_len = layer, len(prefix)
    return best


def _resolve(target: str) -> str:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target


def _import_nodes(name: str, source: str):
    """(node, resolved base module, [(imported name, resolved target module)]) per import."""
    is_package = MODULES.get(name, Path("x.py")).name == "__init__.py"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield node, None, [(a.name, _resolve(a.name)) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([base] if base else []))
            # `from pkg import sub` imports the submodule when there is one
            yield node, base, [
                (a.name, f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else _resolve(base))
                for a in node.names
            ]


def imports_of(name: str, source: str | None = None) -> set[str]:
    """The manifold_probe modules that module ``name`` imports (anywhere in its body)."""
    source = MODULES[name].read_text(encoding="utf-8") if source is None else source
    found: set[str] = set()
    for _, _, pairs in _import_nodes(name, source):
        for _, target in pairs:
            if target.startswith("manifold_probe") and target != name:
                found.add(target)
    return found


def private_reaches(name: str, source: str | None = None) -> list[str]:
    """Each place where module ``name`` imports or reads another module's ``_private`` name."""
    source = MODULES[name].read_text(encoding="utf-8") if source is None else source

    def private(attr: str) -> bool:
        return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))

    found: list[str] = []
    aliases: dict[str, str] = {}  # local name -> the manifold_probe module it is bound to
    for node, base, pairs in _import_nodes(name, source):
        for alias, (imported, target) in zip(node.names, pairs, strict=True):
            if not target.startswith("manifold_probe") or target == name:
                continue
            if isinstance(node, ast.Import):
                if alias.asname:
                    aliases[alias.asname] = target
                continue
            if target == f"{base}.{imported}":  # a submodule: private modules are allowed
                aliases[alias.asname or imported] = target
            elif private(imported):
                found.append(f"line {node.lineno}: from {base} import {imported}")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and private(node.attr):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if not isinstance(value, ast.Name):
                continue
            dotted = ".".join([aliases.get(value.id, value.id), *reversed(chain[1:])])
            if _resolve(dotted).startswith("manifold_probe") and _resolve(dotted) == dotted \
                    and dotted != name:
                found.append(f"line {node.lineno}: {dotted}.{node.attr}")
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Every edge ``a -> b`` of ``graph`` whose target sits in a higher layer than its source."""
    return sorted(
        (a, b) for a, deps in graph.items() for b in deps
        if layer_of(a) is not None and layer_of(b) is not None and RANK[layer_of(b)] > RANK[layer_of(a)]
    )


# ---------------------------------------------------------------------------------------------
# the layer table itself


def test_every_module_has_a_layer():
    missing = sorted(n for n in MODULES if layer_of(n) is None)
    assert not missing, f"place these modules in LAYERS (and the README's diagram): {missing}"


def _readme_diagram() -> list[tuple[str, list[str]]]:
    """The README's architecture diagram: (layer, the files and folders it names), top to bottom."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Architecture", 1)[1]
    block = section.split("```", 2)[1]
    layers: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        head = re.match(r"^ (\w+)\s{2,}", line)
        if head:
            layers.append((head.group(1), []))
            line = line[head.end():]
        elif not line.startswith("              "):
            continue
        if layers:
            layers[-1][1].extend(m.group(1) for m in re.finditer(r"\b(\w+)(?:\.py\b|/)", line))
    return layers


def test_layer_table_follows_the_readme():
    diagram = _readme_diagram()
    drawn = [layer for layer, _ in reversed(diagram)]
    ours = [layer for layer, _ in LAYERS if layer not in ("base", "face")]
    assert drawn == ours, f"the README draws {drawn} bottom to top; this test has {ours}"
    for layer, names in diagram:
        for stem in names:
            module = f"manifold_probe.{stem}"
            if module in MODULES:
                assert layer_of(module) == layer, f"README puts {stem} in {layer}; LAYERS in {layer_of(module)}"


# ---------------------------------------------------------------------------------------------
# imports go downward


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_downward(name):
    upward = [b for a, b in upward_imports({name: GRAPH[name]})]
    assert not upward, f"{name} ({layer_of(name)}) imports higher layers: " + ", ".join(
        f"{b} ({layer_of(b)})" for b in upward
    )


# one upward import per pair of layers that a slip could join (each must be caught)
INJECTED = [
    ("manifold_probe.capture.core", "manifold_probe.analysis.warping"),
    ("manifold_probe.datasets._manifolds", "manifold_probe.neighbors"),
    ("manifold_probe.store", "manifold_probe.topology"),
    ("manifold_probe.neighbors", "manifold_probe.dimension"),
    ("manifold_probe._knn_search", "manifold_probe.geodesic"),
    ("manifold_probe.dimension._mle", "manifold_probe.analysis.settings"),
    ("manifold_probe.topology._persistence", "manifold_probe.config"),
    ("manifold_probe.curvature._scalar", "manifold_probe.report"),
    ("manifold_probe.analysis.tasks", "manifold_probe.executor"),
    ("manifold_probe.analysis.measures", "manifold_probe.experiment.runner"),
    ("manifold_probe._validation", "manifold_probe.capture.core"),
    ("manifold_probe._io", "manifold_probe.neighbors"),
    ("manifold_probe.cli", "manifold_probe"),
]


@pytest.mark.parametrize(("source", "target"), INJECTED)
def test_an_injected_upward_edge_is_caught(source, target):
    assert (source, target) not in upward_imports(GRAPH), "the edge exists: the contract is broken"
    graph = {k: set(v) for k, v in GRAPH.items()}
    graph[source].add(target)
    assert (source, target) in upward_imports(graph)


@pytest.mark.parametrize(("source", "target"), INJECTED)
def test_an_upward_import_written_in_the_source_is_caught(source, target):
    # the same edge as a line of code, deferred inside a function, parsed as the module's text
    stem, _, leaf = target.rpartition(".")
    line = f"from {stem} import {leaf}" if stem else f"import {target}"
    text = MODULES[source].read_text(encoding="utf-8") + f"\n\ndef _injected():\n    {line}\n"
    assert target in imports_of(source, text)
    assert (source, target) in upward_imports({source: imports_of(source, text)})


def test_same_layer_and_downward_edges_pass():
    assert upward_imports({"manifold_probe.geodesic": {"manifold_probe.dimension._mle",
                                                       "manifold_probe.neighbors",
                                                       "manifold_probe._validation"}}) == []


# ---------------------------------------------------------------------------------------------
# private names stay in their module


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_reaches_another_modules_private_names(name):
    reaches = private_reaches(name)
    if name in PENDING_PRIVATE:
        assert reaches, f"{name} no longer reaches private names: drop it from PENDING_PRIVATE"
        pytest.skip(f"{name}: {PENDING_PRIVATE[name]}")
    assert not reaches, (
        f"{name} uses private names of other modules ({'; '.join(reaches)}): make the helper "
        "public in the module that owns it, or move it"
    )


def private_module_reaches(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Edges into a private module (``pkg._mod``) from outside its package ``pkg``."""
    out = []
    for a, deps in graph.items():
        for b in deps:
            package, _, leaf = b.rpartition(".")
            if leaf.startswith("_") and a != package and not a.startswith(package + "."):
                out.append((a, b))
    return sorted(out)


def test_private_modules_stay_in_their_package():
    reaches = private_module_reaches(GRAPH)
    assert not reaches, f"import these through their package's face: {reaches}"


def test_a_private_module_reach_is_caught():
    graph = {"manifold_probe.geodesic": {"manifold_probe.dimension._mle"},
             "manifold_probe.dimension._twonn": {"manifold_probe.dimension._near"},
             "manifold_probe.dimension": {"manifold_probe.dimension._near"},
             "manifold_probe.analysis.tasks": {"manifold_probe._validation"}}
    assert private_module_reaches(graph) == [("manifold_probe.geodesic", "manifold_probe.dimension._mle")]


@pytest.mark.parametrize(
    "line",
    [
        "from manifold_probe._knn_exact import _private_helper",
        "from manifold_probe.dimension._gride import _private_helper as helper",
        "from . import _private_helper",
        "import manifold_probe._knn_exact as ke\nke._private_helper",
        "from manifold_probe import _knn_exact\n_knn_exact._private_helper",
        "import manifold_probe._knn_exact\nmanifold_probe._knn_exact._private_helper",
    ],
)
def test_a_private_reach_is_caught(line):
    assert private_reaches("manifold_probe.analysis.distinct", line)


@pytest.mark.parametrize(
    "line",
    [
        "from manifold_probe._knn_exact import exact_sq_dists",  # public name of a private module
        "from manifold_probe import _knn_exact\n_knn_exact.exact_sq_dists",
        "from manifold_probe._version import __version__",       # dunders are public
        "self._cache\nnp._private",                              # not manifold_probe modules
    ],
)
def test_public_names_of_private_modules_pass(line):
    assert private_reaches("manifold_probe.analysis.distinct", line) == []


# ---------------------------------------------------------------------------------------------
# no cycles, no root imports, size


def test_nothing_imports_the_package_root():
    # the root is the lazy public face; implementation modules import what they use directly
    importers = sorted(n for n, deps in GRAPH.items() if "manifold_probe" in deps)
    assert not importers, f"these modules import the package root: {importers}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def _without_own_package(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A submodule importing a name its own package re-exports is how a package's __init__
    # reads; the edge submodule -> own package is not a cycle of design.
    return {name: {t for t in deps if not name.startswith(t + ".")} for name, deps in graph.items()}


def test_no_import_cycles():
    assert _cycles(_without_own_package(GRAPH)) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_500_lines(name):
    text = MODULES[name].read_text(encoding="utf-8")
    n_lines = text.count("\n")
    # a module may be longer only if its docstring says why ("Longer than 500 lines: ...")
    if name in OVER_LIMIT:
        pytest.skip(f"{name}: {OVER_LIMIT[name]}")
    assert n_lines <= MAX_LINES or "Longer than 500 lines" in text[:3000], (
        f"{name} has {n_lines} lines (> {MAX_LINES}); split it or state the reason at its top"
    )
