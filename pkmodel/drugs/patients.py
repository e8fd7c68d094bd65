"""Special populations: who the patient is, and how that changes the model's clearance.

A :class:`Patient` is an immutable, validated description (age, weight, sex, serum creatinine or
creatinine clearance or an eGFR category, Child–Pugh class, pregnancy, breastfeeding).
:func:`apply_patient` turns a reference :class:`~pkmodel.model.Model` into that patient's model by
scaling clearance only:

    CL_patient = CL · [(1 − fe) · f_hepatic + fe · CrCL / CrCL_ref]

with ``fe`` the fraction of the reference clearance that is renal, ``f_hepatic`` the Child–Pugh
factor on non-renal clearance (1 without hepatic impairment), ``CrCL`` the patient's creatinine
clearance (:func:`renal_function`) and ``CrCL_ref`` that of the reference adult. A patient with
no impairment information is the reference adult and gets exactly the reference model.

Every drug-specific number (``fe``, the reference CrCL, the category values, the Child–Pugh
factors, the dose strengths) lives, each with its reasoning, in the drug's population file in
``params/`` (the one its model names: ``Model.populations``, e.g.
``params/mildronate-populations.toml``, where every factor is an assumption for want of human
data). :func:`load_population_factors` reads it for a model, with a user file and keyword
overrides (``load_population_factors(model, fe=0.7)``); nothing here falls back to any drug.

Units: age years, weight kg, serum creatinine mg/dL (strings "88 µmol/L" or "1.0 mg/dL"
accepted), creatinine clearance mL/min (the clinical unit; "45 mL/min" accepted). Numeric
covariates may be 1-D arrays, one value per subject, which give a model with array clearance.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from pkmodel.errors import PKModelError
from pkmodel.model import Model, Value, checked_number, checked_value, format_value, to_value
from pkmodel.params import BASES, population_file, read_toml
from pkmodel.units import parse_quantity

#: Where a drug's population file is found: a :class:`Model` (its ``populations`` file), the
#: name of a population file in ``params/`` ("mildronate-populations"), or a path to a TOML file.
Drug: TypeAlias = Model | str | Path

#: Renal function categories, mildest first (KDIGO 2012 GFR categories, G3a and G3b together).
RENAL_CATEGORIES = ("normal", "mild", "moderate", "severe", "kidney failure")
_KDIGO = {
    "G1": "normal",
    "G2": "mild",
    "G3": "moderate",
    "G3A": "moderate",
    "G3B": "moderate",
    "G4": "severe",
    "G5": "kidney failure",
}
CHILD_PUGH = ("A", "B", "C")
SEXES = ("female", "male")
ROUTES_WITH_STRENGTHS = ("oral", "iv")


# --- the patient ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, init=False)
class Patient:
    """A patient (or, with array covariates, a group of subjects), validated on creation.

    Fields (all optional; None means "not known"):
        age: years, in [0, 130).
        weight: body weight, kg (> 0); Cockcroft–Gault uses it as given.
        sex: "female" or "male" (also "f"/"m", any case).
        serum_creatinine: mg/dL (> 0), or a string with its unit: "1.1 mg/dL", "97 µmol/L".
        crcl: creatinine clearance, mL/min (> 0), or a string "45 mL/min". When given it is used
            as is, before any Cockcroft–Gault estimate.
        egfr_category: "normal", "mild", "moderate", "severe", "kidney failure", or KDIGO
            "G1".."G5" ("G3a"/"G3b" are "moderate").
        child_pugh: "A", "B" or "C".
        pregnant, breastfeeding: True or False.

    age, weight, serum_creatinine and crcl may be 1-D arrays of one length (one value per subject).
    When age, weight, serum creatinine and sex are given without crcl, the Cockcroft–Gault
    estimate must lie where a given crcl must (see :func:`cockcroft_gault`).
    """

    age: Value | None = None
    weight: Value | None = None
    sex: str | None = None
    serum_creatinine: Value | None = None
    crcl: Value | None = None
    egfr_category: str | None = None
    child_pugh: str | None = None
    pregnant: bool = False
    breastfeeding: bool = False

    def __init__(
        self,
        age: ArrayLike | None = None,
        weight: ArrayLike | None = None,
        sex: str | None = None,
        serum_creatinine: float | str | ArrayLike | None = None,
        crcl: float | str | ArrayLike | None = None,
        egfr_category: str | None = None,
        child_pugh: str | None = None,
        pregnant: bool = False,
        breastfeeding: bool = False,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "age", _covariate(age, "age", "years", low=0.0, high=130.0, low_inclusive=True))
        set_(self, "weight", _covariate(weight, "weight", "kg", low=0.0, high=1000.0))
        set_(self, "serum_creatinine", _creatinine(serum_creatinine))
        set_(self, "crcl", _clearance_ml_min(crcl))
        set_(self, "sex", _choice(sex, "sex", _SEX_WORDS))
        categories = {c: c for c in RENAL_CATEGORIES} | {k.lower(): v for k, v in _KDIGO.items()}
        set_(self, "egfr_category", _choice(egfr_category, "egfr_category", categories, shown=_CATEGORY_NAMES))
        set_(self, "child_pugh", _choice(child_pugh, "child_pugh", {c.lower(): c for c in CHILD_PUGH}))
        for field, value in (("pregnant", pregnant), ("breastfeeding", breastfeeding)):
            if not isinstance(value, (bool, np.bool_)):
                raise PKModelError(field, value, "expected True or False")
            set_(self, field, bool(value))
            if value and self.sex == "male":
                raise PKModelError(field, value, 'cannot be True for sex="male"')
        sizes = {np.size(v) for v in self._covariates().values() if np.ndim(v) == 1}
        if len(sizes) > 1:
            raise PKModelError("patient", sorted(sizes), "array covariates must all have one length (one per subject)")
        age_, weight_, scr_ = self.age, self.weight, self.serum_creatinine
        if self.crcl is None and age_ is not None and weight_ is not None and scr_ is not None and self.sex:
            # Estimated now, so an impossible estimate is refused like an impossible given crcl.
            cockcroft_gault(age_, weight_, scr_, self.sex)

    @property
    def n_subjects(self) -> int | None:
        """Length of the array covariates, or None when they are all scalars."""
        sizes = {np.size(v) for v in self._covariates().values() if np.ndim(v) == 1}
        return sizes.pop() if sizes else None

    def replace(self, **changes: Any) -> Patient:
        """A copy with some fields changed (the patient itself is immutable)."""
        return dataclasses.replace(self, **changes)

    def _covariates(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("age", "weight", "serum_creatinine", "crcl")}

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or value is False:
                continue
            shown.append(f"{f.name}={format_value(value) if not isinstance(value, (str, bool)) else repr(value)}")
        return f"Patient({', '.join(shown)})"


_SEX_WORDS = {"female": "female", "f": "female", "male": "male", "m": "male"}
_CATEGORY_NAMES = "normal, mild, moderate, severe, kidney failure (or KDIGO G1, G2, G3, G3a, G3b, G4, G5)"


def _covariate(
    value: Any, field: str, unit: str, *, low: float, high: float, low_inclusive: bool = False
) -> Value | None:
    """An optional covariate (None: not given)."""
    if value is None:
        return None
    return checked_value(value, field, low=low, high=high, low_inclusive=low_inclusive, unit=unit)


#: Creatinine clearance a patient may have, mL/min: one rule for a given and an estimated value.
CRCL_RANGE: dict[str, Any] = {"unit": "mL/min", "low": 0.0, "high": 1000.0}


def _creatinine(value: Any) -> Any:
    """Serum creatinine in mg/dL: a number, or a string with its unit ("1.1 mg/dL", "97 µmol/L")
    read by :mod:`pkmodel.units`."""
    if isinstance(value, str):
        value = parse_quantity(value, "serum_creatinine", field="serum_creatinine")
    return _covariate(value, "serum_creatinine", "mg/dL", low=0.0, high=100.0)


def _clearance_ml_min(value: Any) -> Any:
    """Creatinine clearance in mL/min: a number, or a string with its unit ("45 mL/min")."""
    if isinstance(value, str):
        value = parse_quantity(value, "creatinine_clearance", field="crcl")
    return _covariate(value, "crcl", **CRCL_RANGE)


def _choice(value: Any, field: str, allowed: Mapping[str, str], shown: str | None = None) -> str | None:
    if value is None:
        return None
    key = value.strip().lower() if isinstance(value, str) else None
    if key is None or key not in allowed:
        raise PKModelError(field, value, f"allowed: {shown or ', '.join(dict.fromkeys(allowed.values()))}")
    return allowed[key]


# --- population factors (the TOML file) -------------------------------------------------------


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
    """The assumed factors of the clearance model (see the module docstring), as one drug's
    population file gives them.

    ``fe``: renal fraction of the reference clearance, in [0, 1]; ``crcl_reference``: mL/min;
    ``hepatic``: Child–Pugh class -> factor on non-renal clearance; ``categories``: the renal
    categories, mildest first; ``dose_steps``: route -> dose rounding step (mg);
    ``exposure_bounds``: (low, high) ratio a rounded dose may reach; ``max_interval``: h;
    ``sources``: entry -> "basis: source" for every value read.
    """

    fe: float
    crcl_reference: float
    hepatic: Mapping[str, float]
    categories: tuple[RenalCategory, ...]
    dose_steps: Mapping[str, float]
    exposure_bounds: tuple[float, float]
    max_interval: float
    sources: Mapping[str, str]

    def category(self, name: str) -> RenalCategory:
        return self.categories[RENAL_CATEGORIES.index(name)]

    def categorise(self, crcl: Any) -> np.ndarray:
        """Index into :data:`RENAL_CATEGORIES` of each creatinine clearance (mL/min)."""
        x = np.asarray(crcl, dtype=float)
        index = np.zeros(x.shape, dtype=int)
        for i, cat in enumerate(self.categories):
            index = np.where((x >= cat.lower) & (x < cat.upper), i, index)
        return index


_NO_DRUG = (
    "give the drug: its Model (with a population file), the name of a population file in params/ "
    '(e.g. "mildronate-populations") or a path to one'
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
    try:
        version = os.stat(str(source)).st_mtime_ns
    except OSError:
        return read_toml(source, "populations", "a population file")
    return _read_version(source, version)


@lru_cache(maxsize=16)
def _read_version(source: Any, version: int) -> dict[str, Any]:
    return read_toml(source, "populations", "a population file")


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
        try:
            return _cached_factors(source, os.stat(str(source)).st_mtime_ns)
        except OSError:
            pass
    return _factors(read_population_file(source, path), overrides)


@lru_cache(maxsize=16)
def _cached_factors(source: Any, version: int) -> PopulationFactors:
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
    return PopulationFactors(
        fe=fe,
        crcl_reference=ref,
        hepatic=MappingProxyType(hepatic),
        categories=tuple(categories),
        dose_steps=MappingProxyType(steps),
        exposure_bounds=(float(bounds[0]), float(bounds[1])),
        max_interval=max_interval,
        sources=MappingProxyType(sources),
    )


# --- renal function ---------------------------------------------------------------------------


def cockcroft_gault(age: ArrayLike, weight: ArrayLike, serum_creatinine: float | str | ArrayLike, sex: Any) -> Value:
    """Creatinine clearance (mL/min) by Cockcroft and Gault (Nephron 1976;16:31-41):

        CrCL = (140 − age) · weight / (72 · SCr),  × 0.85 for women

    age years, weight kg (as given: actual body weight unless the caller passes another),
    serum creatinine mg/dL (or a string with its unit), sex "female"/"male". Arrays broadcast.
    The equation is for adults; it is not meant for children. The estimate must lie where a given
    creatinine clearance must (:data:`CRCL_RANGE`); outside it, the error names the inputs.
    """
    years = _covariate(age, "age", "years", low=0.0, high=130.0, low_inclusive=True)
    kg = _covariate(weight, "weight", "kg", low=0.0, high=1000.0)
    scr = _creatinine(serum_creatinine)
    if years is None or kg is None or scr is None:
        raise PKModelError("cockcroft_gault", (age, weight, serum_creatinine), "needs age, weight and serum creatinine")
    given = [sex] if isinstance(sex, str) or sex is None else list(sex)
    sexes = [_choice(s, "sex", _SEX_WORDS) for s in given]
    if None in sexes:
        raise PKModelError("sex", sex, 'Cockcroft-Gault needs "female" or "male"')
    female = np.array([s == "female" for s in sexes]) if not isinstance(sex, str) else np.bool_(sexes[0] == "female")
    with np.errstate(over="ignore"):
        crcl = (140.0 - np.asarray(years)) * np.asarray(kg) / (72.0 * np.asarray(scr)) * np.where(female, 0.85, 1.0)
    try:
        return checked_value(crcl, "crcl", **CRCL_RANGE)
    except PKModelError as err:
        i = 0 if np.ndim(crcl) == 0 else int(np.flatnonzero(~(np.isfinite(crcl) & (crcl < CRCL_RANGE["high"])))[0])

        def at(x: Any) -> Any:
            return np.broadcast_to(np.asarray(x), np.shape(crcl))[i] if np.ndim(crcl) else x

        inputs = (
            f"age {float(at(years)):g} years, weight {float(at(kg)):g} kg, serum creatinine "
            f"{float(at(scr)):g} mg/dL, {'female' if at(np.asarray(female)) else 'male'}"
        )
        subject = f" (subject {i})" if np.ndim(crcl) else ""
        raise PKModelError(
            "crcl",
            err.value,
            f"the Cockcroft–Gault estimate from {inputs}{subject} {err.allowed}; check these values, "
            "or give crcl directly",
        ) from None


def renal_function(patient: Patient | None, factors: PopulationFactors | Drug | None) -> Value:
    """The patient's creatinine clearance, mL/min: the ``crcl`` given; else Cockcroft–Gault from
    age, weight, serum creatinine and sex; else the representative value of the eGFR category;
    else the reference adult's (normal renal function). ``factors``: the drug's population factors
    (or the drug, see :data:`Drug`), which hold the category values and the reference.

    Serum creatinine without age, weight or sex is an error rather than silently ignored.
    """
    f = factors_of(factors, "renal_function")
    if patient is None:
        return f.crcl_reference
    if patient.crcl is not None:
        return patient.crcl
    if patient.serum_creatinine is not None:
        missing = [k for k in ("age", "weight", "sex") if getattr(patient, k) is None]
        if missing:
            raise PKModelError(
                "serum_creatinine",
                format_value(patient.serum_creatinine),
                f"Cockcroft-Gault also needs {', '.join(missing)}; or give crcl or egfr_category instead",
            )
        return cockcroft_gault(patient.age, patient.weight, patient.serum_creatinine, patient.sex)  # type: ignore[arg-type]
    if patient.egfr_category is not None:
        return f.category(patient.egfr_category).representative
    return f.crcl_reference


def renal_evidence(patient: Patient | None) -> str | None:
    """Where :func:`renal_function` takes the patient's renal function from: "crcl",
    "cockcroft-gault", "category", or None (nothing known: the reference adult)."""
    if patient is None:
        return None
    if patient.crcl is not None:
        return "crcl"
    if patient.serum_creatinine is not None:
        return "cockcroft-gault"
    if patient.egfr_category is not None:
        return "category"
    return None


def renal_category(patient: Patient | None, factors: PopulationFactors | Drug | None) -> Any:
    """The renal category name (array of names for array covariates), or None when nothing about
    renal function is known. When both a category and a clearance are given, the worse counts.
    ``factors``: as for :func:`renal_function`."""
    index = _renal_index(patient, factors_of(factors, "renal_category"))
    if index is None:
        return None
    names = np.array(RENAL_CATEGORIES, dtype=object)[index]
    return str(names) if np.ndim(names) == 0 else names


def _renal_index(patient: Patient | None, f: PopulationFactors) -> Any:
    if patient is None:
        return None
    found: list[Any] = []
    if patient.egfr_category is not None:
        found.append(RENAL_CATEGORIES.index(patient.egfr_category))
    if patient.crcl is not None or patient.serum_creatinine is not None:
        found.append(f.categorise(renal_function(patient, f)))
    if not found:
        return None
    return np.asarray(found[0]) if len(found) == 1 else np.maximum(found[0], found[1])


# --- clearance ----------------------------------------------------------------------------------


def clearance_scale(patient: Patient | None, factors: PopulationFactors | Drug | None) -> Value:
    """CL_patient / CL_reference = (1 − fe) · f_hepatic + fe · CrCL / CrCL_ref.

    Computed as 1 + (1 − fe)(f_hepatic − 1) + fe (CrCL/CrCL_ref − 1), the same number written so
    that the reference adult gets exactly 1.0. A scalar, or an array for array covariates.
    ``factors``: the drug's population factors (or the drug, see :data:`Drug`).
    """
    if patient is None:
        return 1.0
    f = factors_of(factors, "clearance_scale")
    crcl = np.asarray(renal_function(patient, f), dtype=float)
    hepatic = 1.0 if patient.child_pugh is None else f.hepatic[patient.child_pugh]
    scale = 1.0 + (1.0 - f.fe) * (hepatic - 1.0) + f.fe * (crcl / f.crcl_reference - 1.0)
    return to_value(scale)


def apply_patient(model: Model, patient: Patient | None, factors: PopulationFactors | Drug | None = None) -> Model:
    """The patient's model: ``model`` (the reference adult) with CL multiplied by
    :func:`clearance_scale`; every other parameter unchanged. ``patient=None`` returns ``model``.
    ``factors``: the population factors, by default those of the model's own population file.
    Array parameters and array covariates broadcast (one subject per element)."""
    if not isinstance(model, Model):
        raise PKModelError("model", type(model).__name__, "expected a pkmodel.Model")
    if patient is None:
        return model
    if not isinstance(patient, Patient):
        raise PKModelError("patient", type(patient).__name__, "expected a pkmodel.drugs.patients.Patient or None")
    scale = clearance_scale(patient, model if factors is None else factors)
    if np.ndim(scale) == 1 and model.n_subjects not in (None, np.size(scale)):
        raise PKModelError(
            "patient",
            f"{np.size(scale)} subjects",
            f"the model has {model.n_subjects} subjects: one patient value each",
        )
    return model.replace(cl=to_value(np.asarray(model.cl, dtype=float) * np.asarray(scale)))
