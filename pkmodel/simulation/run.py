"""One run of the engine for the subjects of a model: inputs checked, sizes estimated against
:mod:`pkmodel.limits` before anything large is allocated, the patient and the label applied, and a
lazy :class:`~pkmodel.simulation.result.Simulation` returned. :func:`pkmodel.simulate` (the
front door) and the population chunks of :mod:`pkmodel.simulation.population` both come here.

Units: time h, concentration mg/L, amount mg.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pkmodel.dosing import events
from pkmodel.dosing.columns import ROUTE_CODE
from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.clearance import apply_patient
from pkmodel.drugs.label import check_label as warn_label
from pkmodel.drugs.label import load_label_rules
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import PopulationFactors, load_population_factors
from pkmodel.engine.analytic import Kinetics, uniform_step
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_TIME_H, MAX_TIMES
from pkmodel.model import Model
from pkmodel.simulation.inputs import check_cells, output_times
from pkmodel.simulation.result import METHODS, Simulation

__all__ = ["default_times", "simulate_subjects"]

# Grid steps a default time grid chooses from (h): readable numbers that divide common intervals.
_NICE_STEPS = (1 / 60, 1 / 30, 1 / 12, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def default_times(model: Model, regimen: Regimen, *, end: float | None = None, step: float | None = None) -> np.ndarray:
    """A grid from 0 through the regimen (at least to the end of its last period) plus a washout
    of 5 terminal half-lives (median subject), with a step that resolves absorption and
    distribution (about a tenth of the fastest time scale), and every IV bolus and IV infusion
    end added so that peaks are on it. ``end`` and ``step`` (h) replace the default end or step;
    the grid always holds ``end`` itself.

    Raises :class:`PKModelError` before allocating when the grid would end beyond
    ``limits.MAX_TIME_H`` or hold more than ``limits.MAX_TIMES`` points (a very slow
    elimination or a long regimen with a fast time scale): give the output times explicitly.
    """
    # Whole columns, not Dose values: a regimen may hold limits.MAX_DOSES doses.
    columns = regimen.columns
    if end is None:
        washout = 5 * float(np.median(model.t_half_beta))
        period = regimen.last_period()
        end = max(events.latest_time(model, regimen) + washout, 0.0 if period is None else period[1])
        if not end <= MAX_TIME_H:
            raise PKModelError(
                "times",
                f"a default grid to {end:.6g} h (the regimen plus 5 terminal half-lives of {washout / 5:.6g} h)",
                f"at most {MAX_TIME_H:g} h (limits.MAX_TIME_H): give the output times explicitly",
            )
        end = float(np.ceil(end))
    elif not 0 < end <= MAX_TIME_H:
        raise PKModelError("times", f"a grid to {end:g} h", f"an end > 0 and at most {MAX_TIME_H:g} h (limits.MAX_TIME_H)")
    if step is None:
        typical_f = float(np.median(np.asarray(model.f, dtype=float)))
        scales = [float(np.median(model.t_half_alpha))]
        if model.ka is not None and "oral" in regimen.routes:
            scales.append(float(np.median(np.log(2) / np.asarray(model.ka))))
        if regimen.interval is not None:
            scales.append(regimen.interval)
        infusing = events.durations(columns, typical_f)
        scales += [float(infusing[infusing > 0].min())] if np.any(infusing > 0) else []
        step = max([s for s in _NICE_STEPS if s <= min(scales) / 10] or [_NICE_STEPS[0]])
    elif not step > 0:
        raise PKModelError("times", f"a grid every {step:g} h", "a step > 0")
    # The model's F and lag do not apply to IV doses: their peaks are the same for every subject.
    ends = events.infusion_ends(columns.take(columns.route == ROUTE_CODE["iv"]))
    peaks = ends[ends <= end].tolist()
    steps = int(end / step * (1 + 1e-12))  # a rounding residue must not drop the last step
    if steps + 2 + len(peaks) > MAX_TIMES:
        raise PKModelError(
            "times",
            f"a grid of {steps + 1} points (every {step:g} h to {end:g} h)",
            f"at most {MAX_TIMES} output times (limits.MAX_TIMES): give a coarser grid of times explicitly",
        )
    grid = np.round(np.arange(steps + 1) * step, 10)
    return np.union1d(grid[grid < end - 1e-9 * step], [end, *peaks])


def simulate_subjects(
    model: Model,
    regimen: Regimen,
    times: Sequence[float] | np.ndarray | None = None,
    *,
    patient: Patient | None = None,
    factors: PopulationFactors | None = None,
    check_label: bool = True,
    method: str = "auto",
    stacklevel: int = 2,
) -> Simulation:
    """:func:`pkmodel.simulate` without a population (its arguments, documented there).
    ``stacklevel`` points label warnings at the user's call, as for ``warnings.warn``."""
    if not isinstance(model, Model):
        raise PKModelError("model", type(model).__name__, "expected a pkmodel.Model")
    if not isinstance(regimen, Regimen):
        raise PKModelError("regimen", type(regimen).__name__, "expected a pkmodel.Regimen")
    if not isinstance(method, str) or method not in METHODS:
        raise PKModelError("method", method, f"allowed: {', '.join(METHODS)}")
    if model.n_subjects == 0:
        raise PKModelError("model", "parameter arrays of length 0", "at least one subject")
    drug = model.populations  # the drug's population file: factors and label rules (cached per file version)
    if patient is not None:
        if factors is None and drug is None:
            raise PKModelError(
                "factors",
                None,
                "this model names no population file: give population factors (load_population_factors(path))",
            )
        factors = factors or load_population_factors(drug)
        model = apply_patient(model, patient, factors)
    if drug is not None and check_label:
        warn_label(patient, regimen, rules=load_label_rules(drug), factors=factors or drug, stacklevel=stacklevel + 1)
    events.check(model, regimen)
    kin = _check_scales(model, regimen)
    grid = default_times(model, regimen) if times is None else output_times(times)
    check_cells(model.n_subjects or 1, len(grid), events.event_count(model, regimen))
    if method == "grid" and uniform_step(grid) is None:
        raise PKModelError("method", method, "the grid driver needs evenly spaced output times: use 'auto' or 'direct'")
    return Simulation(model, regimen, grid, method=method, kinetics=kin, checked=True)


def _check_scales(model: Model, regimen: Regimen) -> Kinetics:
    """Refuse parameters so extreme that the rate constants (1/h), concentrations (mg/L) or
    exposures (mg·h/L) they imply leave the range of normal floating-point numbers (overflow to
    inf or underflow to 0), instead of computing inf or NaN. Returns the model's kinetics (what
    the simulation then uses)."""
    tiny, huge = np.finfo(float).tiny, np.finfo(float).max
    # The closed forms multiply two rate constants (k12·k21, ka·g): each must stay within the
    # square root of the range for their products to stay normal numbers.
    bounds = {"rate constants (1/h)": (np.sqrt(tiny), np.sqrt(huge))}
    with np.errstate(all="ignore"):
        kin = model.kinetics(1 if model.n_subjects is None else model.n_subjects)
        doses = np.broadcast_to(events.bioavailable_amounts(regimen, model.f).sum(axis=-1), kin.k10.shape)
        v1, cl = (np.broadcast_to(np.asarray(x, dtype=float), kin.k10.shape) for x in (model.v1, model.cl))
        rates = [kin.k10, kin.alpha] + ([kin.ka] if model.ka is not None else [])
        given = doses > 0  # a regimen of resets alone gives nothing to scale
        scales = {
            "rate constants (1/h)": (np.min(rates), np.max(rates + [kin.k12, kin.k21])),
            "concentrations (mg/L)": _range(doses[given] / v1[given]),
            "exposures (mg·h/L)": _range(doses[given] / cl[given]),
        }
    for what, (low, high) in scales.items():
        floor, ceiling = bounds.get(what, (tiny, huge))
        if not (low >= floor and high <= ceiling):
            raise PKModelError(
                "model",
                repr(model),
                f"parameters and doses whose {what} lie between {floor:.3g} and {ceiling:.3g}: these "
                f"{'overflow' if not high <= ceiling else 'underflow'}",
            )
    return kin


def _range(values: np.ndarray) -> tuple[float, float]:
    return (float(np.min(values)), float(np.max(values))) if values.size else (1.0, 1.0)
