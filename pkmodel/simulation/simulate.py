"""The front door: ``simulate(model, regimen, times)`` -> :class:`Simulation`.

Orchestration only: the inputs are checked (and their size estimated against
:mod:`pkmodel.limits` before anything large is allocated), the regimen becomes engine events by
the dosing rules of :mod:`pkmodel.dosing.events`, and the engine computes. Concentrations are kept as
one array (n_subjects, n_times), computed on first use; the tidy DataFrame and the
per-compartment amounts are built only when asked for, so a population of 10,000 subjects stays
a 2-D array.

Units: time h, concentration mg/L (= µg/mL), amount mg, AUC mg·h/L.

Values are right-continuous, so an output at a bolus time includes the bolus, and troughs are
left limits (just before the dose).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from pkmodel.dosing import events
from pkmodel.dosing.events import regimen_events
from pkmodel.dosing.regimen import Regimen
from pkmodel.drugs.clearance import apply_patient
from pkmodel.drugs.label import check_label as warn_label
from pkmodel.drugs.label import load_label_rules
from pkmodel.drugs.patient import Patient
from pkmodel.drugs.populations import PopulationFactors, load_population_factors
from pkmodel.engine.analytic import CENTRAL, DEPOT, PERIPHERAL, Events, Kinetics, evaluate, uniform_step
from pkmodel.engine.curve import Curve
from pkmodel.engine.propagation import EventStates, event_states
from pkmodel.errors import PKModelError
from pkmodel.limits import MAX_CELLS, MAX_TIME_H, MAX_TIMES
from pkmodel.model import Model
from pkmodel.simulation import exposure
from pkmodel.units import parse_quantity

if TYPE_CHECKING:  # population.py imports this module; simulate() imports it when it is given one
    import pandas as pd

    from pkmodel.simulation.population import Population
    from pkmodel.simulation.population_result import PopulationResult

__all__ = ["METHODS", "Simulation", "default_times", "simulate"]

METHODS = ("auto", "direct", "grid")
_COMPARTMENTS = {DEPOT: "depot", CENTRAL: "central", PERIPHERAL: "peripheral"}
# Grid steps a default time grid chooses from (h): readable numbers that divide common intervals.
_NICE_STEPS = (1 / 60, 1 / 30, 1 / 12, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
# Rows shown by Simulation._repr_html_.
_HEAD = 5


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
    doses = regimen.doses
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
        scales += [float(x) for x in events.durations(doses, typical_f) if x > 0]
        step = max([s for s in _NICE_STEPS if s <= min(scales) / 10] or [_NICE_STEPS[0]])
    elif not step > 0:
        raise PKModelError("times", f"a grid every {step:g} h", "a step > 0")
    # The model's F and lag do not apply to IV doses: their peaks are the same for every subject.
    peaks = [t for t in events.infusion_ends([d for d in doses if d.route == "iv"]) if t <= end]
    steps = int(end / step * (1 + 1e-12))  # a rounding residue must not drop the last step
    if steps + 2 + len(peaks) > MAX_TIMES:
        raise PKModelError(
            "times",
            f"a grid of {steps + 1} points (every {step:g} h to {end:g} h)",
            f"at most {MAX_TIMES} output times (limits.MAX_TIMES): give a coarser grid of times explicitly",
        )
    grid = np.round(np.arange(steps + 1) * step, 10)
    return np.union1d(grid[grid < end - 1e-9 * step], [end, *peaks])


def _times(times: Any) -> np.ndarray:
    if isinstance(times, str):
        raise PKModelError("times", times, "expected a sequence of times in h (numbers or strings such as '12 h')")
    arr = np.atleast_1d(np.asarray(times, dtype=object if _has_strings(times) else float))
    if arr.dtype == object:
        arr = np.array(
            [parse_quantity(t, "time", field="times") if isinstance(t, str) else t for t in arr], dtype=float
        )
    if arr.ndim != 1 or arr.size == 0:
        raise PKModelError("times", times, "expected a non-empty 1-D sequence of times (h)")
    if arr.size > MAX_TIMES:
        raise PKModelError(
            "times", f"{arr.size} times", f"at most {MAX_TIMES} output times (limits.MAX_TIMES): use a coarser grid"
        )
    # The common case in three passes without temporaries of the input's size (a NaN fails both
    # comparisons); the checks below find what is wrong otherwise.
    if arr.min() >= 0 and arr.max() <= MAX_TIME_H and (arr.size < 2 or np.all(arr[1:] >= arr[:-1])):
        return arr
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = arr[~(np.isfinite(arr) & (arr >= 0))][0]
        raise PKModelError("times", float(bad), "times must be finite and >= 0 h")
    if np.any(arr > MAX_TIME_H):
        raise PKModelError(
            "times", float(arr[arr > MAX_TIME_H][0]), f"times must be at most {MAX_TIME_H:g} h (limits.MAX_TIME_H)"
        )
    if np.any(np.diff(arr) < 0):
        i = int(np.argmax(np.diff(arr) < 0))
        raise PKModelError("times", f"{arr[i]} then {arr[i + 1]}", "times must be sorted in increasing order")
    return arr


def _check_cells(n_subjects: int, n_times: int, n_events: int) -> None:
    """Refuse work whose arrays would exceed ``limits.MAX_CELLS`` before building any of them."""
    cells = n_subjects * (n_times + n_events)
    if cells > MAX_CELLS:
        raise PKModelError(
            "simulation size",
            f"{n_subjects} subjects x ({n_times} times + {n_events} dose events) = {cells:.3g} cells",
            f"at most {MAX_CELLS:.3g} (limits.MAX_CELLS): use a coarser grid, fewer subjects or fewer doses "
            "(or simulate the population in chunks)",
        )


def _check_scales(model: Model, regimen: Regimen) -> None:
    """Refuse parameters so extreme that the rate constants (1/h), concentrations (mg/L) or
    exposures (mg·h/L) they imply leave the range of normal floating-point numbers (overflow to
    inf or underflow to 0), instead of computing inf or NaN."""
    tiny, huge = np.finfo(float).tiny, np.finfo(float).max
    # The closed forms multiply two rate constants (k12·k21, ka·g): each must stay within the
    # square root of the range for their products to stay normal numbers.
    bounds = {"rate constants (1/h)": (np.sqrt(tiny), np.sqrt(huge))}
    with np.errstate(all="ignore"):
        kin = model.kinetics(1 if model.n_subjects is None else model.n_subjects)
        doses = np.broadcast_to(events.bioavailable_amounts(regimen.doses, model.f).sum(axis=-1), kin.k10.shape)
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


def _range(values: np.ndarray) -> tuple[float, float]:
    return (float(np.min(values)), float(np.max(values))) if values.size else (1.0, 1.0)


def _has_strings(times: Any) -> bool:
    return not isinstance(times, np.ndarray) and any(
        isinstance(t, str) for t in np.atleast_1d(np.asarray(times, dtype=object))
    )


def _short(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Simulation:
    """Result of :func:`simulate`.

    Attributes: ``model``, ``regimen``, ``times`` (h, shape (n_times,)), ``concentration``
    (mg/L, shape (n_subjects, n_times); one row for a single subject; C-contiguous, so a
    subject's row is contiguous and ``concentration.ravel()`` is a view), ``n_subjects``.
    Nothing is computed until a result is asked for; ``concentration`` is computed once, on
    first use.
    """

    def __init__(self, model: Model, regimen: Regimen, times: np.ndarray, *, method: str = "auto") -> None:
        self.model = model
        self.regimen = regimen
        self.times = times
        self.n_subjects = model.n_subjects or 1
        self._method = method

    @cached_property
    def _kin(self) -> Kinetics:
        return self.model.kinetics(self.n_subjects)

    @cached_property
    def _events(self) -> Events:
        return regimen_events(self.model, self.regimen, self.n_subjects)

    @cached_property
    def _states(self) -> EventStates:
        """The state of every subject just after each dose event, shared by every evaluation."""
        return event_states(self._kin, self._events, self.n_subjects)

    @cached_property
    def _conc_weights(self) -> np.ndarray:
        return _weights(self.model, self.n_subjects)

    @cached_property
    def concentration(self) -> np.ndarray:
        """Central concentration (mg/L) at ``times``: (n_subjects, n_times)."""
        if self._method == "grid" and not self._events.shared_times:
            raise PKModelError(
                "method", "grid", "the grid driver needs dose events shared by all subjects (no per-subject F or "
                "lag on oral doses): use 'auto' or 'direct'"
            )
        return evaluate(
            self._kin, self._events, self.times, self._conc_weights, method=self._method, states=self._states
        )

    def __repr__(self) -> str:
        who = f"{self.n_subjects} subjects" if self.n_subjects > 1 else "1 subject"
        span = f"{len(self.times)} times from {self.times[0]:g} to {self.times[-1]:g} h"
        return f"<Simulation: {_short(str(self.regimen))}; {who}; {span}>"

    def _repr_html_(self) -> str:
        """Model, regimen, dimensions, time range and the first rows (first subject), as in
        mrgsolve's print of a simulation."""
        head = self.times[:_HEAD]
        conc = self.concentration[0, :_HEAD] if "concentration" in self.__dict__ else self.at(head)[0]
        rows = "".join(f"<tr><td>{t:g}</td><td>{c:.6g}</td></tr>" for t, c in zip(head, conc, strict=True))
        more = f"<tr><td colspan='2'>… {len(self.times) - len(head)} more times</td></tr>" if len(self.times) > _HEAD else ""
        facts = (
            ("model", _short(repr(self.model), 120)),
            ("regimen", _short(str(self.regimen), 120)),
            ("dimensions", f"{self.n_subjects} subject(s) × {len(self.times)} times"),
            ("time", f"{self.times[0]:g} to {self.times[-1]:g} h"),
        )
        info = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
        subject = " (subject 0)" if self.n_subjects > 1 else ""
        return (
            f"<div><b>Simulation</b><table>{info}</table>"
            f"<table><thead><tr><th>time_h</th><th>conc_mg_L{subject}</th></tr></thead>"
            f"<tbody>{rows}{more}</tbody></table></div>"
        )

    # --- exact values anywhere ---------------------------------------------------------------

    def at(self, times: Any, *, left: bool = False) -> np.ndarray:
        """Concentrations (mg/L) at any sorted times (h): (n_subjects, n_times). ``left=True``
        gives the value just before a dose given at exactly that time."""
        t = _times(times)
        _check_cells(self.n_subjects, len(t), events.event_count(self.model, self.regimen))
        return evaluate(self._kin, self._events, t, self._conc_weights, left=left, states=self._states)

    def auc(self, start: Any = 0.0, end: Any = None) -> np.ndarray:
        """Exact AUC of the concentration from ``start`` to ``end`` (h; default: the last output
        time), mg·h/L, per subject: the integral of the closed form, not a trapezoid sum."""
        t = _times([start, self.times[-1] if end is None else end])
        cumulative = evaluate(self._kin, self._events, t, self._conc_weights, integral=True, states=self._states)
        return cumulative[:, 1] - cumulative[:, 0]

    def amounts(self) -> np.ndarray:
        """Amounts (mg) in depot, central and peripheral: (n_subjects, 3, n_times), a view of
        one (3, n_subjects, n_times) array computed in one engine pass."""
        return np.moveaxis(self._amounts((DEPOT, CENTRAL, PERIPHERAL)), 0, 1)

    def _amounts(self, compartments: Sequence[int]) -> np.ndarray:
        """(len(compartments), n_subjects, n_times) amounts (mg), all in one engine pass; each
        compartment's matrix is C-contiguous (one row per subject)."""
        weights = np.stack([_weights(self.model, self.n_subjects, c) for c in compartments])
        return evaluate(self._kin, self._events, self.times, weights, method=self._method, states=self._states)

    # --- tables ------------------------------------------------------------------------------

    @cached_property
    def data(self) -> pd.DataFrame:
        """Tidy table: ``time_h``, ``conc_mg_L``, ``<compartment>_mg`` for each compartment the
        model has (depot only with oral doses), and ``subject`` when there are several; one row
        per subject and time, subject by subject.

        The columns are built once in their final layout: the concentration and amount columns
        are views of the (n_subjects, n_times) matrices (no copy), so the table costs about its
        own size in memory. For the concentration as a matrix, one row per subject, use
        ``concentration`` (C-contiguous, so ``concentration.ravel()`` is the ``conc_mg_L``
        column without a copy)."""
        import pandas as pd

        n, t = self.n_subjects, len(self.times)
        conc = self.concentration
        shown = [
            c
            for c in _COMPARTMENTS
            if not (c == DEPOT and "oral" not in self.regimen.routes)
            and not (c == PERIPHERAL and self.model.n_compartments == 1)
        ]
        amounts = self._amounts(shown)
        columns: dict[str, np.ndarray] = {}
        # Broadcast copies: one pass each, where repeat and tile take two.
        if n > 1:
            columns["subject"] = np.broadcast_to(np.arange(n)[:, None], (n, t)).reshape(-1)
        columns["time_h"] = np.broadcast_to(self.times, (n, t)).reshape(-1)
        columns["conc_mg_L"] = conc.reshape(-1)
        for k, c in enumerate(shown):
            columns[f"{_COMPARTMENTS[c]}_mg"] = amounts[k].reshape(-1)
        return pd.DataFrame(columns, copy=False)

    def peak(self) -> tuple[np.ndarray, np.ndarray]:
        """(Cmax in mg/L, Tmax in h) per subject, refined on the exact curve (no other metric)."""
        return exposure.peak(self._exposure_inputs())

    def summary(self) -> pd.DataFrame:
        """Exposure metrics per subject (one row each) over the simulated window (the output
        times); see :func:`pkmodel.simulation.exposure.summarise`."""
        return exposure.summarise(self._exposure_inputs())

    def _exposure_inputs(self) -> exposure.Inputs:
        return exposure.inputs(
            self.model,
            self.regimen,
            self.times,
            self.concentration,
            Curve(self._kin, self._events, self._conc_weights, self._states),
        )


def _weights(model: Model, n: int, compartment: int | None = None) -> np.ndarray:
    """Observation weights: a compartment's amount (mg), or by default the central
    concentration (mg/L: the central amount divided by V1)."""
    w = np.zeros((3, n))
    if compartment is None:
        w[CENTRAL] = 1.0 / np.broadcast_to(np.asarray(model.v1, dtype=float), (n,))
    else:
        w[compartment] = 1.0
    return w


@overload
def simulate(
    model: Model,
    regimen: Regimen,
    times: Sequence[float] | np.ndarray | None = None,
    *,
    patient: Patient | None = None,
    factors: PopulationFactors | None = None,
    check_label: bool = True,
    method: str = "auto",
    population: None = None,
    progress: bool | None = None,
    client: Any = None,
) -> Simulation: ...


@overload
def simulate(
    model: Model,
    regimen: Regimen,
    times: Sequence[float] | np.ndarray | None = None,
    *,
    patient: Patient | None = None,
    factors: PopulationFactors | None = None,
    check_label: bool = True,
    method: str = "auto",
    population: Population,
    progress: bool | None = None,
    client: Any = None,
) -> Simulation | PopulationResult: ...


def simulate(
    model: Model,
    regimen: Regimen,
    times: Sequence[float] | np.ndarray | None = None,
    *,
    patient: Patient | None = None,
    factors: PopulationFactors | None = None,
    check_label: bool = True,
    method: str = "auto",
    population: Population | None = None,
    progress: bool | None = None,
    client: Any = None,
) -> Simulation | PopulationResult:
    """Simulate ``regimen`` in ``model``; the one front door of pkmodel.

    ``model``: a :class:`Model` (array parameters give one subject per element);
    ``regimen``: a :class:`Regimen`; ``times``: sorted output times in h (numbers, or strings
    such as "12 h"), by default :func:`default_times`. ``patient``: a
    :class:`pkmodel.Patient` whose renal and hepatic function scale the clearance
    (``factors``: the population factors, by default those of the model's population file). When
    the model names a population file with label rules (``model.populations``, e.g. the shipped
    mildronate model), every label rule
    the patient or the regimen meets issues a :class:`pkmodel.drugs.label.LabelWarning`;
    ``check_label=False`` skips that for regimens that are not prescriptions (published study
    doses to match, trial doses while searching). Returns a :class:`Simulation` whose
    ``concentration`` is in mg/L.

    ``population``: a :class:`pkmodel.simulation.population.Population` to simulate instead of
    one subject: per-subject curves (a Simulation) when they fit in memory, else a
    :class:`~pkmodel.simulation.population_result.PopulationResult` streamed in chunks, with a
    progress bar on long runs (``progress``) and on a Dask cluster with ``client``.
    """
    if population is not None or progress is not None or client is not None:
        from pkmodel.simulation.population import simulate_population

        return simulate_population(
            model, regimen, times, population, patient=patient, factors=factors, check_label=check_label,
            method=method, progress=progress, client=client,
        )
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
        warn_label(patient, regimen, rules=load_label_rules(drug), factors=factors or drug, stacklevel=3)
    events.check(model, regimen)
    _check_scales(model, regimen)
    grid = default_times(model, regimen) if times is None else _times(times)
    _check_cells(model.n_subjects or 1, len(grid), events.event_count(model, regimen))
    if method == "grid" and uniform_step(grid) is None:
        raise PKModelError("method", method, "the grid driver needs evenly spaced output times: use 'auto' or 'direct'")
    return Simulation(model, regimen, grid, method=method)
