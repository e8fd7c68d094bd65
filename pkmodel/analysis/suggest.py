"""Dose adjustment for special populations: the dose that gives a patient the reference exposure.

:func:`suggest_dose` keeps the regimen's dose times and changes the amount (and, when rounding to
real strengths cannot come close, the interval) so that the patient's steady-state exposure
matches the reference adult's:

- ``target="auc"``: the steady-state AUC over one dosing interval. For linear kinetics it is
  F·(amount per interval)/CL exactly, so no simulation is needed. When the interval is
  lengthened the AUC is compared per reference interval (AUC_ss over the new interval × τ_ref /
  τ_new, i.e. the same average concentration).
- ``target="cmax"``: the steady-state peak, read from :meth:`Simulation.summary` of one interval
  started at steady state (NONMEM SS=1 on the first dose, as ``Regimen.repeated(...,
  steady_state=True)`` builds it), followed by a second interval whose peak is the reported one.

Amounts are rounded to real strengths: the step per route is ``dosing.oral_step`` /
``dosing.iv_step`` of the population file (e.g. a capsule's strength, or 1 mL of an injection),
to the nearest whole step (ties go to the lower dose), never below one
step. A rounded dose is accepted when its exposure is within ``exposure_bounds`` of the target
(0.80–1.25); otherwise longer intervals are tried that keep the clock times of the doses (a
multiple or a divisor of 24 h, up to ``max_interval``, 48 h), keeping every k-th period of the
regimen. When none comes within the bounds the closest is returned with ``reached=False``.

The linear model makes every exposure proportional to the amount, so the search is exact: the
amount is the target divided by the exposure per mg, then rounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pkmodel.dosing.dose import Dose
from pkmodel.dosing.events import bioavailability
from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.clearance import apply_patient, clearance_scale, renal_category, renal_evidence, renal_function
from pkmodel.drugs.label import label_findings
from pkmodel.drugs.label_rules import LabelRules, load_label_rules
from pkmodel.drugs.label_warnings import ContraindicationWarning
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import Drug, PopulationFactors, factors_of
from pkmodel.errors import PKModelError
from pkmodel.model import Model
from pkmodel.simulation.simulate import simulate

TARGETS = {"auc": ("steady-state AUC", "mg·h/L"), "cmax": ("steady-state Cmax", "mg/L")}
_ROUTE_WORD = {"oral": "oral", "iv": "IV"}


@dataclass(frozen=True)
class DoseSuggestion:
    """What :func:`suggest_dose` proposes and why.

    ``regimen``: the adjusted :class:`Regimen` (the very regimen given when nothing changes);
    ``dose_mg`` and ``interval_h``: its amount per dose and interval; ``metric``: "auc" or
    "cmax"; ``achieved`` and ``target``: the patient's exposure on the adjusted regimen and the
    reference adult's on the original one (``unit``: mg·h/L or mg/L), ``ratio`` = achieved /
    target; ``reached``: whether the ratio is within the exposure bounds; ``original_dose_mg``,
    ``original_interval_h``; ``clearance_ratio``: the patient's CL / the reference CL;
    ``explanation``: what changed and why, in words.
    """

    regimen: Regimen
    dose_mg: float
    interval_h: float
    metric: str
    achieved: float
    target: float
    ratio: float
    unit: str
    reached: bool
    original_dose_mg: float
    original_interval_h: float
    clearance_ratio: float
    explanation: str

    def __str__(self) -> str:
        return self.explanation


@dataclass(frozen=True)
class _Option:
    k: int  # the new interval is k times the original
    amount: float
    per_mg: float  # exposure per mg of each dose
    ratio: float


def suggest_dose(
    model: Model,
    patient: Patient | None,
    regimen: Regimen,
    *,
    target: str = "auc",
    reference_patient: Patient | None = None,
    factors: PopulationFactors | Drug | None = None,
    rules: LabelRules | Drug | None = None,
) -> DoseSuggestion:
    """The dose for ``patient`` that matches the steady-state exposure of ``regimen`` in the
    reference adult (``model`` itself, or ``model`` adjusted to ``reference_patient``).

    ``model``: the reference :class:`Model` (one subject: scalar parameters); ``regimen``: a
    maintenance regimen (every dose the same amount and route, "oral" or "iv", with a regular
    ``interval``); ``target``: "auc" or "cmax"; ``factors``: population factors (default: those
    of the model's own population file, ``model.populations``; they also give the strengths,
    bounds and longest interval); ``rules``: the label rules whose contraindications the
    explanation notes (default: the model's; none when the model has no population file).
    """
    if not isinstance(model, Model):
        raise PKModelError("model", type(model).__name__, "expected a pkmodel.Model")
    if model.n_subjects is not None:
        raise PKModelError("model", repr(model), "suggest_dose works for one subject: scalar parameters")
    if target not in TARGETS:
        raise PKModelError("target", target, f"allowed: {', '.join(TARGETS)}")
    for field, who in (("patient", patient), ("reference_patient", reference_patient)):
        if who is not None and not isinstance(who, Patient):
            raise PKModelError(field, type(who).__name__, "expected a pkmodel.Patient or None")
        if who is not None and who.n_subjects is not None:
            raise PKModelError(field, repr(who), "suggest_dose works for one patient: scalar covariates")
    f = factors_of(model if factors is None else factors, "suggest_dose")
    if rules is None and model.populations is not None:
        rules = load_label_rules(model)
    amount0, route, tau, pattern = _maintenance(regimen)
    step = f.dose_steps[route]
    reference = apply_patient(model, reference_patient, f)
    patient_model = apply_patient(model, patient, f)

    goal = amount0 * _per_mg(reference, pattern, tau, 1, target)
    options = []
    for k in _multiples(tau, f.max_interval):
        per_mg = _per_mg(patient_model, pattern, tau, k, target)
        n = max(1, math.ceil(goal / per_mg / step - 0.5))
        options.append(_Option(k, n * step, per_mg, n * step * per_mg / goal))
    low, high = f.exposure_bounds
    # Bounds are inclusive; the tolerance keeps a ratio of exactly 0.8 from failing by one ulp.
    inside = [o for o in options if low * (1 - 1e-9) <= o.ratio <= high * (1 + 1e-9)]
    chosen = inside[0] if inside else min(options, key=lambda o: abs(math.log(o.ratio)))

    unchanged = chosen.k == 1 and chosen.amount == amount0
    new = regimen if unchanged else _adjusted(regimen, chosen, amount0, route, tau)
    achieved = (
        chosen.amount * chosen.per_mg
        if target == "auc"
        else _cmax(patient_model, pattern, tau, chosen.k, chosen.amount)
    )
    scale = float(patient_model.cl) / float(reference.cl)
    suggestion: dict[str, Any] = {
        "regimen": new,
        "dose_mg": chosen.amount,
        "interval_h": tau * chosen.k,
        "metric": target,
        "achieved": float(achieved),
        "target": float(goal),
        "ratio": float(achieved / goal),
        "unit": TARGETS[target][1],
        "reached": bool(inside),
        "original_dose_mg": amount0,
        "original_interval_h": tau,
        "clearance_ratio": scale,
    }
    text = _explain(suggestion, options, chosen, route, step, f, rules, patient, reference_patient, unchanged)
    return DoseSuggestion(**suggestion, explanation=text)


# --- the regimen's pattern ------------------------------------------------------------------


def _maintenance(regimen: Regimen) -> tuple[float, str, float, tuple[Dose, ...]]:
    """(amount, route, interval, doses of the last period with times relative to its start)."""
    if not isinstance(regimen, Regimen):
        raise PKModelError("regimen", type(regimen).__name__, "expected a pkmodel.Regimen")
    if regimen.interval is None:
        raise PKModelError("regimen", str(regimen), "suggest_dose needs a regimen with a regular interval")
    amounts = {d.amount for d in regimen.doses}
    routes = {d.route for d in regimen.doses}
    if len(amounts) != 1 or len(routes) != 1 or any(d.reset for d in regimen.doses):
        raise PKModelError(
            "regimen",
            str(regimen),
            "suggest_dose adjusts a maintenance regimen: every dose the same amount and route (no loading dose)",
        )
    route = routes.pop()
    if route not in ("oral", "iv"):
        raise PKModelError("route", route, "dose strengths are known for oral and iv doses only")
    period = regimen.last_period()
    if period is None:  # not reached: the interval was checked above
        raise PKModelError("regimen", str(regimen), "suggest_dose needs a regimen with a regular interval")
    start, end = period
    pattern = tuple(
        replace(d, time=d.time - start, ss=0, interval=None) for d in regimen.doses if start - 1e-9 <= d.time < end - 1e-9
    )
    return amounts.pop(), route, float(regimen.interval), pattern


def _multiples(tau: float, max_interval: float) -> list[int]:
    """1, then every k > 1 whose interval k·tau keeps the clock times (a multiple or a divisor of
    24 h) and is at most ``max_interval``."""
    ks = [1]
    k = 2
    while k * tau <= max_interval + 1e-9:
        t = k * tau
        if abs(t / 24.0 - round(t / 24.0)) < 1e-9 or abs(24.0 / t - round(24.0 / t)) < 1e-9:
            ks.append(k)
        k += 1
    return ks


def _per_mg(model: Model, pattern: tuple[Dose, ...], tau: float, k: int, target: str) -> float:
    """Exposure per mg of each dose when the pattern is given every k·tau: steady-state AUC per
    tau (mg·h/L per mg) or steady-state Cmax (mg/L per mg)."""
    if target == "auc":
        bioavailable = float(np.sum(bioavailability(pattern, model.f)))
        return bioavailable / float(model.cl) / k
    amount = pattern[0].amount
    return _cmax(model, pattern, tau, k, amount) / amount


def _cmax(model: Model, pattern: tuple[Dose, ...], tau: float, k: int, amount: float) -> float:
    """Steady-state Cmax of the pattern given every k·tau with each dose ``amount``: the first
    period starts at steady state (the first dose SS=1, the others SS=2: each adds its own
    train's steady state), and the second period, identical to every later one, holds the peak."""
    period = k * tau
    first = [replace(d, amount=amount, ss=1 if i == 0 else 2, interval=period) for i, d in enumerate(pattern)]
    second = [replace(d, amount=amount, time=d.time + period) for d in pattern]
    # A trial regimen is not a prescription: the label is checked on the suggestion instead.
    sim = simulate(model, Regimen(tuple(first + second), interval=period), check_label=False)
    return float(sim.peak()[0][0])  # the summary's Cmax, without the other metrics or pandas


def _adjusted(regimen: Regimen, chosen: _Option, amount0: float, route: str, tau: float) -> Regimen:
    t0 = regimen.doses[0].time
    kept = [d for d in regimen.doses if math.floor((d.time - t0) / tau + 1e-9) % chosen.k == 0]
    doses = tuple(replace(d, amount=chosen.amount, interval=d.interval * chosen.k if d.ss and d.interval is not None else None) for d in kept)
    text = (
        f"{_dose_text(chosen.amount, route, tau * chosen.k)}, {len(doses)} doses "
        f"(adjusted from {_dose_text(amount0, route, tau)})"
    )
    return Regimen(doses, tau * chosen.k, text)


# --- words ------------------------------------------------------------------------------------


def _dose_text(amount: float, route: str, interval: float) -> str:
    return f"{amount:g} mg {_ROUTE_WORD[route]} every {interval:g} h"


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _explain(
    s: dict[str, Any],
    options: list[_Option],
    chosen: _Option,
    route: str,
    step: float,
    f: PopulationFactors,
    rules: LabelRules | Drug | None,
    patient: Patient | None,
    reference_patient: Patient | None,
    unchanged: bool,
) -> str:
    tau, k = s["original_interval_h"], chosen.k
    what, unit = TARGETS[s["metric"]]
    if s["metric"] == "auc":
        what = (
            f"{what} over {tau:g} h" if k == 1 else f"{what} per {tau:g} h (averaged over the {tau * k:g} h interval)"
        )
    before = _dose_text(s["original_dose_mg"], route, tau)
    after = _dose_text(s["dose_mg"], route, s["interval_h"])
    numbers = f"{what} {s['achieved']:.3g} vs reference {s['target']:.3g} {unit} ({_pct(s['ratio'])})"
    lines = [f"{before}: unchanged; {numbers}." if unchanged else f"{before} → {after}: {numbers}."]

    reasons = _clearance_reasons(patient, f)
    versus = "the reference adult" if reference_patient is None else "the reference patient"
    lines.append(
        f"Clearance {_pct(s['clearance_ratio'])} of {versus}"
        + (f" ({'; '.join(reasons)}; renal fraction fe = {f.fe:g}, an assumption)." if reasons else ".")
    )
    route_word = "Oral" if route == "oral" else _ROUTE_WORD[route]
    lines.append(f"{route_word} doses are whole multiples of {step:g} mg (the product's dose step).")
    low, high = f.exposure_bounds
    first = options[0]
    if k > 1:
        lines.append(
            f"Every {tau:g} h the nearest whole step, {first.amount:g} mg, gives {_pct(first.ratio)} of the target, "
            f"outside {_pct(low)}–{_pct(high)}; the interval was lengthened to {tau * k:g} h."
        )
    if not s["reached"]:
        longest = tau * options[-1].k
        lines.append(
            f"No dose in {step:g} mg steps at intervals up to {longest:g} h comes within {_pct(low)}–{_pct(high)} "
            f"of the target; the closest is shown ({_pct(s['ratio'])}). It cannot be matched with these strengths."
        )
    found = [] if rules is None else label_findings(patient, None, rules=rules, factors=f)
    contra = [x for x in found if issubclass(x.category, ContraindicationWarning)]
    if contra:
        lines.append(
            "Note: the label contraindicates use for this patient ("
            + "; ".join(x.message.split(". Label:")[0].removeprefix("Contraindicated: ") for x in contra)
            + "): this is exposure matching only, not a recommendation to treat."
        )
    return " ".join(lines)


def _clearance_reasons(patient: Patient | None, f: PopulationFactors) -> list[str]:
    if patient is None:
        return []
    reasons = []
    evidence = renal_evidence(patient)
    if evidence is not None:
        crcl = float(renal_function(patient, f))
        how = {"crcl": "given", "cockcroft-gault": "Cockcroft–Gault", "category": "category value"}[evidence]
        reasons.append(f"CrCL {crcl:.0f} mL/min ({how}, {renal_category(patient, f)})")
    if patient.child_pugh is not None:
        reasons.append(f"Child–Pugh {patient.child_pugh}: non-renal clearance × {f.hepatic[patient.child_pugh]:g}")
    scale = clearance_scale(patient, f)
    if not reasons and np.all(np.asarray(scale) == 1.0):
        return []
    return reasons
