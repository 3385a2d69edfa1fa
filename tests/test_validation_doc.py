"""docs/validation.md holds the measurements behind the tuned constants; the code points to it.

Every pointer ``docs/validation.md#section`` in the package must name a section of the page,
every "set by" / "checked by" line must name a script in ``benchmarks/`` that exists, and each
tuned constant listed below must carry such a line in the comment block right above it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "manifold_probe"
PAGE = ROOT / "docs" / "validation.md"
POINTER = re.compile(r"docs/validation\.md#([\w-]+)")
SCRIPT = re.compile(r"(?:set|checked) by `(benchmarks/[\w/]+\.py)`")

# (module file, the line that defines the constant): constants chosen or checked by a benchmark
TUNED = [
    ("neighbors.py", "CACHE_MIN_K = "),
    ("curvature/_scalar.py", "BATCH_BYTES = "),
    ("dimension/_scale_check.py", "SCALE_CHECK_K = "),
    ("dimension/_scale_check.py", "MATERIAL_FALL = "),
    ("dimension/_near.py", "NEAR_ALPHA = "),
    ("dimension/_correction.py", "REFERENCE_QUERIES = "),
    ("dimension/_correction.py", "REFERENCE_MIN_REPEATS = "),
    ("dimension/_correction.py", "REFERENCE_TOTAL_QUERIES = "),
    ("dimension/_correction.py", "REFERENCE_GRID_DENSE = "),
    ("dimension/_correction.py", "REFERENCE_GRID_GROWTH = "),
    ("geodesic.py", "GEODESIC_PARAMS = "),  # its span=4.0
    ("topology/_significance.py", "DEFAULT_LANDMARKS = "),
    ("topology/_significance.py", "H1_FRACTION = "),
    ("topology/_significance.py", "H1_MAX_EDGES = "),
    ("topology/_persistence.py", "_DEFAULT_LANDMARKS = "),
    ("topology/_persistence.py", "MAX_EDGES = "),
    ("topology/_components.py", "MIN_COMPONENT = "),
    ("topology/_components.py", "MIN_COMPONENT_POINTS = "),
    ("topology/_noise_law.py", "FIT_QUANTILES = "),
    ("topology/_noise_law.py", "FEW_BARS_RATIO = "),
    ("curvature/_scalar.py", "LEPSKI_KAPPA = "),
    ("curvature/_scalar.py", "LADDER_RATIO = "),
    ("analysis/nulls.py", "NULL_MAX_ROWS = "),
    ("analysis/warp_null.py", "_WARP_NULL_DRAWS = "),
    ("analysis/warp_null.py", "_WARP_NULL_MAX_ROWS = "),
    ("analysis/settings.py", "PROFILE_MAX_ROWS = "),
    ("analysis/settings.py", "GRIDE_GRAPH_ROOM = "),
    ("analysis/regions.py", 'Param("k", int, 60,'),  # inside REGIONS_PARAMS
    ("analysis/regions.py", 'Param("graph_k", int, 20,'),
]
# Choices that no script has measured are listed under "Constants not yet measured" on the
# page, and say so beside their definition; they join TUNED when a script measures them.


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading (lower case, punctuation dropped, spaces -> -)."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors() -> set[str]:
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", PAGE.read_text(encoding="utf-8"), re.M)}


def pointers() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for m in POINTER.finditer(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(ROOT)), m.group(1)))
    return found


def test_the_anchor_rule():
    assert github_anchor("Ollivier-Ricci") == "ollivier-ricci"
    assert github_anchor("TwoNN bias correction") == "twonn-bias-correction"


def test_the_page_has_the_sections_other_work_fills():
    assert "topology" in anchors()


def test_unmeasured_constants_are_listed_on_the_page():
    # a constant that says "not measured" beside it is named under "Constants not yet measured"
    page = PAGE.read_text(encoding="utf-8")
    listed = page.split("## Constants not yet measured", 1)[1]
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if "not measured" not in line.lower() or not line.lstrip().startswith("#"):
                continue
            name = next((m.group(1) for later in lines[i + 1:i + 8]
                         if (m := re.match(r"(\w+) = ", later))), None)
            assert name is not None and f"{name}`" in listed, (
                f"{path.relative_to(ROOT)}:{i + 1}: {name} is marked not measured but is not "
                "listed under 'Constants not yet measured' in docs/validation.md")


@pytest.mark.parametrize(("where", "anchor"), pointers())
def test_every_pointer_names_a_section(where, anchor):
    assert anchor in anchors(), f"{where} points to docs/validation.md#{anchor}, which has no heading"


def test_every_set_by_line_names_a_script():
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for m in SCRIPT.finditer(path.read_text(encoding="utf-8")):
            if not (ROOT / m.group(1)).is_file():
                missing.append(f"{path.relative_to(ROOT)}: {m.group(1)}")
    assert not missing, missing


@pytest.mark.parametrize(("module", "definition"), TUNED)
def test_each_tuned_constant_points_to_its_measurement(module, definition):
    lines = (PACKAGE / module).read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith(definition))
    block = []
    for line in reversed(lines[:at]):
        if not line.lstrip().startswith("#"):
            break
        block.append(line)
    text = "\n".join(block)
    assert SCRIPT.search(text) and POINTER.search(text), (
        f"{module}: {definition.strip()} needs a comment line 'set by `benchmarks/<script>.py`, "
        "see docs/validation.md#<section>' right above it"
    )
