"""The one schema of every column a run writes: ``profile.csv`` (= ``profile.json`` and the
``layer`` variables of ``profile.nc``), the extra variables of ``profile.nc``, and
``perturbations.csv``.

Each entry gives the column's name, its type (``int``, ``float``, ``bool``, ``text``), its units
and its meaning. The README's column tables (:func:`markdown_table`), the report's glossary
(:func:`describe`) and the attributes of the Dataset's variables (``description``, ``units``;
:func:`variable_attrs`) are generated from here, and ``tests/test_columns.py`` fails on any
written column without an entry and on a README table that differs from the generated one.

**Adding a column** is one line in :data:`PROFILE`, :data:`DATASET` or :data:`PERTURBATIONS`::

    Column("my_measure_prev", "float", "units", "what it is, how it is computed, its range"),

then ``python -c "from manifold_probe.analysis.columns import write_readme_tables as w; w('README.md')"``
rewrites the README's tables (the
text between the ``<!-- columns:... -->`` markers). A family of columns is one entry with a
placeholder in angle brackets (``id_gride_<n1>``, ``structure_<name>_p``): ``<n1>``, ``<d>``
match digits, ``<name>`` lower-case words with underscores, ``<suffix>`` ``prev`` or
``input``. The pattern with the most literal text wins (``structure_<name>_delta_p`` over
``structure_<name>_p``). The schema's order is the tables' column order.

**Booleans.** A boolean column is undefined where its measure did not run (``*_prev`` at layer
0, an undecided verdict): empty in the CSV, ``null`` in the JSON, and in the Dataset (and
``profile.nc``) a float64 variable with 1.0 = true, 0.0 = false and NaN = undefined, with CF
attributes ``flag_values = [0, 1]``, ``flag_meanings = "false true"`` — so that
``xarray.open_dataset`` never turns an undefined value into True (netCDF-3 has no boolean or
missing-value-aware integer type).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from manifold_probe._io import replace_between, rewrite_text

__all__ = [
    "BOOL_ATTRS",
    "Column",
    "DATASET",
    "PERTURBATIONS",
    "PROFILE",
    "TABLES",
    "describe",
    "entry",
    "markdown_table",
    "sort_key",
    "undocumented",
    "variable_attrs",
    "write_readme_tables",
]

TYPES = ("int", "float", "bool", "text")

#: CF attributes of a boolean stored as float 1.0 / 0.0 / NaN.
BOOL_ATTRS = {"flag_values": [0, 1], "flag_meanings": "false true"}

_PLACEHOLDERS = {"n1": r"\d+", "d": r"\d+", "name": r"[a-z0-9_]+?", "suffix": r"(?:prev|input)",
                 "column": r"[a-z0-9_]+"}


@dataclass(frozen=True)
class Column:
    """One column: ``name`` (or a pattern with ``<placeholders>``), type, units, meaning."""

    name: str
    type: str
    units: str
    meaning: str

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"column {self.name!r}: type {self.type!r} is not one of {TYPES}")

    @property
    def pattern(self) -> re.Pattern:
        parts = re.split(r"<([a-z0-9]+)>", self.name)
        rx = "".join(re.escape(p) if i % 2 == 0 else _PLACEHOLDERS.get(p, r"[a-z0-9_]+")
                     for i, p in enumerate(parts))
        return re.compile(rx + r"\Z")


_LAYER = (
    Column("layer", "int", "index", "index of the residual state: 0 = the embeddings (the first "
           "block's input), l = the output of block l"),
    Column("layer_name", "text", "", "the layer's name (`embeddings`, `layer_1`, …, or the "
           "captured module's name)"),
)
_NOTE = "text"

#: profile.csv, profile.json and the ``layer`` variables of profile.nc, in table order.
PROFILE: tuple[Column, ...] = _LAYER + (
    Column("n_points", "int", "count", "number of inputs (one point per input, or per token)"),
    Column("dim_ambient", "int", "coordinates", "width D of the layer: the dimension of the "
           "space the points sit in"),
    Column("n_profiled", "int", "count", "rows measured where the profile ran on a subsample "
           "(more than `profile.max_rows` rows, 20,000 by default: a uniform sample, or whole "
           "inputs); absent where every row was measured"),
    Column("n_distinct", "int", "count", "number of distinct rows; every measure runs on them "
           "(exact duplicates, e.g. repeated BOS/[CLS] tokens, collapsed once)"),
    Column("graph_components", "int", "count", "connected components of the layer's "
           "symmetrised k-nearest-neighbour graph (k = `knn.k`); a per-token cloud of a "
           "template corpus has hundreds (345 in a MiniLM token layer)"),
    Column("id_twonn", "float", "dimension", "intrinsic dimension n by TwoNN: the ratio of each "
           "point's second- to first-neighbour distance follows a Pareto law with exponent n "
           "(Facco et al. 2017); on the cloud with near-coincident points merged when "
           "`id_near_duplicates` > 0"),
    Column("id_twonn_lo", "float", "dimension", "lower end of TwoNN's 95% interval"),
    Column("id_twonn_hi", "float", "dimension", "upper end of TwoNN's 95% interval"),
    Column("id_twonn_null", "float", "dimension", "TwoNN of a Gaussian cloud with the layer's "
           "mean, covariance and size (the null)"),
    Column("id_twonn_null_lo", "float", "dimension", "lower end of the null's TwoNN 95% "
           "interval"),
    Column("id_twonn_null_hi", "float", "dimension", "upper end of the null's TwoNN 95% "
           "interval"),
    Column("id_twonn_vs_null", "text", "", "above / within / below: the layer's TwoNN interval "
           "against the null's; undecided where seeds disagree"),
    Column("id_null_rows", "int", "count", "present only where the layer has more than "
           "`NULL_MAX_ROWS` (5000) distinct rows: the dimension nulls and calls are then made "
           "at that many rows (a Gaussian of that size against the estimate on a uniform "
           "subsample of the layer), not at the layer's size"),
    Column("id_mle_null", "float", "dimension", "MLE dimension of the matched Gaussian cloud"),
    Column("id_mle_null_lo", "float", "dimension", "lower end of the null MLE's 95% bootstrap "
           "interval over points"),
    Column("id_mle_null_hi", "float", "dimension", "upper end of the null MLE's 95% bootstrap "
           "interval over points"),
    Column("id_mle_vs_null", "text", "", "above / within / below: the layer's MLE bootstrap "
           "interval against the null's"),
    Column("id_mle", "float", "dimension", "maximum-likelihood dimension over the k nearest "
           "neighbours (Levina & Bickel 2004, MacKay–Ghahramani average)"),
    Column("id_gride_<n1>", "float", "dimension", "GRIDE dimension at neighbour rank n1, from "
           "the ratio of each point's 2n1-th to n1-th neighbour distance (Denti et al. 2022); "
           "n1 = 1 is TwoNN's scale, larger n1 a coarser one"),
    Column("id_near_duplicates", "int", "count", "distinct rows merged into a near-coincident "
           "neighbour before the dimension estimates (0: none). Non-zero when more points have a "
           "first neighbour far closer than the second than the Pareto law allows "
           "(`manifold_probe.dimension._near`); `dimension_note` says more"),
    Column("dimension_note", _NOTE, "", "why a dimension estimator could not run, or that "
           "near-coincident points were merged"),
    Column("curvature_median", "float", "1/(activation units)²", "median Riemannian scalar "
           "curvature over sampled points, from quadratic fits of the local surface (sphere of "
           "radius r in n dimensions: n(n−1)/r²; flat: 0)"),
    Column("curvature_q25", "float", "1/(activation units)²", "first quartile of the scalar "
           "curvature over points"),
    Column("curvature_q75", "float", "1/(activation units)²", "third quartile of the scalar "
           "curvature over points"),
    Column("curvature_median_lo", "float", "1/(activation units)²", "lower end of the 95% "
           "order-statistic interval of the median curvature"),
    Column("curvature_median_hi", "float", "1/(activation units)²", "upper end of that "
           "interval"),
    Column("curvature_median_null", "float", "1/(activation units)²", "median curvature of a "
           "Gaussian cloud with the layer's mean and covariance (same points, same fit "
           "dimension)"),
    Column("curvature_median_null_lo", "float", "1/(activation units)²", "lower end of the null "
           "median's 95% interval"),
    Column("curvature_median_null_hi", "float", "1/(activation units)²", "upper end of the null "
           "median's 95% interval"),
    Column("curvature_median_vs_null", "text", "", "above / within / below: the intervals of "
           "the two medians; undecided where seeds disagree"),
    Column("curvature_dim", "int", "dimension", "dimension n of the quadratic patches fitted "
           "for the curvature (the layer's rounded TwoNN dimension unless the config sets it); "
           "at 1 the curvature is left undefined (a curve's scalar curvature is identically 0)"),
    Column("curvature_note", _NOTE, "", "why the curvature is undefined on this layer"),
    Column("geodesic_distortion_<suffix>", "float", "log ratio (spread)", "spread of "
           "log(d_l / d_ref) over pairs of inputs, d = geodesic distance along the cloud "
           "(shortest paths on the kNN graph); ref = layer l−1 (`_prev`) or layer 0 (`_input`); "
           "0 when the map only rescales the cloud"),
    Column("geodesic_log_ratio_<suffix>", "float", "log ratio", "median log(d_l / d_ref): the "
           "overall change of scale"),
    Column("knn_overlap_<suffix>", "float", "share [0, 1]", "mean Jaccard overlap of each "
           "point's k nearest neighbours at layer l and at the reference layer (1: every "
           "neighbourhood kept)"),
    Column("trustworthiness_<suffix>", "float", "share [0, 1]", "1 when the map from the "
           "reference layer creates no false neighbours (Venna & Kaski 2001)"),
    Column("continuity_<suffix>", "float", "share [0, 1]", "1 when the map from the reference "
           "layer loses no neighbours (Venna & Kaski 2001)"),
    Column("geodesic_pairs_<suffix>", "float", "share [0, 1]", "share of the (source, target) "
           "pairs whose geodesic exists in both layers (both in one component of each graph): "
           "the geodesic columns are computed over these pairs only"),
    Column("<name>_null_<suffix>", "float", "as the reading", "warp null of the reading "
           "`<name>_<suffix>` (<name>: geodesic_distortion, knn_overlap, trustworthiness, "
           "continuity): its mean over 19 jointly Gaussian pairs with the two layers' joint mean "
           "and covariance (the map reduced to its linear part plus independent noise of the "
           "same size), read like the layers; above 1000 distinct rows the draws have 1000 rows "
           "and are compared with the reading on a seeded 1000-row subsample "
           "(`<name>_compared_<suffix>`)"),
    Column("<name>_null_lo_<suffix>", "float", "as the reading", "smallest of the 19 null "
           "draws"),
    Column("<name>_null_hi_<suffix>", "float", "as the reading", "largest of the 19 null "
           "draws"),
    Column("<name>_compared_<suffix>", "float", "as the reading", "present only above 1000 "
           "distinct rows: the reading re-measured on the seeded 1000-row subsample that its "
           "null and p are computed at (the warp readings depend on the number of rows)"),
    Column("warp_null_rows_<suffix>", "int", "count", "present only above 1000 distinct rows: "
           "the rows of the warp nulls, their draws and the compared readings"),
    Column("<name>_p_<suffix>", "float", "p-value", "two-sided Monte Carlo p of the reading "
           "against the 19 null draws: (1 + draws at least as far from the centre, the median "
           "of the reading and the draws) / 20; never below `warp_p_min_<suffix>` = 0.05; mean "
           "over seeds; per reading, not corrected over the layer pairs (the call uses "
           "`<name>_p_fwer_<suffix>`)"),
    Column("<name>_p_fwer_<suffix>", "float", "p-value", "family-wise p of the reading over "
           "every warp reading of the run's layer pairs (4 measures × pairs to the previous "
           "layer and to the input; 44 for 6 blocks), one family per seed: Westfall–Young "
           "single-step max-T, each reading and its 19 draws standardised by their median and "
           "MAD, p = (1 + draws whose largest standardised value over the family reaches the "
           "reading's) / 20; calls at p ≤ 0.05 keep the family-wise error ≤ 0.05 (exact for "
           "independent pairs, conservative under Šidák's condition); floor 0.05 whatever the "
           "number of pairs; ≥ `<name>_p_<suffix>`; mean over seeds"),
    Column("warp_p_min_<suffix>", "float", "p-value", "smallest p the warp null can give, "
           "1/(draws + 1) = 1/20 = 0.05: a reading farther from the centre than every draw"),
    Column("<name>_vs_null_<suffix>", "text", "", "above / below where "
           "`<name>_p_fwer_<suffix>` ≤ 0.05, family-wise over the run's layer pairs (the side "
           "of the null's centre: for knn_overlap, trustworthiness, continuity above = "
           "neighbourhoods kept better than the second moments alone give; for "
           "geodesic_distortion above = more distorted), within otherwise; undecided where "
           "seeds disagree (or a stored result has no draws to correct with)"),
    Column("warp_<suffix>_note", _NOTE, "", "why the warp columns could not be computed"),
    Column("betti_<d>", "int", "count", "number of significant d-dimensional holes (0: connected "
           "pieces, 1: independent loops, 2: cavities; homology over Z/2) on a subsample: a loop "
           "by its multiplicative persistence against a left-Gumbel law fitted per dimension "
           "(Bobrowski & Skraba 2023; bars within the (1+ε) band never count), a piece by the "
           "excess of its single-linkage merge over its largest internal gap"),
    Column("topology_note", _NOTE, "", "why the Betti numbers could not be computed"),
    Column("topology_preserved_prev", "bool", "", "true when the significant Betti numbers of "
           "layers l−1 and l agree (kept), false when they differ (broken); undefined at layer "
           "0 and where the seeds disagree (undecided: a layer's Betti numbers vary by seed)"),
    Column("diagram_distance_prev", "float", "share of the diagram's scale", "largest "
           "scale-normalised distance between the persistence diagrams of layers l−1 and l"),
    Column("topology_prev_note", _NOTE, "", "why the topology comparison with layer l−1 could "
           "not run"),
    Column("topology_verdict_prev", "text", "", "kept / broken / undecided: the scale-aware "
           "verdict on the block (Betti numbers, regions and known structures over seeds and "
           "subsample sizes; `undecided` where they disagree)"),
    Column("verdict_broken_by_prev", "text", "", "checks that differ in every configuration of "
           "the verdict (`;`-joined)"),
    Column("verdict_unstable_prev", "text", "", "checks that differ in some configurations"),
    Column("verdict_scales_prev", "text", "", "subsample sizes and seeds of the verdict"),
    Column("trajectory_curvature", "float", "degrees", "with per-token capture: median over "
           "inputs of the mean turning angle along the input's sequence of token vectors (0: a "
           "straight line)"),
    Column("trajectory_curvature_shuffled", "float", "degrees", "median trajectory curvature "
           "with each input's tokens in a random order (median of 39 shufflings)"),
    Column("trajectory_curvature_null_lo", "float", "degrees", "smallest of the 39 shuffled "
           "medians"),
    Column("trajectory_curvature_null_hi", "float", "degrees", "largest of the 39 shuffled "
           "medians"),
    Column("trajectory_null_rows", "int", "count", "tokens of the inputs behind the trajectory "
           "nulls and call, present only above `NULL_MAX_ROWS` (5000) tokens: then a random set "
           "of whole inputs of at most that many tokens, whose own median is the one called"),
    Column("trajectory_curvature_gaussian", "float", "degrees", "median trajectory curvature of "
           "i.i.d. tokens from a Gaussian with the layer's mean and covariance"),
    Column("trajectory_curvature_vs_null", "text", "", "above / within / below the "
           "shuffled-order range (below: straighter than chance); undecided where seeds disagree"),
    Column("n_regions", "int", "count", "number of significant semantic regions (density "
           "modes) in a subsample of the layer"),
    Column("n_regions_null", "float", "count", "regions found in a Gaussian surrogate of the "
           "subsample (same mean, covariance and size; more than 1 is a false region)"),
    Column("n_regions_vs_null", "text", "", "above / within / below: regions of the layer "
           "against the surrogate's; undecided where seeds disagree"),
    Column("regions_ari", "float", "index (≤ 1)", "adjusted Rand index of the regions against "
           "the inputs' labels (0: chance, 1: identical)"),
    Column("regions_nmi", "float", "share [0, 1]", "normalised mutual information of the "
           "regions and the labels"),
    Column("label_purity", "float", "share [0, 1]", "mean share of each point's k nearest "
           "neighbours with its own label"),
    Column("regions_merged_prev", "bool", "", "true when the block merged regions of layer "
           "l−1 at every seed, false when at none; undefined at layer 0 and where the seeds "
           "disagree (undecided)"),
    Column("regions_split_prev", "bool", "", "true when the block split regions of layer l−1 "
           "at every seed, false when at none; undefined at layer 0 and where the seeds "
           "disagree (undecided)"),
    Column("regions_note", _NOTE, "", "why the regions could not be computed"),
    Column("structure_<name>_stat", "float", "statistic", "test statistic of a known input "
           "structure (cycle, line or tree of the labels) in the class-mean subspace"),
    Column("structure_<name>_p", "float", "p-value", "permutation p-value of that statistic "
           "(small: the structure is there)"),
    Column("structure_<name>_p_min", "float", "p-value", "smallest p-value the permutation "
           "test can give, 1/(n_perm+1)"),
    Column("structure_<name>_effect", "float", "null standard deviations", "statistic minus "
           "its null mean, in null standard deviations"),
    Column("structure_<name>_stat_null", "float", "statistic", "mean of the statistic over the "
           "permutations"),
    Column("structure_<name>_p_holm", "float", "p-value", "Holm-adjusted p over every "
           "structure test of the profile"),
    Column("structure_<name>_vs_null", "text", "", "above where the Holm-adjusted p is at most "
           "alpha; within otherwise; undecided where p_min cannot reach Holm's first cut"),
    Column("structure_<name>_variance", "float", "share [0, 1]", "share of the class-mean "
           "subspace's variance the structure explains"),
    Column("structure_<name>_delta", "float", "share of the diameter", "relative Gromov "
           "δ-hyperbolicity of the class means in the tree's subspace (0: a tree metric)"),
    Column("structure_<name>_delta_p", "float", "p-value", "p-value of the relative Gromov δ "
           "against Gaussian clouds of the same covariance (small: more tree-like than them)"),
    Column("structure_<name>_note", _NOTE, "", "why the structure test could not run"),
)

#: Variables of profile.nc (and of ``mp.profile_layers``' Dataset) besides the columns above.
DATASET: tuple[Column, ...] = (
    Column("seed", "int", "seed", "coordinate of the `seed` dim: the run's seeds"),
    Column("point", "int", "index", "coordinate of the `point` dim: the input row"),
    Column("sentence_id", "int", "index", "with per-token capture: the input each row comes "
           "from (a coordinate on `point`)"),
    Column("point_id_mle", "float", "dimension", "local MLE dimension of every input row, "
           "per layer (dims layer, point)"),
    Column("<column>_by_seed", "float", "as the column", "a seeded column before the seeds are "
           "combined (dims layer, seed); booleans as 1.0 / 0.0 / NaN"),
)

#: perturbations.csv: one row per perturbation and changed layer.
PERTURBATIONS: tuple[Column, ...] = (
    Column("perturbation", "text", "", "the perturbation's label (kind@layer and its "
           "parameters, e.g. `scale@1-x0.5`)"),
) + _LAYER + (
    Column("verdict", "text", "", "kept / broken / undecided: kept when every configuration "
           "(seed × subsample size) keeps the Betti numbers, regions and known structures, "
           "broken when none does, undecided when they disagree"),
    Column("topology_preserved", "bool", "", "true for kept, false for broken, empty (undefined) "
           "for undecided"),
    Column("broken_by", "text", "", "checks that differ in every configuration (`;`-joined)"),
    Column("unstable", "text", "", "checks that differ in some configurations only"),
    Column("configs_kept", "text", "count/count", "configurations that keep, of all"),
    Column("scales", "text", "", "the configurations: subsample sizes and seeds"),
    Column("linear_r2", "float", "share [0, 1]", "share of the clean cloud's variance that the "
           "perturbed cloud mapped back by its least-squares linear part reproduces (1: a "
           "linear change)"),
    Column("pulled_back", "bool", "", "whether the checks compared the clean cloud with the "
           "perturbed one mapped back linearly (false: that map is not injective, the perturbed "
           "cloud is used as it is)"),
    Column("verdict_note", _NOTE, "", "why a check could not run"),
    Column("glued", "text", "", "pairs of label groups separate in the clean cloud and not in "
           "the perturbed one (`a+b`, `;`-joined)"),
    Column("n_regions_clean", "int", "count", "significant regions of the clean cloud (first "
           "configuration)"),
    Column("n_regions_perturbed", "int", "count", "the same for the perturbed cloud"),
    Column("betti_clean", "text", "counts", "significant Betti numbers of the clean cloud, "
           "`b0-b1[-b2]` (first configuration)"),
    Column("betti_perturbed", "text", "counts", "the same for the perturbed cloud (mapped back)"),
    Column("diagram_distance", "float", "share of the diagram's scale", "largest "
           "scale-normalised distance between the two persistence diagrams"),
    Column("structures_clean", "text", "", "known structures significant in the clean cloud "
           "(`;`-joined)"),
    Column("relative_change", "float", "share", "median over inputs of |y − x| / |x|: how far "
           "the perturbation moved the activations"),
    Column("knn_overlap", "float", "share [0, 1]", "mean Jaccard overlap of the k nearest "
           "neighbours, clean vs perturbed"),
    Column("trustworthiness", "float", "share [0, 1]", "Venna & Kaski trustworthiness of the "
           "change (1: no false neighbours)"),
    Column("continuity", "float", "share [0, 1]", "Venna & Kaski continuity of the change (1: "
           "no neighbours lost)"),
    Column("geodesic_distortion", "float", "log ratio (spread)", "spread of the log-ratio of "
           "geodesic distances, perturbed vs clean"),
    Column("geodesic_log_ratio", "float", "log ratio", "median of that log-ratio (the change of "
           "scale)"),
    Column("id_clean", "float", "dimension", "TwoNN dimension of the clean cloud"),
    Column("id_perturbed", "float", "dimension", "TwoNN dimension of the perturbed cloud"),
)

#: file -> its schema
TABLES = {"profile": PROFILE, "dataset": PROFILE + DATASET, "perturbations": PERTURBATIONS}


def _literal(c: Column) -> int:
    return len(re.sub(r"<[a-z0-9]+>", "", c.name))


def entry(name: str, table: str = "profile") -> Column | None:
    """The schema entry of column ``name`` in ``table``: the exact name, else the pattern with
    the most literal text that matches (``structure_<name>_delta_p`` before
    ``structure_<name>_p``)."""
    cols = TABLES[table]
    for c in cols:
        if c.name == name:
            return c
    for c in sorted((c for c in cols if "<" in c.name), key=_literal, reverse=True):
        if c.pattern.match(name):
            return c
    return None


def sort_key(name: str, table: str = "profile") -> tuple:
    """Where a column goes in its table: the schema's order, a family of columns (one text
    before its first placeholder, e.g. ``structure_``) kept together and ordered by the
    placeholder's value (numbers as numbers), then by entry; columns without an entry last."""
    cols = TABLES[table]
    c = entry(name, table)
    if c is None:
        return (len(cols), (), 0)
    place = cols.index(c)
    if "<" not in c.name:
        return (place, (), place)
    prefix = c.name.split("<", 1)[0]
    family = min(i for i, o in enumerate(cols) if o.name.startswith(prefix) and "<" in o.name)
    suffix = c.name.rsplit(">", 1)[1]
    value = name[len(prefix):len(name) - len(suffix)]
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                  for p in re.split(r"(\d+)", value) if p)
    return (family, parts, place)


def undocumented(names: Iterable[str], table: str = "profile") -> list[str]:
    """The names that have no entry in ``table``'s schema."""
    return [n for n in names if entry(n, table) is None]


def describe(name: str, table: str = "profile") -> str | None:
    """The meaning of a column, with its units (the report's glossary)."""
    c = entry(name, table)
    if c is None:
        return None
    return c.meaning + (f" [{c.units}]" if c.units else "")


def variable_attrs(name: str, table: str = "dataset") -> dict:
    """Attributes of a Dataset variable: ``description`` and ``units`` (and the boolean flags)."""
    c = entry(name, table)
    if c is None:
        return {}
    attrs = {"description": c.meaning, "units": c.units}
    if c.type == "bool":
        attrs.update(BOOL_ATTRS)
    return attrs


def markdown_table(table: str = "profile") -> str:
    """The README table of a schema: ``"profile"``, ``"perturbations"``, or ``"dataset_extra"``
    (the variables profile.nc has beside the profile's columns)."""
    cols = DATASET if table == "dataset_extra" else TABLES[table]
    lines = ["| column | type | units | meaning |", "|---|---|---|---|"]
    for c in cols:
        meaning = c.meaning.replace("|", "\\|")
        lines.append(f"| `{c.name}` | {c.type} | {c.units} | {meaning} |")
    return "\n".join(lines)


def _markers(table: str) -> tuple[str, str]:
    return (f"<!-- columns:{table} (generated by manifold_probe.analysis.columns) -->",
            f"<!-- /columns:{table} -->")


def readme_tables(text: str) -> str:
    """``text`` with every generated table between its markers replaced by the current one."""
    for table in ("profile", "dataset_extra", "perturbations"):
        text = replace_between(text, *_markers(table), markdown_table(table))
    return text


def write_readme_tables(path: str | Path) -> bool:
    """Rewrite the generated tables of a README in place; True when it changed."""
    return rewrite_text(path, readme_tables)


if __name__ == "__main__":  # python -m manifold_probe.analysis.columns README.md
    import sys

    for arg in sys.argv[1:] or ["README.md"]:
        print(arg, "rewritten" if write_readme_tables(arg) else "unchanged")
