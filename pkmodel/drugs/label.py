"""The label's safety rules: contraindications, cautions, maximum daily dose and dose timing.

:func:`check_label` looks at a :class:`~pkmodel.drugs.patient.Patient` and a
:class:`~pkmodel.dosing.regimen.Regimen` and issues one Python warning per rule met, each of a
``pkmodel`` warning class and each quoting the label sentence it enforces; it returns the
messages. :func:`label_findings` does the same without warning (for code that wants the facts).
Nothing is printed.

Warning classes (all subclasses of :class:`pkmodel.errors.PKModelWarning`)::

    LabelWarning                         every label rule
    ├── ContraindicationWarning          the label contraindicates use
    │   ├── PaediatricWarning            younger than the label's paediatric age
    │   ├── PregnancyWarning
    │   ├── BreastfeedingWarning
    │   ├── SevereRenalImpairmentWarning    (also a RenalImpairmentWarning)
    │   └── SevereHepaticImpairmentWarning  (also a HepaticImpairmentWarning)
    ├── RenalImpairmentWarning           a renal grade the label cautions about (severe: contraindicated)
    ├── HepaticImpairmentWarning         a Child–Pugh class the label cautions about (or contraindicates)
    ├── MaximumDoseWarning               more than the label maximum on a calendar day
    └── LateDoseWarning                  a dose after the label's cut-off clock time

So a notebook can silence one rule (``warnings.simplefilter("ignore", LateDoseWarning)``), all
renal warnings whatever their severity (``RenalImpairmentWarning``), or make every
contraindication an error (``warnings.simplefilter("error", ContraindicationWarning)``).

Clock convention: time 0 of a regimen is midnight of day 0 (as in ``Regimen.daily``), so the
clock time of a dose is its time modulo 24 h and its calendar day is ``floor(time / 24 h)``.

The rules' numbers and sentences live in the drug's population file (table ``[label]``, e.g.
``params/mildronate-populations.toml``), read by :func:`load_label_rules`; the renal categories
and Cockcroft–Gault come from :mod:`pkmodel.drugs.clearance`. Every rule is optional: a drug whose label
has no late-dose rule, no paediatric age or no renal grades leaves it out (then it is not
checked), and a drug without a ``[label]`` table has no rules at all.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.clearance import renal_evidence, renal_function, renal_index
from pkmodel.drugs.covariates import CHILD_PUGH, RENAL_CATEGORIES
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import Drug, PopulationFactors, factors_of, read_population_file
from pkmodel.errors import PKModelError, PKModelWarning
from pkmodel.model import checked_number
from pkmodel.units import parse_clock

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
    """A patient younger than the label's paediatric age: contraindicated by the label."""


class PregnancyWarning(ContraindicationWarning):
    """Pregnancy: contraindicated by the label."""


class BreastfeedingWarning(ContraindicationWarning):
    """Breastfeeding: contraindicated by the label."""


class MaximumDoseWarning(LabelWarning):
    """More than the label's maximum daily dose on at least one calendar day."""


class LateDoseWarning(LabelWarning):
    """A dose after the label's cut-off clock time (e.g. a stimulant taken "in the first half of the day")."""


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
    """The label's numbers and sentences; a rule that is None (or a status table that is empty)
    is not in the label and is not checked.

    ``maximum_daily_dose`` mg per calendar day; ``late_dose_after`` clock hours after midnight
    (a dose later than this is flagged); ``paediatric_age`` and ``elderly_age`` years;
    ``renal_status`` renal category -> "none"/"caution"/"contraindicated" (a category not listed
    is "none"); ``hepatic_status`` Child–Pugh class -> status; ``quotes`` rule name ->
    :class:`Quote` (pregnancy and breastfeeding are checked when their quote is there).
    """

    maximum_daily_dose: float | None = None
    late_dose_after: float | None = None
    paediatric_age: float | None = None
    elderly_age: float | None = None
    renal_status: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hepatic_status: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    quotes: Mapping[str, Quote] = field(default_factory=lambda: MappingProxyType({}))


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


def load_label_rules(drug: Drug | None, path: str | Path | None = None, **overrides: Any) -> LabelRules:
    """The label rules of ``drug`` (a :class:`~pkmodel.model.Model` with a population file, the
    name of a population file in ``params/`` such as "mildronate-populations", or a path), a user
    file ``path`` merged over its file, then keyword ``overrides``: ``maximum_daily_dose`` (mg),
    ``late_dose_after`` ("HH:MM" or hours after midnight), ``paediatric_age``, ``elderly_age``
    (years); None switches a rule off. A rule the label lacks cannot be overridden (it has no
    sentence to quote)."""
    unknown = sorted(set(overrides) - set(_RULE_OVERRIDES))
    if unknown:
        raise PKModelError(
            unknown[0], overrides[unknown[0]], f"unknown override; allowed: {', '.join(_RULE_OVERRIDES)}"
        )
    table = read_population_file(drug, path).get("label", {})
    if not isinstance(table, Mapping):
        raise PKModelError("label", table, "the [label] table of a population file must be a table")
    return _rules(table, overrides)


def rules_of(given: LabelRules | Drug | None, what: str) -> LabelRules:
    """Label rules given explicitly, or those of a drug; with neither a :class:`PKModelError`
    saying what ``what`` (the function asking) needs."""
    if isinstance(given, LabelRules):
        return given
    if given is None:
        raise PKModelError(
            "rules", None, f"{what} needs the drug's label rules: pass rules=load_label_rules(model) (or the model)"
        )
    return load_label_rules(given)


def _rules(table: Mapping[str, Any], overrides: Mapping[str, Any]) -> LabelRules:
    quotes: dict[str, Quote] = {}
    values: dict[str, float | None] = {}
    for key in _RULE_OVERRIDES:
        node = table.get(key)
        if node is None:
            if overrides.get(key) is not None:
                raise PKModelError(key, overrides[key], "this drug's label has no such rule to override")
            values[key] = None
            continue
        if not isinstance(node, Mapping) or "value" not in node:
            raise PKModelError(f"label.{key}", node, "needs a table with a 'value' in the population file")
        if "quote" not in node or "quote_source" not in node:
            raise PKModelError(f"label.{key}", node, "needs the label's 'quote' and its 'quote_source'")
        value = overrides.get(key, node["value"])
        if value is None:
            values[key] = None
        elif key == "late_dose_after":
            values[key] = _clock(value)
        else:
            values[key] = checked_number(value, key, low=0.0)
        if values[key] is not None:
            quotes[key] = Quote(str(node["quote"]), str(node["quote_source"]))
    given = table.get("quotes", {})
    if not isinstance(given, Mapping) or set(given) - set(_QUOTES):
        raise PKModelError("label.quotes", given, f"a table of quotes named {', '.join(_QUOTES)}")
    for key, node in given.items():
        if not isinstance(node, Mapping) or "quote" not in node:
            raise PKModelError(f"label.quotes.{key}", node, "needs a 'quote' and its 'source'")
        quotes[key] = Quote(str(node["quote"]), str(node.get("source", "")))

    renal = _statuses(table, "renal_status", RENAL_CATEGORIES, quotes)
    hepatic = _statuses(table, "hepatic_status", CHILD_PUGH, quotes)
    return LabelRules(
        maximum_daily_dose=values["maximum_daily_dose"],
        late_dose_after=values["late_dose_after"],
        paediatric_age=values["paediatric_age"],
        elderly_age=values["elderly_age"],
        renal_status=MappingProxyType(renal),
        hepatic_status=MappingProxyType(hepatic),
        quotes=MappingProxyType(quotes),
    )


def _statuses(
    table: Mapping[str, Any], key: str, names: tuple[str, ...], quotes: Mapping[str, Quote]
) -> dict[str, str]:
    """A status table (renal category or Child–Pugh class -> status); absent: {} (not checked).
    A status other than "none" needs the label sentence it quotes."""
    node = table.get(key)
    if node is None:
        return {}
    if not isinstance(node, Mapping):
        raise PKModelError(f"label.{key}", node, f"a table from {', '.join(names)} to a status")
    stray = sorted(set(node) - set(names) - {"basis", "source"})
    if stray:
        raise PKModelError(f"label.{key}", stray[0], f"unknown name; allowed: {', '.join(names)}")
    out = {}
    for name in names:
        value = node.get(name, "none")
        if value not in STATUSES:
            raise PKModelError(f"label.{key}.{name}", value, f"allowed: {', '.join(STATUSES)}")
        quote = f"{key.removesuffix('_status')}_{value}"
        if value != "none" and quote not in quotes:
            raise PKModelError(f"label.quotes.{quote}", None, f"needed by label.{key}.{name} = {value!r}")
        out[name] = value
    return out


def _clock(value: Any) -> float:
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
    rules: LabelRules | Drug | None = None,
    factors: PopulationFactors | Drug | None = None,
) -> list[Finding]:
    """Every label rule ``patient`` and ``regimen`` meet, in a fixed order (contraindications
    first), without issuing warnings. Either may be None. Array covariates (several subjects)
    give one finding per rule, counting the subjects concerned.

    ``rules``: the drug's :class:`LabelRules`, or the drug itself (its :class:`Model` or
    population file, see :data:`pkmodel.drugs.populations.Drug`); ``factors``: its population factors
    (renal categories), by default the drug ``rules`` names. Nothing is assumed about the drug:
    without rules this is an error."""
    r = rules_of(rules, "label_findings")
    if factors is None and not isinstance(rules, LabelRules):
        factors = rules
    found: list[Finding] = []
    if patient is not None:
        if not isinstance(patient, Patient):
            raise PKModelError("patient", type(patient).__name__, "expected a pkmodel.Patient or None")
        found += _patient_findings(patient, r, factors)
    if regimen is not None:
        if not isinstance(regimen, Regimen):
            raise PKModelError("regimen", type(regimen).__name__, "expected a pkmodel.Regimen or None")
        found += _regimen_findings(regimen, r)
    return found


def check_label(
    patient: Patient | None,
    regimen: Regimen | None = None,
    *,
    rules: LabelRules | Drug | None = None,
    factors: PopulationFactors | Drug | None = None,
    stacklevel: int = 2,
) -> list[str]:
    """Issue a warning (``warnings.warn``, a :class:`LabelWarning` subclass) for each label rule
    met by ``patient`` and ``regimen``, and return the messages. ``rules`` and ``factors`` as for
    :func:`label_findings`. ``stacklevel`` as for ``warnings.warn``: 2 points at the caller of
    ``check_label``; a function that calls it on its caller's behalf (``simulate``) passes 3."""
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


def _patient_findings(p: Patient, r: LabelRules, factors: PopulationFactors | Drug | None) -> list[Finding]:
    out: list[Finding] = []
    if p.age is not None and r.paediatric_age is not None:
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
    if p.pregnant and "pregnancy" in r.quotes:
        out.append(
            Finding(PregnancyWarning, "pregnancy", f"Contraindicated: pregnancy. Label: {r.quotes['pregnancy']}")
        )
    if p.breastfeeding and "breastfeeding" in r.quotes:
        out.append(
            Finding(
                BreastfeedingWarning,
                "breastfeeding",
                f"Contraindicated: breastfeeding. Label: {r.quotes['breastfeeding']}",
            )
        )
    elderly = None if p.age is None or r.elderly_age is None else np.asarray(p.age) >= r.elderly_age
    if r.renal_status:
        out += _renal_findings(p, r, factors, elderly)
    if p.child_pugh is not None and r.hepatic_status:
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


def _renal_findings(
    p: Patient, r: LabelRules, factors: PopulationFactors | Drug | None, elderly: Any
) -> list[Finding]:
    if renal_evidence(p) is None:
        return []
    f = factors_of(factors, "label_findings (renal rules)")
    index = renal_index(p, f)
    if index is None:
        return []
    status = np.array([r.renal_status.get(c, "none") for c in RENAL_CATEGORIES], dtype=object)[index]
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
    if elderly is None or r.elderly_age is None or not np.any(np.asarray(elderly) & np.asarray(mask)):
        return ""
    return f" Age {r.elderly_age:g} years or over; label: {r.quotes['elderly_age']}"


def _dose_hint(r: LabelRules) -> str:
    also = f" Also: {r.quotes['monitoring']}" if "monitoring" in r.quotes else ""
    return f"{also} (pkmodel.analysis.suggest.suggest_dose matches the reference exposure.)"


def _regimen_findings(regimen: Regimen, r: LabelRules) -> list[Finding]:
    out: list[Finding] = []
    given = [d for d in regimen.doses if d.amount > 0]
    if not given:
        return out
    if r.maximum_daily_dose is not None:
        daily = regimen.daily_doses
        daily = daily[daily > 0]  # days with only zero-amount records are not dosing days
        over = daily[daily > r.maximum_daily_dose * (1 + 1e-12)]
        if len(over):
            out.append(
                Finding(
                    MaximumDoseWarning,
                    "maximum_daily_dose",
                    f"Above the label's maximum daily dose of {r.maximum_daily_dose:g} mg on {len(over)} of "
                    f"{len(daily)} dosing days (highest {float(over.max()):g} mg; first on day {int(over.index.min())}, "
                    f"day 0 starting at time 0). Label: {r.quotes['maximum_daily_dose']}",
                )
            )
    if r.late_dose_after is not None:
        times = np.array([d.time for d in given])
        days = np.floor(times / 24.0 + 1e-12).astype(int)
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
