"""A drug's population factors: its population file in ``params/``, read and merged.

Every drug-specific number of the clearance model (:mod:`pkmodel.drugs.clearance`) — ``fe``, the
reference CrCL, the renal category values, the Child–Pugh factors — and of dose suggestion (the
dose strengths, exposure bounds, longest interval) lives, each with its reasoning, in the drug's
population file in ``params/`` (the one its model names: ``Model.populations``, e.g.
``params/mildronate-populations.toml``, where every factor is an assumption for want of human
data). :func:`load_population_factors` reads it for a model, with a user file and keyword
overrides (``load_population_factors(model, fe=0.7)``); nothing here falls back to any drug.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias, TypeVar

import numpy as np

from pkmodel.drugs.covariate_model import CovariateModel, effects_from_toml
from pkmodel.drugs.covariates import CHILD_PUGH, RENAL_CATEGORIES
from pkmodel.drugs.renal import CRCL_RANGE
from pkmodel.errors import PKModelError
from pkmodel.model import Model, checked_number
from pkmodel.params import BASES, population_file, read_toml

#: Where a drug's population file is found: a :class:`Model` (its ``populations`` file), the
#: name of a population file in ``params/`` ("mildronate-populations"), or a path to a TOML file.
Drug: TypeAlias = Model | str | Path

ROUTES_WITH_STRENGTHS = ("oral", "iv")


@dataclass(frozen=True)
class RenalCategory:
    """One renal function category: CrCL (or eGFR) from ``lower`` (inclusive) to ``upper``
    (exclusive), mL/min, and the ``representative`` CrCL used for a patient known only by it."""

    name: str
    kdigo: str
    lower: float
    upper: float
    representative: float


@dataclass(frozen=True)
class PopulationFactors:
    """The assumed factors of the clearance model (see :mod:`pkmodel.drugs.clearance`), as one
    drug's population file gives them.

    ``fe``: renal fraction of the reference clearance, in [0, 1]; ``crcl_reference``: mL/min;
    ``hepatic``: Child–Pugh class -> factor on non-renal clearance; ``categories``: the renal
    categories, mildest first; ``dose_steps``: route -> dose rounding step (mg);
    ``exposure_bounds``: (low, high) ratio a rounded dose may reach; ``max_interval``: h;
    ``sources``: entry -> "basis: source" for every value read; ``effects``: the file's covariate
    effects (``[[effects]]``, :mod:`pkmodel.drugs.covariate_model`), whose numbers may name the
    entries above (``"clearance.fe"``) and then follow their overrides: the clearance model is
    one of them.
    """

    fe: float
    crcl_reference: float
    hepatic: Mapping[str, float]
    categories: tuple[RenalCategory, ...]
    dose_steps: Mapping[str, float]
    exposure_bounds: tuple[float, float]
    max_interval: float
    sources: Mapping[str, str]
    effects: CovariateModel = CovariateModel()

    def category(self, name: str) -> RenalCategory:
        return self.categories[RENAL_CATEGORIES.index(name)]

    def categorise(self, crcl: Any) -> np.ndarray:
        """Index into :data:`RENAL_CATEGORIES` of each creatinine clearance (mL/min)."""
        x = np.asarray(crcl, dtype=float)
        index = np.zeros(x.shape, dtype=int)
        for i, cat in enumerate(self.categories):
            index = np.where((x >= cat.lower) & (x < cat.upper), i, index)
        return index


T = TypeVar("T")

_NO_DRUG = (
    "give the drug: its Model (with a population file), the name of a population file in params/ "
    '("<drug>-populations") or a path to one'
)


def population_path(drug: Drug | None, field: str = "drug") -> Any:
    """The population file of ``drug`` (see :data:`Drug`); a :class:`PKModelError` saying what to
    give when there is none."""
    if isinstance(drug, Model):
        if drug.populations is None:
            raise PKModelError(
                "model",
                drug.name or repr(drug),
                "has no population file ([model] populations in its parameter file); give the population "
                "factors or label rules explicitly, e.g. load_population_factors(path)",
            )
        return population_file(drug.populations, field="model.populations")
    if isinstance(drug, Path) or (isinstance(drug, str) and (drug.endswith(".toml") or os.sep in drug)):
        return Path(drug)
    if isinstance(drug, str):
        return population_file(drug, field=field)
    raise PKModelError(field, drug if drug is None else type(drug).__name__, _NO_DRUG)


def read_population_file(drug: Drug | None, path: str | Path | None = None) -> dict[str, Any]:
    """A drug's population file as a dict (``drug``: see :data:`Drug`), with a user file
    (``path``) merged over it table by table, so a user file may hold only the entries it
    changes."""
    doc = copy.deepcopy(_read_cached(population_path(drug)))
    if path is not None:
        _merge(doc, read_toml(Path(path), "path", "a TOML file of population factors"))
    return doc


def _read_cached(source: Any) -> dict[str, Any]:
    """The document at ``source``, read again only when the file changes (its mtime)."""
    return per_file_version(_read_document, source)


def _read_document(source: Any) -> dict[str, Any]:
    return read_toml(source, "populations", "a population file")


def per_file_version(build: Callable[[Any], T], source: Any) -> T:
    """``build(source)``, computed again only when the file at ``source`` changes (its mtime):
    every simulation of a model asks for its drug's factors and label rules, and reading and
    checking the file each time cost a few milliseconds. ``build`` must be a module-level
    function (it is part of the cache key) whose result is immutable or never modified."""
    try:
        version = os.stat(str(source)).st_mtime_ns
    except OSError:
        return build(source)
    return _built(build, source, version)


@lru_cache(maxsize=64)
def _built(build: Callable[[Any], Any], source: Any, version: int) -> Any:
    return build(source)


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> None:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


_OVERRIDES = ("fe", "crcl_reference", "hepatic", "dose_steps", "exposure_bounds", "max_interval")


def load_population_factors(drug: Drug | None, path: str | Path | None = None, **overrides: Any) -> PopulationFactors:
    """The clearance-model factors of ``drug`` (a :class:`Model` with a population file, the
    name of a population file in ``params/`` such as "mildronate-populations", or a path), a user
    file ``path`` merged over its file, then keyword ``overrides``: ``fe`` (0-1),
    ``crcl_reference`` (mL/min), ``hepatic`` ({"A": 0.9, ...}, merged), ``dose_steps``
    ({"iv": 50}, merged, mg), ``exposure_bounds`` ((0.8, 1.25)), ``max_interval`` (h)."""
    unknown = sorted(set(overrides) - set(_OVERRIDES))
    if unknown:
        raise PKModelError(unknown[0], overrides[unknown[0]], f"unknown override; allowed: {', '.join(_OVERRIDES)}")
    source = population_path(drug)
    if path is None and not overrides:
        return per_file_version(_file_factors, source)
    return _factors(read_population_file(source, path), overrides)


def _file_factors(source: Any) -> PopulationFactors:
    return _factors(read_population_file(source), {})


def factors_of(given: PopulationFactors | Drug | None, what: str) -> PopulationFactors:
    """Population factors given explicitly, or those of a drug (see :data:`Drug`); with neither a
    :class:`PKModelError` saying what ``what`` (the function asking) needs."""
    if isinstance(given, PopulationFactors):
        return given
    if given is None:
        raise PKModelError(
            "factors",
            None,
            f"{what} needs the drug's population factors: pass factors=load_population_factors(model) "
            "(or the model itself)",
        )
    return load_population_factors(given)


def _entry(doc: Mapping[str, Any], *keys: str, needs_value: bool = True) -> Mapping[str, Any]:
    """The table at ``keys`` (e.g. "clearance", "fe"), checked for a value and a known basis."""
    node: Any = doc
    for k in keys:
        if not isinstance(node, Mapping) or k not in node:
            raise PKModelError(".".join(keys), None, "missing from the population file")
        node = node[k]
    if not isinstance(node, Mapping) or (needs_value and "value" not in node):
        raise PKModelError(".".join(keys), node, "needs a table with a 'value'")
    basis = node.get("basis")
    if basis is not None and basis not in BASES:
        raise PKModelError(".".join(keys) + ".basis", basis, f"allowed: {', '.join(BASES)}")
    return node


_FRACTION = {"low": 0.0, "high": 1.0}  # in (0, 1]
_POSITIVE = {"low": 0.0}  # > 0
_NON_NEGATIVE = {"low": 0.0, "low_inclusive": True}  # >= 0


def _factors(doc: Mapping[str, Any], overrides: Mapping[str, Any]) -> PopulationFactors:
    sources: dict[str, str] = {}

    def take(*keys: str) -> Any:
        node = _entry(doc, *keys)
        sources[".".join(keys)] = f"{node.get('basis', 'unstated')}: {node.get('source', '')}"
        return node["value"]

    fe = checked_number(overrides.get("fe", take("clearance", "fe")), "fe", low=0.0, high=1.0, low_inclusive=True)
    ref = checked_number(
        overrides.get("crcl_reference", take("clearance", "crcl_reference")), "crcl_reference", **CRCL_RANGE
    )
    if "fe" in overrides:
        sources["clearance.fe"] = "override"
    if "crcl_reference" in overrides:
        sources["clearance.crcl_reference"] = "override"

    hepatic = {c: take("hepatic", "child_pugh", c) for c in CHILD_PUGH}
    extra = overrides.get("hepatic", {})
    if not isinstance(extra, Mapping) or set(extra) - set(CHILD_PUGH):
        raise PKModelError("hepatic", extra, 'a mapping from Child-Pugh class ("A", "B", "C") to a factor in (0, 1]')
    hepatic |= dict(extra)
    hepatic = {c: checked_number(v, f"hepatic[{c!r}]", **_FRACTION) for c, v in hepatic.items()}

    categories = []
    upper_expected = math.inf
    for name in RENAL_CATEGORIES:
        node = _entry(doc, "renal", "categories", name, needs_value=False)
        sources[f"renal.categories.{name}"] = f"{node.get('basis', 'unstated')}: {node.get('source', '')}"
        where = f"renal.categories.{name}"
        lower = checked_number(node.get("lower"), f"{where}.lower", **_NON_NEGATIVE)
        upper = checked_number(node["upper"], f"{where}.upper", **_POSITIVE) if "upper" in node else math.inf
        rep = node.get("representative")
        rep = ref if rep == "reference" else checked_number(rep, f"{where}.representative", **_POSITIVE)
        if upper != upper_expected or not lower < upper:
            raise PKModelError(where, (lower, upper), "categories must be contiguous, from normal downwards")
        if not (lower <= rep < upper or (name == "normal" and rep >= lower)):
            raise PKModelError(f"{where}.representative", rep, f"must lie in [{lower:g}, {upper:g})")
        categories.append(RenalCategory(name, str(node.get("kdigo", "")), lower, upper, rep))
        upper_expected = lower
    if categories[-1].lower != 0:
        raise PKModelError("renal.categories.kidney failure.lower", categories[-1].lower, "must be 0")

    steps = {"oral": take("dosing", "oral_step"), "iv": take("dosing", "iv_step")}
    extra = overrides.get("dose_steps", {})
    if not isinstance(extra, Mapping) or set(extra) - set(ROUTES_WITH_STRENGTHS):
        raise PKModelError("dose_steps", extra, 'a mapping from route ("oral", "iv") to a step in mg (> 0)')
    steps = {r: checked_number(v, f"dose_steps[{r!r}]", **_POSITIVE) for r, v in (steps | dict(extra)).items()}

    bounds = overrides.get("exposure_bounds", take("dosing", "exposure_bounds"))
    if (
        not isinstance(bounds, (list, tuple))
        or len(bounds) != 2
        or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
        or not 0 < bounds[0] <= 1 <= bounds[1] < math.inf
    ):
        raise PKModelError("exposure_bounds", bounds, "(low, high) with 0 < low <= 1 <= high, e.g. (0.8, 1.25)")
    max_interval = checked_number(
        overrides.get("max_interval", take("dosing", "max_interval")), "max_interval", **_POSITIVE
    )
    resolved = {"clearance.fe": fe, "clearance.crcl_reference": ref, "hepatic.child_pugh": MappingProxyType(hepatic)}

    def lookup(name: str) -> Any:
        if name in resolved:
            return resolved[name]
        node = _entry(doc, *name.split("."))
        sources[name] = f"{node.get('basis', 'unstated')}: {node.get('source', '')}"
        return node["value"]

    if "effects" not in doc:
        raise PKModelError("effects", None, "missing from the population file: the covariate effects ([[effects]])")
    effects = effects_from_toml(doc["effects"], lookup)
    return PopulationFactors(
        fe=fe,
        crcl_reference=ref,
        hepatic=MappingProxyType(hepatic),
        categories=tuple(categories),
        dose_steps=MappingProxyType(steps),
        exposure_bounds=(float(bounds[0]), float(bounds[1])),
        max_interval=max_interval,
        sources=MappingProxyType(sources),
        effects=effects,
    )
