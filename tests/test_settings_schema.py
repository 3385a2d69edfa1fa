"""One schema per estimator: every default and bound read from it, and any drift caught.

Each estimator declares its settings once (``manifold_probe._params.Schema`` beside the
function). These tests derive, from those schemas alone, what the function's signature and
docstring, the scikit-learn style class, the analysis settings, the config's pydantic models
and the README table must say, and fail where one of them says something else; and they
check that the Python API refuses exactly the values the config refuses.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import manifold_probe as mp
from manifold_probe import InputError
from manifold_probe._params import REMOVAL_VERSION, Param
from manifold_probe.analysis.regions import regions
from manifold_probe.analysis.settings import (
    DEPARTURES,
    ORIGIN,
    SETTINGS,
    EstimatorSettings,
)
from manifold_probe.analysis.settings_schema import (
    EstimatorsConfig,
    estimator_schemas,
    readme_table,
    validate_settings,
)
from manifold_probe.analysis.structure import known_structure
from manifold_probe.config import ConfigError, parse_config
from manifold_probe.dimension import (
    GRIDE,
    MLE,
    SCHEMAS,
    LocalPCA,
    PHDimension,
    TwoNN,
    gride,
    local_pca,
    mle,
    ph_dimension,
    twonn,
)

ROOT = Path(__file__).resolve().parents[1]

#: The function each schema belongs to (a schema without an entry here fails the first test).
FUNCTIONS = {
    "twonn": twonn,
    "mle": mle,
    "gride": gride,
    "local_pca": local_pca,
    "ph_dimension": ph_dimension,
    "scalar_curvature": mp.scalar_curvature,
    "ollivier_ricci": mp.ollivier_ricci,
    "geodesic_distances": mp.geodesic_distances,
    "warp": mp.warp,
    "betti_numbers": mp.betti_numbers,
    "persistence": mp.persistence,
    "regions": regions,
    "known_structure": known_structure,
}
#: Functions that take some of another schema's params and must agree with it.
SHARERS = {"betti_numbers": (mp.topology_preserved, mp.persistence)}
CLASSES = {TwoNN: "twonn", MLE: "mle", GRIDE: "gride", LocalPCA: "lpca", PHDimension: "phd"}


def _pairs():
    return [(schema, p) for schema in estimator_schemas() for p in schema]


def _signature_default(fn, name):
    return inspect.signature(fn).parameters[name].default


def _doc_default(fn, name):
    """The ``default=`` of ``name`` in the numpydoc Parameters section (None if not stated)."""
    m = re.search(rf"^\s+{name} : [^\n]*?default=(.+)$", fn.__doc__ or "", re.M)
    if m is None:
        return inspect.Parameter.empty
    text = m.group(1).strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def test_every_schema_belongs_to_a_function():
    assert {s.function for s in estimator_schemas()} == set(FUNCTIONS)


@pytest.mark.parametrize(("schema", "param"), _pairs(), ids=lambda x: getattr(x, "name", None)
                         or getattr(x, "function", None))
def test_signature_and_docstring_defaults_are_the_schemas(schema, param):
    fn = FUNCTIONS[schema.function]
    assert _signature_default(fn, param.name) == param.default, (
        f"{schema.function}({param.name}=...) in the signature departs from its schema")
    doc = _doc_default(fn, param.name)
    if doc is not inspect.Parameter.empty:
        assert doc == param.default, f"{schema.function}'s docstring states another default"
    for other in SHARERS.get(schema.function, ()):
        if param.name in inspect.signature(other).parameters:
            assert _signature_default(other, param.name) == param.default, other.__name__


@pytest.mark.parametrize("cls", list(CLASSES), ids=lambda c: c.__name__)
def test_class_defaults_are_the_schemas(cls):
    schema = SCHEMAS[CLASSES[cls]]
    est = cls()
    for name, value in est.get_params().items():
        assert name in schema, f"{cls.__name__}.{name} is not in the {schema.function} schema"
        assert value == schema[name].default, f"{cls.__name__}().{name}"


def test_settings_are_the_schema_registry():
    est = EstimatorSettings()
    for section, params in SETTINGS.items():
        fields = [f.name for f in dataclasses.fields(getattr(est, section))]
        assert fields == list(params), section
        for name, p in params.items():
            assert getattr(getattr(est, section), name) == p.default, f"{section}.{name}"


@pytest.mark.parametrize(("section", "name"), sorted(ORIGIN))
def test_settings_are_the_estimators_params(section, name):
    schema, key = ORIGIN[section, name]
    mine, theirs = SETTINGS[section][name], schema[key]
    for attr in ("type", "ge", "gt", "le", "lt", "choices", "nullable"):
        assert getattr(mine, attr) == getattr(theirs, attr), f"{section}.{name}: {attr}"
    if mine.default != theirs.default:
        assert (section, name) in DEPARTURES, (
            f"{section}.{name} defaults to {mine.default!r}, {schema.function}({key}) to "
            f"{theirs.default!r}; align them or record why in DEPARTURES")


def test_the_settings_that_name_an_estimator_param_are_linked_to_it():
    # a profile setting named like its estimator's parameter must come from that schema
    linked = {"mle": "mle", "curvature": "scalar_curvature", "topology": "betti_numbers",
              "regions": "regions", "structure": "known_structure"}
    schemas = {s.function: s for s in estimator_schemas()}
    for section, fn in linked.items():
        for name in SETTINGS[section]:
            if name in schemas[fn] and (section, name) != ("structure", "alpha"):
                assert ORIGIN.get((section, name), (None,))[0] is schemas[fn], f"{section}.{name}"


def test_config_defaults_and_descriptions_are_the_settings():
    cfg = EstimatorsConfig()
    assert cfg.to_settings() == EstimatorSettings()
    for section, params in SETTINGS.items():
        fields = type(getattr(cfg, section)).model_fields
        for name, p in params.items():
            assert fields[name].description == p.meaning, f"{section}.{name}"


def _outside(p: Param):
    """Values just outside ``p``'s rule, and values on its edges (inside)."""
    if p.type is bool:
        return ["yes", 1], [True, False]
    if p.choices:
        return ["no-such-option", 3], list(p.choices)
    if p.type is str:
        return [3], ["anything"]
    if p.type is tuple:
        bad = [[p.ge - 1] if p.ge is not None else [p.gt], "1, 2"]
        return bad + ([[]] if p.min_length else []), [list(p.default)]
    step = 1 if p.type is int else 1e-9
    out, edge = ["5" if p.type is int else "0.5"], []
    if p.type is int:
        out.append(True)
    for bound, inside, sign in ((p.ge, True, -1), (p.gt, False, -1), (p.le, True, 1),
                                (p.lt, False, 1)):
        if bound is None:
            continue
        bound = int(bound) if p.type is int else float(bound)
        if inside:
            edge.append(bound)
            out.append(bound + sign * step)
        else:
            out.append(bound)
            edge.append(bound - sign * step)
    return out, edge


@pytest.mark.parametrize(("section", "name"),
                         [(s, n) for s, ps in SETTINGS.items() for n in ps])
def test_config_and_python_api_refuse_the_same_values(section, name):
    p = SETTINGS[section][name]
    bad, good = _outside(p)
    for value in bad:
        with pytest.raises(InputError):
            p.check(value)
        with pytest.raises(InputError, match=f"{section}.{name}"):
            validate_settings({section: {name: value}})
        with pytest.raises(ConfigError, match=f"estimators.{section}.{name}"):
            parse_config({"estimators": {section: {name: value}}})
    for value in good:
        p.check(value)
        validate_settings({section: {name: value}})


# The public functions called with a value outside their schema: each must refuse it with an
# InputError naming the parameter (cheap: the checks run before any work).
_rng = np.random.default_rng(0)
_X = _rng.normal(size=(60, 3))
_labels = np.repeat(np.arange(6), 10)
CALLS = {
    "twonn": lambda **kw: twonn(_X, **kw),
    "mle": lambda **kw: mle(_X, **kw),
    "gride": lambda **kw: gride(_X, **kw),
    "local_pca": lambda **kw: local_pca(_X, **kw),
    "ph_dimension": lambda **kw: ph_dimension(_X, **kw),
    "scalar_curvature": lambda **kw: mp.scalar_curvature(_X, **kw),
    # calibrate=True: dim is read (and checked) only by the calibration
    "ollivier_ricci": lambda **kw: mp.ollivier_ricci(_X, **{"calibrate": True, "ground": "euclidean",
                                                            "reference_nodes": 5, **kw}),
    "geodesic_distances": lambda **kw: mp.geodesic_distances(_X, **kw),
    "warp": lambda **kw: mp.warp(_X, _X, geodesic=False, dimension=False, **kw),
    "betti_numbers": lambda **kw: mp.betti_numbers(_X, **kw),
    "persistence": lambda **kw: mp.persistence(_X, **kw),
    "regions": lambda **kw: regions(_X, **kw),
    "known_structure": lambda **kw: known_structure(_X, _labels, "cycle", **kw),
}


@pytest.mark.parametrize(("schema", "param"), _pairs(), ids=lambda x: getattr(x, "name", None)
                         or getattr(x, "function", None))
def test_functions_refuse_what_their_schema_refuses(schema, param):
    bad, _ = _outside(param)
    for value in bad:
        if param.type is int and isinstance(value, bool):
            continue  # a bool k is refused too, but some int options are flags elsewhere
        with pytest.raises(InputError, match=param.name):
            CALLS[schema.function](**{param.name: value})


def test_mle_k_has_one_bound_everywhere():
    # the global MLE at k = 2 is TwoNN's maximum-likelihood estimate: defined, consistent
    assert mle(_X, k=2).dimension > 0
    assert validate_settings({"mle": {"k": 2}}).mle.k == 2
    for call in (lambda: mle(_X, k=1), lambda: MLE(k=1).fit(_X),
                 lambda: validate_settings({"mle": {"k": 1}})):
        with pytest.raises(InputError, match="k"):
            call()


def test_topology_maxdim_is_refused_alike():
    with pytest.raises(InputError, match="topology.maxdim") as from_settings:
        validate_settings({"topology": {"maxdim": 6}})
    with pytest.raises(ConfigError, match="estimators.topology.maxdim"):
        parse_config({"estimators": {"topology": {"maxdim": 6}}})
    with pytest.raises(InputError, match="maxdim must be <= 5"):
        mp.betti_numbers(_X, maxdim=6)
    assert "less than or equal to 5" in str(from_settings.value)
    with pytest.raises(InputError, match="topology.maxdim"):
        mp.analysis.profile_layers([_X, _X], estimators={"topology": {"maxdim": 6}})


def test_readme_settings_table_is_the_generated_one():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "<!-- settings (generated by manifold_probe.analysis.settings_schema) -->" in text
    assert readme_table(text) == text, (
        "README settings table is stale: run python -c \"from manifold_probe.analysis."
        "settings_schema import write_readme_table as w; w('README.md')\"")


def test_ignored_parameters_warn_with_the_version_they_go_away_in():
    X = np.random.default_rng(1).normal(size=(40, 2))
    with pytest.warns(FutureWarning, match=f"n_bootstrap.*removed in manifold_probe "
                                           f"{re.escape(REMOVAL_VERSION)}"):
        mp.betti_numbers(X, maxdim=0, seed=0, n_bootstrap=10)
    with pytest.warns(FutureWarning, match="n_bootstrap"):
        mp.topology_preserved(X, X, maxdim=0, seed=0, n_bootstrap=10)
    with pytest.warns(FutureWarning, match="topology.n_bootstrap"):
        est = validate_settings({"topology": {"n_bootstrap": 10}})
    assert est == EstimatorSettings()
    with pytest.warns(FutureWarning, match="topology.n_bootstrap"):
        parse_config({"estimators": {"topology": {"n_bootstrap": 10}}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mp.betti_numbers(X, maxdim=0, seed=0)  # not passing it: silent
        parse_config({"estimators": {"topology": {"maxdim": 1}}})
    # the removal version is the release after the package's own
    major, minor = (int(x) for x in mp.__version__.split(".")[:2])
    assert REMOVAL_VERSION == f"{major}.{minor + 1}.0"


def _plan(estimators, tmp_path):
    from manifold_probe.experiment import plan_tasks

    cfg = parse_config({"seeds": [0], "estimators": estimators})
    meta = {"layers": ["a", "b"], "n_points": 50, "dims": [4, 4], "has_sentence_ids": True}
    return cfg, plan_tasks(cfg, tmp_path, Path(tmp_path / "activations" / "h"), meta, {})


def test_graph_k_has_one_name_from_settings_to_folder(tmp_path):
    cfg, (knn_specs, _) = _plan({"mle": {"k": 60}}, tmp_path)
    graph_k = cfg.estimators.to_settings().graph_k()
    # max(knn.k, twonn.k, mle.k, 1.5 x 2 max(gride.scales)) = max(10, 2, 60, 1.5 x 32)
    assert graph_k == 60
    for spec in knn_specs:
        assert spec["graph_k"] == graph_k and "k" not in spec
        assert Path(spec["graphs"]).name.endswith(f"-graph_k{graph_k}")


def test_cache_keys_cover_exactly_the_sections_a_task_sees(tmp_path):
    from manifold_probe.analysis.tasks import TASK_GRAPH, TASK_SETTINGS

    _, (_, base) = _plan({}, tmp_path)
    ids = {(s["kind"], s["layer"], s["other"]): s["id"] for s in base}
    # regions.n_boot: read by the tasks that declare "regions", and by no other
    _, (_, changed) = _plan({"regions": {"n_boot": 50}}, tmp_path)
    outcomes = set()
    for s in changed:
        same = ids[(s["kind"], s["layer"], s["other"])] == s["id"]
        assert same == ("regions" not in TASK_SETTINGS[s["kind"]]), s["kind"]
        outcomes.add(same)
    # graph_k (mle.k 20 -> 60 raises it): tasks that read the graph or mle change, others not
    _, (_, changed) = _plan({"mle": {"k": 60}}, tmp_path)
    for s in changed:
        same = ids[(s["kind"], s["layer"], s["other"])] == s["id"]
        assert same == (s["kind"] not in TASK_GRAPH and "mle" not in TASK_SETTINGS[s["kind"]])
        outcomes.add(same)
    assert outcomes == {True, False}  # both kinds of task are in the plan


def test_schema_rules_that_a_bound_cannot_state():
    # persistence's threshold: inf means no limit, as None does (a float bound refuses inf)
    t = np.linspace(0, 2 * np.pi, 30, endpoint=False)
    circle = np.c_[np.cos(t), np.sin(t)]
    free = mp.persistence(circle, threshold=None)
    for d_none, d_inf in zip(free, mp.persistence(circle, threshold=np.inf), strict=True):
        np.testing.assert_array_equal(d_none, d_inf)
    # scalar_curvature's degree: an int in [2, 4] or the one string "auto"
    from manifold_probe.curvature import CURVATURE_PARAMS

    degree = CURVATURE_PARAMS["degree"]
    assert degree.rule() == 'int in [2, 4] or "auto"'
    assert degree.check("auto") == "auto" and degree.check(np.int64(3)) == 3
    with pytest.raises(InputError, match='degree must be int in \\[2, 4\\] or "auto"'):
        mp.scalar_curvature(_X, degree="quartic")
