"""The label's safety rules: contraindications, cautions, maximum daily dose and dose timing.

:func:`check_label` looks at a :class:`~pkmodel.patients.Patient` and a
:class:`~pkmodel.regimen.Regimen` and issues one Python warning per rule met, each of a
``pkmodel`` warning class and each quoting the label sentence it enforces; it returns the
messages. :func:`label_findings` does the same without warning (for code that wants the facts).
Nothing is printed.

Warning classes (all subclasses of :class:`pkmodel.errors.PKModelWarning`)::

    LabelWarning                         every label rule
    ├── ContraindicationWarning          the label contraindicates use
    │   ├── PaediatricWarning            age < 18 years
    │   ├── PregnancyWarning
    │   ├── BreastfeedingWarning
    │   ├── SevereRenalImpairmentWarning    (also a RenalImpairmentWarning)
    │   └── SevereHepaticImpairmentWarning  (also a HepaticImpairmentWarning)
    ├── RenalImpairmentWarning           mild/moderate: a smaller dose; severe: contraindicated
    ├── HepaticImpairmentWarning         Child–Pugh A/B: a smaller dose; C: contraindicated
    ├── MaximumDoseWarning               more than the label maximum on a calendar day
    └── LateDoseWarning                  a dose after 12:00 clock time (stimulating effect)

So a notebook can silence one rule (``warnings.simplefilter("ignore", LateDoseWarning)``), all
renal warnings whatever their severity (``RenalImpairmentWarning``), or make every
contraindication an error (``warnings.simplefilter("error", ContraindicationWarning)``).

Clock convention: time 0 of a regimen is midnight of day 0 (as in ``Regimen.daily``), so the
clock time of a dose is its time modulo 24 h and its calendar day is ``floor(time / 24 h)``.

The rules' numbers and sentences live in ``params/mildronate-populations.toml`` (table
``[label]``), read by :func:`load_label_rules`; the renal categories and Cockcroft–Gault come
from :mod:`pkmodel.patients`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from pkmodel.errors import PKModelError, PKModelWarning
from pkmodel.patients import (
    CHILD_PUGH,
    RENAL_CATEGORIES,
    Patient,
    PopulationFactors,
    _renal_index,
    load_population_factors,
    read_population_file,
    renal_evidence,
    renal_function,
)
from pkmodel.regimen import Regimen

# --- warning classes ----------------------------------------------------------------------------


class LabelWarning(PKModelWarning):
    """A rule of the drug label is met (base class of every label warning)."""


class ContraindicationWarning(LabelWarning):
    """The label contraindicates the drug for this patient."""


class RenalImpairmentWarning(LabelWarning):
    """Impaired renal function: the label asks for a smaller dose (mild/moderate)."""


class SevereRenalImpairmentWarning(RenalImpairmentWarning, ContraindicationWarning):
    """Severe renal impairment or kidney failure: contraindicated by the label."""


class HepaticImpairmentWarning(LabelWarning):
    """Impaired liver function: the label asks for a smaller dose (Child–Pugh A/B)."""


class SevereHepaticImpairmentWarning(HepaticImpairmentWarning, ContraindicationWarning):
    """Severe liver failure (Child–Pugh C): contraindicated by the label."""


class PaediatricWarning(ContraindicationWarning):
    """A patient younger than 18 years: contraindicated by the label."""


class PregnancyWarning(ContraindicationWarning):
    """Pregnancy: contraindicated by the label."""


class BreastfeedingWarning(ContraindicationWarning):
    """Breastfeeding: contraindicated by the label."""


class MaximumDoseWarning(LabelWarning):
    """More than the label's maximum daily dose on at least one calendar day."""


class LateDoseWarning(LabelWarning):
    """A dose after the label's cut-off clock time (12:00: "the first half of the day")."""


# --- rules ------------------------------------------------------------------------------------

STATUSES = ("none", "caution", "contraindicated")


@dataclass(frozen=True)
class Quote:
    """A label sentence and where it is."""

    text: str
    source: str

    def __str__(self) -> str:
        return f"“{self.text}” ({self.source.rstrip('.')})"


@dataclass(frozen=True)
class LabelRules:
    """The label's numbers and sentences.

    ``maximum_daily_dose`` mg per calendar day; ``late_dose_after`` clock hours after midnight
    (a dose later than this is flagged); ``paediatric_age`` and ``elderly_age`` years;
    ``renal_status`` renal category -> "none"/"caution"/"contraindicated"; ``hepatic_status``
    Child–Pugh class -> status; ``quotes`` rule name -> :class:`Quote`.
    """

    maximum_daily_dose: float
    late_dose_after: float
    paediatric_age: float
    elderly_age: float
    renal_status: Mapping[str, str]
    hepatic_status: Mapping[str, str]
    quotes: Mapping[str, Quote]


_RULE_OVERRIDES = ("maximum_daily_dose", "late_dose_after", "paediatric_age", "elderly_age")
_QUOTES = (
    "renal_contraindicated",
    "renal_caution",
    "hepatic_contraindicated",
    "hepatic_caution",
    "monitoring",
    "pregnancy",
    "breastfeeding",
)


def load_label_rules(path: str | Path | None = None, **overrides: Any) -> LabelRules:
    """The label rules of the shipped population file, a user file ``path`` merged over it, then
    keyword ``overrides``: ``maximum_daily_dose`` (mg), ``late_dose_after`` ("HH:MM" or hours
    after midnight), ``paediatric_age``, ``elderly_age`` (years)."""
    unknown = sorted(set(overrides) - set(_RULE_OVERRIDES))
    if unknown:
        raise PKModelError(
            unknown[0], overrides[unknown[0]], f"unknown override; allowed: {', '.join(_RULE_OVERRIDES)}"
        )
    if path is None and not overrides:
        return _default_rules()
    return _rules(read_population_file(path).get("label", {}), overrides)


@lru_cache(maxsize=1)
def _default_rules() -> LabelRules:
    return _rules(read_population_file(None).get("label", {}), {})


def _rules(table: Mapping[str, Any], overrides: Mapping[str, Any]) -> LabelRules:
    def entry(key: str) -> Mapping[str, Any]:
        node = table.get(key)
        if not isinstance(node, Mapping) or "value" not in node:
            raise PKModelError(f"label.{key}", node, "needs a table with a 'value' in the population file")
        return node

    def number(key: str) -> float:
        value = overrides.get(key, entry(key)["value"])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise PKModelError(key, value, "expected a finite number > 0")
        return float(value)

    quotes = {}
    for key in ("maximum_daily_dose", "late_dose_after", "paediatric_age", "elderly_age"):
        node = entry(key)
        if "quote" not in node or "quote_source" not in node:
            raise PKModelError(f"label.{key}", node, "needs the label's 'quote' and its 'quote_source'")
        quotes[key] = Quote(str(node["quote"]), str(node["quote_source"]))
    for key in _QUOTES:
        node = table.get("quotes", {}).get(key)
        if not isinstance(node, Mapping) or "quote" not in node:
            raise PKModelError(f"label.quotes.{key}", node, "needs a 'quote' and its 'source'")
        quotes[key] = Quote(str(node["quote"]), str(node.get("source", "")))

    renal = {c: _status(table, "renal_status", c) for c in RENAL_CATEGORIES}
    hepatic = {c: _status(table, "hepatic_status", c) for c in CHILD_PUGH}
    return LabelRules(
        maximum_daily_dose=number("maximum_daily_dose"),
        late_dose_after=_clock(overrides.get("late_dose_after", entry("late_dose_after")["value"])),
        paediatric_age=number("paediatric_age"),
        elderly_age=number("elderly_age"),
        renal_status=MappingProxyType(renal),
        hepatic_status=MappingProxyType(hepatic),
        quotes=MappingProxyType(quotes),
    )


def _status(table: Mapping[str, Any], key: str, name: str) -> str:
    value = table.get(key, {}).get(name)
    if value not in STATUSES:
        raise PKModelError(f"label.{key}.{name}", value, f"allowed: {', '.join(STATUSES)}")
    return value


def _clock(value: Any) -> float:
    from pkmodel.units import parse_clock  # imported here so that only this function changes

    return parse_clock(value, field="late_dose_after", allow_end_of_day=True)


# --- findings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A label rule met: the warning ``category`` to issue, the ``rule`` name and the ``message``."""

    category: type[LabelWarning]
    rule: str
    message: str


def label_findings(
    patient: Patient | None,
    regimen: Regimen | None = None,
    *,
    rules: LabelRules | None = None,
    factors: PopulationFactors | None = None,
) -> list[Finding]:
    """Every label rule ``patient`` and ``regimen`` meet, in a fixed order (contraindications
    first), without issuing warnings. Either may be None. Array covariates (several subjects)
    give one finding per rule, counting the subjects concerned."""
    r = rules or load_label_rules()
    f = factors or load_population_factors()
    found: list[Finding] = []
    if patient is not None:
        if not isinstance(patient, Patient):
            raise PKModelError("patient", type(patient).__name__, "expected a pkmodel.patients.Patient or None")
        found += _patient_findings(patient, r, f)
    if regimen is not None:
        if not isinstance(regimen, Regimen):
            raise PKModelError("regimen", type(regimen).__name__, "expected a pkmodel.Regimen or None")
        found += _regimen_findings(regimen, r)
    return found


def check_label(
    patient: Patient | None,
    regimen: Regimen | None = None,
    *,
    rules: LabelRules | None = None,
    factors: PopulationFactors | None = None,
    stacklevel: int = 2,
) -> list[str]:
    """Issue a warning (``warnings.warn``, a :class:`LabelWarning` subclass) for each label rule
    met by ``patient`` and ``regimen``, and return the messages. ``stacklevel`` as for
    ``warnings.warn``: 2 points at the caller of ``check_label``; a function that calls it on its
    caller's behalf (``simulate``) passes 3."""
    findings = label_findings(patient, regimen, rules=rules, factors=factors)
    for finding in findings:
        warnings.warn(finding.category(finding.message), stacklevel=stacklevel)
    return [finding.message for finding in findings]


def _who(mask: Any, what: tuple[str, str]) -> str | None:
    """ "the patient has" / "3 of 10 subjects have" ... or None when nobody does."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return None
    if m.ndim == 0:
        return f"the patient {what[0]}"
    n = int(m.sum())
    return f"{n} of {m.size} subjects {what[0] if n == 1 else what[1]}"


def _patient_findings(p: Patient, r: LabelRules, f: PopulationFactors) -> list[Finding]:
    out: list[Finding] = []
    if p.age is not None:
        who = _who(np.asarray(p.age) < r.paediatric_age, ("is", "are"))
        if who:
            ages = np.asarray(p.age)[np.asarray(p.age) < r.paediatric_age]
            out.append(
                Finding(
                    PaediatricWarning,
                    "paediatric",
                    f"Contraindicated: {who} younger than {r.paediatric_age:g} years "
                    f"(age {_span(ages)} years). Label: {r.quotes['paediatric_age']}",
                )
            )
    if p.pregnant:
        out.append(
            Finding(PregnancyWarning, "pregnancy", f"Contraindicated: pregnancy. Label: {r.quotes['pregnancy']}")
        )
    if p.breastfeeding:
        out.append(
            Finding(
                BreastfeedingWarning,
                "breastfeeding",
                f"Contraindicated: breastfeeding. Label: {r.quotes['breastfeeding']}",
            )
        )
    elderly = None if p.age is None else np.asarray(p.age) >= r.elderly_age
    out += _renal_findings(p, r, f, elderly)
    if p.child_pugh is not None:
        status = r.hepatic_status[p.child_pugh]
        severity = {"A": "mild", "B": "moderate", "C": "severe"}[p.child_pugh]
        what = f"{severity} hepatic impairment (Child–Pugh {p.child_pugh})"
        if status == "contraindicated":
            out.append(
                Finding(
                    SevereHepaticImpairmentWarning,
                    "hepatic",
                    f"Contraindicated: {what}. Label: {r.quotes['hepatic_contraindicated']}",
                )
            )
        elif status == "caution":
            out.append(
                Finding(
                    HepaticImpairmentWarning,
                    "hepatic",
                    f"Caution, a smaller dose: {what}. Label: {r.quotes['hepatic_caution']}"
                    + _elderly_note(elderly, r)
                    + _dose_hint(r),
                )
            )
    return out


def _renal_findings(p: Patient, r: LabelRules, f: PopulationFactors, elderly: Any) -> list[Finding]:
    index = _renal_index(p, f)
    if index is None:
        return []
    status = np.array([r.renal_status[c] for c in RENAL_CATEGORIES], dtype=object)[index]
    evidence = "creatinine clearance" + (" (Cockcroft–Gault)" if renal_evidence(p) == "cockcroft-gault" else "")
    crcl = np.asarray(renal_function(p, f), dtype=float)
    out = []
    for level, cls, quote, lead in (
        ("contraindicated", SevereRenalImpairmentWarning, "renal_contraindicated", "Contraindicated"),
        ("caution", RenalImpairmentWarning, "renal_caution", "Caution, a smaller dose"),
    ):
        mask = np.asarray(status == level)
        if not mask.any():
            continue
        names = sorted(
            {RENAL_CATEGORIES[i] for i in np.atleast_1d(index)[np.atleast_1d(mask)]}, key=RENAL_CATEGORIES.index
        )
        kdigo = "/".join(f.category(n).kdigo for n in names)
        given = []
        if p.egfr_category is not None:
            given.append(f"eGFR category {p.egfr_category}")
        if renal_evidence(p) in ("crcl", "cockcroft-gault"):
            values = np.broadcast_to(crcl, mask.shape)[mask] if mask.ndim else crcl
            given.append(f"{evidence} {_span(values)} mL/min")
        grades = [n for n in names if n != "kidney failure"]
        said = " or ".join(([f"{' or '.join(grades)} renal impairment"] if grades else []) + names[len(grades) :])
        impairment = f"{said} (KDIGO {kdigo}: {'; '.join(given)})"
        subject = impairment if mask.ndim == 0 else f"{_who(mask, ('has', 'have'))} {impairment}"
        message = f"{lead}: {subject}. Label: {r.quotes[quote]}"
        if level == "caution":
            message += _elderly_note(elderly, r, mask) + _dose_hint(r)
        out.append(Finding(cls, "renal", message))
    return out


def _elderly_note(elderly: Any, r: LabelRules, mask: Any = True) -> str:
    if elderly is None or not np.any(np.asarray(elderly) & np.asarray(mask)):
        return ""
    return f" Age {r.elderly_age:g} years or over; label: {r.quotes['elderly_age']}"


def _dose_hint(r: LabelRules) -> str:
    return f" Also: {r.quotes['monitoring']} (pkmodel.dosing.suggest_dose matches the reference exposure.)"


def _regimen_findings(regimen: Regimen, r: LabelRules) -> list[Finding]:
    out: list[Finding] = []
    given = [d for d in regimen.doses if d.amount > 0]
    if not given:
        return out
    times = np.array([d.time for d in given])
    amounts = np.array([d.amount for d in given])
    days = np.floor(times / 24.0 + 1e-12).astype(int)
    daily: dict[int, float] = {}
    for day, amount in zip(days.tolist(), amounts.tolist(), strict=True):
        daily[day] = daily.get(day, 0.0) + amount
    over = {d: a for d, a in daily.items() if a > r.maximum_daily_dose * (1 + 1e-12)}
    if over:
        worst = max(over.values())
        first = min(over)
        out.append(
            Finding(
                MaximumDoseWarning,
                "maximum_daily_dose",
                f"Above the label's maximum daily dose of {r.maximum_daily_dose:g} mg on {len(over)} of "
                f"{len(daily)} dosing days (highest {worst:g} mg; first on day {first}, day 0 starting at time 0). "
                f"Label: {r.quotes['maximum_daily_dose']}",
            )
        )
    clock = times - 24.0 * np.floor(times / 24.0 + 1e-12)
    late = clock > r.late_dose_after + 1e-9
    if late.any():
        i = int(np.argmax(late))
        out.append(
            Finding(
                LateDoseWarning,
                "late_dose",
                f"{int(late.sum())} of {len(given)} doses are after {_clock_text(r.late_dose_after)} clock time "
                f"(first: day {days[i]} at {_clock_text(clock[i])}; time 0 is midnight of day 0). "
                f"Label: {r.quotes['late_dose_after']}",
            )
        )
    return out


def _clock_text(hours: float) -> str:
    minutes = round(hours * 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _span(values: Any) -> str:
    v = np.atleast_1d(np.asarray(values, dtype=float))
    lo, hi = float(v.min()), float(v.max())
    return f"{lo:.0f}" if round(lo) == round(hi) else f"{lo:.0f}-{hi:.0f}"
