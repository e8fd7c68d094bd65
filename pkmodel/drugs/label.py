"""The label's safety rules met by a patient and a regimen: contraindications, cautions, maximum
daily dose and dose timing.

:func:`check_label` looks at a :class:`~pkmodel.drugs.patient.Patient` and a
:class:`~pkmodel.dosing.regimen.Regimen` and issues one Python warning per rule met, each of a
``pkmodel`` warning class (:mod:`pkmodel.drugs.label_warnings`) and each quoting the label
sentence it enforces; it returns the messages. :func:`label_findings` does the same without
warning (for code that wants the facts). Nothing is printed.

Clock convention: time 0 of a regimen is midnight of day 0 (as in ``Regimen.daily``), so the
clock time of a dose is its time modulo 24 h and its calendar day is ``floor(time / 24 h)``.

The rules' numbers and sentences live in the drug's population file (table ``[label]``), read by
:func:`pkmodel.drugs.label_rules.load_label_rules`; the renal categories and Cockcroft–Gault come
from :mod:`pkmodel.drugs.clearance`. The warning classes and the rules' loader are importable from
here too, where code has long found them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.clearance import renal_evidence, renal_function, renal_index
from pkmodel.drugs.covariates import RENAL_CATEGORIES
from pkmodel.drugs.label_rules import LabelRules, Quote, load_label_rules, rules_of
from pkmodel.drugs.label_warnings import (
    BreastfeedingWarning,
    ContraindicationWarning,
    HepaticImpairmentWarning,
    LabelWarning,
    LateDoseWarning,
    MaximumDoseWarning,
    PaediatricWarning,
    PregnancyWarning,
    RenalImpairmentWarning,
    SevereHepaticImpairmentWarning,
    SevereRenalImpairmentWarning,
)
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import Drug, PopulationFactors, factors_of
from pkmodel.errors import PKModelError

__all__ = [
    "BreastfeedingWarning",
    "ContraindicationWarning",
    "Finding",
    "HepaticImpairmentWarning",
    "LabelRules",
    "LabelWarning",
    "LateDoseWarning",
    "MaximumDoseWarning",
    "PaediatricWarning",
    "PregnancyWarning",
    "Quote",
    "RenalImpairmentWarning",
    "SevereHepaticImpairmentWarning",
    "SevereRenalImpairmentWarning",
    "check_label",
    "label_findings",
    "load_label_rules",
]


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
    # Whole columns: the label is checked on every simulation, of regimens up to limits.MAX_DOSES.
    times = regimen.columns.time[regimen.columns.amount > 0]
    if not times.size:
        return out
    if r.maximum_daily_dose is not None:
        days, totals = regimen.daily_totals
        dosing = totals > 0  # days with only zero-amount records are not dosing days
        over = dosing & (totals > r.maximum_daily_dose * (1 + 1e-12))
        if over.any():
            out.append(
                Finding(
                    MaximumDoseWarning,
                    "maximum_daily_dose",
                    f"Above the label's maximum daily dose of {r.maximum_daily_dose:g} mg on {int(over.sum())} of "
                    f"{int(dosing.sum())} dosing days (highest {float(totals[over].max()):g} mg; first on day "
                    f"{int(days[over][0])}, day 0 starting at time 0). Label: {r.quotes['maximum_daily_dose']}",
                )
            )
    if r.late_dose_after is not None:
        days = np.floor(times / 24.0 + 1e-12).astype(int)
        clock = times - 24.0 * np.floor(times / 24.0 + 1e-12)
        late = clock > r.late_dose_after + 1e-9
        if late.any():
            i = int(np.argmax(late))
            out.append(
                Finding(
                    LateDoseWarning,
                    "late_dose",
                    f"{int(late.sum())} of {times.size} doses are after {_clock_text(r.late_dose_after)} clock time "
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
